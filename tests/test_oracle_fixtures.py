"""The stub-build oracle over every fixture: no fix may break a build or change an image.

For each `fixtures/*/*/input` with a Dockerfile, mlfix runs as a user runs it (`mlfix
--write .`, and again with `--unsafe-fixes`, on copies), and `tests/support/stubworld`
builds the original and each fixed tree with real BuildKit in the stub world. The builds run
in a thread pool (four at a time, the BuildKit cache shared); the whole run is measured and
its table printed by `test_oracle_summary` (`pytest -s` shows it).
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fixture_cases import FIXTURES, Case
from tests.support.stubworld.oracle import Oracle, OracleResult
from tests.support.wheels import cache_dir

pytestmark = pytest.mark.docker

MODES = {"safe": ("safe",), "unsafe": ("safe", "unsafe")}
WORKERS = 4
MLFIX_TIMEOUT = 300
# Fixtures engine 20.10's built-in Dockerfile frontend cannot build at all (the newer
# frontend they need is an image no registry here serves). Found by `needs_newer_frontend`;
# this list says which, so a new one is a decision, not an accident.
UNBUILDABLE = {
    "MLF001/ok-heredoc-comment-is-shell": "heredoc",
    "MLF201/fires-empty-continuation-line": "heredoc",
}
# Fixtures whose original does not build, on purpose (a `.dockerignore` drops what a COPY
# needs: MLF103) or as the real build would not. A fix may make such a build work; the
# other way round is what the oracle forbids.
ORIGINAL_FAILS = {
    "MLF103/display-secret-copied": '"/.env" not found',
    "MLF103/fires-allowlist-forgot-requirements": '"/requirements.txt" not found',
    "MLF103/fires-copied-models-ignored": '"/models" not found',
    # USER nobody, whose home /nonexistent nobody can create: `pip install --user` fails
    # for real too (the fixture is about the cache mount's uid, not about building).
    "MLF202/fires-buildkit-unknown-user": "Permission denied: '/nonexistent'",
    # `poetry install` without `--no-root` above the code COPY: the project's package source
    # is not there yet. Poetry 2 fails as the stub does (1.x only warns); the unsafe fix is
    # `--no-root`, after which the build works (the oracle only forbids the other way).
    "MLF201/unsafe-poetry-installs-project-without-code": "package source /app/app.py",
}


def all_cases() -> list[Case]:
    found = []
    for code_dir in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        for case_dir in sorted(p for p in code_dir.iterdir() if p.is_dir()):
            if (case_dir / "input" / "Dockerfile").is_file():
                found.append(Case(code_dir.name, case_dir.name, case_dir))
    return found


CASES = all_cases()


@dataclass
class CaseRun:
    """One fixture under one mode: what mlfix said and did, and the oracle's verdict."""

    case: Case
    mode: str
    exit_code: int
    stderr: str
    applied: list[str]  # codes of the findings whose fix this mode applies
    result: OracleResult


def _extra_args(case: Case) -> list[str]:
    return [a for a in case.args if a != "--unsafe-fixes"]


def _applicability(finding: dict[str, Any]) -> str | None:
    fix = finding.get("fix") or {}
    return fix.get("applicability")


def _mlfix(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """mlfix as a user runs it; a hang is a failure of that fixture, not of the whole run."""
    cmd = [sys.executable, "-m", "mlfix", *args]
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=MLFIX_TIMEOUT)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, -1, "", f"mlfix timed out after {MLFIX_TIMEOUT} s")


def _findings(case: Case, *flags: str) -> list[dict[str, Any]]:
    report = _mlfix("--output-format", "json", *flags, *_extra_args(case), ".", cwd=case.input)
    return json.loads(report.stdout) if report.stdout.strip() else []


def _run_case(case: Case, oracle: Oracle, tmp: Path) -> list[CaseRun]:
    findings = {"unsafe": _findings(case, "--unsafe-fixes")}
    has_unsafe = any(_applicability(f) == "unsafe" for f in findings["unsafe"])
    # A finding's fix may differ with --unsafe-fixes (e.g. what a new .dockerignore holds).
    findings["safe"] = _findings(case) if has_unsafe else findings["unsafe"]
    target = case.target().build_target
    runs = []
    for mode, applied in MODES.items():
        fixed = tmp / case.code / case.name / mode
        if mode == "unsafe" and not has_unsafe:
            # No unsafe fix: `--unsafe-fixes` writes what the safe run wrote.
            shutil.copytree(tmp / case.code / case.name / "safe", fixed, symlinks=True)
            proc = subprocess.CompletedProcess([], runs[0].exit_code, "", runs[0].stderr)
        else:
            shutil.copytree(case.input, fixed, symlinks=True)
            flags = ["--unsafe-fixes"] if mode == "unsafe" else []
            proc = _mlfix("--write", *flags, *_extra_args(case), ".", cwd=fixed)
        codes = [f["code"] for f in findings[mode] if _applicability(f) in applied]
        result = oracle.check(
            case.input, fixed, findings=findings[mode], applied=applied, target=target
        )
        runs.append(CaseRun(case, mode, proc.returncode, proc.stderr, codes, result))
    return runs


@dataclass
class OracleRun:
    runs: list[CaseRun]
    seconds: float

    def get(self, case: Case, mode: str) -> CaseRun:
        return next(r for r in self.runs if r.case == case and r.mode == mode)


@pytest.fixture(scope="session")
def oracle_run(
    request: pytest.FixtureRequest,
    docker_base_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OracleRun]:
    """Every fixture, or only those of the per-fixture tests selected (`-k`)."""
    items = request.session.items
    whole = any(i.name.startswith(("test_unbuildable", "test_oracle_summary")) for i in items)
    wanted = {
        i.callspec.params["case"].id
        for i in items
        if isinstance(i, pytest.Function) and i.originalname == "test_fix_keeps_the_stub_build"
    }
    cases = CASES if whole else [c for c in CASES if c.id in wanted]
    tmp = tmp_path_factory.mktemp("oracle")
    oracle = Oracle(tmp / "builds")
    start = time.monotonic()
    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            batches = list(pool.map(lambda c: _run_case(c, oracle, tmp / "fixed"), cases))
        run = OracleRun([r for batch in batches for r in batch], time.monotonic() - start)
        save(run, cache_dir() / "oracle-fixtures.json")
        yield run
    finally:
        oracle.cleanup()


PARAMS = [(c, m) for c in CASES for m in MODES]


@pytest.mark.parametrize(("case", "mode"), PARAMS, ids=[f"{c.id}-{m}" for c, m in PARAMS])
def test_fix_keeps_the_stub_build(oracle_run: OracleRun, case: Case, mode: str) -> None:
    run = oracle_run.get(case, mode)
    result = run.result
    assert run.exit_code in (0, 1), f"mlfix --write exited {run.exit_code}: {run.stderr}"
    if result.skipped:
        assert case.id in UNBUILDABLE, result.skipped
        return
    if case.id in ORIGINAL_FAILS:
        assert not result.original_builds
        assert ORIGINAL_FAILS[case.id] in result.original_error
        return
    assert result.original_builds, f"the fixture does not build:\n{result.original_error}"
    assert result.fixed_builds, f"the fix breaks the build:\n{result.fixed_error}"
    assert result.file_diffs == [], "the fixed image holds other files"
    assert result.read_diffs == [], "the installs read other files"
    if "MLF201" in run.applied:
        assert result.install_cached, (
            f"MLF201 applied but the install reran after editing {result.edited_file}: "
            f"{result.install_steps}"
        )


def test_unbuildable_fixtures_are_the_listed_ones(oracle_run: OracleRun) -> None:
    skipped = {r.case.id: r.result.skipped or "" for r in oracle_run.runs if r.result.skipped}
    assert sorted(skipped) == sorted(UNBUILDABLE)
    for case_id, reason in UNBUILDABLE.items():
        assert reason in skipped[case_id]


def save(run: OracleRun, path: Path) -> None:
    """The raw results, for reading after a run (`MLFIX_TEST_CACHE/oracle-fixtures.json`)."""
    rows = [
        {
            "case": r.case.id,
            "mode": r.mode,
            "exit_code": r.exit_code,
            "applied": r.applied,
            **r.result.to_json(),
        }
        for r in run.runs
    ]
    path.write_text(json.dumps({"seconds": run.seconds, "runs": rows}, indent=1) + "\n")


def summary(run: OracleRun) -> str:
    """The counts table of a run, per mode."""
    lines = [
        f"stub-build oracle: {len({r.case for r in run.runs})} fixtures, {run.seconds:.0f} s wall, "
        f"{WORKERS} builds at a time"
    ]
    head = (
        "mode",
        "built",
        "skipped",
        "orig fails",
        "broken",
        "files differ",
        "reads differ",
        "MLF201",
        "cached",
        "unchanged",
    )
    lines.append("  ".join(f"{h:>12}" for h in head))
    for mode in MODES:
        rs = [r for r in run.runs if r.mode == mode]
        built = [r for r in rs if not r.result.skipped]
        row = (
            mode,
            len(built),
            len(rs) - len(built),
            sum(not r.result.original_builds for r in built),
            sum(r.result.broken for r in built),
            sum(bool(r.result.file_diffs) for r in built),
            sum(bool(r.result.read_diffs) for r in built),
            sum("MLF201" in r.applied for r in built),
            sum("MLF201" in r.applied and bool(r.result.install_cached) for r in built),
            sum(r.result.unchanged for r in built),
        )
        lines.append("  ".join(f"{v!s:>12}" for v in row))
    return "\n".join(lines)


def test_oracle_summary(oracle_run: OracleRun) -> None:
    text = summary(oracle_run)
    print("\n" + text)
    problems = [
        f"{r.case.id} [{r.mode}]: " + "; ".join(shlex.quote(p) for p in r.result.problems())
        for r in oracle_run.runs
        if r.result.problems()
    ]
    assert not problems, "\n".join(problems)
