"""Span edits keep what they did not mean to change, and never build a text hadolint or
BuildKit would read differently."""

from __future__ import annotations

from pathlib import Path

import dockerfile

from fixture_cases import hadolint
from mlfix.dockerfile import edit, tail
from mlfix.dockerfile.model import parse
from mlfix.model import Edit, Finding, Fix, Location

PATH = Path("Dockerfile")


def _move_last_above(text: str, anchor_keyword: str) -> str:
    model = parse(text, PATH)
    anchor = next(i for i in model.instructions if i.keyword == anchor_keyword)
    last = model.instructions[-1]
    return edit.apply(text, edit.move_before(model, anchor, [(last.lead_start, last.end)]))


def test_an_instruction_moved_below_a_heredoc_gets_a_blank_line() -> None:
    text = "FROM python:3.11-slim\nRUN <<EOF\necho hi\nEOF\nCOPY . .\nENV A=1\n"
    after = _move_last_above(text, "COPY")
    assert after == "FROM python:3.11-slim\nRUN <<EOF\necho hi\nEOF\n\nENV A=1\nCOPY . .\n"
    assert [c.cmd for c in dockerfile.parse_string(after)] == ["FROM", "RUN", "ENV", "COPY"]
    assert "DL1000" not in hadolint(after)


def _instructions(text: str) -> list[tuple[str, tuple[str, ...]]]:
    return [(c.cmd, c.value) for c in dockerfile.parse_string(text)]


def test_generated_lines_follow_a_backtick_escape_and_crlf() -> None:
    text = "# escape=`\r\nFROM python:3.11-slim\r\nCOPY . .\r\n"
    model = parse(text, PATH)
    new = "RUN hf download gpt2 \\\n    --include 'a\\' \\\n    --include b\nENV A=1\n"
    content = edit.generated(model, new)
    assert (
        content
        == "RUN hf download gpt2 `\r\n    --include 'a\\' `\r\n    --include b\r\nENV A=1\r\n"
    )
    after = edit.apply(text, [Edit.insert(PATH, model.instructions[1].start, content)])
    assert _instructions(after) == [
        ("FROM", ("python:3.11-slim",)),
        ("RUN", ("hf download gpt2     --include 'a\\'     --include b",)),
        ("ENV", ("A", "1")),
        ("COPY", (".", ".")),
    ]


def test_generated_lines_keep_a_backslash_escape() -> None:
    model = parse("FROM python:3.11-slim\n", PATH)
    assert edit.generated(model, "RUN a \\\n    b\n") == "RUN a \\\n    b\n"


OPEN = "FROM python:3.11-slim\nCOPY . .\nRUN pip install six \\\n    # a note\n\n"


def test_an_open_continuation_is_found_past_its_comment_and_blank_lines() -> None:
    model = parse(OPEN, PATH)
    found = tail.open_tail(model)
    assert found is not None
    assert (found.line, OPEN[found.escape]) == (3, "\\")
    assert tail.open_tail(parse("FROM python:3.11-slim\nRUN a \\\n  b\n", PATH)) is None
    heredoc = "FROM python:3.11-slim\nRUN <<EOF\necho \\\nEOF\n"
    assert tail.open_tail(parse(heredoc, PATH)) is None


def _finding(*edits: Edit) -> Finding:
    return Finding("MLF999", "m", Location(PATH, 1), Fix("f", edits))


def test_fixes_next_to_an_open_continuation_are_withdrawn_with_a_note() -> None:
    """Below it, moving it or splitting it: each would join it or drop the user's escape."""
    model = parse(OPEN, PATH)
    run = model.instructions[-1]
    copy = model.instructions[1]
    below = _finding(Edit.insert(PATH, len(OPEN), "ENV A=1\n"))
    moved = _finding(*edit.move_before(model, copy, [(run.lead_start, run.end)]))
    split = _finding(Edit(PATH, run.start, run.end, "RUN pip install six\n"))
    for finding in tail.guard(model, [below, moved, split]):
        assert finding.fix is None
        assert finding.notes and "line 3 ends with `\\`" in finding.notes[-1]
    # Appended, the ENV would be read as words of the RUN: what the guard prevents.
    joined = edit.apply(OPEN, below.fix.edits if below.fix else ())
    assert [c.cmd for c in dockerfile.parse_string(joined)] == ["FROM", "COPY", "RUN"]


def test_fixes_above_or_inside_an_open_continuation_still_apply() -> None:
    """The result parses to the same instructions plus the new ones."""
    model = parse(OPEN, PATH)
    run = model.instructions[-1]
    above = _finding(Edit.insert(PATH, run.lead_start, edit.generated(model, "ENV A=1\n")))
    word = _finding(Edit.insert(PATH, run.start + len("RUN pip install six"), " --no-cache-dir"))
    gone = _finding(Edit.delete(PATH, run.start, len(OPEN)))
    guarded = tail.guard(model, [above, word, gone])
    assert guarded == [above, word, gone]
    after = edit.apply(OPEN, [*above.fix.edits, *word.fix.edits] if above.fix and word.fix else ())
    assert _instructions(after) == [
        ("FROM", ("python:3.11-slim",)),
        ("COPY", (".", ".")),
        ("ENV", ("A", "1")),
        ("RUN", ("pip install six --no-cache-dir",)),
    ]


def test_a_utf8_bom_stays_first_and_outside_every_instruction() -> None:
    text = "\ufeffFROM python:3.11-slim\nCOPY . .\nRUN pip install six\n"
    model = parse(text, PATH)
    assert model.instructions[0].keyword == "FROM" and model.instructions[0].start == 1
    after = _move_last_above(text, "COPY")
    assert after == "\ufeffFROM python:3.11-slim\nRUN pip install six\nCOPY . .\n"
    assert not hadolint(after) - hadolint(text)


def test_a_replaced_crlf_instruction_ends_with_one_line_ending() -> None:
    text = "FROM python:3.11-slim\r\nRUN a && b\r\n"
    model = parse(text, PATH)
    run = model.instructions[-1]
    replaced = edit.apply(text, [edit.replace_instruction(model, run, "RUN b\r\n")])
    assert replaced == "FROM python:3.11-slim\r\nRUN b\r\n"
