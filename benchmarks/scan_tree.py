"""The scan's CPU against grep's over the same `.py` files, on a tree you already have.

    python benchmarks/scan_tree.py /path/to/repositories          # 3 runs, the best of each
    python benchmarks/scan_tree.py /path/to/repositories --runs 5

`benchmarks/scan.py` measures a generated repository; real ML repositories differ (most of
their files mention `model`, loaders are called through parameters, call sites are searched),
so this runs the scan (one process) on a real tree and `grep -lE` on exactly the files the
scan walks (`xargs -0`), interleaved, and prints CPU seconds (user + system) and the ratio.
The tree is only read. Absolute times depend on the machine; the ratio is the figure.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mlfix.scan import scan_repo  # noqa: E402
from mlfix.scan.prefilter import iter_python_files  # noqa: E402

GREP_PATTERN = "from_pretrained|SentenceTransformer|hf_hub_download"


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("tree", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    files = [file.path for file in iter_python_files(args.tree)]
    listing = b"\0".join(path.encode() for path in files)

    def grep() -> None:
        command = ["xargs", "-0", "grep", "-lE", GREP_PATTERN]
        subprocess.run(command, input=listing, stdout=subprocess.DEVNULL, check=False)

    grep()  # warm the page cache and the interpreter
    result = scan_repo(args.tree, jobs=1)
    grep_cpu: list[float] = []
    scan_cpu: list[float] = []
    for _ in range(args.runs):
        start = _cpu()
        grep()
        grep_cpu.append(_cpu() - start)
        start = _cpu()
        result = scan_repo(args.tree, jobs=1)
        scan_cpu.append(_cpu() - start)
    size = sum(Path(path).stat().st_size for path in files)
    best_grep, best_scan = min(grep_cpu), min(scan_cpu)
    print(f"tree: {len(files)} .py files ({size / 1e6:.1f} MB); {result.files_parsed} parsed")
    print(f"grep -lE '{GREP_PATTERN}' over them: {best_grep * 1000:.0f} ms CPU")
    print(f"mlfix scan, 1 process: {best_scan * 1000:.0f} ms CPU, {len(result.refs)} refs")
    print(f"ratio mlfix/grep (CPU, best of {args.runs}): {best_scan / best_grep:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
