"""Benchmark of the context walk on a generated ML project, reported as ratios from one run.

    python benchmarks/context.py [--files N] [--keep]

Generates (in a temporary directory) a build context of N files - a venv with
`pyvenv.cfg` and many small modules, a `.git` with loose objects and pack files, a
dataset directory, weights and a small app - and prints:

1. bytes (and files) Docker sends after / before the `.dockerignore` entries mlfix
   proposes for the junk it finds (target <= 1%);
2. mlfix's walk vs `du -s` on the same tree, both timed the same way: as a fresh
   subprocess, page cache warmed first, best of several interleaved runs (target <= 2x);
3. peak memory of the walk on the tree and on the tree doubled, each in a fresh
   subprocess: `ru_maxrss` (whole process) and tracemalloc's peak (Python objects only),
   as ratios (target: flat, ~1.0).

Large files (packs, weights, dataset blobs) are sparse: their `st_size` is what Docker
would send, and it costs no disk or time to create. No absolute time is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from mlfix.context.dockerignore import DockerIgnore  # noqa: E402
from mlfix.context.inventory import ContextFacts  # noqa: E402
from mlfix.context.junk import JunkEntry  # noqa: E402
from mlfix.context.tree import walk  # noqa: E402

MB = 1024 * 1024


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)


def _sparse(path: Path, size: int) -> None:
    with open(path, "wb") as handle:
        handle.truncate(size)


def generate(root: Path, files: int) -> None:
    """An ML project of about `files` files: 60% venv, 15% .git, 24% dataset, the rest app."""
    root.mkdir(parents=True, exist_ok=True)
    venv_files = files * 60 // 100
    git_files = files * 15 // 100
    app_files = 200
    data_files = files - venv_files - git_files - app_files

    venv = root / ".venv"
    site = venv / "lib" / "python3.11" / "site-packages"
    (venv / "bin").mkdir(parents=True)
    _write(venv / "pyvenv.cfg", b"home = /usr/bin\nversion = 3.11.7\n")
    made = 1
    package = 0
    while made < venv_files:
        pkg = site / f"pkg{package:05d}" / "sub"
        pkg.mkdir(parents=True)
        for module in range(min(50, venv_files - made)):
            _write(pkg / f"mod{module:02d}.py", b"x = 1\n" * (1 + module % 40))
            made += 1
        package += 1

    git = root / ".git"
    pack = git / "objects" / "pack"
    pack.mkdir(parents=True)
    _write(git / "HEAD", b"ref: refs/heads/main\n")
    for index in range(2):
        _sparse(pack / f"pack-{index:040d}.pack", 300 * MB)
        _write(pack / f"pack-{index:040d}.idx", b"\0" * 4096)
    made = 5
    while made < git_files:
        bucket = git / "objects" / f"{made % 256:02x}"
        bucket.mkdir(exist_ok=True)
        _write(bucket / f"{made:038x}", b"\x78\x01" + b"\0" * (made % 500))
        made += 1

    data = root / "data" / "train"
    data.mkdir(parents=True)
    for index in range(data_files):
        shard = data / f"shard{index // 1000:04d}"
        if index % 1000 == 0:
            shard.mkdir()
        if index % 1000 == 999:
            _sparse(shard / f"blob{index:07d}.npy", 2 * MB)
        else:
            _write(shard / f"sample{index:07d}.json", b'{"label": 1}\n' * (1 + index % 8))

    app = root / "app"
    (app / "__pycache__").mkdir(parents=True)
    models = root / "models"
    models.mkdir()
    _sparse(models / "model.safetensors", 500 * MB)
    _write(root / "requirements.txt", b"torch\nfastapi\n")
    _write(root / "Dockerfile", b"FROM python:3.11-slim\nCOPY . /app\n")
    for index in range(app_files - 4):
        _write(app / f"module{index:03d}.py", b"def f():\n    return 1\n" * 20)
    _write(app / "__pycache__" / "module000.cpython-311.pyc", b"\0" * 2000)


def proposed_entries(junk: tuple[JunkEntry, ...]) -> str:
    """The entries MLF101/MLF102 would write: directories by path, weights by glob."""
    lines = ["# mlfix: junk"]
    globs: set[str] = set()
    for entry in junk:
        if entry.is_dir or entry.kind.value != "weights":
            lines.append(entry.path)
        else:
            globs.add("**/*" + os.path.splitext(entry.path)[1])
    lines.extend(sorted(globs))
    return "\n".join(lines) + "\n"


# -- measurement helpers, run in a fresh subprocess ---------------------------------------


def measure(root: Path, mode: str, trace: bool) -> dict[str, float]:
    """Walk `root` once and report time and peak memory of this process."""
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    if mode == "facts":
        facts = ContextFacts.collect(root)
        count = facts.total_files
    else:  # "walk": every entry one by one, nothing summarised
        count = sum(node.files for node in walk(root))
    seconds = time.perf_counter() - start
    traced = tracemalloc.get_traced_memory()[1] if trace else 0
    return {
        "seconds": seconds,
        "files": count,
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "traced_peak": traced,
    }


def _child(root: Path, mode: str, trace: bool) -> dict[str, float]:
    args = [sys.executable, __file__, "--measure", str(root), "--mode", mode]
    if trace:
        args.append("--trace")
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(out.stdout)
    return result


def _timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.4f}" if b else "n/a"


def run(files: int, keep: bool, repeats: int) -> None:
    top = Path(tempfile.mkdtemp(prefix="mlfix-bench-"))
    try:
        root = top / "double" / "a"
        twin = top / "double" / "b"
        started = time.perf_counter()
        generate(root, files)
        generate(twin, files)
        print(f"generated 2 x {files:,} files in {time.perf_counter() - started:.1f}s under {top}")

        # 1. bytes sent after / before the proposed entries.
        before = ContextFacts.collect(root)
        text = proposed_entries(before.junk)
        after = ContextFacts.collect(root, DockerIgnore.parse(text))
        print("\nproposed .dockerignore entries:")
        for entry in before.junk:
            print(
                f"  {entry.path:40} {entry.kind.value:9} {entry.sent_bytes / MB:10.1f} MB "
                f"{entry.sent_files:9,} files"
            )
        print(f"sent before: {before.sent_bytes / MB:10.1f} MB {before.sent_files:9,} files")
        print(f"sent after:  {after.sent_bytes / MB:10.1f} MB {after.sent_files:9,} files")

        # 2. walk vs du -s, both as fresh processes on a warm cache.
        du = ["du", "-s", str(root)]
        mlfix = [sys.executable, __file__, "--measure", str(root), "--mode", "facts"]
        full = [sys.executable, __file__, "--measure", str(root), "--mode", "walk"]
        startup = [sys.executable, "-c", "import mlfix.context.inventory"]
        for args in (du, mlfix, full):
            _timed(args)  # warm the page cache and the dentry cache
        times: dict[str, list[float]] = {"du": [], "facts": [], "walk": [], "startup": []}
        for _ in range(repeats):
            times["du"].append(_timed(du))
            times["facts"].append(_timed(mlfix))
            times["walk"].append(_timed(full))
            times["startup"].append(_timed(startup))
        best = {name: min(values) for name, values in times.items()}

        # 3. peak memory on the tree and on the tree doubled.
        single = _child(root, "walk", trace=False)
        double = _child(root.parent, "walk", trace=False)
        single_t = _child(root, "walk", trace=True)
        double_t = _child(root.parent, "walk", trace=True)
        single_f = _child(root, "facts", trace=True)
        double_f = _child(root.parent, "facts", trace=True)

        print("\nratios (one run, side by side):")
        print(
            f"  bytes sent after/before:            {_ratio(after.sent_bytes, before.sent_bytes)}"
            "  (target <= 0.01)"
        )
        print(
            f"  files sent after/before:            {_ratio(after.sent_files, before.sent_files)}"
        )
        print(
            f"  facts walk time / du -s:            {_ratio(best['facts'], best['du'])}"
            "  (target <= 2; both fresh processes, best of "
            f"{repeats}; python startup alone / du = {_ratio(best['startup'], best['du'])})"
        )
        print(f"  full walk (no summarising) / du -s: {_ratio(best['walk'], best['du'])}")
        print(
            f"  peak RSS, tree doubled / tree:      "
            f"{_ratio(double['maxrss_kb'], single['maxrss_kb'])}  (target ~1: flat;"
            f" {single['maxrss_kb'] / 1024:.1f} MB -> {double['maxrss_kb'] / 1024:.1f} MB)"
        )
        print(
            f"  traced peak, doubled / tree (walk): "
            f"{_ratio(double_t['traced_peak'], single_t['traced_peak'])}"
            f"  ({single_t['traced_peak'] / 1024:.0f} KB -> "
            f"{double_t['traced_peak'] / 1024:.0f} KB)"
        )
        print(
            f"  traced peak, doubled / tree (facts):"
            f" {_ratio(double_f['traced_peak'], single_f['traced_peak'])}"
            f"  ({single_f['traced_peak'] / 1024:.0f} KB -> "
            f"{double_f['traced_peak'] / 1024:.0f} KB)"
        )
        print(
            f"\nfiles walked: {int(single['files']):,} and {int(double['files']):,};"
            f" best times (s): du {best['du']:.3f}, facts {best['facts']:.3f},"
            f" walk {best['walk']:.3f}, python startup {best['startup']:.3f}"
        )
    finally:
        if keep:
            print(f"kept {top}")
        else:
            shutil.rmtree(top, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200_000, help="files in the context")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each command")
    parser.add_argument("--keep", action="store_true", help="keep the generated tree")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--mode", default="facts", choices=("facts", "walk"), help=argparse.SUPPRESS
    )
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.mode, args.trace)))
        return
    run(args.files, args.keep, args.repeats)


if __name__ == "__main__":
    main()
