"""Which files of a hub repo each loader reads, as `hf download --include` patterns.

A model repo often carries the same weights several times (safetensors, PyTorch `.bin`,
TensorFlow, Flax, ONNX, OpenVINO, GGUF quantisations), and a build that downloads the
whole repo bakes all of them. These sets name what the loader actually opens, copied from
the loaders' own file lists (transformers `modeling_utils`/`tokenization_utils_base`,
sentence-transformers `SentenceTransformer._load_sbert_model`, diffusers `DiffusionPipeline.
download`, timm/open_clip `hf-hub:` loading, peft `PeftConfig`/`load_peft_weights`).

Patterns follow huggingface_hub's `filter_repo_objects` (`fnmatch`, where `*` also matches
`/`), so every weight pattern is anchored at a file name, never a leading `*`: `*.safetensors`
would also take `onnx/…` and `openvino/…` copies.

Safetensors is the format transformers, sentence-transformers and diffusers load first; a
repo that has no safetensors weights falls back to `.bin` at runtime (see MLF301's fix
safety). Loading options that choose another format (`use_safetensors=False`,
`from_tf=True`, `from_flax=True`, `backend="onnx"`, `variant=`) choose other patterns.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from mlfix.scan.refs import ModelRef
from mlfix.weights import fastembed

# transformers: what `PretrainedConfig.from_pretrained` and `from_pretrained` of a model read.
CONFIG = ("config.json",)
MODEL_EXTRAS = ("generation_config.json",)
SAFETENSORS = ("model.safetensors", "model.safetensors.index.json", "model-*-of-*.safetensors")
PYTORCH_BIN = ("pytorch_model.bin", "pytorch_model.bin.index.json", "pytorch_model-*-of-*.bin")
TF_WEIGHTS = ("tf_model.h5", "tf_model.h5.index.json", "tf_model-*-of-*.h5")
FLAX_WEIGHTS = ("flax_model.msgpack", "flax_model.msgpack.index.json")
# `AutoTokenizer`: every `vocab_files_names` entry of the tokenizers transformers ships,
# plus the files `tokenization_utils_base` always asks for.
TOKENIZER = (
    "tokenizer*",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.*",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "*.tiktoken",
    "chat_template.*",
)
# `AutoProcessor`/`AutoImageProcessor`/`AutoFeatureExtractor`.
PROCESSOR = (
    "preprocessor_config.json",
    "processor_config.json",
    "video_preprocessor_config.json",
    "feature_extractor_config.json",
)
REMOTE_CODE = ("*.py",)

# sentence-transformers: the module list, its configs, each module folder (`1_Pooling/`,
# `2_Dense/`, `2_Normalize/`: small), the README it reads as the model card.
ST_CONFIGS = (
    "modules.json",
    "config_sentence_transformers.json",
    "sentence_bert_config.json",
    "sentence_*_config.json",
    "README.md",
    "[0-9]_*/*",
)
ST_BACKENDS = {
    "onnx": ("onnx/model.onnx", "onnx/model.onnx_data"),
    "openvino": ("openvino/openvino_model.xml", "openvino/openvino_model.bin"),
}

# diffusers: `model_index.json`, every component's config and safetensors weights.
DIFFUSERS_PIPELINE = (
    "model_index.json",
    "*/config.json",
    "*/*_config.json",
    "*/diffusion_pytorch_model.safetensors",
    "*/diffusion_pytorch_model.safetensors.index.json",
    "*/diffusion_pytorch_model-*-of-*.safetensors",
    "*/model.safetensors",
    "*/model.safetensors.index.json",
    "*/model-*-of-*.safetensors",
    "*/tokenizer*.json",
    "*/vocab.json",
    "*/merges.txt",
    "*/spiece.model",
    "*/special_tokens_map.json",
)
DIFFUSERS_MODEL = (
    "config.json",
    "diffusion_pytorch_model.safetensors",
    "diffusion_pytorch_model.safetensors.index.json",
    "diffusion_pytorch_model-*-of-*.safetensors",
)

# timm and open_clip `hf-hub:` names.
TIMM = ("config.json", "model.safetensors", "open_clip_config.json")
OPEN_CLIP = (
    "open_clip_config.json",
    "open_clip_model.safetensors",
    "open_clip_pytorch_model.bin",
    *TOKENIZER,
)

# peft: an adapter is its config and its weights.
PEFT_ADAPTER = ("adapter_config.json", "adapter_model.safetensors")


def _prefixed(prefix: str | None, patterns: Iterable[str]) -> tuple[str, ...]:
    if not prefix:
        return tuple(patterns)
    base = prefix.strip("/")
    return tuple(f"{base}/{pattern}" for pattern in patterns)


def _option(ref: ModelRef, name: str) -> str | None:
    return next((value for key, value in ref.options if key == name), None)


def _true(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("true", "1", "'true'")


def _false(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("false", "0", "'false'")


def _weights(ref: ModelRef) -> tuple[str, ...]:
    """The transformers weight files `from_pretrained` loads for these options."""
    if _true(_option(ref, "from_tf")):
        return TF_WEIGHTS
    if _true(_option(ref, "from_flax")):
        return FLAX_WEIGHTS
    if _false(_option(ref, "use_safetensors")):
        return PYTORCH_BIN
    if ref.variant:
        v = ref.variant
        return (
            f"model.{v}.safetensors",
            f"model.safetensors.index.{v}.json",
            f"model-*-of-*.{v}.safetensors",
        )
    return SAFETENSORS


def _transformers(ref: ModelRef) -> tuple[str, ...]:
    role = ref.role
    if role == "config":
        found: tuple[str, ...] = CONFIG
    elif role == "tokenizer":
        found = (*CONFIG, *TOKENIZER)
    elif role == "processor":
        found = (*CONFIG, *PROCESSOR, *TOKENIZER)
    elif ref.loader == "pipeline" or role == "pipeline-default":
        # A pipeline loads the model and whatever preprocessing its task needs.
        found = (*CONFIG, *MODEL_EXTRAS, *_weights(ref), *TOKENIZER, *PROCESSOR)
    else:
        found = (*CONFIG, *MODEL_EXTRAS, *_weights(ref))
    if _true(_option(ref, "trust_remote_code")):
        found = (*found, *REMOTE_CODE)
    return found


def _sentence_transformers(ref: ModelRef) -> tuple[str, ...]:
    backend = (ref.backend or "torch").lower()
    weights = ST_BACKENDS.get(backend, SAFETENSORS)
    return (*ST_CONFIGS, *CONFIG, *TOKENIZER, *weights)


def _diffusers(ref: ModelRef) -> tuple[str, ...]:
    if ref.role == "lora":
        return (ref.filename,) if ref.filename else ("pytorch_lora_weights.safetensors",)
    name = ref.loader_class or ""
    if name.endswith("Pipeline"):
        patterns: tuple[str, ...] = DIFFUSERS_PIPELINE
        if ref.variant:
            v = ref.variant
            patterns = (
                *[p for p in patterns if "safetensors" not in p],
                f"*/diffusion_pytorch_model.{v}.safetensors",
                f"*/model.{v}.safetensors",
                f"*/diffusion_pytorch_model.safetensors.index.{v}.json",
                f"*/model.safetensors.index.{v}.json",
            )
        return patterns
    if ref.variant:
        return ("config.json", f"diffusion_pytorch_model.{ref.variant}.safetensors")
    return DIFFUSERS_MODEL


def include_patterns(ref: ModelRef) -> tuple[str, ...] | None:
    """`--include` patterns for what `ref`'s loader reads; None means the whole repo.

    An explicit file (`hf_hub_download(repo, filename)`, a diffusers `weight_name`, a
    llama-cpp `filename` glob) is the pattern itself; `snapshot_download` keeps its own
    `allow_patterns` (none: it reads the whole repo, so the whole repo is baked).
    """
    if (ref.filename and ref.role in ("file", "lora")) or ref.library == "llama-cpp":
        if not ref.filename:
            return None
        return _prefixed(ref.subfolder, (ref.filename,))
    if ref.role == "snapshot" or ref.library in ("huggingface_hub", "faster-whisper"):
        return ref.allow_patterns
    if ref.allow_patterns:
        return ref.allow_patterns
    if ref.library == "sentence-transformers":
        patterns = _sentence_transformers(ref)
    elif ref.library == "diffusers":
        if ref.filename and ref.loader.endswith("from_single_file"):
            return (ref.filename,)
        patterns = _diffusers(ref)
    elif ref.library == "peft" or ref.role == "adapter":
        patterns = PEFT_ADAPTER
    elif ref.library == fastembed.LIBRARY:
        # The scan gives fastembed's own allow_patterns (returned above); with only the model
        # file known, fastembed's fixed files and that file.
        return fastembed.allow_patterns(ref.filename) if ref.filename else None
    elif ref.library == "timm":
        patterns = TIMM
    elif ref.library == "open_clip":
        patterns = OPEN_CLIP
    elif ref.library in ("transformers", "optimum", "setfit", "unknown", "gliner", "span_marker"):
        patterns = _transformers(ref)
        if ref.library == "optimum":
            patterns = (*patterns, "*.onnx", "*.onnx_data")
    else:
        return None
    return _prefixed(ref.subfolder, patterns)


def merge(patterns: Iterable[tuple[str, ...] | None]) -> tuple[str, ...] | None:
    """Union of include sets, in first-seen order; any None (whole repo) wins."""
    merged: list[str] = []
    for group in patterns:
        if group is None:
            return None
        for pattern in group:
            if pattern not in merged:
                merged.append(pattern)
    globs = [p for p in merged if is_glob(p)]
    return tuple(p for p in merged if is_glob(p) or not any(fnmatchcase(p, g) for g in globs))


def is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")
