"""fastembed models are baked into the cache fastembed reads, in the layout it reads.

The scan's fastembed rows are stubbed here (`Gatherer.scan`), so these tests pin the
weights side: where the download goes, the ENV the image gets, and (against the local hub)
that fastembed's own cache lookup finds what the rendered `hf download` wrote.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from mlfix.config import Settings
from mlfix.engine import run_target
from mlfix.facts import Target
from mlfix.patch import write_atomic
from mlfix.scan.refs import ModelRef, RefKind
from mlfix.weights import fastembed
from mlfix.weights.cache import hub_cache, repo_folder
from mlfix.weights.facts import Gatherer
from tests.support.hfserver import TinyRepo, serve

REPO = "qdrant/bge-small-en-v1.5-onnx-q"  # what fastembed 0.9.1 maps BAAI/bge-small-en-v1.5 to
MODEL_FILE = "model_optimized.onnx"
DOCKERFILE = """\
FROM python:3.11-slim
WORKDIR /app
{env}COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
CMD ["python", "app.py"]
"""


def _ref(root: Path, cache_dir: str | None = None) -> ModelRef:
    return ModelRef(
        kind=RefKind.HUB,
        repo_id=REPO,
        library="fastembed",
        loader="TextEmbedding",
        loader_class="TextEmbedding",
        path=root / "app.py",
        line=3,
        column=1,
        raw='"BAAI/bge-small-en-v1.5"',
        cache_dir=cache_dir,
        allow_patterns=fastembed.allow_patterns(MODEL_FILE),
    )


def _project(tmp_path: Path, env: str = "") -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "Dockerfile").write_text(DOCKERFILE.format(env=env))
    (root / "requirements.txt").write_text("fastembed==0.9.1\nhuggingface_hub==2.4.0\n")
    (root / "app.py").write_text("from fastembed import TextEmbedding\n\nmodel = TextEmbedding()\n")
    return root


def _fix(root: Path, monkeypatch: pytest.MonkeyPatch, cache_dir: str | None = None) -> str:
    def scan(self: Gatherer, env: dict[str, str], versions: object) -> tuple[ModelRef, ...]:
        # As the scan does: a FASTEMBED_CACHE_PATH in the image's ENV is the cache the call
        # gets when it passes no cache_dir= (only a filled-in default gives way to it).
        ref = _ref(root, cache_dir)
        if "FASTEMBED_CACHE_PATH" in env and cache_dir in (None, fastembed.SCAN_DEFAULT):
            ref = replace(ref, cache_dir=env["FASTEMBED_CACHE_PATH"], env_vars=(fastembed.ENV_VAR,))
        return (ref,)

    monkeypatch.setattr(Gatherer, "scan", scan)
    target = Target(root / "Dockerfile", root, "Dockerfile")
    settings = Settings(select=("MLF301",), unsafe_fixes=True)
    result = run_target(target, settings, fix=True)
    assert result.error is None, result.error
    new = result.changes[root / "Dockerfile"][1]
    write_atomic(root / "Dockerfile", new)
    again = run_target(target, settings, fix=True)
    assert again.changes == {}, "a second run must change nothing"
    return new


def _download_line(dockerfile: str) -> list[str]:
    run = dockerfile.split("RUN hf download ", 1)[1].split("\n\n", 1)[0]
    return shlex.split("hf download " + run.replace("\\\n", " "))


@pytest.mark.parametrize("scan_default", [None, "/tmp/fastembed_cache"])
def test_default_temp_cache_is_baked_to_a_fixed_dir_the_image_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scan_default: str | None
) -> None:
    new = _fix(_project(tmp_path), monkeypatch, cache_dir=scan_default)
    words = _download_line(new)
    assert words[:3] == ["hf", "download", REPO]
    assert words[words.index("--cache-dir") + 1] == "/opt/fastembed"
    includes = [words[i + 1] for i, w in enumerate(words) if w == "--include"]
    assert includes == [*fastembed.ALWAYS, MODEL_FILE]
    app = new.split("\n\n", 1)[1]
    assert "ENV FASTEMBED_CACHE_PATH=/opt/fastembed\n" in app
    assert "COPY --from=weights /opt/fastembed /opt/fastembed\n" in app
    assert "HF_HOME" not in app  # fastembed never reads the HF cache variables


def test_a_cache_dir_the_code_names_is_baked_there_without_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    new = _fix(_project(tmp_path), monkeypatch, cache_dir="models/fe")
    words = _download_line(new)
    assert words[words.index("--cache-dir") + 1] == "/app/models/fe"  # against WORKDIR
    assert "COPY --from=weights /app/models/fe /app/models/fe\n" in new
    assert "FASTEMBED_CACHE_PATH" not in new


def test_the_images_fastembed_cache_path_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(tmp_path, env="ENV FASTEMBED_CACHE_PATH=/srv/fastembed\n")
    new = _fix(root, monkeypatch)
    words = _download_line(new)
    assert words[words.index("--cache-dir") + 1] == "/srv/fastembed"
    assert new.count("FASTEMBED_CACHE_PATH") == 1


def test_cache_directory_follows_define_cache_dir() -> None:
    # fastembed 0.9.1 fastembed/common/utils.py define_cache_dir: cache_dir, else
    # FASTEMBED_CACHE_PATH, else os.path.join(tempfile.gettempdir(), "fastembed_cache");
    # tempfile.gettempdir() tries TMPDIR, TEMP, TMP, then /tmp.
    user, workdir = "root", "/app"
    assert hub_cache({}, user, workdir, library="fastembed") == "/tmp/fastembed_cache"
    env = {"TMP": "/t3", "TEMP": "/t2"}
    assert hub_cache(env, user, workdir, library="fastembed") == "/t2/fastembed_cache"
    env = {"FASTEMBED_CACHE_PATH": "cache", "HF_HOME": "/hf"}
    assert hub_cache(env, user, workdir, library="fastembed") == "/app/cache"
    assert hub_cache(env, user, workdir, library="fastembed", cache_dir="~/fe") == "/root/fe"
    ref = _ref(Path("/p"))
    assert fastembed.uses_default({"TMPDIR": "/x"}, ref)
    assert not fastembed.uses_default({"FASTEMBED_CACHE_PATH": "/x"}, ref)
    # The scan may fill in the Linux default itself; one from the variable is the project's.
    assert fastembed.uses_default({}, replace(ref, cache_dir="/tmp/fastembed_cache"))
    from_env = replace(ref, cache_dir="/tmp/fastembed_cache", env_vars=("FASTEMBED_CACHE_PATH",))
    assert not fastembed.uses_default({}, from_env)
    # model_management.py download_files_from_huggingface: snapshot_download(...,
    # cache_dir=<fastembed cache>) keeps the repo in huggingface_hub's own folder name.
    from huggingface_hub.file_download import repo_folder_name

    assert repo_folder(REPO) == repo_folder_name(repo_id=REPO, repo_type="model")


def test_fastembeds_offline_lookup_finds_what_the_rendered_download_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    words = _download_line(_fix(_project(tmp_path), monkeypatch))
    cache = tmp_path / "image" / "opt" / "fastembed"
    words[words.index("--cache-dir") + 1] = str(cache)
    hf = shutil.which("hf")
    assert hf is not None
    files = {
        "config.json": b'{"model_type": "bert"}',
        "tokenizer.json": b'{"tokenizer": 1}',
        "tokenizer_config.json": b'{"config": 2}',
        "special_tokens_map.json": b"{}",
        MODEL_FILE: b"onnx" * 64,
        "model.onnx": b"unoptimised" * 64,  # another format fastembed does not read
        "pytorch_model.bin": b"torch" * 64,
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "FASTEMBED"))}
    env.update(HF_HOME=str(tmp_path / "hf-home"), HF_HUB_DISABLE_PROGRESS_BARS="1")
    with serve([TinyRepo(REPO, files)]) as hub:
        done = subprocess.run(
            [hf, *words[1:]], env={**env, "HF_ENDPOINT": hub.url}, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert sorted(hub.fetched(REPO)) == sorted(set(files) - {"model.onnx", "pytorch_model.bin"})
    # What download_model does first (model_management.py, fastembed 0.9.1): the same
    # snapshot_download with local_files_only=True into the fastembed cache, then it checks
    # that model_file and every additional file exist. The hub is gone by now.
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from huggingface_hub import snapshot_download\n"
        f"path = Path(snapshot_download(repo_id={REPO!r}, allow_patterns="
        f"{list(fastembed.allow_patterns(MODEL_FILE))!r}, cache_dir={str(cache)!r},"
        " local_files_only=True))\n"
        f"print(json.dumps([(path / {MODEL_FILE!r}).exists(), path.parent.parent.name]))\n"
    )
    offline = {**env, "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_OFFLINE": "1"}
    loaded = subprocess.run(
        [sys.executable, "-c", code], env=offline, capture_output=True, text=True
    )
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout.splitlines()[-1]) == [True, repo_folder(REPO)]


def test_external_onnx_data_for_a_user_without_chown_gets_a_note() -> None:
    # fastembed 0.9.1 onnx_external_data.py link_external_data hard-links the model and its
    # .onnx_data into <repo>/onnx_snapshots/ on first load: the cache must be writable.
    patterns = fastembed.allow_patterns("onnx/model.onnx", ["onnx/model.onnx_data"])
    note = fastembed.link_note(patterns, "app", None)
    assert note is not None and "USER app" in note
    assert fastembed.link_note(patterns, "app", "app") is None  # COPY --chown=app
    assert fastembed.link_note(patterns, "root", None) is None
    assert fastembed.link_note(fastembed.allow_patterns(MODEL_FILE), "app", None) is None
