"""Every fixture output is valid for BuildKit and adds no hadolint finding.

The `dockerfile` package wraps BuildKit's own parser: instruction boundaries of the
mlfix model must agree with it on every input and output, so edits can never cut an
instruction in half.
"""

from __future__ import annotations

from pathlib import Path

import dockerfile
import pytest

from fixture_cases import Case, cases, hadolint, run
from mlfix.dockerfile.model import parse

CASES = cases()


def _boundaries(text: str) -> list[tuple[str, int, int]]:
    return [(c.cmd.upper(), c.start_line, c.end_line) for c in dockerfile.parse_string(text)]


def _ours(text: str) -> list[tuple[str, int, int]]:
    return [
        (i.keyword, i.first_line, i.last_line) for i in parse(text, Path("Dockerfile")).instructions
    ]


def _outputs(case: Case) -> list[tuple[str, str]]:
    """(before, after) for each Dockerfile the fix changes, or (text, text) when untouched."""
    result = run(case)
    assert result.error is None, result.error
    dockerfile_path = case.input / "Dockerfile"
    before = dockerfile_path.read_bytes().decode("utf-8", "surrogateescape")
    after = result.changes.get(dockerfile_path, (before, before))[1]
    return [(before, after)]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_buildkit_parses_output_with_same_boundaries(case: Case) -> None:
    for before, after in _outputs(case):
        assert _ours(before) == _boundaries(before)
        assert _ours(after) == _boundaries(after)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_no_new_hadolint_findings(case: Case) -> None:
    for before, after in _outputs(case):
        new = hadolint(after) - hadolint(before)
        assert not new, f"fix adds hadolint findings: {dict(new)}"
