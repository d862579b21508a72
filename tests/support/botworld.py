"""A world for `mlfix pr`: a bare repository as origin, a checkout of it holding the
seed's three mistakes (fixtures/demo), the fake GitHub API, and a `git` shim on PATH
that logs the argv of every git process the bot starts (and runs `$MLFIX_TEST_RACE` just
before the bot's `commit-tree`, so a test can push "meanwhile").

`World.mlfix_pr(...)` runs the real command in a subprocess with GitHub Actions'
environment; `World.state()` is everything about the checkout that must survive any
run unchanged (HEAD, refs, index, status, config).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.fakegithub import FakeGitHub, serve

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "fixtures" / "demo"
TOKEN = "ghs_TESTtoken0123456789abcdefSECRET"
OWNER, NAME = "acme", "demo"
PEOPLE = {
    "GIT_AUTHOR_NAME": "Ada Maintainer", "GIT_AUTHOR_EMAIL": "ada@example.invalid",
    "GIT_COMMITTER_NAME": "Ada Maintainer", "GIT_COMMITTER_EMAIL": "ada@example.invalid",
}  # fmt: skip


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    full = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    full.update(PEOPLE, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    full.update(env or {})
    done = subprocess.run(["git", *args], cwd=cwd, env=full, capture_output=True, text=True,
                          check=True)  # fmt: skip
    return done.stdout.strip()


@dataclass
class World:
    root: Path
    server: Path  # GITHUB_SERVER_URL's folder: server/acme/demo.git is origin
    bare: Path
    checkout: Path
    shim_log: Path
    hub: FakeGitHub
    outputs: list[str] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GITHUB_"))}
        env.update(
            PATH=f"{self.root / 'shim'}{os.pathsep}{env.get('PATH', '')}",
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            HOME=str(self.root / "home"),  # a global config with a person's identity in it
            GITHUB_REPOSITORY=f"{OWNER}/{NAME}", GITHUB_TOKEN=TOKEN,
            GITHUB_API_URL=self.hub.url, GITHUB_SERVER_URL=f"file://{self.server}",
            MLFIX_SHIM_LOG=str(self.shim_log),
        )  # fmt: skip
        env.update(extra)
        return {k: v for k, v in env.items() if v != ""}

    def mlfix_pr(self, *args: str, cwd: Path | None = None, **env: str
                 ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "mlfix", "pr", *args], cwd=cwd or self.checkout,
            env=self.env(**env), capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        self.outputs += [done.stdout, done.stderr]
        return done

    def remote(self, branch: str) -> str | None:
        done = subprocess.run(
            ["git", "rev-parse", "-q", "--verify", f"refs/heads/{branch}"],
            cwd=self.bare, capture_output=True, text=True, check=False,
        )  # fmt: skip
        return done.stdout.strip() or None

    def state(self) -> dict[str, str]:
        c = self.checkout
        return {
            "head": git(c, "symbolic-ref", "HEAD"),
            "sha": git(c, "rev-parse", "HEAD"),
            "refs": git(c, "for-each-ref", "--format=%(refname) %(objectname)"),
            "status": git(c, "status", "--porcelain", "--ignored", "--untracked-files=all"),
            "index": (c / ".git" / "index").read_bytes().hex(),
            "config": (c / ".git" / "config").read_text(),
            "worktrees": git(c, "worktree", "list", "--porcelain"),
        }

    def push_to_main(self, files: dict[str, str], message: str) -> str:
        """A maintainer's commit on main, pushed to origin; the checkout follows it."""
        for name, text in files.items():
            (self.checkout / name).parent.mkdir(parents=True, exist_ok=True)
            (self.checkout / name).write_text(text)
        git(self.checkout, "add", "-A")
        git(self.checkout, "commit", "-qm", message)
        git(self.checkout, "push", "-q", "origin", "main")
        return git(self.checkout, "rev-parse", "HEAD")


SHIM = """#!/bin/sh
printf '%s\\n' "$*" >> "$MLFIX_SHIM_LOG"
if [ "$1" = "commit-tree" ] && [ -n "$MLFIX_TEST_RACE" ]; then
    # a test's "meanwhile, somebody pushes": between mlfix reading the branch and pushing it
    sh -c "$MLFIX_TEST_RACE" >/dev/null 2>&1
fi
exec {git} "$@"
"""


@contextmanager
def world(tmp_path: Path) -> Iterator[World]:
    server = tmp_path / "server"
    bare = server / OWNER / f"{NAME}.git"
    bare.parent.mkdir(parents=True)
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    seed = tmp_path / "seed"
    shutil.copytree(DEMO, seed)
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "A service with the three mistakes")
    git(seed, "push", "-q", str(bare), "main")
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", f"file://{bare}", str(checkout))
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Somebody Else\n\temail = somebody@example.invalid\n"
        "[commit]\n\tgpgsign = false\n"
    )
    shim = tmp_path / "shim"
    shim.mkdir()
    real = shutil.which("git")
    assert real is not None
    (shim / "git").write_text(SHIM.format(git=real))
    (shim / "git").chmod(0o755)
    log = tmp_path / "git-argv.log"
    log.write_text("")
    with serve(OWNER, NAME, bare, TOKEN) as hub:
        yield World(tmp_path, server, bare, checkout, log, hub)
