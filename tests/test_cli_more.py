"""The CLI beyond the basics: stdin, `mlfix rule`, hints and the summary line, progress."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fixture_cases import FIXTURES
from mlfix.cli import app, rule_app
from mlfix.docs import page
from mlfix.progress import Progress
from mlfix.rules import RULES

FIRES = FIXTURES / "MLF201" / "fires-copy-dot-requirements" / "input"
UNSAFE = FIXTURES / "MLF201" / "unsafe-run-between" / "input"


def project(tmp_path: Path, source: Path = FIRES, name: str = "p") -> Path:
    root = tmp_path / name
    shutil.copytree(source, root)
    return root


def invoke(
    cwd: Path, monkeypatch: pytest.MonkeyPatch, *args: str, stdin: bytes | None = None
) -> tuple[int, bytes, str]:
    """`mlfix` in `cwd`, with MLF201 (and MLF001) only: exact outputs stay put as rules land."""
    monkeypatch.chdir(cwd)
    args = ("--select", "MLF201,MLF001", *args)
    result = CliRunner().invoke(app, list(args), input=stdin, catch_exceptions=False)
    return result.exit_code, result.stdout_bytes, result.stderr


def test_write_stdin_prints_fixed_text_and_diagnostics_to_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path)
    original = (root / "Dockerfile").read_bytes().replace(b"\n", b"\r\n")
    code, out, err = invoke(
        tmp_path, monkeypatch, "--write", "-", "--stdin-filename", "p/Dockerfile", stdin=original
    )
    assert code == 0, err
    assert out.startswith(b"FROM python:3.11-slim\r\nWORKDIR /app\r\nCOPY requirements.txt .\r\n")
    assert b"\n" not in out.replace(b"\r\n", b"")  # CRLF kept, byte for byte
    assert (root / "Dockerfile").read_bytes() != out  # nothing written to disk
    assert err == ""


def test_write_stdin_reports_what_remains_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path, UNSAFE)
    text = (root / "Dockerfile").read_bytes()
    code, out, err = invoke(
        root, monkeypatch, "--write", "-", "--stdin-filename", "Dockerfile", stdin=text
    )
    assert code == 1
    assert out == text  # the unsafe fix is not applied: the text comes back unchanged
    assert "Dockerfile:5:1: MLF201 [unsafe fix]" in err


def test_diff_and_report_from_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = project(tmp_path)
    text = (root / "Dockerfile").read_bytes()
    code, out, _err = invoke(
        root, monkeypatch, "--diff", "-", "--stdin-filename", "Dockerfile", stdin=text
    )
    assert code == 1
    assert out.startswith(b"--- a/Dockerfile\n+++ b/Dockerfile\n")
    code, out, _err = invoke(root, monkeypatch, "-", stdin=text)
    assert code == 1
    assert out.startswith(b"-:4:1: MLF201")
    code, out, _err = invoke(root, monkeypatch, "--stdin-filename", "Dockerfile", stdin=text)
    assert code == 1 and out.startswith(b"Dockerfile:4:1: MLF201")


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"FROM x\x00\n", "binary file"), (b"FROM python:3.11-slim\nFROBNICATE\n", "line 2")],
)
def test_bad_stdin_is_an_error_and_prints_nothing(
    data: bytes, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path)
    code, out, err = invoke(
        root, monkeypatch, "--write", "-", "--stdin-filename", "Dockerfile", stdin=data
    )
    assert code == 2
    assert out == b""
    assert err.startswith("error: Dockerfile: ") and message in err and err.count("\n") == 1


def test_stdin_uses_the_compose_service_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path)
    (root / "docker").mkdir()
    (root / "Dockerfile").rename(root / "docker" / "Dockerfile")
    (root / "compose.yaml").write_text(
        "services:\n  app: {build: {context: ., dockerfile: docker/Dockerfile}}\n"
    )
    text = (root / "docker" / "Dockerfile").read_bytes()
    code, out, err = invoke(
        root, monkeypatch, "--write", "-", "--stdin-filename", "docker/Dockerfile", stdin=text
    )
    assert code == 0, err  # requirements.txt is found in the service's context, not docker/
    assert b"COPY requirements.txt ." in out


def test_stdin_cannot_mix_with_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _out, err = invoke(project(tmp_path), monkeypatch, "-", ".", stdin=b"")
    assert code == 2 and "error: -: stdin cannot be combined" in err


def test_rule_command_prints_the_page() -> None:
    result = CliRunner().invoke(rule_app, ["mlf201"])
    assert result.exit_code == 0
    assert result.stdout == page(RULES["MLF201"])
    listing = CliRunner().invoke(rule_app, [])
    assert [line.split()[0] for line in listing.stdout.splitlines()] == sorted(RULES)
    every = CliRunner().invoke(rule_app, ["--all"])
    assert all(f"# {code}:" in every.stdout for code in RULES)
    unknown = CliRunner().invoke(rule_app, ["MLF999"])
    assert unknown.exit_code == 2 and "unknown rule code `MLF999`" in unknown.stderr


def test_rule_is_a_subcommand_and_paths_stay_the_default(tmp_path: Path) -> None:
    """`mlfix rule X` dispatches on argv in main(); `mlfix ./rule` checks a directory."""
    done = subprocess.run(
        [sys.executable, "-m", "mlfix", "rule", "MLF001"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.startswith("# MLF001: unused-suppression")
    project(tmp_path, name="rule")
    done = subprocess.run(
        [sys.executable, "-m", "mlfix", "./rule"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and "rule/Dockerfile:4:1: MLF201" in done.stdout


def test_hints_and_summary_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project(tmp_path, UNSAFE, "unsafe")
    project(tmp_path, FIRES, "fires")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "Dockerfile").write_text("NOT A DOCKERFILE\n")
    code, out, err = invoke(tmp_path, monkeypatch)
    assert code == 2
    assert out.decode().splitlines()[0].startswith("fires/Dockerfile:4:1: MLF201 [*]")
    assert err.splitlines() == [
        "error: bad/Dockerfile: line 1: unknown instruction 'NOT'",
        "Found 2 findings; 1 fixable with --write.",
        "1 hidden fix can be enabled with --unsafe-fixes.",
        "2 files checked: 2 with findings, 0 skipped, 1 failed.",
    ]
    code, out, err = invoke(tmp_path, monkeypatch, "--write", "fires", "unsafe")
    assert code == 1  # the unsafe finding remains
    assert err.splitlines()[-3:] == [
        "Fixed 1 finding (1 remaining).",
        "1 hidden fix can be enabled with --unsafe-fixes.",
        "1 file changed, 1 unchanged, 0 skipped, 0 failed.",
    ]
    code, out, err = invoke(tmp_path, monkeypatch, "-q", "fires", "unsafe")
    assert err == "" and code == 1


def test_exit_non_zero_on_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = project(tmp_path)
    assert invoke(root, monkeypatch, "--write", "--exit-non-zero-on-fix")[0] == 1
    assert invoke(root, monkeypatch, "--write", "--exit-non-zero-on-fix")[0] == 0
    root = project(tmp_path, name="q")
    assert invoke(root, monkeypatch, "--write")[0] == 0


def test_text_is_concise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = project(tmp_path, UNSAFE)
    assert invoke(root, monkeypatch, "--format", "text") == invoke(
        root, monkeypatch, "--output-format", "concise"
    )


def test_two_services_sharing_a_dockerfile_give_one_diff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path)
    (root / "ctx").mkdir()
    shutil.copy(root / "requirements.txt", root / "ctx")
    (root / "compose.yaml").write_text(
        "services:\n  web: {build: .}\n"
        "  worker: {build: {context: ctx, dockerfile: ../Dockerfile}}\n"
    )
    code, out, err = invoke(root, monkeypatch, "--diff")
    assert code == 1, err
    assert out.decode().count("--- a/Dockerfile") == 1
    assert "1 file would change, 0 unchanged" in err
    code, out, _err = invoke(root, monkeypatch)
    assert out.decode().count("MLF201") == 1  # the same finding is listed once
    code, out, err = invoke(root, monkeypatch, "--write")
    assert code == 0, err
    assert "1 file changed, 0 unchanged, 0 skipped, 0 failed." in err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal_and_only_when_slow() -> None:
    quiet = io.StringIO()
    bar = Progress(3, enabled=True, stream=quiet, after=0)
    for n in range(3):
        bar.advance(f"t{n}")
    bar.stop()
    assert quiet.getvalue() == ""
    fast = Terminal()
    bar = Progress(3, enabled=True, stream=fast, after=3600)
    bar.advance("t0")
    bar.stop()
    assert fast.getvalue() == ""  # a quick scan shows nothing
    slow = Terminal()
    bar = Progress(3, enabled=True, stream=slow, after=0)
    bar.advance("t0")
    assert bar.bar is not None
    bar.stop()
    assert "t0" in slow.getvalue()
