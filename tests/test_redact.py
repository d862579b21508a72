"""A token in the Dockerfile never appears in mlfix's own output, in any format (issue 13)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlfix.redact import MASK, redact

TOKEN = "hf_" + "Q7pX2mZk9L" * 3 + "ab12"  # 34 after the prefix, as the hub issues them
DOCKERFILE = f"""\
FROM python:3.11-slim
ARG HF_TOKEN={TOKEN}
ENV HUB_KEY={TOKEN}
LABEL token={TOKEN}
RUN pip install --no-cache-dir huggingface_hub==2.4.0
RUN hf auth login --token {TOKEN} && hf download org/gated-model config.json
RUN HF_TOKEN={TOKEN} hf download org/other config.json
COPY . /app
CMD ["python", "/app/app.py"]
"""

RUNS = {
    "concise": ["--output-format", "concise", "--show-fixes"],
    "full": ["--output-format", "full"],
    "json": ["--output-format", "json"],
    "sarif": ["--output-format", "sarif"],
    "github": ["--output-format", "github"],
    "diff": ["--diff", "--unsafe-fixes", "--show-fixes"],
    "statistics": ["--statistics"],
    "write": ["--write", "--unsafe-fixes", "--show-fixes", "--select", "MLF101"],
}


def test_redact_masks_tokens_only() -> None:
    assert redact(f"--token {TOKEN} x") == f"--token {MASK} x"
    assert redact("hf_hub_download hf_short") == "hf_hub_download hf_short"
    assert redact(f"a{TOKEN}") == f"a{TOKEN}"  # part of a longer word: not a token


@pytest.mark.parametrize("name", list(RUNS))
def test_no_output_format_prints_the_token(name: str, tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / "app.py").write_text("print('hi')\n")
    summary = tmp_path / "summary.md"
    result = subprocess.run(
        [sys.executable, "-m", "mlfix", *RUNS[name], "."],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "GITHUB_STEP_SUMMARY": str(summary)},
        check=False,
    )
    printed = result.stdout + result.stderr
    assert result.returncode in (0, 1), printed
    assert "Traceback" not in printed
    assert TOKEN not in printed
    if summary.exists():
        assert TOKEN not in summary.read_text()
    if name in ("full", "diff"):
        assert MASK in printed  # the lines are shown, with the token masked
    if name == "diff":
        assert "MLF303" in printed
