"""MLF201 proven with real builds: same image, and a code edit reuses the install layer.

Each case is built as shipped and as `mlfix --write` leaves it. The two images must
hold the same files (the Dockerfile itself aside: it is what changed) and the same
installed distributions. Then one line of application code changes, and the fixed
build must report its dependency install `CACHED`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fixture_cases import Case, cases
from tests.support.docker import VOLATILE_PATHS, Docker, append_line, run_mlfix

# case -> (application file to edit, text identifying the hoisted install step)
BUILDS: dict[str, tuple[str, str]] = {
    "fires-copy-dot-requirements": ("app.py", "pip install --no-cache-dir -r requirements.txt"),
    "fires-nested-includes": ("app.py", "-r requirements/prod.txt"),
    "fires-absolute-destination": ("app.py", "-r /code/requirements.txt"),
    "fires-workdir-after-copy": ("app.py", "pip install --no-cache-dir -r requirements.txt"),
    "fires-chown": ("app.py", "--user -r requirements.txt"),
    "fires-chained-split": ("app.py", "pip install --no-cache-dir -r requirements.txt"),
    "fires-local-package": ("app.py", "pip install --no-cache-dir -r requirements.txt"),
    "fires-multistage": ("app.py", "pip wheel"),
    "fires-crlf": ("app.py", "-r requirements.txt"),
    "fires-no-final-newline": ("app.py", "pip install --no-cache-dir -r requirements.txt"),
    "fires-src-copy-moves-manifest-copy": ("src/app.py", "pip install"),
    "fires-system-install-between": ("app.py", "pip install"),
    "unsafe-run-between": ("app.py", "pip install --no-cache-dir -r requirements.txt"),
    "unsafe-pip-install-dot": ("myapp/__main__.py", "pip install --no-cache-dir six==1.17.0"),
    "fires-poetry": ("app.py", "poetry install --no-root"),
    "fires-uv": ("app.py", "uv sync --no-install-project"),
    "fires-copy-file-into-existing-dir": ("app.py", "-r tmp/requirements.txt"),
    "fires-last-add-wins": ("src/app.py", "pip install --no-cache-dir -r requirements.txt"),
    "fires-utf16-requirements": ("app.py", "pip install --no-cache-dir -r requirements.txt"),
    "fires-utf8-bom-before-from": ("app.py", "-r requirements.txt"),
    "fires-no-workdir": ("app.py", "-r requirements.txt"),
    "fires-next-to-another-run": ("app.py", "-r requirements.txt"),
}
NEEDS_INDEX = {"fires-poetry", "fires-uv"}
NEEDS_APT = {"fires-system-install-between"}  # apt-get reaches Debian only on the host network
CASES = [c for c in cases("MLF201") if c.name in BUILDS]
# pip marks distributions installed by name as REQUESTED; `pip install .` installed them as
# dependencies. The unsafe fix's note says so; nothing else may differ.
EXPECTED_DIFFERENCES = {"unsafe-pip-install-dot": ("*.dist-info/REQUESTED", "*.dist-info/RECORD")}
IGNORED = VOLATILE_PATHS


def test_every_build_case_exists() -> None:
    assert {c.name for c in CASES} == set(BUILDS)


def _prepare(case: Case, tmp_path: Path) -> tuple[Path, Path]:
    before = tmp_path / "before"
    after = tmp_path / "after"
    shutil.copytree(case.input, before, symlinks=True)
    shutil.copytree(case.input, after, symlinks=True)
    result = run_mlfix("--write", "--select", "MLF201", *case.args, str(after))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (after / "Dockerfile").read_bytes() != (before / "Dockerfile").read_bytes()
    return before, after


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fixed_build_keeps_the_image_and_caches_the_install(
    case: Case, tmp_path: Path, docker: Docker, request: pytest.FixtureRequest
) -> None:
    network = case.name in NEEDS_INDEX or case.name in NEEDS_APT
    if case.name in NEEDS_INDEX:
        request.getfixturevalue("local_index")
    code_file, install_step = BUILDS[case.name]
    before, after = _prepare(case, tmp_path)

    old = docker.build(before, network_host=network)
    new = docker.build(after, network_host=network)
    ignore = (*IGNORED, "*/Dockerfile", *EXPECTED_DIFFERENCES.get(case.name, ()))
    diffs = docker.compare_trees(
        docker.image_files(old.tag), docker.image_files(new.tag), ignore=ignore
    )
    assert diffs == [], "\n".join(diffs[:40])
    python = "/app/.venv/bin/python" if case.name == "fires-uv" else None
    assert docker.pip_freeze(old.tag, python=python) == docker.pip_freeze(new.tag, python=python)

    append_line(after / code_file, "# a one-line code edit")
    rebuilt = docker.build(after, tag=new.tag, network_host=network)
    assert rebuilt.is_cached(install_step), rebuilt.log[-3000:]
