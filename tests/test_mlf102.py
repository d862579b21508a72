"""MLF102: junk an existing ignore file lets through; the file kept byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlfix.config import Settings
from mlfix.context.dockerignore import DockerIgnore, Engine
from mlfix.engine import TargetResult, run_target
from mlfix.facts import Target
from mlfix.model import Applicability
from mlfix.textio import encode

APP = 'FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nCMD ["python", "serve.py"]\n'


def make(root: Path, files: dict[str, str]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode(content))
    return root


def run(root: Path, *, unsafe: bool = False, dockerfile: Path | None = None) -> TargetResult:
    target = Target(dockerfile or root / "Dockerfile", root, "Dockerfile")
    result = run_target(target, Settings(select=("MLF102",), unsafe_fixes=unsafe), fix=True)
    assert result.error is None, result.error
    return result


def appended(result: TargetResult, path: Path) -> tuple[str, str]:
    old, new = result.changes[path]
    assert old is not None and new.startswith(old), "the existing file must stay byte for byte"
    return old, new[len(old) :]


def lines(block: str) -> list[str]:
    return [row for row in block.splitlines() if row and not row.startswith("#")]


def test_root_only_lines_do_not_hide_nested_caches(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "Dockerfile": APP,
            ".dockerignore": "__pycache__\n*.pyc\n",
            "serve.py": "",
            "__pycache__/serve.pyc": "1",
            "pkg/__pycache__/mod.pyc": "22",
        },
    )
    result = run(tmp_path)
    _old, block = appended(result, tmp_path / ".dockerignore")
    assert lines(block) == ["**/__pycache__"]
    assert block.startswith("\n# Added by mlfix (MLF102)")
    (finding,) = result.findings
    assert "`**/__pycache__`  2 B, 1 file: pkg/__pycache__/" in finding.notes


@pytest.mark.parametrize(
    ("existing", "lead", "newline"),
    [
        (".git\n", "\n", "\n"),
        (".git", "\n\n", "\n"),  # the missing final newline first, then a blank line
        (".git\n\n", "", "\n"),  # a blank line is already there
        (".git\r\n", "\r\n", "\r\n"),
        ("# mine\r\n.git", "\r\n\r\n", "\r\n"),
        ("\ufeff.git\n", "\n", "\n"),
        ("", "", "\n"),
    ],
)
def test_appends_in_the_files_own_line_endings(
    tmp_path: Path, existing: str, lead: str, newline: str
) -> None:
    make(tmp_path, {"Dockerfile": APP, ".dockerignore": existing, "serve.py": ""})
    make(tmp_path, {".venv/pyvenv.cfg": ""})
    old, block = appended(run(tmp_path), tmp_path / ".dockerignore")
    assert old == existing
    assert block.startswith(lead + "# Added by mlfix")
    body = block[len(lead) :]
    assert body.count(newline) == body.count("\n")
    assert body.endswith(newline)
    assert lines(block) == [".venv"]


def test_a_files_own_reincludes_are_respected(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "Dockerfile": APP,
            ".dockerignore": "data\n!data/labels.json\ncheckpoints/*.pt\n!checkpoints/best.pt\n",
            "serve.py": "",
            "data/labels.json": "[]",
            "data/train.csv": "x",
            "checkpoints/best.pt": "b",
            "checkpoints/old.pt": "o",
            "extra/more.pt": "m",
        },
    )
    old, block = appended(run(tmp_path), tmp_path / ".dockerignore")
    assert lines(block) == ["**/*.pt", "!checkpoints/best.pt"]
    text = old + block
    for engine in Engine:
        ignore = DockerIgnore.parse(text, engine=engine)
        assert ignore.sends_file("checkpoints/best.pt")
        assert ignore.sends_file("data/labels.json")
        assert not ignore.sends_file("extra/more.pt")


def test_lines_written_for_a_junk_dirs_inside_are_left_alone(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "Dockerfile": APP,
            ".dockerignore": "data/*.csv\n",
            "serve.py": "",
            "data/a.csv": "1",
            "data/schema.json": "{}",
        },
    )
    result = run(tmp_path)
    assert result.changes == {}
    assert result.findings == []


def test_allowlist_gets_name_lines_for_what_its_dirs_bring(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "Dockerfile": APP,
            ".dockerignore": "*\n!app\n",
            "app/serve.py": "",
            "app/__pycache__/serve.pyc": "1",
            ".venv/pyvenv.cfg": "",
        },
    )
    _old, block = appended(run(tmp_path), tmp_path / ".dockerignore")
    assert lines(block) == ["**/__pycache__"]


def test_per_dockerfile_file_is_the_one_appended_to(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "docker/Dockerfile": APP,
            "docker/Dockerfile.dockerignore": ".git\n",
            ".dockerignore": ".venv\n",
            "serve.py": "",
            ".venv/pyvenv.cfg": "",
        },
    )
    result = run(tmp_path, dockerfile=tmp_path / "docker" / "Dockerfile")
    assert set(result.changes) == {tmp_path / "docker" / "Dockerfile.dockerignore"}


def test_an_ignore_file_docker_rejects_is_left_to_mlf103(tmp_path: Path) -> None:
    make(tmp_path, {"Dockerfile": APP, ".dockerignore": "[z-a\n", "serve.py": ""})
    make(tmp_path, {".venv/pyvenv.cfg": ""})
    assert run(tmp_path).findings == []


def test_unsafe_lines_wait_for_unsafe_fixes(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "Dockerfile": APP,
            ".dockerignore": ".git\n",
            "serve.py": "MODEL = 'weights/model.safetensors'\n",
            "weights/model.safetensors": "w",
        },
    )
    result = run(tmp_path)
    (finding,) = result.findings
    assert finding.applicability is Applicability.UNSAFE
    assert result.changes == {}
    _old, block = appended(run(tmp_path, unsafe=True), tmp_path / ".dockerignore")
    assert lines(block) == ["**/*.safetensors"]
    assert "with --unsafe-fixes" in block


def test_a_junk_name_with_a_line_break_is_kept_and_said(tmp_path: Path) -> None:
    """A venv in a folder named `ve\\n!requirements.txt` cannot be named by a line: written,
    it would add a `!` line of its own, and the fixes would never settle."""
    weird = tmp_path / "ve\n!requirements.txt"
    weird.mkdir()
    (weird / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (tmp_path / "venv2").mkdir()
    (tmp_path / "venv2" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY . /app\n")
    (tmp_path / ".dockerignore").write_text("**/__pycache__\n")
    result = run(tmp_path)
    (finding,) = result.findings
    assert any("holds a control character" in note for note in finding.notes)
    _old, added = appended(result, tmp_path / ".dockerignore")
    assert lines(added) == ["venv2"]
