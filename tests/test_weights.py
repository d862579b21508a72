"""The weights package: include sets per loader, pinned versions, caches, shell spans, compose."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from mlfix.scan.refs import ModelRef, RefKind
from mlfix.weights import cache, includes, validate, versions
from mlfix.weights.compose import add_volume


def ref(**fields: object) -> ModelRef:
    base: dict[str, object] = {
        "kind": RefKind.HUB,
        "repo_id": "org/m",
        "library": "transformers",
        "loader": "AutoModel.from_pretrained",
        "path": Path("app.py"),
        "line": 1,
        "column": 1,
        "raw": '"org/m"',
    }
    base.update(fields)
    return ModelRef(**base)  # type: ignore[arg-type]


# -- include sets ------------------------------------------------------------------------


def test_transformers_model_takes_safetensors_only() -> None:
    patterns = includes.include_patterns(ref()) or ()
    assert "model.safetensors" in patterns and "config.json" in patterns
    assert not any(p.endswith((".bin", ".h5", ".msgpack", ".onnx")) for p in patterns)
    assert not any(p.startswith("*") for p in patterns), "weights patterns stay at the root"


def test_tokenizer_takes_no_weights() -> None:
    patterns = includes.include_patterns(ref(role="tokenizer", loader_class="AutoTokenizer"))
    assert patterns is not None and "tokenizer*" in patterns
    assert not any("safetensors" in p for p in patterns)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ((("use_safetensors", "False"),), "pytorch_model.bin"),
        ((("from_tf", "True"),), "tf_model.h5"),
        ((("from_flax", "True"),), "flax_model.msgpack"),
    ],
)
def test_options_choose_other_weights(options: tuple[tuple[str, str], ...], expected: str) -> None:
    patterns = includes.include_patterns(ref(options=options)) or ()
    assert expected in patterns and "model.safetensors" not in patterns


def test_variant_and_subfolder() -> None:
    patterns = includes.include_patterns(ref(variant="fp16", subfolder="unet")) or ()
    assert "unet/model.fp16.safetensors" in patterns and "unet/config.json" in patterns


def test_sentence_transformers_backend() -> None:
    st = ref(library="sentence-transformers", loader="SentenceTransformer")
    torch = includes.include_patterns(st) or ()
    onnx = includes.include_patterns(ModelRef(**{**st.__dict__, "backend": "onnx"})) or ()
    assert "modules.json" in torch and "model.safetensors" in torch
    assert "onnx/model.onnx" in onnx and "model.safetensors" not in onnx


def test_exact_files_and_snapshots() -> None:
    one = ref(library="huggingface_hub", role="file", filename="config.json", subfolder="v2")
    assert includes.include_patterns(one) == ("v2/config.json",)
    whole = ref(library="huggingface_hub", role="snapshot")
    assert includes.include_patterns(whole) is None
    some = ref(library="huggingface_hub", role="snapshot", allow_patterns=("*.json",))
    assert includes.include_patterns(some) == ("*.json",)


def test_merge_drops_names_a_glob_covers_and_none_wins() -> None:
    assert includes.merge([("*.json", "a.bin"), ("config.json", "a.bin")]) == ("*.json", "a.bin")
    assert includes.merge([("*.json",), None]) is None


# -- versions ----------------------------------------------------------------------------


def test_pins_from_every_manifest() -> None:
    files = {
        "requirements.txt": "huggingface_hub==0.30.2  # pinned\ntorch>=2\n",
        "poetry.lock": '[[package]]\nname = "transformers"\nversion = "4.46.3"\n',
        "pyproject.toml": '[project]\ndependencies = ["sentence-transformers==3.4.1"]\n',
    }
    found = versions.project_versions(files.get, {"huggingface-hub": "2.4.0"})
    assert found["huggingface-hub"] == "2.4.0"  # the Dockerfile's own install line wins
    assert found["transformers"] == "4.46.3"
    assert found["sentence-transformers"] == "3.4.1"
    assert "torch" not in found


def test_upper_bounds_read_as_just_below() -> None:
    assert versions.from_requirements("huggingface_hub<1.0\n") == {"huggingface-hub": "<1.0"}
    assert versions.version_tuple("<1.0") == (0, 999)
    assert versions.version_tuple("<0.34") == (0, 33, 999)
    assert versions.version_tuple("0.34.1") == (0, 34, 1)


# -- caches ------------------------------------------------------------------------------


def test_hub_cache_precedence() -> None:
    assert cache.hub_cache({}, "root", "/app") == "/root/.cache/huggingface/hub"
    assert cache.hub_cache({}, "app", "/app") == "/home/app/.cache/huggingface/hub"
    assert cache.hub_cache({"HF_HOME": "/opt/hf"}, "app", "/") == "/opt/hf/hub"
    env = {"HF_HOME": "/opt/hf", "HF_HUB_CACHE": "/cache"}
    assert cache.hub_cache(env, "root", "/") == "/cache"
    st = {"SENTENCE_TRANSFORMERS_HOME": "/st", "HF_HOME": "/opt/hf"}
    assert cache.hub_cache(st, "root", "/", library="sentence-transformers") == "/st"
    assert cache.hub_cache(st, "root", "/", library="transformers") == "/opt/hf/hub"
    assert cache.hub_cache({}, "root", "/app", cache_dir="./c") == "/app/c"
    assert cache.hub_cache({"HF_HOME": ""}, "root", "/") == "/root/.cache/huggingface/hub"


# -- shell spans -------------------------------------------------------------------------


def test_word_is_bare_only_when_inert_and_single_quoted_otherwise() -> None:
    assert validate.word("config.json") == "config.json"
    assert validate.word("*.json") == "'*.json'"
    assert validate.word("a'b") == "'a'\"'\"'b'"


# -- compose -----------------------------------------------------------------------------

COMPOSE = textwrap.dedent(
    """\
    # top comment
    services:
      api:
        build: .   # here
        environment:
          - LOG=info
        volumes:
          - ./data:/data  # data
      db:
        image: postgres:16
    """
)


def test_compose_edit_keeps_comments_and_layout() -> None:
    new = add_volume(COMPOSE, "api", "/opt/hf", {"HF_HOME": "/opt/hf"}, read_only=False)
    assert new is not None
    assert new.startswith("# top comment\n") and "build: .   # here" in new
    assert "      - ./data:/data  # data\n" in new
    assert "      - HF_HOME=/opt/hf\n" in new
    assert "      - ${HF_HOME:-~/.cache/huggingface}:/opt/hf\n" in new
    data = YAML(typ="safe").load(new)
    assert data["services"]["db"] == {"image": "postgres:16"}
    again = add_volume(new, "api", "/opt/hf", {"HF_HOME": "/opt/hf"}, read_only=False)
    assert again == new


def test_compose_edit_refuses_a_layout_it_cannot_keep() -> None:
    odd = "services:\n   api:\n         build: .\n"
    assert add_volume(odd, "api", "/opt/hf", {"HF_HOME": "/opt/hf"}, read_only=False) is None


def test_declared_packages_reads_every_manifest_pinned_or_not() -> None:
    from mlfix.weights.versions import declared_packages

    files = {
        "requirements.txt": "torch==2.4.0\nDatasets[audio]>=2  # loose\n-r more.txt\n",
        "pyproject.toml": (
            '[project]\ndependencies = ["evaluate", "numpy<2"]\n'
            "[tool.poetry.dependencies]\nScikit_Learn = '*'\n"
        ),
        "uv.lock": '[[package]]\nname = "tokenizers"\nversion = "0.20.0"\n',
        "Pipfile": '[packages]\nrequests = "*"\n',
    }
    found = declared_packages(files.get, ["pip", "install", "--no-cache-dir", "sentencepiece"])
    assert {"torch", "datasets", "evaluate", "numpy", "scikit-learn", "tokenizers"} <= found
    assert {"requests", "sentencepiece"} <= found
    assert "more-txt" not in found and "-r" not in found
