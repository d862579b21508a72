"""A start script's `hf download`, baked by MLF301: the container starts with no network.

The fixture's `start.sh` downloads `acme/tiny-model` and then serves. After the fix the
build bakes the same files into the image's hub cache (from the local hub endpoint), and the
unchanged script, run with `--network none`, finds them and goes on to serve; the unfixed
image fails at its download.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from fixture_cases import FIXTURES
from tests.support.docker import Docker, run_mlfix
from tests.support.hfserver import serve, tiny_model_repo

CASE = FIXTURES / "MLF301" / "fires-start-script-hf-download" / "input"
WANTED = {"config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}


def test_start_script_download_runs_offline_once_baked(docker: Docker, tmp_path: Path) -> None:
    before, after = tmp_path / "before", tmp_path / "after"
    shutil.copytree(CASE, before)
    shutil.copytree(CASE, after)
    fixed = run_mlfix("--write", "--unsafe-fixes", "--select", "MLF301", str(after))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert (after / "start.sh").read_bytes() == (before / "start.sh").read_bytes()
    with serve([tiny_model_repo("acme/tiny-model")]) as hub:
        new = docker.build(after, network_host=True, build_args={"HF_ENDPOINT": hub.url})
        fetched = set(hub.fetched("acme/tiny-model"))
        old = docker.build(before)
    assert fetched == WANTED | {"model.safetensors"}, fetched
    started = docker.run(new.tag, "./start.sh", check=False)
    assert started.returncode == 0, started.stdout + started.stderr
    assert started.stdout.strip().endswith("serving")
    unfixed = docker.run(old.tag, "./start.sh", check=False)
    assert unfixed.returncode != 0
    assert "serving" not in unfixed.stdout
