"""git for the bot: fetch, build one commit off the base head, push the bot's branch.

The user's checkout is never touched: the base tree is checked out into a scratch
directory through a scratch index (`GIT_INDEX_FILE`, `--work-tree`), so HEAD, the
index, the working tree and the branches stay as they were whatever fails. The only
things left in `.git` are objects and FETCH_HEAD.

The token reaches git only through the environment: `GIT_CONFIG_COUNT` entries set
`http.<server>/.extraheader` (first to empty, which drops a header an earlier
`actions/checkout` persisted, then to ours), so it is in no argv, no `.git/config`
and no remote URL. The identity is the bot's, from `GIT_AUTHOR_*`/`GIT_COMMITTER_*`;
the user's global config is never asked for one.
"""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlfix.bot.errors import BotError, scrub


@dataclass(frozen=True)
class Identity:
    name: str
    email: str

    @staticmethod
    def parse(text: str) -> Identity:
        """`Name <email>`, as git writes an author."""
        name, _, rest = text.partition("<")
        email = rest.rstrip().rstrip(">").strip()
        if not name.strip() or not email or ">" in email or "<" in email:
            raise BotError(f"--author: expected `Name <email>`, got `{text}`")
        return Identity(name.strip(), email)

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


BOT = Identity("mlfix[bot]", "mlfix[bot]@users.noreply.github.com")


def auth_env(server_url: str, token: str) -> dict[str, str]:
    """An `Authorization` header for the server's URLs, as config from the environment."""
    key = f"http.{server_url.rstrip('/')}/.extraheader"
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": key,
        "GIT_CONFIG_VALUE_0": "",
        "GIT_CONFIG_KEY_1": key,
        "GIT_CONFIG_VALUE_1": f"AUTHORIZATION: basic {basic}",
    }


class Git:
    """git in one repository, with the bot's environment and its errors as one line."""

    def __init__(self, cwd: Path, env: Mapping[str, str], secrets: Sequence[str] = ()) -> None:
        self.cwd = cwd
        self.secrets = tuple(secrets)
        base = {k: v for k, v in os.environ.items() if not k.startswith("GIT_CONFIG_")}
        base.update(GIT_TERMINAL_PROMPT="0", LC_ALL="C", GIT_PAGER="cat")
        base.pop("GIT_DIR", None)
        base.pop("GIT_WORK_TREE", None)
        base.pop("GIT_INDEX_FILE", None)
        base.update(env)
        self.env = base
        self._origin: str | None = None

    def _run(
        self, args: Sequence[str], input: str | None, env: Mapping[str, str] | None
    ) -> subprocess.CompletedProcess[str]:
        full = dict(self.env)
        full.update(env or {})
        try:
            return subprocess.run(
                ["git", *args], cwd=self.cwd, env=full, input=input,
                capture_output=True, text=True, check=False,
            )  # fmt: skip
        except OSError as exc:
            raise BotError(f"cannot run git ({exc.strerror or exc})") from None

    def __call__(
        self, *args: str, input: str | None = None, env: Mapping[str, str] | None = None
    ) -> str:
        """git's stdout; a failure is a BotError naming the subcommand and git's reason."""
        done = self._run(args, input, env)
        if done.returncode != 0:
            command = next((a for a in args if not a.startswith("-")), "git")
            raise BotError(f"git {command} failed: {_reason(done.stderr, self.secrets)}")
        return done.stdout.strip()

    def ok(self, *args: str) -> bool:
        return self._run(args, None, None).returncode == 0

    # -- reading -----------------------------------------------------------------

    def toplevel(self) -> Path:
        return Path(self("rev-parse", "--show-toplevel"))

    def shallow(self) -> bool:
        return self("rev-parse", "--is-shallow-repository") == "true"

    @property
    def origin(self) -> str:
        """origin's URL: fetching and pushing to it by URL updates no remote-tracking ref
        of the user's (`git push origin` would add `refs/remotes/origin/<bot branch>`)."""
        if self._origin is None:
            self._origin = self("remote", "get-url", "origin")
        return self._origin

    @property
    def push_url(self) -> str:
        return self("remote", "get-url", "--push", "origin")

    def remote_sha(self, branch: str) -> str | None:
        listed = self("ls-remote", "--heads", self.origin, f"refs/heads/{branch}")
        for row in listed.splitlines():
            sha, _, ref = row.partition("\t")
            if ref == f"refs/heads/{branch}":
                return sha
        return None

    def fetch(self, branch: str, *, depth: int | None, parent: bool = False) -> str:
        """Fetch one branch of origin (with its head's parent if `parent`); the head's sha.

        No local branch or remote-tracking ref is made."""
        args = ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head"]
        if depth is not None:
            args.append(f"--depth={depth}")
        sha = self.remote_sha(branch)
        if sha is None:
            raise BotError(f"origin has no branch `{branch}`")
        wanted = [sha, f"{sha}^"] if parent else [sha]
        if not all(self.ok("cat-file", "-e", f"{rev}^{{commit}}") for rev in wanted):
            self(*args, self.origin, f"refs/heads/{branch}")
        return sha

    def people(self, sha: str) -> tuple[Identity, Identity]:
        """The author and the committer of a commit."""
        an, ae, cn, ce = self("log", "-1", "--format=%an%x00%ae%x00%cn%x00%ce", sha).split("\0")
        return Identity(an, ae), Identity(cn, ce)

    def patch_id(self, sha: str) -> str:
        diff = self("diff-tree", "-p", "--no-color", "--binary", f"{sha}^", sha)
        out = self("patch-id", "--stable", input=diff + "\n")
        return out.split(" ")[0] if out else ""

    def parent(self, sha: str) -> str:
        return self("rev-parse", f"{sha}^")

    # -- building the commit -------------------------------------------------------

    def checkout_to(self, sha: str, tree: Path, index: Path) -> None:
        """The files of commit `sha` in `tree`, through the scratch index `index`."""
        env = {"GIT_INDEX_FILE": str(index)}
        self("read-tree", sha, env=env)
        self(f"--work-tree={tree}", "checkout-index", "--all", "--force", env=env)

    def commit(
        self, tree: Path, index: Path, files: Sequence[str], parent: str, message: str,
        author: Identity,
    ) -> str:  # fmt: skip
        env = {"GIT_INDEX_FILE": str(index)}
        self(f"--work-tree={tree}", "add", "--force", "--", *files, env=env)
        written = self("write-tree", env=env)
        people = {
            "GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email,
            "GIT_COMMITTER_NAME": author.name, "GIT_COMMITTER_EMAIL": author.email,
        }  # fmt: skip
        return self("commit-tree", "--no-gpg-sign", written, "-p", parent, "-F", "-",
                    input=message, env=people)  # fmt: skip

    def show(self, sha: str) -> str:
        return self("show", "--no-color", "--format=commit %H%nAuthor: %an <%ae>%n%n%B", sha)

    # -- pushing -----------------------------------------------------------------

    def push(self, sha: str, branch: str, expected: str | None) -> None:
        """Force the bot's branch to `sha`, only if it still is what we saw (`expected`)."""
        ref = f"refs/heads/{branch}"
        lease = f"--force-with-lease={ref}:{expected or ''}"
        self("push", "--quiet", "--no-verify", lease, self.push_url, f"{sha}:{ref}")

    def restore(self, branch: str, pushed: str, previous: str | None) -> None:
        """Undo our push: the branch back where it was, or gone if we created it."""
        ref = f"refs/heads/{branch}"
        lease = f"--force-with-lease={ref}:{pushed}"
        source = f"{previous}:{ref}" if previous else f":{ref}"
        self._run(["push", "--quiet", "--no-verify", lease, self.push_url, source], None, None)


def _reason(stderr: str, secrets: Sequence[str]) -> str:
    """The line of git's stderr that says why: a rejection or a fatal error, else the last."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    rejected = [line for line in lines if "rejected]" in line]
    fatal = [line for line in lines if line.startswith("fatal:")]
    text = (rejected or fatal or lines[-1:] or ["no message"])[0]
    if "stale info" in text:
        text += " (the branch changed while mlfix ran; run it again)"
    elif "could not read Username" in text or "Authentication failed" in text:
        text += " (the git server refused the token; it needs contents: write)"
    return scrub(text.removeprefix("fatal: "), *secrets)
