"""`--write` is all or none per target, and never writes through a link (issue 13).

A fix whose file is a link (a `.dockerignore` linked to `.gitignore`, a hard-linked
Dockerfile) is reported and not applied. Each other fault leaves every original
byte-identical, prints one `error:` line naming the file, exits 2, and leaves no temp
file behind. The project used has a Dockerfile outside its build context (a compose
service builds `ctx` with `../docker/Dockerfile`), so one target changes two folders: the
case where an unwritable context used to leave the Dockerfile rewritten.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixture_cases import FIXTURES
from mlfix import patch
from mlfix.errors import MlfixError

SOURCE = FIXTURES / "MLF201" / "fires-copy-dot-requirements" / "input"
COMPOSE = (
    "services:\n  app:\n    build:\n      context: ctx\n      dockerfile: ../docker/Dockerfile\n"
)


def mlfix(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlfix", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """docker/Dockerfile (MLF201 fires) + ctx/ with a venv and no .dockerignore (MLF101)."""
    root = tmp_path / "project"
    (root / "docker").mkdir(parents=True)
    (root / "ctx" / ".venv").mkdir(parents=True)
    shutil.copy(SOURCE / "Dockerfile", root / "docker" / "Dockerfile")
    shutil.copy(SOURCE / "requirements.txt", root / "ctx" / "requirements.txt")
    (root / "ctx" / "app.py").write_text("print('hi')\n")
    (root / "ctx" / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (root / "compose.yaml").write_text(COMPOSE)
    (root / ".git").mkdir()
    yield root
    for folder in (root, root / "ctx", root / "docker"):  # so pytest can clean up
        if folder.exists() and not folder.is_symlink():
            folder.chmod(0o755)


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every entry under root (links as their target), for byte-identical comparisons."""
    found: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        key = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[key] = "-> " + os.readlink(path)
        elif path.is_file():
            found[key] = path.read_bytes()
    return found


def refused(result: subprocess.CompletedProcess[str], name: str, why: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert name in errors[0] and why in errors[0], errors[0]
    assert "Traceback" not in result.stderr


def test_the_project_changes_two_folders(project: Path) -> None:
    result = mlfix("--write", ".", cwd=project)
    assert result.returncode in (0, 1), result.stderr
    assert (project / "ctx" / ".dockerignore").exists()
    assert "COPY requirements.txt ." in (project / "docker" / "Dockerfile").read_text()


def test_unwritable_context_leaves_the_dockerfile_untouched(project: Path) -> None:
    before = snapshot(project)
    (project / "ctx").chmod(0o555)
    refused(mlfix("--write", ".", cwd=project), ".dockerignore", "read-only")
    assert snapshot(project) == before


def test_read_only_dockerfile(project: Path) -> None:
    (project / "docker" / "Dockerfile").chmod(0o444)
    before = snapshot(project)
    refused(mlfix("--write", ".", cwd=project), "Dockerfile", "the file is read-only")
    assert snapshot(project) == before
    assert not (project / "ctx" / ".dockerignore").exists()


def test_read_only_dockerfile_folder(project: Path) -> None:
    before = snapshot(project)
    (project / "docker").chmod(0o555)
    refused(mlfix("--write", ".", cwd=project), "Dockerfile", "read-only")
    assert snapshot(project) == before


def shown_not_applied(result: subprocess.CompletedProcess[str], name: str, why: str) -> None:
    """A fix through a link is reported, not applied: exit 1, no `error:` line (issue 10)."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "error:" not in result.stderr, result.stderr
    assert f"not fixed: `{name}` {why}" in result.stdout, result.stdout


def test_dockerignore_linked_to_gitignore_is_not_written_through(project: Path) -> None:
    (project / "ctx" / ".gitignore").write_text("__pycache__/\n")
    (project / "ctx" / ".dockerignore").symlink_to(".gitignore")
    result = mlfix("--write", ".", cwd=project)
    shown_not_applied(result, "ctx/.dockerignore", "is a symbolic link to .gitignore")
    assert (project / "ctx" / ".gitignore").read_text() == "__pycache__/\n"
    assert (project / "ctx" / ".dockerignore").is_symlink()
    # The target's other fix (MLF201 in the Dockerfile) is still applied.
    text = (project / "docker" / "Dockerfile").read_text()
    assert text.index("COPY requirements.txt .") < text.index("COPY . .")


def test_dockerignore_linked_out_of_the_tree(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me\n")
    (project / "ctx" / ".dockerignore").symlink_to(outside)
    result = mlfix("--write", ".", cwd=project)
    shown_not_applied(result, "ctx/.dockerignore", f"is a symbolic link to {outside}")
    assert outside.read_text() == "keep me\n"
    assert (project / "ctx" / ".dockerignore").is_symlink()


def test_the_writer_still_refuses_a_link(project: Path) -> None:
    """Defence in depth: the writer itself never follows a link, whoever asks it to."""
    (project / "ctx" / ".gitignore").write_text("x\n")
    (project / "ctx" / ".dockerignore").symlink_to(".gitignore")
    before = snapshot(project)
    changes = {project / "ctx" / ".dockerignore": ".venv\n"}
    with pytest.raises(MlfixError, match=r"is a symbolic link to \.gitignore"):
        patch.write_all(changes, project)
    assert snapshot(project) == before


def test_context_folder_linked_out_of_the_tree(project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (project / "ctx").rename(elsewhere)
    (project / "ctx").symlink_to(elsewhere)
    before, outside = snapshot(project), snapshot(elsewhere)
    refused(mlfix("--write", ".", cwd=project), ".dockerignore", "outside")
    assert snapshot(project) == before and snapshot(elsewhere) == outside


def test_hard_linked_dockerfile(project: Path, tmp_path: Path) -> None:
    os.link(project / "docker" / "Dockerfile", tmp_path / "other-name")
    before = (project / "docker" / "Dockerfile").read_bytes()
    result = mlfix("--write", ".", cwd=project)
    shown_not_applied(result, "docker/Dockerfile", "has 2 hard links")
    assert (project / "docker" / "Dockerfile").read_bytes() == before
    assert (tmp_path / "other-name").read_bytes() == before


def _changes(project: Path) -> dict[Path, str]:
    return {
        project / "docker" / "Dockerfile": "FROM scratch\n",
        project / "ctx" / ".dockerignore": ".venv\n",
        project / "ctx" / "app.py": "print('new')\n",
    }


def test_disk_full_while_staging_writes_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(project)
    real_write = os.write
    calls = []

    def write(fd: int, data: bytes | memoryview) -> int:
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(patch.os, "write", write)
    with pytest.raises(MlfixError, match=r"cannot write \(no space left on the device\); nothing"):
        patch.write_all(_changes(project), project)
    assert snapshot(project) == before


def test_failed_rename_puts_back_the_files_already_renamed(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "docker" / "Dockerfile").chmod(0o640)
    before = snapshot(project)
    real_replace = os.replace
    calls = []

    def replace(src: str | Path, dst: str | Path) -> None:
        calls.append(dst)
        if len(calls) == 3:  # the third file: two are already in place
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real_replace(src, dst)

    monkeypatch.setattr(patch.os, "replace", replace)
    with pytest.raises(MlfixError, match=r"app\.py: cannot write"):
        patch.write_all(_changes(project), project)
    assert snapshot(project) == before
    assert (project / "docker" / "Dockerfile").stat().st_mode & 0o777 == 0o640


def test_write_all_keeps_modes_and_writes_every_file(project: Path) -> None:
    (project / "docker" / "Dockerfile").chmod(0o600)
    patch.write_all(_changes(project), project)
    assert (project / "docker" / "Dockerfile").read_text() == "FROM scratch\n"
    assert (project / "docker" / "Dockerfile").stat().st_mode & 0o777 == 0o600
    assert (project / "ctx" / ".dockerignore").read_text() == ".venv\n"
    assert (project / "ctx" / "app.py").stat().st_nlink == 1


def test_disk_full_through_the_cli_is_one_error_line(project: Path, tmp_path: Path) -> None:
    """ENOSPC in a real `mlfix --write` process: os.write fails once staging starts."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import errno, os, types\n"
        "from mlfix import patch\n"
        "def write(fd, data):\n"
        "    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))\n"
        "patch.os = types.SimpleNamespace(**{**vars(os), 'write': write})\n"
    )
    before = snapshot(project)
    paths = [str(hook), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    result = subprocess.run(
        [sys.executable, "-m", "mlfix", "--write", "."],
        capture_output=True,
        text=True,
        cwd=project,
        env=env,
        check=False,
    )
    refused(result, "", "no space left on the device")
    assert snapshot(project) == before
