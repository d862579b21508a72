"""What the ML libraries do with a name, copied from their source so mlfix never imports them.

mlfix must bake the same repository the library would fetch at runtime, so these tables
mirror the libraries' own rules. Each table names the release it was copied from; when a
library changes a rule, add the new table beside the old one rather than editing it, since
projects pin different releases.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# --- transformers pipeline defaults ------------------------------------------------------


@dataclass(frozen=True)
class PipelineDefault:
    """The model a task-only `pipeline(task)` downloads, at the revision transformers pins."""

    task: str
    repo_id: str
    revision: str


# Copied from transformers 5.24.0, `transformers/pipelines/__init__.py` (TASK_ALIASES and the
# "default" entries of SUPPORTED_TASKS, PyTorch column). 5.x dropped summarization,
# translation, text2text-generation and question-answering (REMOVED_TASKS).
_TRANSFORMERS_5_DEFAULTS: dict[str, tuple[str, str]] = {
    "audio-classification": ("superb/wav2vec2-base-superb-ks", "372e048"),
    "automatic-speech-recognition": ("facebook/wav2vec2-base-960h", "22aad52"),
    "text-to-audio": ("suno/bark-small", "1dbd7a1"),
    "feature-extraction": ("distilbert/distilbert-base-cased", "6ea8117"),
    "text-classification": (
        "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
        "714eb0f",
    ),
    "token-classification": ("dbmdz/bert-large-cased-finetuned-conll03-english", "4c53496"),
    "table-question-answering": ("google/tapas-base-finetuned-wtq", "e3dde19"),
    "document-question-answering": ("impira/layoutlm-document-qa", "beed3c4"),
    "fill-mask": ("distilbert/distilroberta-base", "fb53ab8"),
    "text-generation": ("HuggingFaceTB/SmolLM3-3B", "a07cc9a"),
    "zero-shot-classification": ("facebook/bart-large-mnli", "d7645e1"),
    "zero-shot-image-classification": ("openai/clip-vit-base-patch32", "3d74acf"),
    "zero-shot-audio-classification": ("laion/clap-htsat-fused", "cca9e28"),
    "image-classification": ("google/vit-base-patch16-224", "3f49326"),
    "image-feature-extraction": ("google/vit-base-patch16-224", "3f49326"),
    "image-segmentation": ("facebook/detr-resnet-50-panoptic", "d53b52a"),
    "image-text-to-text": ("Qwen/Qwen3-VL-2B-Instruct", "8964489"),
    "object-detection": ("facebook/detr-resnet-50", "1d5f47b"),
    "zero-shot-object-detection": ("google/owlvit-base-patch32", "cbc355f"),
    "decision": ("Qwen/Qwen2.5-0.5B-Instruct", "7ae5576"),
    "depth-estimation": ("Intel/dpt-large", "bc15f29"),
    "video-classification": ("MCG-NJU/videomae-base-finetuned-kinetics", "488eb9a"),
    "mask-generation": ("facebook/sam-vit-huge", "87aecf0"),
    "keypoint-matching": ("magic-leap-community/superglue_outdoor", "f4041f8"),
    "any-to-any": ("google/gemma-3n-E4B-it", "c1221e9"),
}
_TRANSFORMERS_5_ALIASES = {
    "sentiment-analysis": "text-classification",
    "ner": "token-classification",
    "text-to-speech": "text-to-audio",
}

# Copied from transformers 4.57.6 (the last 4.x release), same file, PyTorch column.
# `translation_xx_to_yy` tasks use the per-language-pair entries below.
_TRANSFORMERS_4_DEFAULTS: dict[str, tuple[str, str]] = {
    "audio-classification": ("superb/wav2vec2-base-superb-ks", "372e048"),
    "automatic-speech-recognition": ("facebook/wav2vec2-base-960h", "22aad52"),
    "text-to-audio": ("suno/bark-small", "1dbd7a1"),
    "feature-extraction": ("distilbert/distilbert-base-cased", "6ea8117"),
    "text-classification": (
        "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
        "714eb0f",
    ),
    "token-classification": ("dbmdz/bert-large-cased-finetuned-conll03-english", "4c53496"),
    "question-answering": ("distilbert/distilbert-base-cased-distilled-squad", "564e9b5"),
    "table-question-answering": ("google/tapas-base-finetuned-wtq", "e3dde19"),
    "visual-question-answering": ("dandelin/vilt-b32-finetuned-vqa", "d0a1f6a"),
    "document-question-answering": ("impira/layoutlm-document-qa", "beed3c4"),
    "fill-mask": ("distilbert/distilroberta-base", "fb53ab8"),
    "summarization": ("sshleifer/distilbart-cnn-12-6", "a4f8f3e"),
    "text2text-generation": ("google-t5/t5-base", "a9723ea"),
    "text-generation": ("openai-community/gpt2", "607a30d"),
    "zero-shot-classification": ("facebook/bart-large-mnli", "d7645e1"),
    "zero-shot-image-classification": ("openai/clip-vit-base-patch32", "3d74acf"),
    "zero-shot-audio-classification": ("laion/clap-htsat-fused", "cca9e28"),
    "image-classification": ("google/vit-base-patch16-224", "3f49326"),
    "image-feature-extraction": ("google/vit-base-patch16-224", "3f49326"),
    "image-segmentation": ("facebook/detr-resnet-50-panoptic", "d53b52a"),
    "image-to-text": ("ydshieh/vit-gpt2-coco-en", "5bebf1e"),
    "image-text-to-text": ("llava-hf/llava-onevision-qwen2-0.5b-ov-hf", "2c9ba3b"),
    "object-detection": ("facebook/detr-resnet-50", "1d5f47b"),
    "zero-shot-object-detection": ("google/owlvit-base-patch32", "cbc355f"),
    "depth-estimation": ("Intel/dpt-large", "bc15f29"),
    "video-classification": ("MCG-NJU/videomae-base-finetuned-kinetics", "488eb9a"),
    "mask-generation": ("facebook/sam-vit-huge", "87aecf0"),
    "image-to-image": ("caidas/swin2SR-classical-sr-x2-64", "cee1c92"),
    "keypoint-matching": ("magic-leap-community/superglue_outdoor", "f4041f8"),
}
_TRANSFORMERS_4_TRANSLATION: dict[tuple[str, str], tuple[str, str]] = {
    ("en", "fr"): ("google-t5/t5-base", "a9723ea"),
    ("en", "de"): ("google-t5/t5-base", "a9723ea"),
    ("en", "ro"): ("google-t5/t5-base", "a9723ea"),
}
_TRANSFORMERS_4_ALIASES = {
    "sentiment-analysis": "text-classification",
    "ner": "token-classification",
    "vqa": "visual-question-answering",
    "text-to-speech": "text-to-audio",
}
_TRANSLATION_TASK = re.compile(r"translation_([a-z]{2,3})_to_([a-z]{2,3})")


def transformers_major(version: str | None) -> int:
    """The transformers major version a project gets; unpinned installs get the newest (5)."""
    if version:
        match = re.match(r"\s*(\d+)", version)
        if match:
            return int(match.group(1))
    return 5


def pipeline_default(task: str, transformers_version: str | None = None) -> PipelineDefault | None:
    """The model `pipeline(task)` loads when no model is given, or None if transformers has none.

    The table depends on the transformers release (5.x changed several defaults and removed
    tasks), so callers pass the version the project pins when they know it.
    """
    if transformers_major(transformers_version) >= 5:
        canonical = _TRANSFORMERS_5_ALIASES.get(task, task)
        entry = _TRANSFORMERS_5_DEFAULTS.get(canonical)
        return PipelineDefault(canonical, *entry) if entry else None
    canonical = _TRANSFORMERS_4_ALIASES.get(task, task)
    match = _TRANSLATION_TASK.fullmatch(canonical)
    if match:
        pair = _TRANSFORMERS_4_TRANSLATION.get((match.group(1), match.group(2)))
        return PipelineDefault(canonical, *pair) if pair else None
    entry = _TRANSFORMERS_4_DEFAULTS.get(canonical)
    return PipelineDefault(canonical, *entry) if entry else None


# --- sentence-transformers short names ---------------------------------------------------

# sentence-transformers 6.2.0, `base/model.py`: a name that is not a local directory, has no
# "/", and whose lower-case form is not in ORIGINAL_TRANSFORMER_MODELS gets the class's
# `default_huggingface_organization` prefix. Before 5.0 only SentenceTransformer did (its
# `__MODEL_HUB_ORGANIZATION__`); CrossEncoder passed the name to AutoConfig as given
# (checked in 3.4.1 and 4.1.0), and SparseEncoder did not exist.
SENTENCE_TRANSFORMERS_ORGS: dict[str, str | None] = {
    "SentenceTransformer": "sentence-transformers",
    "CrossEncoder": "cross-encoder",
    "SparseEncoder": "sparse-encoder",
    "MultiVectorEncoder": None,
}

# sentence-transformers 6.2.0, `util/misc.py` ORIGINAL_TRANSFORMER_MODELS.
ORIGINAL_TRANSFORMER_MODELS = frozenset(
    [
        "albert-base-v1",
        "albert-base-v2",
        "albert-large-v1",
        "albert-large-v2",
        "albert-xlarge-v1",
        "albert-xlarge-v2",
        "albert-xxlarge-v1",
        "albert-xxlarge-v2",
        "bert-base-cased-finetuned-mrpc",
        "bert-base-cased",
        "bert-base-chinese",
        "bert-base-german-cased",
        "bert-base-german-dbmdz-cased",
        "bert-base-german-dbmdz-uncased",
        "bert-base-multilingual-cased",
        "bert-base-multilingual-uncased",
        "bert-base-uncased",
        "bert-large-cased-whole-word-masking-finetuned-squad",
        "bert-large-cased-whole-word-masking",
        "bert-large-cased",
        "bert-large-uncased-whole-word-masking-finetuned-squad",
        "bert-large-uncased-whole-word-masking",
        "bert-large-uncased",
        "camembert-base",
        "ctrl",
        "distilbert-base-cased-distilled-squad",
        "distilbert-base-cased",
        "distilbert-base-german-cased",
        "distilbert-base-multilingual-cased",
        "distilbert-base-uncased-distilled-squad",
        "distilbert-base-uncased-finetuned-sst-2-english",
        "distilbert-base-uncased",
        "distilgpt2",
        "distilroberta-base",
        "gpt2-large",
        "gpt2-medium",
        "gpt2-xl",
        "gpt2",
        "openai-gpt",
        "roberta-base-openai-detector",
        "roberta-base",
        "roberta-large-mnli",
        "roberta-large-openai-detector",
        "roberta-large",
        "t5-11b",
        "t5-3b",
        "t5-base",
        "t5-large",
        "t5-small",
        "transfo-xl-wt103",
        "xlm-clm-ende-1024",
        "xlm-clm-enfr-1024",
        "xlm-mlm-100-1280",
        "xlm-mlm-17-1280",
        "xlm-mlm-en-2048",
        "xlm-mlm-ende-1024",
        "xlm-mlm-enfr-1024",
        "xlm-mlm-enro-1024",
        "xlm-mlm-tlm-xnli15-1024",
        "xlm-mlm-xnli15-1024",
        "xlm-roberta-base",
        "xlm-roberta-large-finetuned-conll02-dutch",
        "xlm-roberta-large-finetuned-conll02-spanish",
        "xlm-roberta-large-finetuned-conll03-english",
        "xlm-roberta-large-finetuned-conll03-german",
        "xlm-roberta-large",
        "xlnet-base-cased",
        "xlnet-large-cased",
    ]
)


def sentence_transformers_repo(cls: str, name: str, version: str | None = None) -> str:
    """The hub repo sentence-transformers loads for `cls(name)` when `name` is not a local dir.

    `version` is the installed sentence-transformers; None means the newest rule.
    """
    major = re.match(r"\s*(\d+)", version) if version else None
    if major and int(major.group(1)) < 5 and cls != "SentenceTransformer":
        return name
    org = SENTENCE_TRANSFORMERS_ORGS.get(cls)
    if org is None or "/" in name or name.lower() in ORIGINAL_TRANSFORMER_MODELS:
        return name
    return f"{org}/{name}"


# --- faster-whisper size names -----------------------------------------------------------

# faster-whisper 1.2.1, `faster_whisper/utils.py` _MODELS: a name without "/" must be one of
# these sizes (anything else raises ValueError); a name with "/" is used as a repo id.
FASTER_WHISPER_MODELS: dict[str, str] = {
    "tiny.en": "Systran/faster-whisper-tiny.en",
    "tiny": "Systran/faster-whisper-tiny",
    "base.en": "Systran/faster-whisper-base.en",
    "base": "Systran/faster-whisper-base",
    "small.en": "Systran/faster-whisper-small.en",
    "small": "Systran/faster-whisper-small",
    "medium.en": "Systran/faster-whisper-medium.en",
    "medium": "Systran/faster-whisper-medium",
    "large-v1": "Systran/faster-whisper-large-v1",
    "large-v2": "Systran/faster-whisper-large-v2",
    "large-v3": "Systran/faster-whisper-large-v3",
    "large": "Systran/faster-whisper-large-v3",
    "distil-large-v2": "Systran/faster-distil-whisper-large-v2",
    "distil-medium.en": "Systran/faster-distil-whisper-medium.en",
    "distil-small.en": "Systran/faster-distil-whisper-small.en",
    "distil-large-v3": "Systran/faster-distil-whisper-large-v3",
    "distil-large-v3.5": "distil-whisper/distil-large-v3.5-ct2",
    "large-v3-turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
    "turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
}

# faster-whisper 1.2.1, `download_model`: the only files it fetches from the repo.
FASTER_WHISPER_ALLOW_PATTERNS: tuple[str, ...] = (
    "config.json",
    "preprocessor_config.json",
    "model.bin",
    "tokenizer.json",
    "vocabulary.*",
)


# --- hub repo ids ------------------------------------------------------------------------

# huggingface_hub's `validate_repo_id`: one optional namespace, [\w.-] characters, no "--"
# or "..", and no leading/trailing "-" or ".". Anything else cannot be a hub repo.
_REPO_ID = re.compile(r"^(?:[\w.-]+/)?[\w.-]+$")


def is_repo_id(name: str) -> bool:
    """Whether `name` could name a hub repository (not whether it exists)."""
    if not name or len(name) > 96 or not _REPO_ID.fullmatch(name):
        return False
    if "--" in name or ".." in name:
        return False
    return all(part[0] not in "-." and part[-1] not in "-." for part in name.split("/"))


HF_HUB_PREFIXES = ("hf-hub:", "hf_hub:")


def package_key(name: str) -> str:
    """PEP 503 normalised name: `Sentence_Transformers` and `sentence-transformers` agree."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned(versions: Mapping[str, str], package: str) -> str | None:
    """The version `versions` gives for a package, whatever spelling its keys use."""
    wanted = package_key(package)
    for name, version in versions.items():
        if package_key(name) == wanted:
            return version
    return None
