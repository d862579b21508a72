"""Rebuild time after a one-line code edit: unfixed vs fixed vs a fully cached build.

Runs real `docker build`s of `benchmarks/rebuild_project` (numpy, scipy, pandas and
scikit-learn from the local wheel folder baked into the test base image) as shipped
and as `mlfix --write` leaves it, then for each round appends one line to train.py and
times the rebuild of both, plus a no-op rebuild of the fixed project. The machines
are noisy, so it prints ratios of medians measured side by side in one run.

    python benchmarks/rebuild.py [--rounds 3]

Targets (issue #2): fixed >= 20x faster than unfixed; fixed within 1.5x of no-op.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.docker import (  # noqa: E402
    append_line,
    build,
    ensure_base_image,
    remove_images,
    run_mlfix,
    unique_tag,
)

PROJECT = Path(__file__).resolve().parent / "rebuild_project"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    ensure_base_image()
    tags = [unique_tag("bench-unfixed"), unique_tag("bench-fixed")]
    with tempfile.TemporaryDirectory() as tmp:
        unfixed, fixed = Path(tmp) / "unfixed", Path(tmp) / "fixed"
        shutil.copytree(PROJECT, unfixed)
        shutil.copytree(PROJECT, fixed)
        result = run_mlfix("--write", "--select", "MLF201", str(fixed))
        if result.returncode != 0:
            print(result.stdout, result.stderr, file=sys.stderr)
            return 2
        try:
            first = build(unfixed, tags[0])
            build(fixed, tags[1])
            print(f"first build, unfixed (may reuse an earlier run's cache): {first.seconds:.1f}s")
            times: dict[str, list[float]] = {"unfixed": [], "fixed": [], "no-op": []}
            for number in range(args.rounds):
                # The heavy unfixed rebuild goes last, and dirty pages are flushed
                # before each timing, so one build's writeback does not bill the next.
                os.sync()
                # A token unique to this run: BuildKit's cache is content-addressed, so an
                # edit some earlier run also made would be a cache hit, not a rebuild.
                edit = f"# edit {number} {uuid.uuid4().hex}"
                append_line(fixed / "train.py", edit)
                fixed_build = build(fixed, tags[1])
                assert fixed_build.is_cached("pip install"), "fixed build reinstalled"
                times["fixed"].append(fixed_build.seconds)
                os.sync()
                times["no-op"].append(build(fixed, tags[1]).seconds)
                os.sync()
                append_line(unfixed / "train.py", edit)
                times["unfixed"].append(build(unfixed, tags[0]).seconds)
        finally:
            remove_images(*tags)
    median = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        runs = ", ".join(f"{v:.2f}" for v in values)
        print(f"{name:8} rebuild: median {median[name]:.2f}s  ({runs})")
    speedup = median["unfixed"] / median["fixed"]
    overhead = median["fixed"] / median["no-op"]
    print(f"unfixed/fixed = {speedup:.1f}x   (target >= 20x)")
    print(f"fixed/no-op   = {overhead:.2f}x  (target <= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
