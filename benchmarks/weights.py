"""Model weights baked by MLF301: bytes baked against bytes the loader reads, and start time.

One run, with the real Docker engine, the tests' local base image and a local hub endpoint
(`tests/support/hfserver.py`) serving a tiny model repo that carries, besides its config,
tokenizer and safetensors weights, the formats a real repo also has (ONNX, OpenVINO,
PyTorch `.bin`, TensorFlow, Flax):

1. the unfixed fixture (`fixtures/MLF301/fires-hub-loaders-e2e`) runs online against the
   endpoint with an empty cache: what the hub sends is what the loader reads;
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.docker import docker_session, ensure_base_image, run_docker, run_mlfix  # noqa: E402
from tests.support.hfserver import TinyRepo, serve, tiny_model_repo  # noqa: E402

CASE = ROOT / "fixtures" / "MLF301" / "fires-hub-loaders-e2e" / "input"
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
    for repo, revision in (("org/tiny-model", None), ("org/pinned-model", PINNED_SHA)):
        cmd = [hf, "download", repo, *(["--revision", revision] if revision else [])]
        subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=600)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
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
        before, after = Path(tmp) / "before", Path(tmp) / "after"
        shutil.copytree(CASE, before)
        shutil.copytree(CASE, after)
        fixed = run_mlfix("--write", "--unsafe-fixes", "--select", "MLF301", str(after))
        if fixed.returncode != 0:
            raise SystemExit(fixed.stdout + fixed.stderr)
        old = docker.build(before)
        args = {"HF_ENDPOINT": hub.url}
        new = docker.build(after, network_host=True, build_args=args, no_cache=True)

        # 1. what the loader reads: the unfixed app, online, empty cache
        online = ("--network", "host", "-e", f"HF_ENDPOINT={hub.url}", "-e", "HF_HOME=/tmp/hf")
        hub.clear()
        seconds, proc = timed_run(*online, old.tag, "python", "app.py")
        if proc.returncode != 0:
            raise SystemExit(proc.stdout + proc.stderr)
        reads = hub.bytes_sent()
        read_files = sorted({f"{r}:{f}" for r in ("org/tiny-model", "org/pinned-model")
                             for f in hub.fetched(r)})  # fmt: skip

        # 2. the seed article's unfiltered download
        hub.clear()
        unfiltered_download(hub.url, Path(tmp) / "seed-home")
        unfiltered = hub.bytes_sent()

        # 3. what the fixed image bakes
        baked = int(
            run_docker(
                "run", "--rm", "--network", "none", "--entrypoint", "python", new.tag,
                "-c", BLOB_BYTES, "/opt/hf/hub",
            ).stdout.strip()
        )  # fmt: skip

        # 4. container start to first model load
        downloading: list[float] = []
        baked_runs: list[float] = []
        for _ in range(options.runs):
            seconds, proc = timed_run(*online, old.tag, "python", "app.py")
            assert proc.returncode == 0, proc.stderr
            downloading.append(seconds)
            seconds, proc = timed_run("--network", "none", new.tag, "python", "app.py")
            assert proc.returncode == 0, proc.stderr
            baked_runs.append(seconds)

    print(f"repo: {len(repos(size)[0].files)} files, weights {options.size_mib:g} MiB,"
          f" {options.size_mib:g} MiB per extra format")  # fmt: skip
    print(f"loader reads      {reads:>12,d} bytes  ({', '.join(read_files)})")
    print(f"mlfix bakes       {baked:>12,d} bytes  ratio {baked / reads:.3f}  (target <= 1.1)")
    print(f"seed unfiltered   {unfiltered:>12,d} bytes  ratio {unfiltered / reads:.3f}")
    d, b = statistics.median(downloading), statistics.median(baked_runs)
    print(f"start to first load, median of {options.runs}:"
          f" downloading {d:.2f} s, baked {b:.2f} s ({d / b:.2f}x)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
