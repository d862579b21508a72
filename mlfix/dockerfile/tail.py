"""A last instruction whose continuation runs into the end of the file.

BuildKit ends `RUN pip install -r r.txt \\` at the end of the file, so the escape means
nothing there, until something follows it: every line after an open continuation
(blank and comment lines aside) joins that instruction. A fix that appends below it,
moves it above another instruction or splits it would either swallow the next
instruction or have to drop the user's escape. mlfix does neither: such a fix is
withdrawn and the finding says why, so the user ends the line (often a lost last line)
and the next run fixes it. Fixes that insert above the instruction, or edit its words
before the escape, still apply: the result parses to the same instructions plus the
new ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from mlfix.dockerfile.model import DockerfileModel
from mlfix.model import Edit, Finding


@dataclass(frozen=True)
class OpenTail:
    start: int  # the instruction's first character
    escape: int  # offset of the escape character that continues into the end of the file
    line: int  # its line number
    raw: str  # the instruction's text up to and including that escape


def open_tail(model: DockerfileModel) -> OpenTail | None:
    if not model.instructions:
        return None
    last = model.instructions[-1]
    if last.heredocs:
        return None  # it ends at its terminator
    lines = [line for line in model.lines if last.first_line <= line.number <= last.last_line]
    for line in reversed(lines):
        if line.is_blank or line.is_comment:
            continue
        body = line.body.rstrip(" \t")
        if not body.endswith(model.escape):
            return None
        escape = line.start + len(body) - len(model.escape)
        raw = model.text[last.start : escape + len(model.escape)]
        return OpenTail(last.start, escape, line.number, raw)
    return None


def touches(tail: OpenTail, edit: Edit, text: str) -> bool:
    """An edit that lands on or after the open escape, or carries the instruction elsewhere.

    Deleting the whole instruction is fine: nothing is left to continue.
    """
    if tail.raw in edit.content:
        return True  # a move: above another instruction it would swallow that one
    if edit.end <= tail.escape:
        return False  # above it, or among its words before the escape
    return not (edit.content == "" and edit.start <= tail.start and edit.end >= len(text))


def note(model: DockerfileModel, tail: OpenTail) -> str:
    return (
        f"not fixed: line {tail.line} ends with `{model.escape}`, so the instruction runs into"
        " the end of the file and would take in whatever a fix put below it; end that line"
        " (is a line missing?) and run mlfix again"
    )


def guard(model: DockerfileModel, findings: Iterable[Finding]) -> list[Finding]:
    """Withdraw the fixes that would edit next to an open continuation, with a note."""
    tail = open_tail(model)
    out = list(findings)
    if tail is None:
        return out
    for position, finding in enumerate(out):
        fix = finding.fix
        if fix is None or not any(
            e.path == model.path and touches(tail, e, model.text) for e in fix.edits
        ):
            continue
        out[position] = dataclasses.replace(
            finding, fix=None, notes=(*finding.notes, note(model, tail))
        )
    return out
