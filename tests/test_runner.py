"""The library runner: one pipeline and one Report behind the CLI, stdin and `mlfix pr`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from fixture_cases import FIXTURES
from mlfix import runner
from mlfix.config import Overrides, Resolver
from mlfix.options import Mode
from mlfix.report.outcome import Report

CASE = FIXTURES / "MLF201" / "fires-copy-dot-requirements" / "input"


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(CASE, root)
    return root


def _run(paths: list[Path], mode: Mode, **kwargs: object) -> runner.Run:
    said: list[str] = []
    run = runner.run_paths(paths, mode, Resolver(None), Overrides(), say=said.append, **kwargs)  # type: ignore[arg-type]
    run.errors.extend(x for x in said if x not in run.errors)
    return run


def test_write_run_writes_and_its_report_counts_what_changed(tmp_path: Path) -> None:
    root = _project(tmp_path)
    before = (root / "Dockerfile").read_text()
    run = _run([root], Mode.WRITE)
    report = run.report
    assert (root / "Dockerfile").read_text() != before
    assert report.changed == set(run.written) and root / "Dockerfile" in report.changed
    assert report.checked == {root / "Dockerfile"} and report.unchanged == 0
    assert report.fixed >= 1 and report.failed == 0
    assert report.summary().startswith(f"{len(run.written)} file")
    assert report.exit_code == (1 if run.found else 0)
    # a second run over the written tree changes nothing and finds nothing to fix
    again = _run([root], Mode.WRITE, exit_non_zero_on_fix=True)
    assert again.written == [] and again.report.changed == set()
    assert again.report.exit_code == (1 if again.found else 0)


def test_diff_run_writes_nothing_and_exits_1(tmp_path: Path) -> None:
    root = _project(tmp_path)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    run = _run([root], Mode.DIFF)
    assert run.report.exit_code == 1
    assert runner.diff(run).startswith("--- a/")
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_stdin_and_paths_agree_on_the_fixed_text(tmp_path: Path) -> None:
    root = _project(tmp_path)
    data = (root / "Dockerfile").read_bytes()
    stdin_run, text = runner.run_stdin(
        data, str(root / "Dockerfile"), Mode.WRITE, Resolver(None), Overrides()
    )
    assert text == data.decode()
    new = stdin_run.results[0].changes[root / "Dockerfile"][1]
    path_run = _run([root], Mode.DIFF)
    assert path_run.changes[root / "Dockerfile"][1] == new
    assert stdin_run.report.changed == {root / "Dockerfile"}
    assert stdin_run.written == []  # stdin never writes
    assert (root / "Dockerfile").read_bytes() == data


def test_an_error_is_counted_once_and_exits_2(tmp_path: Path) -> None:
    root = tmp_path / "bad"
    root.mkdir()
    (root / "Dockerfile").write_text("FROM python:3.11\nRUN <<EOF\n")  # unterminated heredoc
    said: list[str] = []
    run = runner.run_paths([root], Mode.REPORT, Resolver(None), Overrides(), say=said.append)
    assert run.report.failed == 1 and run.report.exit_code == 2
    assert len(said) == 1 and said[0].startswith("error: ")


@pytest.mark.parametrize(
    ("mode", "kwargs", "expected"),
    [
        (Mode.REPORT, {"findings": 2}, 1),
        (Mode.REPORT, {}, 0),
        (Mode.DIFF, {"changed": {Path("x")}}, 1),
        (Mode.WRITE, {"changed": {Path("x")}}, 0),
        (Mode.WRITE, {"changed": {Path("x")}, "exit_non_zero_on_fix": True}, 1),
        (Mode.WRITE, {"findings": 1}, 1),
        (Mode.DIFF, {"failed": 1}, 2),
    ],
)
def test_the_report_owns_the_exit_code(
    mode: Mode, kwargs: dict[str, object], expected: int
) -> None:
    assert Report(mode, **kwargs).exit_code == expected  # type: ignore[arg-type]


def test_what_the_scan_skipped_is_one_warning_per_run(tmp_path: Path) -> None:
    """Two Dockerfiles sharing a context scan it twice; the FIFO is named once, as a
    warning (not an error: the rest is checked and fixed), and not at all with -q."""
    root = _project(tmp_path)
    shutil.copy(root / "Dockerfile", root / "Dockerfile.dev")
    os.mkfifo(root / "loader.py")
    said: list[str] = []
    run = runner.run_paths(
        [root], Mode.REPORT, Resolver(None), Overrides(), say=said.append, quiet=False
    )
    assert len(run.results) == 2 and run.report.failed == 0
    fifo = [line for line in said if "loader.py" in line]
    assert fifo == [f"warning: {runner.discover.display(root / 'loader.py')}:1: "
                    "not scanned: is a FIFO, not a regular file"]  # fmt: skip
    quiet: list[str] = []
    runner.run_paths([root], Mode.REPORT, Resolver(None), Overrides(), say=quiet.append)
    assert not [line for line in quiet if "loader.py" in line]
