"""Tiny pip/poetry/uv projects that prove offline installs work in the test base image.

Their lock files are committed. They are generated on the host against the same local index
the image builds use (``pyindex.py``), with the poetry and uv versions pinned in
``wheels.txt``, installed from the wheelhouse into a cached virtualenv::

    python -m tests.support.projects lock            # every project with a lock file
    python -m tests.support.projects lock DIR ...    # any poetry/uv project (e.g. a fixture)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tests.support.pyindex import PyIndex
from tests.support.wheels import cache_dir, ensure_wheelhouse, file_lock, wheels_hash

PROJECTS = Path(__file__).resolve().parent / "projects"


def project_dir(name: str) -> Path:
    """``tests/support/projects/<name>`` (``pip-tiny``, ``poetry-tiny``, ``uv-tiny``)."""
    path = PROJECTS / name
    if not path.is_dir():
        raise FileNotFoundError(path)
    return path


def tool_venv() -> Path:
    """A host virtualenv with the pinned poetry and uv, installed from the wheelhouse."""
    venv = cache_dir() / f"tools-{wheels_hash()}"
    marker = venv / ".complete"
    if marker.exists():
        return venv
    with file_lock("tools"):
        if marker.exists():
            return venv
        house = ensure_wheelhouse()
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [
                str(venv / "bin/python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--isolated",
                "--no-index",
                "--find-links",
                str(house),
                "poetry",
                "uv",
            ],
            check=True,
        )
        marker.write_text("")
    return venv


def lock_project(path: Path) -> None:
    """Regenerate ``poetry.lock`` or ``uv.lock`` of ``path``; the local index must be up."""
    venv = tool_venv()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        env.update(
            POETRY_CACHE_DIR=f"{tmp}/poetry",
            POETRY_VIRTUALENVS_CREATE="false",
            UV_CACHE_DIR=f"{tmp}/uv",
            UV_PYTHON_DOWNLOADS="never",
        )
        env.pop("PIP_FIND_LINKS", None)
        if (path / "uv.lock").exists() or "[tool.uv" in (path / "pyproject.toml").read_text():
            cmd = [str(venv / "bin/uv"), "lock", "--python", sys.executable]
        else:
            cmd = [str(venv / "bin/poetry"), "lock", "--no-interaction"]
        print(f"{path}: {' '.join(cmd)}", flush=True)
        subprocess.run(cmd, cwd=path, env=env, check=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.projects")
    sub = parser.add_subparsers(dest="command", required=True)
    lock = sub.add_parser("lock", help="regenerate poetry.lock / uv.lock")
    lock.add_argument("dirs", nargs="*", type=Path)
    args = parser.parse_args(argv)
    dirs = args.dirs or [
        p
        for p in sorted(PROJECTS.iterdir())
        if (p / "poetry.lock").exists() or (p / "uv.lock").exists()
    ]
    with PyIndex(ensure_wheelhouse()):
        for path in dirs:
            lock_project(path.resolve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
