"""The local hub endpoint, exercised with the real huggingface_hub client (library and CLI)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from tests.support.hfserver import TinyRepo, serve, tiny_model_repo

REPO = "org/tiny-model"
WANTED = ["*.json", "model.safetensors", "vocab.txt"]
WANTED_FILES = {
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "model.safetensors",
}
EXTRA_FORMATS = ("onnx/", "openvino/", "pytorch_model.bin", "tf_model.h5", "flax_model.msgpack")


def client_env(hub_url: str, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_ENDPOINT=hub_url, HF_HOME=str(home), HF_HUB_DISABLE_PROGRESS_BARS="1", **extra)
    return env


def run_python(
    code: str, env: dict[str, str], python: str = sys.executable
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )


def test_tiny_repo_has_the_formats_a_fix_must_skip() -> None:
    repo = tiny_model_repo()
    assert set(repo.files) >= WANTED_FILES
    for prefix in EXTRA_FORMATS:
        assert any(path.startswith(prefix) for path in repo.files), prefix
    data = repo.files["model.safetensors"]
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    start, end = header["embeddings.word_embeddings.weight"]["data_offsets"]
    assert end - start == len(data) - 8 - length
    assert json.loads(repo.files["tokenizer.json"])["model"]["type"] == "WordLevel"


def test_snapshot_download_fetches_only_the_allowed_files(tmp_path: Path) -> None:
    repo = tiny_model_repo()
    with serve([repo]) as hub:
        folder = snapshot_download(
            REPO, allow_patterns=WANTED, cache_dir=tmp_path, endpoint=hub.url
        )
        fetched = hub.fetched(REPO)
    assert sorted(fetched) == sorted(WANTED_FILES)
    assert Path(folder).name == repo.sha
    assert {p.name for p in Path(folder).iterdir()} == WANTED_FILES
    for name in WANTED_FILES:
        assert (Path(folder) / name).read_bytes() == repo.files[name]
    ref = tmp_path / "models--org--tiny-model" / "refs" / "main"
    assert ref.read_text() == repo.sha


def test_lfs_files_come_from_the_cdn_after_a_redirect(tmp_path: Path) -> None:
    with serve([tiny_model_repo()]) as hub:
        hf_hub_download(REPO, "model.safetensors", cache_dir=tmp_path, endpoint=hub.url)
        requests = list(hub.requests)
    head = next(r for r in requests if r.method == "HEAD")
    get = next(r for r in requests if r.method == "GET")
    assert (head.server, head.status) == ("hub", 302)
    assert (get.server, get.status, get.file) == ("cdn", 200, "model.safetensors")


def test_bytes_are_counted_per_repo(tmp_path: Path) -> None:
    repo = tiny_model_repo()
    other = tiny_model_repo("org/other", weights_size=1024)
    with serve([repo, other]) as hub:
        snapshot_download(REPO, cache_dir=tmp_path, endpoint=hub.url)
        assert hub.bytes_sent(REPO) == sum(len(data) for data in repo.files.values())
        assert hub.bytes_sent("org/other") == 0
        assert sorted(hub.fetched()) == sorted(repo.files)


def test_hf_download_cli(tmp_path: Path) -> None:
    hf = shutil.which("hf")
    assert hf is not None, "the hf CLI comes with huggingface_hub"
    repo = tiny_model_repo()
    with serve([repo]) as hub:
        result = subprocess.run(
            [hf, "download", REPO, "--include", "*.json", "--include", "model.safetensors"],
            env=client_env(hub.url, tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )
        fetched = hub.fetched(REPO)
    assert result.returncode == 0, result.stderr
    assert sorted(fetched) == sorted(WANTED_FILES - {"vocab.txt"})
    snapshot = tmp_path / "hub" / "models--org--tiny-model" / "snapshots" / repo.sha
    assert (snapshot / "model.safetensors").read_bytes() == repo.files["model.safetensors"]


def test_offline_load_finds_the_cached_files(tmp_path: Path) -> None:
    with serve([tiny_model_repo()]) as hub:
        download = run_python(
            "from huggingface_hub import snapshot_download\n"
            f"snapshot_download({REPO!r}, allow_patterns={WANTED!r})",
            client_env(hub.url, tmp_path),
        )
        assert download.returncode == 0, download.stderr
    # The server is gone: anything not cached must fail, everything cached must load.
    offline = client_env("http://127.0.0.1:9", tmp_path, HF_HUB_OFFLINE="1")
    code = f"""
import json
from huggingface_hub import hf_hub_download, snapshot_download
from huggingface_hub.errors import LocalEntryNotFoundError
folder = snapshot_download({REPO!r}, allow_patterns={WANTED!r})
config = json.load(open(hf_hub_download({REPO!r}, "config.json")))
try:
    hf_hub_download({REPO!r}, "pytorch_model.bin")
    missing = "downloaded"
except LocalEntryNotFoundError:
    missing = "not cached"
print(json.dumps([config["model_type"], missing]))
"""
    result = run_python(code, offline)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == ["bert", "not cached"]


def test_missing_file_is_an_entry_not_found_and_cached_as_absent(tmp_path: Path) -> None:
    repo = tiny_model_repo()
    with serve([repo]) as hub, pytest.raises(EntryNotFoundError):
        hf_hub_download(REPO, "added_tokens.json", cache_dir=tmp_path, endpoint=hub.url)
    marker = tmp_path / "models--org--tiny-model" / ".no_exist" / repo.sha / "added_tokens.json"
    assert marker.exists()


def test_revisions_tags_short_shas_and_errors(tmp_path: Path) -> None:
    repo = tiny_model_repo(sha="0123456789abcdef0123456789abcdef01234567")
    repo.refs["v1.0"] = repo.sha
    with serve([repo]) as hub:
        api = HfApi(endpoint=hub.url)
        assert api.model_info(REPO, revision="v1.0").sha == repo.sha
        assert api.model_info(REPO, revision="0123456").sha == repo.sha
        path = hf_hub_download(
            REPO, "config.json", revision="0123456", cache_dir=tmp_path, endpoint=hub.url
        )
        assert Path(path).parent.name == repo.sha
        assert (tmp_path / "models--org--tiny-model" / "refs" / "0123456").read_text() == repo.sha
        with pytest.raises(RevisionNotFoundError):
            api.model_info(REPO, revision="nope")
        with pytest.raises(RepositoryNotFoundError):
            api.model_info("org/missing")


def test_renamed_repo_redirects_to_its_canonical_name(tmp_path: Path) -> None:
    repo = tiny_model_repo("openai-community/gpt2-tiny")
    repo.aliases = ("gpt2-tiny",)
    with serve([repo]) as hub:
        path = hf_hub_download("gpt2-tiny", "config.json", cache_dir=tmp_path, endpoint=hub.url)
        statuses = [(r.method, r.status) for r in hub.requests]
    assert Path(path).read_bytes() == repo.files["config.json"]
    assert "models--gpt2-tiny" in path
    assert ("HEAD", 307) in statuses


def test_tree_listing_is_paginated(tmp_path: Path) -> None:
    repo = tiny_model_repo()
    with serve([repo], tree_page_size=3) as hub:
        api = HfApi(endpoint=hub.url)
        listed = {f.path for f in api.list_repo_tree(REPO, recursive=True) if hasattr(f, "size")}
        pages = [r for r in hub.requests if "/tree/" in r.path]
        snapshot_download(
            REPO, cache_dir=tmp_path, endpoint=hub.url, allow_patterns=["config.json"]
        )
    assert {p for p in listed if p in repo.files} == set(repo.files)
    assert len(pages) > 3 and any("cursor=" in r.path for r in pages)


def test_tree_of_a_folder_and_paths_info() -> None:
    with serve([tiny_model_repo()]) as hub:
        api = HfApi(endpoint=hub.url)
        onnx = sorted(f.path for f in api.list_repo_tree(REPO, path_in_repo="onnx"))
        info = api.get_paths_info(REPO, ["config.json", "onnx", "missing.txt"])
    assert onnx == ["onnx/model.onnx", "onnx/model_quantized.onnx"]
    assert [(type(i).__name__, i.path) for i in info] == [
        ("RepoFile", "config.json"),
        ("RepoFolder", "onnx"),
    ]


def test_range_requests_resume_downloads() -> None:
    repo = tiny_model_repo()
    data = repo.files["model.safetensors"]
    sha256 = hashlib.sha256(data).hexdigest()
    with serve([repo]) as hub:
        request = urllib.request.Request(
            f"{hub.cdn_url}/blobs/{sha256}", headers={"Range": "bytes=100-"}
        )
        with urllib.request.urlopen(request) as response:
            assert response.status == 206
            assert response.read() == data[100:]
        request = urllib.request.Request(
            f"{hub.url}/{REPO}/resolve/main/config.json", headers={"Range": "bytes=0-9"}
        )
        with urllib.request.urlopen(request) as response:
            assert response.read() == repo.files["config.json"][:10]


def test_dataset_repos(tmp_path: Path) -> None:
    data = TinyRepo("org/tiny-data", {"train.csv": b"a,b\n1,2\n"}, repo_type="dataset")
    with serve([data]) as hub:
        folder = snapshot_download(
            "org/tiny-data", repo_type="dataset", cache_dir=tmp_path, endpoint=hub.url
        )
    assert (Path(folder) / "train.csv").read_bytes() == b"a,b\n1,2\n"


def test_binds_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"), serve([], host="0.0.0.0"):
        pass
    with serve([], host="localhost") as hub:
        assert hub.url.startswith("http://127.0.0.1:")


def test_unknown_endpoints_are_recorded_404s() -> None:
    with serve([tiny_model_repo()]) as hub:
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(f"{hub.url}/api/spaces/org/x")
        assert error.value.code == 404
        assert hub.requests[-1].status == 404


@pytest.mark.skipif(
    importlib.util.find_spec("transformers") is None, reason="transformers is not installed"
)
def test_transformers_autotokenizer_online_then_offline(tmp_path: Path) -> None:
    code = (
        "from transformers import AutoTokenizer\n"
        f"print(AutoTokenizer.from_pretrained({REPO!r})('hello world')['input_ids'])\n"
    )
    with serve([tiny_model_repo()]) as hub:
        online = run_python(code, client_env(hub.url, tmp_path))
        assert online.returncode == 0, online.stderr
        assert not any(f.startswith(EXTRA_FORMATS) for f in hub.fetched())
    offline = run_python(code, client_env("http://127.0.0.1:9", tmp_path, HF_HUB_OFFLINE="1"))
    assert offline.returncode == 0, offline.stderr
    assert offline.stdout.strip().splitlines()[-1] == "[5, 6]"
