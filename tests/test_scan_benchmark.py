"""The scan benchmark still runs (small sizes; it prints ratios, nothing here times anything)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_runs_and_prints_ratios(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "scan.py"),
            "--files",
            "1200",
            "--runs",
            "1",
            "--memory-sizes",
            "2",
            "--keep",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "ratio mlfix/grep" in result.stdout
    assert "memory growth of the scan" in result.stdout
    assert "18 load models" in result.stdout
