"""Every fixture's findings and diff match its snapshot; refresh with MLFIX_UPDATE=1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fixture_cases import Case, cases, copy_input, render, run
from mlfix.patch import write_atomic

CASES = cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_snapshot(case: Case) -> None:
    result = run(case)
    assert result.error is None, result.error
    actual = render(case, result)
    if os.environ.get("MLFIX_UPDATE") == "1":
        case.expected.write_bytes(actual.encode())
    assert case.expected.exists(), f"{case.expected} is missing; MLFIX_UPDATE=1 writes it"
    assert actual == case.expected.read_bytes().decode()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_second_run_changes_nothing(case: Case, tmp_path: Path) -> None:
    root = copy_input(case, tmp_path)
    first = run(case, root)
    for path, (_old, new) in first.changes.items():
        write_atomic(path, new)
    second = run(case, root)
    assert second.error is None
    assert second.changes == {}, render(case, second, root)


def test_every_rule_dir_has_cases() -> None:
    assert len(CASES) >= 20
