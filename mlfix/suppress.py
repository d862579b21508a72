"""Suppression comments, read from the Dockerfile and applied in one place (the engine).

```dockerfile
# mlfix: ignore-file[MLF102]        anywhere outside an instruction: the whole target
# mlfix: ignore[MLF201]             in the comments directly above an instruction
RUN pip install .
```

A bare `# mlfix: ignore` (or `ignore-file`) covers every code. A line suppression
covers findings that start on the instruction below it; a file suppression covers
every finding of the target, including those in other files (`.dockerignore`,
compose files). Rules never see suppressions: the engine drops what they cover, and
reports a suppression that covers nothing (MLF001), like ruff's RUF100.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlfix.dockerfile.model import DockerfileModel, Line
from mlfix.model import Finding

DIRECTIVE = re.compile(
    r"#[ \t]*mlfix[ \t]*:[ \t]*(?P<kind>ignore-file|ignore)\b(?:\[(?P<codes>[^\]]*)\])?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Suppression:
    """One `# mlfix: ignore...` comment.

    `start`/`end` are offsets of the directive in the text; `codes` is empty for a
    bare directive (every code). `covers` is the line range of the instruction a line
    suppression stands above, None when it stands above none.
    """

    line: Line
    start: int
    end: int
    file_wide: bool
    codes: tuple[str, ...]
    covers: tuple[int, int] | None

    @property
    def text(self) -> str:
        return self.line.body[self.start - self.line.start : self.end - self.line.start]

    @property
    def column(self) -> int:
        return self.start - self.line.start + 1

    def matches(self, finding: Finding, dockerfile: Path) -> bool:
        if self.codes and finding.code not in self.codes:
            return False
        if self.file_wide:
            return True
        if self.covers is None or finding.location.path != dockerfile:
            return False
        first, last = self.covers
        return first <= finding.location.line <= last


def _codes(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    return tuple(dict.fromkeys(c.strip().upper() for c in re.split(r"[,\s]+", raw) if c.strip()))


def parse(model: DockerfileModel) -> list[Suppression]:
    """Every suppression in the file, in order.

    Only Dockerfile comments count: lines inside an instruction (continuation
    comments, heredoc bodies) are skipped, since a heredoc's `#` is a shell comment.
    """
    inside = [(i.start, i.end) for i in model.instructions]
    lead: dict[int, tuple[int, int]] = {}  # comment-line offset -> the instruction it stands above
    for instruction in model.instructions:
        for line in model.lines:
            if instruction.lead_start <= line.start < instruction.start:
                lead[line.start] = (instruction.first_line, instruction.last_line)
    found: list[Suppression] = []
    for line in model.lines:
        if not line.is_comment or any(start <= line.start < end for start, end in inside):
            continue
        match = DIRECTIVE.search(line.body)
        if match is None:
            continue
        file_wide = match.group("kind").lower() == "ignore-file"
        found.append(
            Suppression(
                line=line,
                start=line.start + match.start(),
                end=line.start + match.end(),
                file_wide=file_wide,
                codes=_codes(match.group("codes")),
                covers=None if file_wide else lead.get(line.start),
            )
        )
    return found


@dataclass
class Outcome:
    """What the suppressions did to one list of findings."""

    kept: list[Finding]
    used: dict[int, set[str]]  # suppression index -> codes it suppressed


def apply(
    suppressions: Sequence[Suppression], findings: Iterable[Finding], dockerfile: Path
) -> Outcome:
    outcome = Outcome([], {})
    for finding in findings:
        hits = [n for n, s in enumerate(suppressions) if s.matches(finding, dockerfile)]
        if not hits:
            outcome.kept.append(finding)
        for n in hits:
            outcome.used.setdefault(n, set()).add(finding.code)
    return outcome


@dataclass(frozen=True)
class Unused:
    """A suppression that suppressed nothing, entirely or for some of its codes."""

    suppression: Suppression
    unused: tuple[str, ...]  # known codes that matched no finding
    unknown: tuple[str, ...]  # codes no rule has
    keep: tuple[str, ...]  # codes that did suppress something
    reason: str | None = None  # why a bare or misplaced one is unused


def unused(
    suppressions: Sequence[Suppression], used: dict[int, set[str]], known: Iterable[str]
) -> list[Unused]:
    known_codes = set(known)
    found: list[Unused] = []
    for n, suppression in enumerate(suppressions):
        hit = used.get(n, set())
        if not suppression.file_wide and suppression.covers is None:
            reason = "it is not directly above an instruction"
            found.append(Unused(suppression, suppression.codes, (), (), reason))
            continue
        if not suppression.codes:
            if not hit:
                found.append(Unused(suppression, (), (), (), "nothing here is reported"))
            continue
        unknown = tuple(c for c in suppression.codes if c not in known_codes)
        idle = tuple(c for c in suppression.codes if c in known_codes and c not in hit)
        keep = tuple(c for c in suppression.codes if c in hit)
        if unknown or idle:
            found.append(Unused(suppression, idle, unknown, keep))
    return found


def judged_codes(suppressions: Sequence[Suppression]) -> set[str] | None:
    """Codes whose findings are needed to judge the suppressions (None: every code)."""
    codes: set[str] = set()
    for suppression in suppressions:
        if not suppression.codes:
            return None
        codes.update(suppression.codes)
    return codes
