"""The stub world's own pieces, without Docker: the tools' rules, the Dockerfile mapping,
what counts as an allowed difference, and which build steps are dependency installs."""

from __future__ import annotations

import codecs
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.docker import FileInfo
from tests.support.stubworld.compare import Allowed, cache_mounts, file_differences
from tests.support.stubworld.image import IMAGE_DIR
from tests.support.stubworld.mapping import needs_newer_frontend, stub_dockerfile
from tests.support.stubworld.steps import (
    install_cached,
    install_steps,
    is_dependency_install,
    rebuilt_stages,
)

LIB = IMAGE_DIR / "lib"


def tool(tmp: Path, name: str, *args: str, cwd: Path) -> tuple[int, list[str]]:
    """Run a stub tool on the host (same code as in the image) and return its reads."""
    log = tmp / "reads.log"
    log.unlink(missing_ok=True)
    log.touch()
    code = f"import sys; sys.path.insert(0, {str(LIB)!r}); from stubtools import main; "
    code += f"sys.exit(main([{name!r}, *sys.argv[1:]]))"
    env = dict(os.environ, STUBWORLD_READS_LOG=str(log))
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    reads = [line.split("\t")[1] for line in log.read_text().splitlines()]
    return proc.returncode, [os.path.relpath(r, cwd) for r in reads]


def test_pip_reads_nested_requirements_relative_to_the_including_file(tmp_path: Path) -> None:
    (tmp_path / "deps").mkdir()
    (tmp_path / "requirements.txt").write_text("-r deps/base.txt\nflask\n")
    (tmp_path / "deps" / "base.txt").write_text("six  # comment\n-c ../constraints.txt\n")
    (tmp_path / "constraints.txt").write_text("six==1.16\n")
    code, reads = tool(tmp_path, "pip", "install", "-r", "requirements.txt", cwd=tmp_path)
    assert code == 0
    assert reads == ["requirements.txt", "deps/base.txt", "constraints.txt"]


def test_pip_fails_when_a_file_it_reads_is_missing(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("-r missing.txt\n")
    assert tool(tmp_path, "pip", "install", "-r", "requirements.txt", cwd=tmp_path)[0] == 1
    assert tool(tmp_path, "pip3", "install", "-rnothere.txt", cwd=tmp_path)[0] == 1


def test_pip_local_projects_need_a_project_file(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    assert tool(tmp_path, "pip", "install", "-e", "./pkg", cwd=tmp_path)[0] == 1
    assert tool(tmp_path, "pip", "install", ".", cwd=tmp_path)[0] == 1
    (tmp_path / "pkg" / "setup.py").write_text("")
    (tmp_path / "setup.cfg").write_text("")
    assert tool(tmp_path, "pip", "install", "-e", "./pkg", cwd=tmp_path) == (
        0,
        ["pkg/setup.py", "pkg"],
    )
    assert tool(tmp_path, "python3.11", "-m", "pip", "install", ".[dev]", cwd=tmp_path) == (
        0,
        ["setup.cfg", "."],
    )
    # Names and URLs read nothing.
    assert tool(tmp_path, "pip", "install", "torch>=2", "git+https://x/y.git", cwd=tmp_path) == (
        0,
        [],
    )


def test_pip_makes_the_folders_a_later_copy_reads(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("six\n")
    assert (
        tool(tmp_path, "pip", "wheel", "-r", "requirements.txt", "-w", "wheels", cwd=tmp_path)[0]
        == 0
    )
    assert [p.name for p in (tmp_path / "wheels").iterdir()] == ["stubworld-0-py3-none-any.whl"]
    assert tool(tmp_path, "pip", "install", "--prefix=install", "six", cwd=tmp_path)[0] == 0
    assert (tmp_path / "install").is_dir()


def test_pip_reads_utf16_requirements_like_pip(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_bytes(
        codecs.BOM_UTF16_LE + "-e ./pkg\n".encode("utf-16-le")
    )
    assert tool(tmp_path, "pip", "install", "-r", "requirements.txt", cwd=tmp_path)[0] == 1
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "pyproject.toml").write_text("")
    assert tool(tmp_path, "pip", "install", "-r", "requirements.txt", cwd=tmp_path)[0] == 0


def test_poetry_needs_the_project_source_unless_no_root(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.poetry]\nname = "my-app"\n')
    (tmp_path / "poetry.lock").write_text("")
    assert tool(tmp_path, "poetry", "install", "--no-root", cwd=tmp_path) == (
        0,
        ["pyproject.toml", "poetry.lock"],
    )
    assert tool(tmp_path, "poetry", "install", "--only", "main", cwd=tmp_path)[0] == 1
    (tmp_path / "my_app").mkdir()
    assert tool(tmp_path, "poetry", "install", cwd=tmp_path)[0] == 0


def test_uv_sync_frozen_needs_the_lock_and_a_packaged_project_its_source(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\n')
    assert tool(tmp_path, "uv", "sync", "--frozen", cwd=tmp_path)[0] == 1
    (tmp_path / "uv.lock").write_text("")
    assert tool(tmp_path, "uv", "sync", "--frozen", cwd=tmp_path)[0] == 0  # virtual project
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "app"\n[build-system]\nrequires = ["hatchling"]\n'
    )
    assert tool(tmp_path, "uv", "sync", "--frozen", cwd=tmp_path)[0] == 1
    assert tool(tmp_path, "uv", "sync", "--frozen", "--no-install-project", cwd=tmp_path)[0] == 0
    assert (tmp_path / ".venv" / "bin" / "python").is_symlink()


def test_pipenv_deploy_needs_the_lock(tmp_path: Path) -> None:
    (tmp_path / "Pipfile").write_text("[packages]\n")
    assert tool(tmp_path, "pipenv", "install", "--system", "--deploy", cwd=tmp_path)[0] == 1
    (tmp_path / "Pipfile.lock").write_text("{}")
    assert tool(tmp_path, "pipenv", "install", "--system", "--deploy", cwd=tmp_path)[0] == 0


def test_conda_environment_file_and_its_pip_section(tmp_path: Path) -> None:
    (tmp_path / "environment.yml").write_text("dependencies:\n  - pip:\n    - -r req.txt\n")
    assert (
        tool(
            tmp_path,
            "micromamba",
            "install",
            "-y",
            "-n",
            "base",
            "-f",
            "environment.yml",
            cwd=tmp_path,
        )[0]
        == 1
    )
    (tmp_path / "req.txt").write_text("six\n")
    env = "dependencies:\n  - pip:\n    - -r req.txt\n    - -e git+https://x/y.git#egg=y\n"
    (tmp_path / "environment.yml").write_text(env)
    assert tool(tmp_path, "conda", "env", "create", cwd=tmp_path) == (
        0,
        ["environment.yml", "req.txt"],
    )


def test_hf_download_makes_the_cache_entries(tmp_path: Path) -> None:
    args = [
        "download",
        "org/model",
        "config.json",
        "--include",
        "*.safetensors",
        "--cache-dir",
        str(tmp_path / "hub"),
    ]
    assert tool(tmp_path, "hf", *args, cwd=tmp_path)[0] == 0
    repo = tmp_path / "hub" / "models--org--model"
    commit = (repo / "refs" / "main").read_text()
    snapshot = repo / "snapshots" / commit
    assert sorted(p.name for p in snapshot.iterdir()) == ["config.json", "stub.safetensors"]


def test_python_file_must_exist(tmp_path: Path) -> None:
    assert tool(tmp_path, "python", "download.py", cwd=tmp_path)[0] == 1
    (tmp_path / "download.py").write_text("")
    assert tool(tmp_path, "python", "-u", "download.py", cwd=tmp_path)[0] == 0
    assert tool(tmp_path, "python", "-c", "import torch", cwd=tmp_path)[0] == 0


def test_mapping_maps_images_not_stages_and_collects_needed_stage_logs() -> None:
    text = (
        "# syntax=docker/dockerfile:1\n"
        "ARG BASE=python:3.11\n"
        "FROM ${BASE} AS builder\n"
        "RUN pip install -r requirements.txt\n"
        "FROM scratch AS empty\n"
        "FROM nvidia/cuda:12.1 AS unused\n"
        "FROM python:3.11-slim\n"
        "COPY --from=builder /venv /venv\n"
        "COPY --from=ghcr.io/astral-sh/uv:0.4 /uv /bin/uv\n"
        'CMD ["python"]'
    )
    out = stub_dockerfile(text, "STUB").splitlines()
    assert out[:8] == [
        "ARG BASE=python:3.11",
        "FROM STUB AS builder",
        "RUN pip install -r requirements.txt",
        "FROM scratch AS empty",
        "FROM STUB AS unused",
        "FROM STUB",
        "COPY --from=builder /venv /venv",
        "COPY --from=STUB /uv /bin/uv",
    ]
    # Only stages the target needs (not the unused one, not scratch) hand over their log.
    assert out[9:] == ["COPY --from=builder /.stubworld/reads.log /.stubworld/stages/0.log"]
    middle = stub_dockerfile(text, "STUB", target="builder").splitlines()
    assert "COPY --from" not in "\n".join(middle[:4])


def test_engine_limits_are_named() -> None:
    assert needs_newer_frontend("FROM x\nCOPY --link a /b\n") == "line 2: `COPY --link`"
    assert needs_newer_frontend("FROM x\nRUN <<EOF\nls\nEOF\n") == "line 2: heredoc (`RUN <<`)"
    assert needs_newer_frontend("FROM x\nRUN --mount=type=cache,target=/r pip install x\n") is None


def test_cache_mount_points_a_fix_adds_are_allowed() -> None:
    text = "RUN --mount=type=cache,target=/root/.cache/pip pip install -r r.txt\n"
    assert cache_mounts(text) == ("/root/.cache/pip",)
    allowed = Allowed(frozenset(), (), (), cache_mounts(text))
    before: dict[str, FileInfo] = {}
    after = {"/root/.cache": FileInfo(0o40755, 0, ""), "/opt/x": FileInfo(0o40755, 0, "")}
    assert file_differences(before, after, allowed)[0] == ["only after: /opt/x"]


def _info(digest: str) -> FileInfo:
    return FileInfo(0o100644, 1, digest)


def test_only_the_fixes_purposes_are_allowed_differences() -> None:
    before = {
        "/app/app.py": _info("a"),
        "/app/.venv/x": _info("v"),
        "/app/data.csv": _info("d"),
        "/app/Dockerfile": _info("1"),
    }
    after = {
        "/app/app.py": _info("a"),
        "/app/Dockerfile": _info("2"),
        "/opt/hf/hub/models--o--m/snapshots/c/config.json": _info("w"),
    }
    allowed = Allowed(frozenset({"Dockerfile"}), (".venv",), ("/opt/hf/hub",))
    unexpected, ok = file_differences(before, after, allowed)
    assert unexpected == ["only before: /app/data.csv"]
    assert len(ok) == 3


def test_install_cached_looks_at_the_first_dependency_install_the_edit_reached() -> None:
    log = "\n".join(
        [
            "#3 [weights 2/2] RUN pip install --no-cache-dir huggingface_hub==1.0",
            "#3 CACHED",
            "#4 [builder 2/5] RUN pip install --no-cache-dir uv==0.4",
            "#4 CACHED",
            "#5 [builder 3/5] RUN\tPIP install -r requirements.txt",
            "#5 CACHED",
            "#6 [builder 4/5] COPY . .",
            "#7 [builder 5/5] RUN python -m pip install .",
            "#8 [stage-2 2/2] COPY --from=builder /.stubworld/reads.log /.stubworld/stages/1.log",
        ]
    )
    assert [(s.stage, s.text, s.cached) for s in install_steps(log)] == [
        ("builder", "RUN PIP install -r requirements.txt", True),
        ("builder", "RUN python -m pip install .", False),
    ]
    assert rebuilt_stages(log) == {"builder"}
    assert install_cached(log) is True
    assert install_cached(log.replace("#5 CACHED", "")) is False
    # A tool bootstrap is no dependency layer; a hoisted list of packages is.
    assert not is_dependency_install("pip install --no-cache-dir uv==0.13.9 && uv --version")
    assert is_dependency_install("pip install --no-cache-dir six==1.17.0 idna==3.20")
    assert is_dependency_install("pip wheel --wheel-dir /wheels -r requirements.txt")
    assert is_dependency_install("micromamba install -y -n base -f environment.yml")
    assert is_dependency_install("cd /app && poetry install --no-root --only main")


@pytest.mark.parametrize("name", ["pip", "poetry", "uv", "pipenv", "conda", "hf", "curl", "git"])
def test_every_tool_succeeds_on_commands_that_read_nothing(tmp_path: Path, name: str) -> None:
    assert tool(tmp_path, name, "--version", cwd=tmp_path)[0] == 0
