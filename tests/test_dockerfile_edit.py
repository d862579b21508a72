"""Span edits keep what they did not mean to change, and never build a text hadolint or
BuildKit would read differently."""

from __future__ import annotations

from pathlib import Path

import dockerfile

from fixture_cases import hadolint
from mlfix.dockerfile import edit
from mlfix.dockerfile.model import parse

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


def test_a_moved_continuation_into_the_end_of_the_file_is_closed() -> None:
    text = "FROM python:3.11-slim\r\nCOPY . .\r\nRUN pip install six \\\r\n"
    after = _move_last_above(text, "COPY")
    assert after == "FROM python:3.11-slim\r\nRUN pip install six\r\nCOPY . .\r\n"
    assert [c.cmd for c in dockerfile.parse_string(after)] == ["FROM", "RUN", "COPY"]


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
