"""`mlfix pr`: one PR per repository, kept up to date, never pushed on people.

The order matters for "leave things as they were": everything that can fail cheaply
(token, repository, base, fixes, existing PRs, who wrote the branch) is settled
before anything is pushed; after the push, a failure to open or update the PR puts
the branch back where it was. The user's checkout is never modified (see `git`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlfix import runner
from mlfix.bot import body
from mlfix.bot.errors import BotError, scrub
from mlfix.bot.git import Git, Identity, auth_env
from mlfix.bot.github import GitHub
from mlfix.bot.settings import Environment, Options
from mlfix.config import Overrides, Resolver
from mlfix.options import Mode
from mlfix.redact import redact

HUMAN = "<!-- mlfix:human-commit -->"
NOTHING_LEFT = (
    "mlfix finds nothing left to fix on `{base}`, so this pull request is no longer needed: "
    "closing it and deleting its branch."
)
HUMAN_NOTE = (
    HUMAN + "\nThis branch has a commit by {who}, so mlfix stops updating it: your work is "
    "yours. Merge or close this pull request; once it is closed and its branch deleted, "
    "mlfix opens a fresh one when there is something to fix."
)


@dataclass
class Context:
    env: Environment
    options: Options
    hub: GitHub
    git: Git
    say: Callable[[str], None]


@contextmanager
def _cwd(path: Path) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def _fix(tree: Path, paths: list[Path], options: Options, say: Callable[[str], None]) -> runner.Run:
    """The fixes as `mlfix --write` makes them, in the scratch tree.

    A target's error is kept in the run (the PR lists it, or it becomes the one error
    line), not printed; warnings are passed on."""

    def warn(line: str) -> None:
        if not line.startswith("error: "):
            say(line)

    with _cwd(tree):
        overrides = Overrides(unsafe_fixes=options.unsafe_fixes)
        return runner.run_paths(
            paths or [Path(".")], Mode.WRITE, Resolver(None), overrides, say=warn
        )


def _checkout(env: Environment, options: Options, scratch: Path, base: str) -> tuple[Git, Path]:
    """The repository to work in and the PATHs relative to its root."""
    auth = auth_env(env.server_url, env.token)
    if options.repo:
        clone = scratch / "clone"
        url = f"{env.server_url}/{env.repo}.git"
        Git(scratch, auth, [env.token])(
            "clone", "--quiet", "--depth=1", "--no-tags", "--single-branch", f"--branch={base}",
            url, str(clone),
        )  # fmt: skip
        return Git(clone, auth, [env.token]), clone
    start = Path(options.paths[0]) if options.paths else Path(".")
    start = start if start.is_dir() else start.parent
    top = Git(start.resolve(), auth, [env.token]).toplevel()
    return Git(top, auth, [env.token]), top


def _relative(options: Options, top: Path) -> list[Path]:
    if options.repo:
        return list(options.paths)
    out: list[Path] = []
    for path in options.paths:
        try:
            out.append(Path(os.path.relpath(path.resolve(), top.resolve())))
        except ValueError:
            raise BotError(f"{path}: not inside the repository at {top}") from None
        if out[-1].parts[:1] == ("..",):
            raise BotError(f"{path}: not inside the repository at {top}")
    return out


def _human(git: Git, branch: str, bot: Identity, shallow: bool) -> str | None:
    """Who other than the bot wrote or committed the branch's head, if anyone.

    The bot only ever pushes one commit on the base head, so a head it did not both
    write and commit means a person pushed to (or amended, or rebased) the branch."""
    sha = git.fetch(branch, depth=2 if shallow else None, parent=True)
    author, committer = git.people(sha)
    for person in (author, committer):
        if person.email.lower() != bot.email.lower():
            return str(person.name)
    return None


def _comment_once(ctx: Context, number: int, marker: str, text: str) -> None:
    if any(marker in str(c.get("body") or "") for c in ctx.hub.comments(number)):
        return
    ctx.hub.comment(number, text)


def run(options: Options, environ: Mapping[str, str], say: Callable[[str], None]) -> str:
    """Do what `mlfix pr` does; returns the one line of result for stdout."""
    env = Environment.read(environ, options)
    hub = GitHub(env.api_url, env.token, env.repo)
    base = options.base or str(hub.repository().get("default_branch") or "")
    if not base:
        raise BotError(f"{env.repo}: the API names no default branch; pass --base")
    with tempfile.TemporaryDirectory(prefix="mlfix-pr-") as scratch_name:
        scratch = Path(scratch_name)
        git, top = _checkout(env, options, scratch, base)
        ctx = Context(env, options, hub, git, say)
        return _deliver(ctx, top, scratch, base)


@dataclass
class Fixed:
    """The base head's tree after the fixes, in the scratch folder."""

    base_sha: str
    tree: Path
    index: Path
    run: runner.Run
    fixes: body.Fixes
    files: list[str]  # written, relative to the repository root


def _fixed(ctx: Context, top: Path, scratch: Path, base: str, shallow: bool) -> Fixed:
    base_sha = ctx.git.fetch(base, depth=1 if shallow else None)
    tree, index = scratch / "tree", scratch / "index"
    tree.mkdir()
    ctx.git.checkout_to(base_sha, tree, index)
    run = _fix(tree, _relative(ctx.options, top), ctx.options, ctx.say)
    with _cwd(tree):
        return Fixed(base_sha, tree, index, run, body.Fixes.of(run), body.changed_files(run, tree))


def _deliver(ctx: Context, top: Path, scratch: Path, base: str) -> str:
    options, git, hub = ctx.options, ctx.git, ctx.hub
    shallow = git.shallow()
    done = _fixed(ctx, top, scratch, base, shallow)
    fixed, fixes, files = done.run, done.fixes, done.files
    head = f"{ctx.env.owner}:{options.branch}"
    pulls = hub.pulls(head)
    open_pr = next((pr for pr in pulls if pr.get("state") == "open"), None)
    remote = git.remote_sha(options.branch)
    human = _human(git, options.branch, options.author, shallow) if remote else None
    if not files and fixed.report.failed:  # not "nothing to fix": never close a PR on it
        raise BotError(f"mlfix could not check {base}: {fixed.errors[0].removeprefix('error: ')}")
    if not files:
        return _nothing(ctx, open_pr, human, base, branch_exists=remote is not None)
    if human is not None:
        if open_pr is not None and not options.dry_run:
            _comment_once(ctx, int(open_pr["number"]), HUMAN, HUMAN_NOTE.format(who=human))
        where = f"#{open_pr['number']}" if open_pr else f"branch {options.branch}"
        return f"left alone: {where} has a commit by {human}"
    declined = [
        pr for pr in pulls
        if pr.get("state") == "closed" and not pr.get("merged_at")
        and body.fingerprint_of(pr.get("body")) == fixes.fingerprint
    ]  # fmt: skip
    if declined and open_pr is None and not options.force:
        return (
            f"declined: #{declined[0]['number']} with these fixes was closed unmerged; "
            "not reopened (pass --force to open it again)"
        )
    unsafe_on = any(fixed.unsafe_by_dockerfile().values())
    token = ctx.env.token  # the repository's own text goes into both: no token of any kind
    text = redact(scrub(body.render(fixes, base=base, unsafe_on=unsafe_on), token))
    message = redact(scrub(body.commit_message(fixes), token))
    commit = git.commit(done.tree, done.index, files, done.base_sha, message, options.author)
    same = remote is not None and git.patch_id(remote) == git.patch_id(commit)
    if options.dry_run:
        return _dry_run(ctx, commit, open_pr, text, same)
    pushed = False
    if not same:
        git.push(commit, options.branch, remote)
        pushed = True
    try:
        return _publish(ctx, open_pr, text, base, changed=pushed)
    except BotError:
        if pushed:
            git.restore(options.branch, commit, remote)
        raise


def _publish(ctx: Context, open_pr: dict[str, Any] | None, text: str, base: str, *,
             changed: bool) -> str:  # fmt: skip
    hub, options = ctx.hub, ctx.options
    if open_pr is None:
        try:
            pr = hub.create_pull(body.TITLE, options.branch, base, text)
        except BotError:
            # The answer may be lost after GitHub opened the PR; taking the branch back
            # then would close it, and the next run would read that as declined.
            pr = _opened_anyway(ctx, text) or {}
            if not pr:
                raise
        number = int(pr.get("number") or 0)
        if options.labels:
            hub.add_labels(number, list(options.labels))
        return f"opened #{number}: {pr.get('html_url') or ''}".rstrip(": ")
    number = int(open_pr["number"])
    if open_pr.get("title") == body.TITLE and open_pr.get("body") == text and not changed:
        return f"up to date: #{number} already holds these fixes"
    fields = {"title": body.TITLE, "body": text}
    if (open_pr.get("base") or {}).get("ref") not in (None, base):
        fields["base"] = base  # --base changed since the PR was opened
    hub.update_pull(number, **fields)
    if options.labels:
        hub.add_labels(number, list(options.labels))
    return f"updated #{number}: {open_pr.get('html_url') or ''}".rstrip(": ")


def _opened_anyway(ctx: Context, text: str) -> dict[str, Any] | None:
    try:
        pulls = ctx.hub.pulls(f"{ctx.env.owner}:{ctx.options.branch}")
    except BotError:
        return None
    return next((pr for pr in pulls if pr.get("state") == "open" and pr.get("body") == text), None)


def _nothing(ctx: Context, open_pr: dict[str, Any] | None, human: str | None, base: str, *,
             branch_exists: bool) -> str:  # fmt: skip
    if open_pr is None:
        return "nothing to fix"
    number = int(open_pr["number"])
    if human is not None:
        if not ctx.options.dry_run:
            _comment_once(ctx, number, HUMAN, HUMAN_NOTE.format(who=human))
        return f"left alone: nothing left to fix, but #{number} has a commit by {human}"
    if ctx.options.dry_run:
        return f"would close #{number} and delete {ctx.options.branch}: nothing left to fix"
    ctx.hub.comment(number, NOTHING_LEFT.format(base=base))
    # Closed by mlfix, not declined by a person: the fingerprint goes, so the same fixes
    # are offered again if they are ever needed again.
    kept = body.FINGERPRINT.sub(body.CLOSED_BY_MLFIX, str(open_pr.get("body") or ""))
    ctx.hub.update_pull(number, state="closed", body=kept)
    if not branch_exists:
        return f"closed #{number}: nothing left to fix"
    ctx.hub.delete_branch(ctx.options.branch)
    return f"closed #{number}: nothing left to fix; deleted {ctx.options.branch}"


def _dry_run(ctx: Context, commit: str, open_pr: dict[str, Any] | None, text: str,
             same: bool) -> str:  # fmt: skip
    shown = ctx.git.show(commit)
    if open_pr is None:
        action = f"would open a pull request from {ctx.options.branch}"
    elif same:
        action = f"would leave #{open_pr['number']} as it is (the branch holds these fixes)"
    else:
        action = f"would update #{open_pr['number']}"
    return f"{shown}\n\n{action}: {body.TITLE}\n\n{text}".rstrip("\n")
