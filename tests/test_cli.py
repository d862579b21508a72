"""The command line as a user meets it: exit codes, diff, in-place writes, bad input."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from fixture_cases import FIXTURES

CASE = FIXTURES / "MLF201" / "fires-copy-dot-requirements" / "input"
OK = FIXTURES / "MLF201" / "ok-already-right" / "input"


def mlfix(
    *args: str | Path, cwd: Path | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlfix", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        input=None if stdin is None else stdin.decode(),
        check=False,
    )


def project(tmp_path: Path, source: Path = CASE) -> Path:
    target = tmp_path / "project"
    shutil.copytree(source, target)
    return target


def test_report_exits_1_and_names_the_rule(tmp_path: Path) -> None:
    root = project(tmp_path)
    result = mlfix(root)
    assert result.returncode == 1
    assert "MLF201" in result.stdout
    assert "Dockerfile:4:1" in result.stdout


def test_clean_project_exits_0() -> None:
    result = mlfix(OK)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_diff_prints_patch_and_writes_nothing(tmp_path: Path) -> None:
    root = project(tmp_path)
    before = (root / "Dockerfile").read_bytes()
    result = mlfix("--diff", root)
    assert result.returncode == 1
    assert result.stdout.startswith("--- a/")
    assert "+COPY requirements.txt ." in result.stdout
    assert (root / "Dockerfile").read_bytes() == before
    relative = mlfix("--diff", ".", cwd=root)
    check = subprocess.run(
        ["git", "apply", "--check", "-"], input=relative.stdout, cwd=root, text=True, check=False
    )
    assert check.returncode == 0, relative.stdout


def test_write_applies_keeps_mode_and_second_run_is_clean(tmp_path: Path) -> None:
    root = project(tmp_path)
    dockerfile = root / "Dockerfile"
    dockerfile.chmod(0o640)
    result = mlfix("--write", root)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(dockerfile.stat().st_mode) == 0o640
    text = dockerfile.read_text()
    assert text.index("COPY requirements.txt .") < text.index("COPY . .")
    assert mlfix("--diff", root).stdout == ""
    assert not list(root.glob(".Dockerfile.*"))  # no temp file left behind


def test_write_never_goes_through_a_symlink(tmp_path: Path) -> None:
    """The linked file may be built with another context, where the fix would be wrong."""
    root = project(tmp_path)
    real = root / "docker" / "Dockerfile.real"
    real.parent.mkdir()
    (root / "Dockerfile").rename(real)
    (root / "Dockerfile").symlink_to(Path("docker") / "Dockerfile.real")
    before = real.read_bytes()
    result = mlfix("--write", root)
    assert result.returncode == 1, result.stderr
    assert "error:" not in result.stderr
    assert "is a symbolic link to docker/Dockerfile.real" in result.stdout
    assert (root / "Dockerfile").is_symlink()
    assert real.read_bytes() == before


def test_untouched_bytes_survive_crlf_and_missing_final_newline(tmp_path: Path) -> None:
    root = project(tmp_path)
    text = (
        "FROM python:3.11-slim\r\n# keep\tme\r\nWORKDIR /app\r\n"
        "COPY . .\r\nRUN pip install -r requirements.txt"
    )
    (root / "Dockerfile").write_bytes(text.encode())
    assert mlfix("--write", root).returncode == 0
    out = (root / "Dockerfile").read_bytes()
    assert out.startswith(b"FROM python:3.11-slim\r\n# keep\tme\r\nWORKDIR /app\r\n")
    assert b"\n" not in out.replace(b"\r\n", b"")
    assert not out.endswith(b"\n")
    assert out.endswith(b"COPY . .")


def _error(result: subprocess.CompletedProcess[str], name: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    assert name in lines[0]


def test_binary_dockerfile_is_an_error_and_nothing_is_written(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "Dockerfile").write_bytes(b"FROM x\x00\x01\nCOPY . .\n")
    before = (root / "Dockerfile").read_bytes()
    _error(mlfix("--write", root), "Dockerfile")
    assert (root / "Dockerfile").read_bytes() == before


def test_unparsable_dockerfile_is_an_error(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "Dockerfile").write_text("FROM python:3.11-slim\nFROBNICATE now\n")
    result = mlfix("--write", root)
    _error(result, "Dockerfile")
    assert "line 2" in result.stderr


def test_unterminated_heredoc_is_an_error(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "Dockerfile").write_text("FROM python:3.11-slim\nRUN <<EOF\necho hi\n")
    _error(mlfix(root), "Dockerfile")


def test_missing_referenced_manifest_is_an_error(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "requirements.txt").unlink()
    before = (root / "Dockerfile").read_bytes()
    _error(mlfix("--write", root), "requirements.txt")
    assert (root / "Dockerfile").read_bytes() == before


def test_missing_nested_include_is_an_error(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "requirements.txt").write_text("-r base.txt\n")
    _error(mlfix("--diff", root), "base.txt")


def test_binary_manifest_is_an_error(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "requirements.txt").write_bytes(b"\x00\x00binary")
    _error(mlfix("--diff", root), "requirements.txt")


def test_missing_path_and_directory_without_dockerfile(tmp_path: Path) -> None:
    _error(mlfix(tmp_path / "nope"), "nope")
    (tmp_path / "empty").mkdir()
    _error(mlfix(tmp_path / "empty"), "empty")


def test_symlink_loop_is_an_error(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "Dockerfile").unlink()
    (root / "Dockerfile").symlink_to("Dockerfile")
    _error(mlfix(root), "Dockerfile")


def test_unreadable_file_message_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlfix.errors import MlfixError
    from mlfix.textio import read_text

    path = tmp_path / "Dockerfile"
    path.write_text("FROM x\n")

    def deny(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", deny)
    with pytest.raises(MlfixError) as info:
        read_text(path)
    assert str(info.value) == f"{path}: cannot be read (permission denied)"


def test_one_bad_target_does_not_stop_the_others(tmp_path: Path) -> None:
    good = project(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "Dockerfile").write_text("NOT A DOCKERFILE\n")
    result = mlfix("--write", bad, good)
    _error(result, "bad")
    assert "COPY requirements.txt ." in (good / "Dockerfile").read_text()
    assert (bad / "Dockerfile").read_text() == "NOT A DOCKERFILE\n"


def test_select_and_ignore(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert mlfix("--ignore", "MLF201", "--ignore", "MLF101", root).returncode == 0
    assert mlfix("--select", "MLF2", root).returncode == 1


def test_unsafe_fix_needs_the_flag(tmp_path: Path) -> None:
    root = project(tmp_path, FIXTURES / "MLF201" / "unsafe-run-between" / "input")
    assert mlfix("--diff", "--select", "MLF201", root).stdout == ""
    assert (
        "+RUN pip install" in mlfix("--diff", "--select", "MLF201", "--unsafe-fixes", root).stdout
    )


def test_weights_volume_flag_edits_the_compose_file(tmp_path: Path) -> None:
    root = project(tmp_path, FIXTURES / "MLF301" / "fires-volume-compose" / "input")
    baked = mlfix("--diff", "--unsafe-fixes", root).stdout
    mounted = mlfix("--diff", "--unsafe-fixes", "--weights", "volume", root).stdout
    assert "+FROM " in baked and "docker-compose.yml" not in baked
    assert "+    volumes:" in mounted and "+FROM " not in mounted
    assert mlfix("--weights", "nonsense", root).returncode == 2
