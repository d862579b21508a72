"""Suppression comments: what they cover, that covered fixes are never applied, MLF001."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fixture_cases import FIXTURES
from mlfix.config import Settings
from mlfix.dockerfile.model import parse
from mlfix.engine import run_target
from mlfix.facts import Target
from mlfix.suppress import parse as suppressions

FIRES = FIXTURES / "MLF201" / "fires-copy-dot-requirements" / "input"
HEAD = "FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\n"
ALL = Settings(select=("MLF001", "MLF201"))  # exact outcomes stay put as other rules land
INSTALL = "RUN pip install --no-cache-dir -r requirements.txt\n"


def project(tmp_path: Path, dockerfile: str) -> Target:
    root = tmp_path / "p"
    shutil.copytree(FIRES, root)
    (root / "Dockerfile").write_text(dockerfile)
    return Target(root / "Dockerfile", root, "Dockerfile")


def codes(target: Target, settings: Settings | None = None, *, fix: bool = False) -> list[str]:
    result = run_target(target, settings or ALL, fix=fix)
    assert result.error is None, result.error
    return [f.code for f in (result.remaining if fix else result.findings)]


def test_parse_line_file_and_bare_forms() -> None:
    text = (
        "# mlfix: ignore-file[MLF102, mlf103]\n"
        "FROM python:3.11-slim\n"
        "# a reason first\n"
        "#mlfix:ignore[MLF201] trailing words\n"
        "RUN pip install x \\\n"
        "    # mlfix: ignore[MLF999] inside a continuation: not a suppression\n"
        "    && true\n"
        "# mlfix: ignore\n"
        "RUN <<EOF\n"
        "# mlfix: ignore-file[MLF301] (a shell comment in a heredoc)\n"
        "EOF\n"
        "# MLFIX: IGNORE[MLF202]\n"
        "\n"
        'CMD ["x"]\n'
    )
    found = suppressions(parse(text, Path("Dockerfile")))
    assert [(s.line.number, s.file_wide, s.codes, s.covers) for s in found] == [
        (1, True, ("MLF102", "MLF103"), None),
        (4, False, ("MLF201",), (5, 7)),
        (8, False, (), (9, 11)),
        (12, False, ("MLF202",), None),  # a blank line parts it from the CMD
    ]
    assert found[1].text == "#mlfix:ignore[MLF201]"


def test_line_suppression_hides_the_finding_and_its_fix(tmp_path: Path) -> None:
    target = project(tmp_path, HEAD + "# mlfix: ignore[MLF201]\n" + INSTALL)
    assert codes(target) == []
    result = run_target(target, ALL, fix=True)
    assert result.changes == {}


def test_suppression_must_stand_directly_above(tmp_path: Path) -> None:
    target = project(tmp_path, HEAD + "# mlfix: ignore[MLF201]\n\n" + INSTALL)
    assert sorted(codes(target)) == ["MLF001", "MLF201"]


def test_suppression_for_another_code_does_not_hide(tmp_path: Path) -> None:
    target = project(tmp_path, HEAD + "# mlfix: ignore[MLF202]\n" + INSTALL)
    assert sorted(codes(target)) == ["MLF001", "MLF201"]


def test_file_suppression(tmp_path: Path) -> None:
    target = project(tmp_path, "# mlfix: ignore-file[MLF201]\n" + HEAD + INSTALL)
    assert codes(target) == []
    bare = project(tmp_path / "bare", "# mlfix: ignore-file\n" + HEAD + INSTALL)
    assert codes(bare) == []


def test_unused_suppression_is_reported_and_removed_by_write(tmp_path: Path) -> None:
    fixed = "FROM python:3.11-slim\nWORKDIR /app\nCOPY requirements.txt .\n" + INSTALL
    target = project(tmp_path, fixed.replace("RUN", "# mlfix: ignore[MLF201]\nRUN") + "COPY . .\n")
    assert codes(target) == ["MLF001"]
    result = run_target(target, ALL, fix=True)
    assert result.remaining == []
    assert result.changes[target.dockerfile][1] == fixed + "COPY . .\n"


def test_fix_removes_what_a_suppression_no_longer_covers(tmp_path: Path) -> None:
    """A suppression of a code that no fix touches survives --write; an unknown code goes."""
    target = project(tmp_path, HEAD + "# mlfix: ignore[MLF201, MLF777]\n" + INSTALL)
    result = run_target(target, ALL, fix=True)
    assert [f.code for f in result.findings] == ["MLF001"]
    assert result.changes[target.dockerfile][1] == HEAD + "# mlfix: ignore[MLF201]\n" + INSTALL


@pytest.mark.parametrize("select", [("MLF001",), ("MLF0",)])
def test_used_suppression_of_an_unselected_rule_is_kept(tmp_path: Path, select: tuple[str]) -> None:
    """Narrowing --select never makes a needed suppression look unused."""
    target = project(tmp_path, HEAD + "# mlfix: ignore[MLF201]\n" + INSTALL)
    assert codes(target, Settings(select=select)) == []
    assert run_target(target, Settings(select=select), fix=True).changes == {}


def test_mlf001_can_be_ignored(tmp_path: Path) -> None:
    target = project(tmp_path, HEAD + "# mlfix: ignore[MLF777]\n" + INSTALL)
    assert codes(target, Settings(select=ALL.select, ignore=("MLF001",))) == ["MLF201"]
    quiet = project(
        tmp_path / "q",
        "# mlfix: ignore-file[MLF001]\n" + HEAD + "# mlfix: ignore[MLF777]\n" + INSTALL,
    )
    assert codes(quiet) == ["MLF201"]
