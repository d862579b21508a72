"""Model weights baked by MLF301: bytes baked against bytes the loader reads, and start time.

One run, with the real Docker engine, the tests' local base image and a local hub endpoint
(`tests/support/hfserver.py`) serving a tiny model repo that carries, besides its config,
tokenizer and safetensors weights, the formats a real repo also has (ONNX, OpenVINO,
PyTorch `.bin`, TensorFlow, Flax):

1. each unfixed fixture (`fixtures/MLF301/fires-hub-loaders-e2e`: huggingface_hub loaders;
   `fires-transformers-e2e`: `AutoTokenizer`/`AutoConfig`, the real transformers) runs online
   against the endpoint with an empty cache: what the hub sends is what the loader reads;
2. the seed article's bake, an unfiltered `hf download` of the repo, is the baseline;
3. `mlfix --write --unsafe-fixes` bakes the models; the image's hub cache is measured;
4. container start to first model load: the baked image with `--network none` against the
   unfixed image downloading from the local endpoint (loopback: a real hub is slower).

    python benchmarks/weights.py                 # 16 MiB weights, 16 MiB per extra format
    python benchmarks/weights.py --size-mib 64 --runs 5
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.docker import (  # noqa: E402
    Docker,
    docker_session,
    ensure_base_image,
    run_docker,
    run_mlfix,
)
from tests.support.hfserver import Hub, TinyRepo, serve, tiny_model_repo  # noqa: E402

CASES = {
    "huggingface_hub loaders (snapshot_download, hf_hub_download at a pinned sha)": ROOT
    / "fixtures/MLF301/fires-hub-loaders-e2e/input",
    "transformers (AutoTokenizer + AutoConfig)": ROOT
    / "fixtures/MLF301/fires-transformers-e2e/input",
}
REPOS = ("org/tiny-model", "org/pinned-model")
PINNED_SHA = "0123456789abcdef0123456789abcdef01234567"
BLOB_BYTES = (
    "import os, sys\n"
    "total = 0\n"
    "for root, _dirs, files in os.walk(sys.argv[1]):\n"
    "    if '/blobs' in root:\n"
    "        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)\n"
    "print(total)\n"
)


def repos(size: int) -> list[TinyRepo]:
    model = tiny_model_repo(weights_size=size, extra_size=size)
    pinned = tiny_model_repo("org/pinned-model", sha=PINNED_SHA, weights_size=4096)
    return [model, pinned]


def timed_run(*args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.monotonic()
    proc = run_docker("run", "--rm", *args, check=False, timeout=600)
    return time.monotonic() - start, proc


def unfiltered_download(hub_url: str, home: Path) -> None:
    """What the seed article's `hf download <repo>` (no --include) fetches, measured."""
    hf = shutil.which("hf")
    if hf is None:
        raise SystemExit("the hf CLI (huggingface_hub) is needed on the host")
    env = {"HF_ENDPOINT": hub_url, "HF_HOME": str(home), "HF_HUB_DISABLE_PROGRESS_BARS": "1",
           "PATH": "/usr/bin:/bin:/usr/local/bin"}  # fmt: skip
    cmd = [hf, "download", "org/tiny-model"]
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=600)


@dataclass
class Measure:
    name: str
    reads: int
    read_files: list[str]
    baked: int
    downloading: list[float]
    baked_runs: list[float]


def measure(name: str, case: Path, docker: Docker, hub: Hub, tmp: Path, runs: int) -> Measure:
    before, after = tmp / name / "before", tmp / name / "after"
    shutil.copytree(case, before)
    shutil.copytree(case, after)
    fixed = run_mlfix("--write", "--unsafe-fixes", "--select", "MLF301", str(after))
    if fixed.returncode != 0:
        raise SystemExit(fixed.stdout + fixed.stderr)
    old = docker.build(before)
    new = docker.build(after, network_host=True, build_args={"HF_ENDPOINT": hub.url})

    # what the loader reads: the unfixed app, online, from an empty cache
    online = ("--network", "host", "-e", f"HF_ENDPOINT={hub.url}", "-e", "HF_HOME=/tmp/hf")
    hub.clear()
    _seconds, proc = timed_run(*online, old.tag, "python", "app.py")
    if proc.returncode != 0:
        raise SystemExit(proc.stdout + proc.stderr)
    reads = hub.bytes_sent()
    read_files = sorted({f"{r}:{f}" for r in REPOS for f in hub.fetched(r)})

    # what the fixed image holds in its hub cache
    baked = int(
        run_docker(
            "run", "--rm", "--network", "none", "--entrypoint", "python", new.tag,
            "-c", BLOB_BYTES, "/opt/hf/hub",
        ).stdout.strip()
    )  # fmt: skip

    downloading: list[float] = []
    baked_runs: list[float] = []
    for _ in range(runs):
        seconds, proc = timed_run(*online, old.tag, "python", "app.py")
        assert proc.returncode == 0, proc.stderr
        downloading.append(seconds)
        seconds, proc = timed_run("--network", "none", new.tag, "python", "app.py")
        assert proc.returncode == 0, proc.stderr
        baked_runs.append(seconds)
    return Measure(name, reads, read_files, baked, downloading, baked_runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--size-mib", type=float, default=16.0, help="weights and each extra")
    parser.add_argument("--runs", type=int, default=3, help="container starts per image")
    options = parser.parse_args()
    size = int(options.size_mib * 1024 * 1024)
    ensure_base_image()
    with (
        tempfile.TemporaryDirectory() as tmp,
        docker_session() as docker,
        serve(repos(size)) as hub,
    ):
        results = [
            measure(name, case, docker, hub, Path(tmp), options.runs)
            for name, case in CASES.items()
        ]
        hub.clear()
        unfiltered_download(hub.url, Path(tmp) / "seed-home")
        unfiltered = hub.bytes_sent("org/tiny-model")

    print(
        f"repo org/tiny-model: {len(repos(size)[0].files)} files, weights"
        f" {options.size_mib:g} MiB, {options.size_mib:g} MiB per extra format;"
        f" the seed's unfiltered `hf download` takes {unfiltered:,d} bytes"
    )
    for m in results:
        print(f"\n{m.name}: the loader reads {m.reads:,d} bytes ({', '.join(m.read_files)})")
        print(f"  mlfix bakes       {m.baked:>12,d} bytes   ratio {m.baked / m.reads:.3f}"
              "  (target <= 1.1)")  # fmt: skip
        tiny = sum(1 for f in m.read_files if f.startswith("org/tiny-model:"))
        if tiny:
            print(f"  seed unfiltered   {unfiltered:>12,d} bytes   ratio"
                  f" {unfiltered / m.reads:.3f}")  # fmt: skip
        d, b = statistics.median(m.downloading), statistics.median(m.baked_runs)
        print(f"  container start to first load, median of {options.runs}:"
              f" downloading {d:.2f} s, baked {b:.2f} s ({d / b:.2f}x)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
