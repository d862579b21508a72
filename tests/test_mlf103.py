"""MLF103: an ignore file that leaves out what a COPY/ADD needs; the `!` line proven."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlfix.config import Settings
from mlfix.context.dockerignore import DockerIgnore, Engine
from mlfix.deps.facts import Context
from mlfix.engine import TargetResult, run_target
from mlfix.facts import Target
from mlfix.model import Applicability
from mlfix.textio import encode

HEAD = "FROM python:3.11-slim\nWORKDIR /app\n"


def make(root: Path, files: dict[str, str]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode(content))
    return root


def run(root: Path, *, unsafe: bool = True, select: tuple[str, ...] = ("MLF103",)) -> TargetResult:
    target = Target(root / "Dockerfile", root, "Dockerfile")
    result = run_target(target, Settings(select=select, unsafe_fixes=unsafe), fix=True)
    assert result.error is None, result.error
    return result


def fixed(result: TargetResult, root: Path) -> str:
    return result.changes[root / ".dockerignore"][1]


def test_allowlist_that_forgot_a_copied_file(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "Dockerfile": HEAD + "COPY requirements.txt .\nCOPY app/ ./app/\n",
            ".dockerignore": "*\n!app\n",
            "requirements.txt": "six\n",
            "app/serve.py": "",
        },
    )
    result = run(tmp_path)
    (finding,) = result.findings
    assert finding.location.line == 3
    assert finding.applicability is Applicability.SAFE
    assert "the build fails" in finding.message
    text = fixed(result, tmp_path)
    assert text.splitlines()[:3] == [
        "*",
        "# Re-included by mlfix (MLF103): `COPY requirements.txt .` needs it",
        "!requirements.txt",
    ]
    for engine in Engine:
        assert DockerIgnore.parse(text, engine=engine).sends_file("requirements.txt")


def test_one_line_that_breaks_two_copies_is_one_finding(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "Dockerfile": HEAD + "COPY requirements.txt .\nCOPY config.yaml /etc/app/\n",
            ".dockerignore": "*\n!app\n",
            "requirements.txt": "six\n",
            "config.yaml": "a: 1\n",
        },
    )
    result = run(tmp_path)
    assert len(result.findings) == 1
    text = fixed(result, tmp_path)
    assert "!config.yaml\n!requirements.txt\n" in text
    assert result.passes == 2


def test_wildcard_sources_and_bind_mounts_count(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "Dockerfile": HEAD
            + "COPY *.json /etc/app/\n"
            + "RUN --mount=type=bind,source=requirements.txt,target=/tmp/r.txt \\\n"
            + "    pip install -r /tmp/r.txt\n",
            ".dockerignore": "*.json\nrequirements.txt\n",
            "a.json": "{}",
            "b.json": "{}",
            "requirements.txt": "six\n",
        },
    )
    result = run(tmp_path)
    assert len(result.findings) == 2
    text = fixed(result, tmp_path)
    ignore = DockerIgnore.parse(text)
    assert all(ignore.sends_file(p) for p in ("a.json", "b.json", "requirements.txt"))


def test_part_of_a_copied_directory_is_an_unsafe_fix(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "Dockerfile": HEAD + "COPY models/ /models/\n",
            ".dockerignore": "**/*.bin\n**/__pycache__\n",
            "models/config.json": "{}",
            "models/a/pytorch_model.bin": "w" * 10,
            "models/b/pytorch_model.bin": "w" * 20,
            "models/__pycache__/x.pyc": "p",
        },
    )
    result = run(tmp_path)
    (finding,) = result.findings
    assert finding.applicability is Applicability.UNSAFE
    assert "drops 30 B, 2 files under `models`" in finding.message
    text = fixed(result, tmp_path)
    ignore = DockerIgnore.parse(text)
    assert ignore.sends_file("models/a/pytorch_model.bin")
    assert not ignore.sends_file("models/__pycache__/x.pyc")  # junk stays out
    assert run(tmp_path, unsafe=False).changes == {}


@pytest.mark.parametrize(
    "ignore",
    [
        "models/*.ckpt\n",  # written for the directory's inside: deliberate
        "**/__pycache__\n",  # junk under a copied directory
        "**/.env\n",  # a secret under a copied directory
        "other/\n",
    ],
)
def test_no_finding(tmp_path: Path, ignore: str) -> None:
    make(
        tmp_path,
        {
            "Dockerfile": HEAD + "COPY models/ /models/\n",
            ".dockerignore": ignore,
            "models/model.safetensors": "w",
            "models/last.ckpt": "c",
            "models/__pycache__/x.pyc": "p",
            "models/.env": "T=1",
        },
    )
    assert run(tmp_path).findings == []


def test_copy_of_the_whole_context_is_not_this_rules_business(tmp_path: Path) -> None:
    make(tmp_path, {"Dockerfile": HEAD + "COPY . .\n", ".dockerignore": "data\n", "data/x": "1"})
    assert run(tmp_path).findings == []


def test_a_secret_is_never_reincluded(tmp_path: Path) -> None:
    make(tmp_path, {"Dockerfile": HEAD + "COPY .env .\n", ".dockerignore": ".env\n", ".env": "T=1"})
    result = run(tmp_path)
    (finding,) = result.findings
    assert finding.applicability is Applicability.DISPLAY_ONLY
    assert any("a leak" in note for note in finding.notes)
    assert result.changes == {}


def test_rejected_ignore_file(tmp_path: Path) -> None:
    make(tmp_path, {"Dockerfile": HEAD + "COPY . .\n", ".dockerignore": "ok\n[z-a\n"})
    (finding,) = run(tmp_path).findings
    assert finding.location.path == tmp_path / ".dockerignore"
    assert finding.location.line == 2
    assert "every build with this context fails" in finding.message


def test_all_three_rules_settle_together(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "Dockerfile": HEAD + "COPY ./models /models\nCOPY . .\n",
            ".dockerignore": "models/\n",
            "models/model.safetensors": "m" * 10,
            "ckpt/last.safetensors": "c" * 10,
            ".venv/pyvenv.cfg": "",
            "app/__pycache__/x.pyc": "p",
        },
    )
    result = run(tmp_path, select=("MLF1",))
    assert result.passes <= 3
    assert [f.code for f in result.remaining] == []
    text = fixed(result, tmp_path)
    for engine in Engine:
        ignore = DockerIgnore.parse(text, engine=engine)
        assert ignore.sends_file("models/model.safetensors")
        assert not ignore.sends_file("ckpt/last.safetensors")
        assert not ignore.sends_file(".venv/pyvenv.cfg")


def test_context_hides_ignored_paths_but_not_what_a_copy_names(tmp_path: Path) -> None:
    """What MLF201 sees: `README.md` left out by `*.md` is not there for a new COPY."""
    make(
        tmp_path,
        {
            ".dockerignore": "*.md\n*.txt\ndocs\n!docs/keep.md\n",
            "README.md": "",
            "requirements.txt": "",
            "docs/keep.md": "",
            "docs/other.md": "",
        },
    )
    text = HEAD + "COPY requirements.txt .\nCOPY . .\n"
    context = Context(tmp_path, tmp_path / "Dockerfile", text)
    assert not context.exists("README.md")
    assert context.exists("requirements.txt")  # a COPY names it: MLF103's business
    assert context.is_dir("docs") and context.exists("docs/keep.md")
    assert not context.exists("docs/other.md")
    assert Context(tmp_path).exists("requirements.txt") is False


def test_a_copied_venv_is_not_skipped_as_junk(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "Dockerfile": HEAD + "COPY .venv /opt/venv\n",
            ".dockerignore": ".venv\n",
            ".venv/pyvenv.cfg": "home = /usr/bin\n",
            ".venv/lib/six.py": "x",
        },
    )
    result = run(tmp_path)
    (finding,) = result.findings
    assert "the build fails" in finding.message
    assert "!.venv\n" in fixed(result, tmp_path)
