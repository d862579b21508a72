"""Engine guarantees that hold across rules: each applied fix is correct on its own."""

from __future__ import annotations

from pathlib import Path

from mlfix.config import Settings
from mlfix.engine import run_target
from mlfix.facts import Target

BOTH = (
    "FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\n{comment}"
    "RUN pip install --no-cache-dir -r requirements.txt\n"
    "RUN pip install --no-cache-dir six\n"
)


def _fix(tmp_path: Path, dockerfile: str) -> str:
    (tmp_path / "requirements.txt").write_text("six\n")
    (tmp_path / "app.py").write_text("print(1)\n")
    (tmp_path / "Dockerfile").write_text(dockerfile)
    target = Target(tmp_path / "Dockerfile", tmp_path, "Dockerfile")
    result = run_target(target, Settings(select=("MLF201", "MLF001")), fix=True)
    assert result.error is None
    change = result.changes.get(tmp_path / "Dockerfile")
    return dockerfile if change is None else change[1]


def test_a_later_install_brings_the_earlier_installs_manifests(tmp_path: Path) -> None:
    fixed = _fix(tmp_path, BOTH.format(comment=""))
    assert fixed.index("COPY requirements.txt .") < fixed.index("-r requirements.txt")
    assert fixed.index("pip install --no-cache-dir six") < fixed.index("COPY . .")


def test_a_fix_never_moves_a_suppressed_instruction(tmp_path: Path) -> None:
    text = BOTH.format(comment="# mlfix: ignore[MLF201]\n")
    assert _fix(tmp_path, text) == text
