"""Wording the `.dockerignore` rules (MLF101-MLF103) share: notes, totals, locations; pure."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mlfix.context.facts import CopySource, IgnoreFacts
from mlfix.context.junk import JunkKind
from mlfix.context.plan import (
    GROUP_ORDER,
    KIND_NAMES,
    Block,
    Line,
    Proposal,
    amount,
    display,
    files,
    literal,
    size,
)
from mlfix.facts import Facts
from mlfix.model import Location

NOTE_PATHS = 40  # more paths than this in one note are named by their directories


def ignore_facts(facts: Facts) -> IgnoreFacts | None:
    return facts.ignore


def shown(path: Path, ignore: IgnoreFacts) -> str:
    """A path as messages show it: relative to the context when inside it."""
    for base in (ignore.context, ignore.dockerfile.parent):
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            continue
    return str(path)


def dockerfile_location(facts: Facts, ignore: IgnoreFacts) -> Location:
    """Where a context-wide finding points: the COPY that sends the most, else line 1."""
    best: CopySource | None = next((c for c in ignore.copies if c.whole), None)
    if best is None:
        best = next((c for c in ignore.copies if c.keyword != "RUN"), None)
    path = facts.dockerfile.path
    if best is None:
        first = facts.dockerfile.instructions[0] if facts.dockerfile.instructions else None
        return Location(path, first.first_line if first else 1)
    return Location(path, best.line, 1, best.end_line)


def chosen(proposal: Proposal, unsafe_fixes: bool) -> tuple[Block, ...]:
    """The blocks a fix writes: the safe one; the unsafe one too with --unsafe-fixes, or
    alone when there is no safe one."""
    if proposal.safe.lines and proposal.unsafe.lines and unsafe_fixes:
        return (proposal.safe, proposal.unsafe)
    if proposal.safe.lines:
        return (proposal.safe,)
    return (proposal.unsafe,) if proposal.unsafe.lines else ()


def _listing(paths: list[str]) -> str:
    """Every path, or for many, every directory that holds them with how many it holds."""
    if len(paths) <= NOTE_PATHS:
        return ", ".join(paths)
    by_dir: dict[str, int] = {}
    for path in paths:
        head = path.rstrip("/").rpartition("/")[0]
        by_dir[head] = by_dir.get(head, 0) + 1
    return ", ".join(
        f"{head or '.'}/ ({count} of them)"
        if count > 1
        else next(p for p in paths if p.rstrip("/").rpartition("/")[0] == head)
        for head, count in sorted(by_dir.items())
    )


def _unsafe_why(line: Line) -> str:
    mention = line.mentions[0]
    more = f" and {len(line.mentions) - 1} more places" if len(line.mentions) > 1 else ""
    return f'{mention.where} names `{mention.path}` ("{mention.literal}"){more}'


def line_notes(block: Block) -> Iterator[str]:
    """One note per line: every path it removes and their size, or what a `!` line keeps."""
    for step in block.steps:
        line = step.line
        if line.kind is None:
            yield f"`{line.text}` keeps `{line.keeps}` in, as {line.reason}"
            continue
        unsafe = f"; unsafe: {_unsafe_why(line)}" if line.unsafe else ""
        if not step.removed:
            yield f"`{line.text}`  nothing more: what it matches is already left out{unsafe}"
            continue
        what = amount(step.saved_bytes, step.saved_files)
        only = step.removed[0]
        if len(step.removed) == 1 and line.text.lstrip("/") == literal(only.junk.path):
            kept = f"; `{'`, `'.join(only.kept_paths)}` stays" if only.kept_paths else ""
            yield f"`{display(only.junk)}`  {what} ({KIND_NAMES[only.junk.kind]}{kept}){unsafe}"
            continue
        names = [display(r.junk) for r in step.removed]
        yield f"`{line.text}`  {what}: {_listing(names)}{unsafe}"


def held_back_notes(block: Block) -> Iterator[str]:
    """Unsafe lines the fix leaves out, with where the code names their paths."""
    for step in block.steps:
        line = step.line
        if line.kind is None or not line.unsafe:
            continue
        yield (
            f"`{line.text}` ({amount(step.saved_bytes, step.saved_files)}) is left to "
            f"--unsafe-fixes: {_unsafe_why(line)}, and the image would no longer have it"
        )


def secret_notes(ignore: IgnoreFacts, proposal: Proposal) -> Iterator[str]:
    secrets = [f"`{j.path}`" for j in proposal.candidates if j.kind is JunkKind.SECRET]
    if secrets:
        where = "the daemon and, through `COPY . .`, an image layer"
        if not ignore.copies_whole_context:
            where = "the daemon"
        verb = "is a secret" if len(secrets) == 1 else "are secrets"
        yield (
            f"{', '.join(secrets)} {verb}: sent to {where}, where anyone who can pull the "
            "image can read them (a leak)"
        )
    for kept in proposal.kept:
        if kept.junk.kind is JunkKind.SECRET:
            yield (
                f"`{kept.junk.path}` is a secret and stays, because {kept.reason}: in an "
                "image layer it is a leak; pass it at run time or with "
                "`RUN --mount=type=secret` instead"
            )


def kept_notes(proposal: Proposal, blocks: tuple[Block, ...]) -> Iterator[str]:
    """Junk that stays, unless a `!` line's note already says why."""
    said = {line.keeps for block in blocks for line in block.lines if line.kind is None}
    for kept in proposal.kept:
        if kept.junk.kind is JunkKind.SECRET or kept.junk.path in said:
            continue
        yield (
            f"`{display(kept.junk)}` ({amount(kept.junk.sent_bytes, kept.junk.sent_files)}) "
            f"stays: {kept.reason}"
        )


def context_notes(ignore: IgnoreFacts, blocks: tuple[Block, ...]) -> Iterator[str]:
    """Problems met on the walk, legacy-engine caveats, and BuildKit's narrower transfer."""
    tree = ignore.tree
    if tree is not None:
        for problem in tree.problems:
            yield f"`{problem.path}`: {problem.detail}"
    for block in blocks:
        for path in block.legacy_lost:
            yield (
                f"Docker before 23.0 (its older context transfer) would still leave out "
                f"`{path}`: a `!` line cannot reach it there"
            )
    if not ignore.copies_whole_context:
        yield (
            "this Dockerfile copies named paths only, so BuildKit sends just those; the "
            "figures are for the whole context, which the classic builder sends"
        )


def proposal_notes(ignore: IgnoreFacts, proposal: Proposal, blocks: tuple[Block, ...]) -> list[str]:
    """The notes MLF101 and MLF102 give a proposal alike: per line, totals, what waits."""
    notes: list[str] = []
    for block in blocks:
        notes.extend(line_notes(block))
    notes.append(before_after(ignore, blocks))
    if not any(block is proposal.unsafe for block in blocks):
        notes.extend(held_back_notes(proposal.unsafe))
    notes.extend(secret_notes(ignore, proposal))
    notes.extend(kept_notes(proposal, blocks))
    notes.extend(context_notes(ignore, blocks))
    return notes


def totals(ignore: IgnoreFacts, blocks: tuple[Block, ...]) -> tuple[int, int, int, int]:
    """Bytes/files sent now, and after the blocks."""
    tree = ignore.tree
    assert tree is not None
    before = (tree.sent_bytes, tree.sent_files)
    after = before
    for block in blocks:
        if block.steps:
            last = block.steps[-1]
            after = (last.after_bytes, last.after_files)
    return before[0], before[1], after[0], after[1]


def before_after(ignore: IgnoreFacts, blocks: tuple[Block, ...]) -> str:
    b_bytes, b_files, a_bytes, a_files = totals(ignore, blocks)
    return (
        f"sent to the daemon now: {amount(b_bytes, b_files)}; after the fix: "
        f"{amount(a_bytes, a_files)}"
    )


def lines_of(blocks: tuple[Block, ...]) -> list[Line]:
    return [line for block in blocks for line in block.lines]


def junk_summary(proposal: Proposal) -> str:
    present = {junk.kind for junk in proposal.candidates}
    return ", ".join(KIND_NAMES[kind] for kind in GROUP_ORDER if kind in present)


def dockerfile_name(ignore: IgnoreFacts) -> str:
    return shown(ignore.dockerfile, ignore)


def in_words(bytes_: int, count: int) -> str:
    """`2.0 GB (41,356 files)`, for sentences."""
    return f"{size(bytes_)} ({files(count)})"


def candidate_bytes(proposal: Proposal) -> tuple[int, int]:
    return (
        sum(j.sent_bytes for j in proposal.candidates),
        sum(j.sent_files for j in proposal.candidates),
    )


__all__ = [
    "amount",
    "before_after",
    "candidate_bytes",
    "chosen",
    "context_notes",
    "dockerfile_location",
    "dockerfile_name",
    "held_back_notes",
    "ignore_facts",
    "in_words",
    "junk_summary",
    "kept_notes",
    "line_notes",
    "lines_of",
    "secret_notes",
    "shown",
    "size",
    "totals",
]
