"""MLF301 proven end to end: a real build bakes the model, the container loads it offline.

A local hub endpoint (`tests/support/hfserver.py`) serves tiny repos with the extra formats
a real repo carries. The fixed Dockerfile is built with the host network and
`--build-arg HF_ENDPOINT=<local hub>`, which only the `weights` stage declares; the
container then runs with no network at all and loads the model through huggingface_hub in
offline mode (`HF_HUB_OFFLINE=1`, set by the fix). The unfixed image fails the same run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fixture_cases import FIXTURES
from tests.support.docker import Docker, run_docker, run_mlfix
from tests.support.hfserver import serve, tiny_model_repo

CASE = FIXTURES / "MLF301" / "fires-hub-loaders-e2e" / "input"
TRANSFORMERS_CASE = FIXTURES / "MLF301" / "fires-transformers-e2e" / "input"
EXTRA_FORMATS = ("onnx/", "openvino/", "pytorch_model.bin", "tf_model.h5", "flax_model.msgpack")
PINNED_SHA = "0123456789abcdef0123456789abcdef01234567"
WANTED = {
    "org/tiny-model": {
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "model.safetensors",
    },
    "org/pinned-model": {"config.json"},
}


def repos() -> list:  # type: ignore[type-arg]
    pinned = tiny_model_repo("org/pinned-model", sha=PINNED_SHA)
    pinned.refs["main"] = "f" * 40  # main moved on: only the pinned commit holds the files
    pinned.refs[PINNED_SHA] = PINNED_SHA
    return [tiny_model_repo(), pinned]


def runtime_env(tag: str) -> list[str]:
    out = run_docker("image", "inspect", "--format", "{{json .Config.Env}}", tag).stdout
    env: list[str] = json.loads(out)
    return env


def test_fixed_image_loads_the_model_offline(docker: Docker, tmp_path: Path) -> None:
    before = tmp_path / "before"
    after = tmp_path / "after"
    shutil.copytree(CASE, before)
    shutil.copytree(CASE, after)
    fixed = run_mlfix("--write", "--unsafe-fixes", "--select", "MLF301", str(after))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "hf download org/tiny-model" in (after / "Dockerfile").read_text()

    with serve(repos()) as hub:
        new = docker.build(after, network_host=True, build_args={"HF_ENDPOINT": hub.url})
        fetched = {repo: set(hub.fetched(repo)) for repo in WANTED}
        old = docker.build(before)
    assert fetched == WANTED, fetched

    env = runtime_env(new.tag)
    assert "HF_HOME=/opt/hf" in env and "HF_HUB_OFFLINE=1" in env
    assert not any(item.startswith("HF_ENDPOINT=") for item in env), env

    loaded = docker.run(new.tag, "python", "app.py", check=False)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert "loaded bert" in loaded.stdout and loaded.stdout.strip().endswith("True")

    unfixed = docker.run(old.tag, "python", "app.py", check=False)
    assert unfixed.returncode != 0
    assert "loaded" not in unfixed.stdout


@pytest.mark.parametrize("edit", ["app.py", "requirements.txt"])
def test_weights_survive_code_and_requirements_edits(
    docker: Docker, tmp_path: Path, edit: str
) -> None:
    after = tmp_path / "after"
    shutil.copytree(CASE, after)
    assert run_mlfix("--write", "--unsafe-fixes", "--select", "MLF301", str(after)).returncode == 0
    with serve(repos()) as hub:
        args = {"HF_ENDPOINT": hub.url}
        first = docker.build(after, network_host=True, build_args=args)
        with (after / edit).open("a") as handle:
            handle.write(f"# edited {tmp_path.name}\n")
        hub.clear()
        again = docker.build(after, tag=first.tag, network_host=True, build_args=args)
        assert hub.fetched() == []
    assert again.is_cached("hf download org/tiny-model")


def test_transformers_loads_the_baked_tokenizer_offline(docker: Docker, tmp_path: Path) -> None:
    """`AutoTokenizer.from_pretrained("org/tiny-model")`, no code change, no network."""
    before = tmp_path / "before"
    after = tmp_path / "after"
    shutil.copytree(TRANSFORMERS_CASE, before)
    shutil.copytree(TRANSFORMERS_CASE, after)
    fixed = run_mlfix("--write", "--unsafe-fixes", "--select", "MLF301", str(after))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    with serve([tiny_model_repo()]) as hub:
        new = docker.build(after, network_host=True, build_args={"HF_ENDPOINT": hub.url})
        baked = set(hub.fetched("org/tiny-model"))
        old = docker.build(before)
        # What transformers itself reads, online, from an empty cache.
        hub.clear()
        online = docker.run(old.tag, "sh", "-c",
                            f"HF_ENDPOINT={hub.url} HF_HOME=/tmp/hf python app.py",
                            network="host", check=False)  # fmt: skip
        read = set(hub.fetched("org/tiny-model"))
    assert online.returncode == 0, online.stdout + online.stderr
    assert "model.safetensors" not in baked, "a tokenizer and a config need no weights"
    assert not any(name.startswith(EXTRA_FORMATS) for name in baked), baked
    assert read <= baked, f"transformers reads {read - baked}, which was not baked"

    loaded = docker.run(new.tag, "python", "app.py", check=False)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert loaded.stdout.strip().splitlines()[-1] == "loaded bert [5, 6]"
    unfixed = docker.run(old.tag, "python", "app.py", check=False)
    assert unfixed.returncode != 0
