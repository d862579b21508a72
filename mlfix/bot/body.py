"""The PR's title, body and commit message, and the fingerprint of the fix set.

The body is for a reviewer who has never heard of mlfix: per fix, the rule and its
docs, why it slows the build (the rule's own "Why is this bad?"), its safety, what
mlfix measured (context bytes and files kept out, steps that stop re-running after a
code edit, models baked), then the exact diff of every file. Unsafe fixes not applied
are listed as suggestions with how to turn them on. The fingerprint, hidden in an
HTML comment, names the fix set, so a declined PR is recognised on the next run.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from mlfix import __version__, discover
from mlfix.model import Applicability
from mlfix.patch import unified_diff
from mlfix.report.common import Item, items, plural
from mlfix.report.text import size
from mlfix.rules import RULES
from mlfix.runner import Run

TITLE = "Speed up the Docker build (mlfix)"
DOCS_URL = "https://github.com/mlfix/mlfix/blob/v{version}/docs/rules/{code}.md"
MAX_BODY = 60_000  # GitHub refuses bodies over 65536 characters
FINGERPRINT = re.compile(r"<!-- mlfix:fingerprint=([0-9a-f]{16}) -->")
CLOSED_BY_MLFIX = "<!-- mlfix: closed by mlfix, nothing left to fix -->"
SAFETY = {
    Applicability.SAFE: "safe: the image keeps the same files and packages",
    Applicability.UNSAFE: "unsafe (applied because unsafe fixes are on): what the app sees "
    "may change; review it",
    Applicability.DISPLAY_ONLY: "manual: shown, never applied",
}
ENABLE = (
    "turn them on with `mlfix pr --unsafe-fixes`, `unsafe-fixes = true` under `[tool.mlfix]` "
    "in `pyproject.toml`, or the action's `unsafe-fixes: true` input"
)


@dataclass(frozen=True)
class Fixes:
    """What a `--write` run changed, as the PR shows it."""

    applied: list[Item]
    suggested: list[Item]
    diffs: dict[str, str]  # file (relative to the repository) -> its exact diff
    failed: list[str] = field(default_factory=list)

    @staticmethod
    def of(run: Run) -> Fixes:
        before = items(run.results, unsafe_fixes=run.unsafe_by_dockerfile())
        diffs = {
            discover.display(path): unified_diff(old, new, discover.display(path))
            for path, (old, new) in sorted(run.changes.items(), key=lambda kv: str(kv[0]))
            if path in set(run.written)
        }
        return Fixes(
            applied=[i for i in before if i.fix_enabled],
            suggested=[i for i in before if i.fix_hidden],
            diffs=diffs,
            failed=list(run.errors),
        )

    @property
    def fingerprint(self) -> str:
        """The fix set: each applied fix's rule, file and title, and the lines each file
        gains and loses. Context lines and line numbers are left out, so an unrelated
        edit elsewhere in a file does not make a declined set of fixes new again."""
        keys = sorted(
            f"{i.finding.code}\0{i.path}\0{i.finding.fix.title if i.finding.fix else ''}"
            for i in self.applied
        )
        for name, diff in sorted(self.diffs.items()):
            changed = [
                line for line in diff.splitlines()
                if line[:1] in ("+", "-") and not line.startswith(("+++ ", "--- "))
            ]  # fmt: skip
            keys.append("\0".join([f"file {name}", *changed]))
        return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]


def fingerprint_of(body: str | None) -> str | None:
    match = FINGERPRINT.search(body or "")
    return match.group(1) if match else None


def docs_url(code: str) -> str:
    return DOCS_URL.format(version=__version__, code=code)


def why(code: str) -> str:
    """The first paragraph of the rule's "Why is this bad?" section."""
    module = RULES.get(code)
    doc = (module.__doc__ or "") if module else ""
    _, _, rest = doc.partition("## Why is this bad?")
    paragraph = rest.strip().split("\n\n", 1)[0]
    return " ".join(paragraph.split())


def measured(item: Item) -> list[str]:
    """What mlfix knows the fix saves, in words, and the finding's own figures."""
    saves = item.finding.saves
    lines: list[str] = []
    if saves is not None:
        if saves.bytes:
            lines.append(f"{size(saves.bytes)} less sent to the Docker daemon on every build")
        if saves.files:
            lines.append(f"{plural(saves.files, 'file')} kept out of the build context")
        if saves.rebuild_steps:
            steps = plural(saves.rebuild_steps, "step")
            lines.append(f"{steps} no longer re-run after a code edit")
    lines.extend(item.finding.notes)
    return lines


def _fix_section(item: Item) -> list[str]:
    finding = item.finding
    module = RULES.get(finding.code)
    name = str(getattr(module, "NAME", "")) if module else ""
    where = f"`{item.path}:{finding.location.line}`"
    assert finding.fix is not None
    files = sorted({item.names.get(e.path, discover.display(e.path)) for e in finding.fix.edits})
    out = [
        f"### [{finding.code}]({docs_url(finding.code)}) {name}: {finding.fix.title}",
        "",
        f"{where}: {finding.message}",
        "",
    ]
    reason = why(finding.code)
    if reason:
        out += [f"**Why it is slow:** {reason}", ""]
    out += [f"**Safety:** {SAFETY[finding.fix.applicability]}.", ""]
    out += [f"**Files:** {', '.join(f'`{f}`' for f in files)}", ""]
    effect = measured(item)
    if effect:
        out += ["**Measured:**", *(f"- {line}" for line in effect), ""]
    return out


def _fence(diff: str) -> str:
    ticks = "```"
    while ticks in diff:
        ticks += "`"
    return f"{ticks}diff\n{diff.rstrip(chr(10))}\n{ticks}"


def render(fixes: Fixes, *, base: str, unsafe_on: bool) -> str:
    count = plural(len(fixes.applied), "fix", "fixes")
    out = [
        f"mlfix found what makes this repository's Docker build slow on `{base}` and made "
        f"{count}. Each is explained below, with the exact diff of every file at the end.",
        "",
    ]
    for item in fixes.applied:
        out += _fix_section(item)
    if fixes.suggested:
        intro = f"These fixes are unsafe (they may change what the app sees); {ENABLE}."
        out += ["## Suggestions not applied", "", intro, ""]
        for item in fixes.suggested:
            assert item.finding.fix is not None
            out.append(
                f"- [{item.finding.code}]({docs_url(item.finding.code)}) `{item.path}:"
                f"{item.finding.location.line}`: {item.finding.message} "
                f"(fix: {item.finding.fix.title})"
            )
        out.append("")
    if fixes.failed:
        out += ["## Not checked", "", *(f"- {line}" for line in fixes.failed), ""]
    out += ["## Diff", ""]
    budget = MAX_BODY - sum(len(line) + 1 for line in out) - 400
    for name, diff in fixes.diffs.items():
        block = f"`{name}`\n\n{_fence(diff)}\n"
        if len(block) > budget:
            out.append(f"`{name}`: the diff is too long for this description; see the commit.\n")
            continue
        budget -= len(block)
        out.append(block)
    hint = "" if unsafe_on else " Unsafe fixes are off."
    out += [
        "---",
        f"Opened by mlfix {__version__}; re-run it to update this pull request. Close it "
        f"unmerged to decline these fixes: mlfix will not reopen it until they change.{hint}",
        "",
        f"<!-- mlfix:fingerprint={fixes.fingerprint} -->",
    ]
    return "\n".join(out) + "\n"


def commit_message(fixes: Fixes) -> str:
    lines = [TITLE, ""]
    for item in fixes.applied:
        assert item.finding.fix is not None
        lines.append(f"- {item.finding.code}: {item.finding.fix.title} ({item.path})")
    return "\n".join(lines) + "\n"


def changed_files(run: Run, root: Path) -> list[str]:
    """The written files, relative to the repository root, for `git add`."""
    out: list[str] = []
    for path in run.written:
        absolute = path if path.is_absolute() else Path.cwd() / path
        out.append(absolute.resolve().relative_to(root.resolve()).as_posix())
    return sorted(set(out))
