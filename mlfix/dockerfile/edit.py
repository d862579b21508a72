"""Span edits on a Dockerfile's original text.

A move is a delete plus an insert of the very same characters, so the moved lines
keep their bytes (CRLF, tabs, comments, continuations). New lines are built with
LF and `\\` continuations and pass through `generated`, the one place that turns them
into the file's own line ending and escape character.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlfix.dockerfile.model import DockerfileModel, Instruction
from mlfix.model import Edit
from mlfix.textio import with_newline


class EditConflict(ValueError):
    """Two edits touch the same span; the caller must apply them in separate passes."""


def apply(text: str, edits: Iterable[Edit]) -> str:
    ordered = sorted(edits, key=lambda e: (e.start, e.end))
    for before, after in itertools.pairwise(ordered):
        if after.start < before.end:
            raise EditConflict(f"overlapping edits at {before.start}..{before.end}")
    pieces: list[str] = []
    cursor = 0
    for edit in ordered:
        pieces.append(text[cursor : edit.start])
        pieces.append(edit.content)
        cursor = edit.end
    pieces.append(text[cursor:])
    return "".join(pieces)


def generated(model: DockerfileModel, text: str) -> str:
    """New lines, built with LF and `\\` continuations, as the file writes its own.

    Under ``# escape=` `` a `\\` ending a line continues nothing: the next line of a wrapped
    RUN would be read as an instruction of its own (`--include ...`), so every line
    mlfix writes into a Dockerfile goes through here.
    """
    if model.escape != "\\":
        lines = text.split("\n")
        text = "\n".join(
            line[:-1] + model.escape if line.endswith("\\") else line for line in lines
        )
    return with_newline(text, model.newline)


def insert_lines(model: DockerfileModel, at: int, text: str) -> Edit:
    """Insert new LF-built lines at a line start (or the end of the file).

    At the end of a file without a final newline, the lines go on a line of their own;
    right below a heredoc's terminator a blank line goes first: BuildKit reads that,
    hadolint cannot parse it.
    """
    if at == len(model.text) and model.text and not model.text.endswith("\n"):
        text = "\n" + text
    if any(i.heredocs and i.end == at for i in model.instructions):
        text = "\n" + text
    return Edit.insert(model.path, at, generated(model, text))


def _ends_without_newline(text: str, end: int) -> bool:
    return end == len(text) and not text.endswith("\n")


def take_block(model: DockerfileModel, start: int, end: int) -> tuple[Edit, str]:
    """Cut `text[start:end]` out, returning the delete and the text to re-insert.

    When the block is the file's unterminated last line, the newline before it is
    cut instead and the block gains one, so the file still ends without a newline.
    """
    text = model.text
    if _ends_without_newline(text, end) and start > 0:
        cut = start - (2 if text[start - 2 : start] == "\r\n" else 1)
        return Edit.delete(model.path, cut, end), text[start:end] + model.newline
    return Edit.delete(model.path, start, end), text[start:end]


@dataclass(frozen=True)
class Verbatim:
    """Text taken from the file itself (its escape, its line endings): inserted as it is."""

    text: str


# A span of the text to move, new LF-built text (see `generated`), or the file's own text.
Piece = tuple[int, int] | str | Verbatim


def move_before(
    model: DockerfileModel, anchor: Instruction, pieces: Sequence[Piece]
) -> tuple[Edit, ...]:
    """Move spans and insert new text, in the given order, above `anchor` and its comments.

    Adjacent spans are cut as one (so cutting a final newline never overlaps a
    neighbour) but re-inserted piece by piece, in the order given. A moved run of
    lines that stood as its own paragraph takes the blank line after it along. An
    instruction never lands right below a heredoc's terminator: BuildKit reads that,
    but hadolint cannot parse it, so a blank line goes between.
    """
    text = model.text
    edits: list[Edit] = []
    tails: dict[int, str] = {}
    for start, end in _merge_adjacent([p for p in pieces if isinstance(p, tuple)]):
        gap_end = _with_paragraph_gap(text, start, end)
        delete, content = take_block(model, start, gap_end)
        edits.append(delete)
        tails[end] = content[end - start :]
    out: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(generated(model, piece))
        elif isinstance(piece, Verbatim):
            out.append(piece.text)
        else:
            out.append(text[piece[0] : piece[1]] + tails.get(piece[1], ""))
    heredoc_ends = {i.end for i in model.instructions if i.heredocs}
    if anchor.lead_start in heredoc_ends:
        out.insert(0, model.newline)
    last = pieces[-1] if pieces else None
    ends_in_heredoc = isinstance(last, tuple) and any(last[0] < e <= last[1] for e in heredoc_ends)
    if ends_in_heredoc and not out[-1].endswith(model.newline * 2):
        out.append(model.newline)
    edits.append(Edit.insert(model.path, anchor.lead_start, "".join(out)))
    return tuple(edits)


def _with_paragraph_gap(text: str, start: int, end: int) -> int:
    before_blank = start == 0 or text[:start].endswith(("\n\n", "\n\r\n"))
    for gap in ("\n", "\r\n"):
        if before_blank and text.startswith(gap, end) and end + len(gap) < len(text):
            return end + len(gap)
    return end


def _merge_adjacent(blocks: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Adjacent blocks move as one, so cutting a final newline never overlaps a neighbour."""
    merged: list[tuple[int, int]] = []
    for start, end in blocks:
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def replace_instruction(model: DockerfileModel, instruction: Instruction, new_text: str) -> Edit:
    """Replace an instruction's own lines (not its comments) with `new_text`.

    `new_text` is cut from the file's own text (its escape character already); only its
    line endings are made the file's. The replacement ends the way the original did:
    with the file's newline, or with none when the instruction was the unterminated
    last line.
    """
    body = with_newline(new_text.rstrip("\r\n"), model.newline)
    if not _ends_without_newline(model.text, instruction.end):
        body += model.newline
    return Edit(model.path, instruction.start, instruction.end, body)


def file_edit(path: Path, old: str, new: str) -> Edit:
    return Edit(path, 0, len(old), new)
