"""Start-up cost of `mlfix --version` and `mlfix` on a one-Dockerfile repo, against
`python -c "import typer"` (the floor: the CLI framework itself).

    python benchmarks/startup.py            # 7 interleaved runs, medians
    python benchmarks/startup.py --runs 3

Prints each median and its ratio to the typer floor from the same run, and the heavy
modules each command imported (libcst is for an MLF305 rewrite only, rich only on a
terminal: neither should appear). Absolute times depend on the machine; ratios less so.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("libcst", "rich")
_PROBE = """
import sys
sys.argv = ["mlfix", *{args!r}]
from mlfix.cli import main
try:
    main({args!r})
except SystemExit:
    pass
print("HEAVY", sorted({{m.split(".")[0] for m in sys.modules}} & {heavy!r}), file=sys.stderr)
"""


def _run(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _heavy(args: list[str], env: dict[str, str]) -> str:
    code = _PROBE.format(args=args, heavy=set(HEAVY))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    lines = [line for line in done.stderr.splitlines() if line.startswith("HEAVY")]
    return lines[-1].removeprefix("HEAVY ") if lines else f"(probe failed: {done.stderr[-200:]})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory(prefix="mlfix-startup-") as tmp:
        repo = Path(tmp)
        (repo / "Dockerfile").write_text(
            "FROM python:3.11-slim\nWORKDIR /app\nCOPY requirements.txt .\n"
            "RUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\n"
            'CMD ["python", "app.py"]\n'
        )
        (repo / "requirements.txt").write_text("fastapi\n")
        (repo / "app.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n")
        (repo / ".dockerignore").write_text(".git\n")
        commands = {
            "python -c 'import typer'": [sys.executable, "-c", "import typer"],
            "mlfix --version": [sys.executable, "-m", "mlfix", "--version"],
            "mlfix <one-Dockerfile repo>": [sys.executable, "-m", "mlfix", str(repo)],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for command in commands.values():  # warm the page cache and .pyc files
            _run(command, env)
        for _ in range(args.runs):
            for name, command in commands.items():
                times[name].append(_run(command, env))
        floor = statistics.median(times["python -c 'import typer'"])
        print(f"medians of {args.runs} interleaved runs (wall):")
        for name, runs in times.items():
            median = statistics.median(runs)
            print(f"  {name}: {median * 1000:.0f} ms  -> {median / floor:.2f}x import typer")
        print("heavy modules imported:")
        print(f"  mlfix --version: {_heavy(['--version'], env)}")
        print(f"  mlfix <one-Dockerfile repo>: {_heavy([str(repo)], env)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
