"""THE loader table: every call the scan recognises as loading a model, one row each.

A row says where the callable is imported from, which argument (position and keyword)
names the repository, what the library does with a short name, the library default when
the argument is omitted, which files it reads (by the library whose loader opens them:
`weights.includes` turns that into `--include` patterns), which cache it reads and the
variable that moves it, and whether it works offline once the files are cached. The
prefilter's needles, the visitor's candidate names and the classification are all derived
from here: adding a loader is a row plus fixtures.

Defaults and name mappings are copied from the libraries' sources (versions named per
row); fastembed's name table is generated from its wheel (`fastembed_models.py`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

# Resolution strategies (`Loader.kind`), i.e. what the visitor does with the name:
#   pretrained  `X.from_pretrained(name)`: the library follows the receiver class
#   single_file diffusers `from_single_file(url or path)`
#   lora        diffusers `load_lora_weights(name)`
#   adapter     transformers/peft `load_adapter(name)`
#   hub_file    `hf_hub_download(repo_id, filename)`
#   snapshot    `snapshot_download(repo_id)`
#   pipeline    transformers `pipeline(task, model)`
#   st          sentence-transformers short names (`short_names` is the class whose rule applies)
#   whisper     faster-whisper size names
#   timm        `timm.create_model(name, pretrained=True)`
#   open_clip   open_clip's factory functions
#   fastembed   fastembed's own name -> repo table
#   named       the name is the repo id (or a local directory)
#   model_id    LangChain `HuggingFacePipeline.from_model_id`: tokenizer and model of one repo

HF_CACHE = "hf-hub"  # huggingface_hub's cache: HF_HUB_CACHE, else HF_HOME/hub
FASTEMBED_CACHE = "fastembed"  # cache_dir=, else FASTEMBED_CACHE_PATH, else <tmp>/fastembed_cache


@dataclass(frozen=True)
class Loader:
    """One loader. `callable` is `Name` or `Class.method`; `modules` are the import paths it
    is reachable under (empty for methods recognised on any receiver). `bare` accepts the
    call when its name is imported from nowhere visible (a star import, a re-export).
    `library` is the library whose code opens the files, which decides the include set.
    """

    callable: str
    modules: tuple[str, ...]
    kind: str
    library: str
    position: int | None
    keywords: tuple[str, ...]
    role: str = "model"
    default: str | None = None
    default_source: str | None = None
    short_names: str | None = None
    cache: str = HF_CACHE
    cache_env: str = "HF_HOME"
    cache_keywords: tuple[str, ...] = ("cache_dir",)
    offline_safe: bool = True
    bare: bool = True
    needle: bool = True  # False: a call that loads only when given an `hf-hub:` literal
    needle_re: str | None = None  # a narrower confirmation than the bare name
    unknown_receiver: bool = False  # also as an attribute of an unknown object
    off_keyword: str | None = None  # given a literal False, the call loads no model

    @property
    def name(self) -> str:
        """The name a call or an import spells: the last part of `callable`."""
        return self.callable.rsplit(".", 1)[-1]

    @property
    def owner(self) -> str | None:
        """For `Class.method` rows, the class."""
        return self.callable.rsplit(".", 1)[0] if "." in self.callable else None


_NAME_KEYWORDS = ("pretrained_model_name_or_path", "model_id", "repo_id", "model_name_or_path")
_ST = ("sentence_transformers",)
_LC_EMBEDDINGS = ("langchain_community.embeddings", "langchain_huggingface", "langchain.embeddings")
_LC_CROSS = ("langchain_community.cross_encoders",)
_LC_PIPELINE = ("langchain_huggingface", "langchain_community.llms", "langchain.llms")
_FASTEMBED = ("fastembed",)
_FLAG = ("FlagEmbedding",)
_ST_CACHE = ("cache_folder",)

LOADERS: tuple[Loader, ...] = (
    # transformers, diffusers, peft, optimum, llama-cpp, GLiNER...: `X.from_pretrained`,
    # classified by the receiver (see `classify.pretrained_library`).
    Loader(".from_pretrained", (), "pretrained", "", 0, _NAME_KEYWORDS),
    Loader(
        ".from_single_file", (), "single_file", "diffusers", 0, ("pretrained_model_link_or_path",)
    ),
    Loader(
        ".load_lora_weights",
        (),
        "lora",
        "diffusers",
        0,
        ("pretrained_model_name_or_path_or_dict",),
        role="lora",
    ),
    Loader(".load_adapter", (), "adapter", "peft", 0, ("peft_model_id",), role="adapter"),
    Loader(
        "hf_hub_download",
        ("huggingface_hub",),
        "hub_file",
        "huggingface_hub",
        0,
        ("repo_id",),
        role="file",
        unknown_receiver=True,
    ),
    Loader(
        "snapshot_download",
        ("huggingface_hub",),
        "snapshot",
        "huggingface_hub",
        0,
        ("repo_id",),
        role="snapshot",
        unknown_receiver=True,
    ),
    Loader(
        "pipeline",
        ("transformers", "transformers.pipelines"),
        "pipeline",
        "transformers",
        1,
        ("model",),
        bare=False,
    ),
    # sentence-transformers 6.2.0: `model_name_or_path`; short names get the class's org.
    *(
        Loader(
            cls,
            _ST,
            "st",
            "sentence-transformers",
            0,
            ("model_name_or_path", "model_name"),
            short_names=cls,
            cache_keywords=_ST_CACHE,
        )
        for cls in ("SentenceTransformer", "CrossEncoder", "SparseEncoder")
    ),
    # InstructorEmbedding 1.0.1: `INSTRUCTOR(SentenceTransformer)` keeps its parent's __init__.
    Loader(
        "INSTRUCTOR",
        ("InstructorEmbedding",),
        "st",
        "sentence-transformers",
        0,
        ("model_name_or_path",),
        short_names="SentenceTransformer",
        cache_keywords=_ST_CACHE,
    ),
    # faster-whisper 1.2.1: a size name or a repo id; `download_root=` moves the cache.
    Loader(
        "WhisperModel",
        ("faster_whisper",),
        "whisper",
        "faster-whisper",
        0,
        ("model_size_or_path",),
        cache_keywords=("download_root",),
    ),
    *(
        Loader(
            name,
            ("timm", "timm.models", "timm.models._factory"),
            "timm",
            "timm",
            0,
            ("model_name",),
            bare=False,
            needle_re=r"create_model(?:\(|_and|_from)",
        )
        for name in ("create_model",)
    ),
    *(
        Loader(
            name,
            ("open_clip",),
            "open_clip",
            "open_clip",
            0,
            ("model_name",),
            role="tokenizer" if name == "get_tokenizer" else "model",
            bare=False,
            needle=name != "get_tokenizer",
            needle_re=r"create_model(?:\(|_and|_from)" if name == "create_model" else None,
        )
        for name in (
            "create_model",
            "create_model_and_transforms",
            "create_model_from_pretrained",
            "get_tokenizer",
        )
    ),
    # LangChain: every embeddings class hands `model_name` to sentence-transformers, so its
    # short-name rule and cache (`cache_folder=`) apply. Defaults: langchain_community 0.4.2
    # `embeddings/huggingface.py` (DEFAULT_MODEL_NAME, DEFAULT_BGE_MODEL,
    # DEFAULT_INSTRUCT_MODEL), langchain_huggingface 1.2.3 (`model_name`, alias `model`).
    Loader(
        "HuggingFaceEmbeddings",
        _LC_EMBEDDINGS,
        "st",
        "sentence-transformers",
        None,
        ("model_name", "model"),
        default="sentence-transformers/all-mpnet-base-v2",
        default_source="langchain",
        short_names="SentenceTransformer",
        cache_keywords=_ST_CACHE,
    ),
    Loader(
        "HuggingFaceBgeEmbeddings",
        _LC_EMBEDDINGS,
        "st",
        "sentence-transformers",
        None,
        ("model_name",),
        default="BAAI/bge-large-en",
        default_source="langchain",
        short_names="SentenceTransformer",
        cache_keywords=_ST_CACHE,
    ),
    Loader(
        "HuggingFaceInstructEmbeddings",
        _LC_EMBEDDINGS,
        "st",
        "sentence-transformers",
        None,
        ("model_name",),
        default="hkunlp/instructor-large",
        default_source="langchain",
        short_names="SentenceTransformer",
        cache_keywords=_ST_CACHE,
    ),
    # langchain_community 0.4.2 `cross_encoders/huggingface.py`: sentence-transformers CrossEncoder.
    Loader(
        "HuggingFaceCrossEncoder",
        _LC_CROSS,
        "st",
        "sentence-transformers",
        None,
        ("model_name",),
        default="BAAI/bge-reranker-base",
        default_source="langchain",
        short_names="CrossEncoder",
    ),
    # langchain_huggingface 1.2.3: AutoTokenizer and the task's model class from `model_id`.
    Loader(
        "HuggingFacePipeline.from_model_id",
        _LC_PIPELINE,
        "model_id",
        "transformers",
        0,
        ("model_id",),
    ),
    # llama-index-embeddings-huggingface 0.8.0: sentence-transformers, its
    # DEFAULT_HUGGINGFACE_EMBEDDING_MODEL.
    Loader(
        "HuggingFaceEmbedding",
        ("llama_index.embeddings.huggingface",),
        "st",
        "sentence-transformers",
        None,
        ("model_name",),
        default="BAAI/bge-small-en",
        default_source="llama-index",
        short_names="SentenceTransformer",
        cache_keywords=_ST_CACHE,
    ),
    # fastembed 0.9.1: its own names (fastembed_models.py), its own cache. TextEmbedding is
    # the only class with a default model.
    *(
        Loader(
            cls,
            _FASTEMBED,
            "fastembed",
            "fastembed",
            0,
            ("model_name",),
            default="BAAI/bge-small-en-v1.5" if cls == "TextEmbedding" else None,
            default_source="fastembed" if cls == "TextEmbedding" else None,
            short_names=cls,
            cache=FASTEMBED_CACHE,
            cache_env="FASTEMBED_CACHE_PATH",
        )
        for cls in (
            "TextEmbedding",
            "SparseTextEmbedding",
            "LateInteractionTextEmbedding",
            "ImageEmbedding",
            "TextCrossEncoder",
        )
    ),
    # FlagEmbedding 1.4.2: tokenizer and model from `model_name_or_path`; BGE-M3 also reads
    # its colbert/sparse heads from the repo, so the whole repo is baked for all of them.
    *(
        Loader(cls, _FLAG, "named", "FlagEmbedding", 0, ("model_name_or_path",))
        for cls in ("BGEM3FlagModel", "FlagModel", "FlagReranker", "FlagLLMReranker")
    ),
    # kokoro 0.9.x `pipeline.py` (source at 01968a6): `KPipeline(lang_code, repo_id=None,
    # model=True, ...)` takes `hexgrad/Kokoro-82M` when repo_id is None and builds a KModel
    # (config.json and the weights) unless `model=False`; voices are fetched from the same
    # repo as they are asked for, so the whole repo is baked.
    Loader(
        "KPipeline",
        ("kokoro",),
        "named",
        "kokoro",
        1,
        ("repo_id",),
        default="hexgrad/Kokoro-82M",
        default_source="kokoro",
        off_keyword="model",
    ),
)

# Where a library's cache goes by default when neither the code nor the env moves it.
FASTEMBED_DEFAULT_CACHE = "/tmp/fastembed_cache"  # tempfile.gettempdir() in a Linux image

# Calls that return a loaded model, so an argument holding one is not a name to resolve.
RESULT_IS_MODEL = frozenset(
    {row.name for row in LOADERS} | {"create_model_and_transforms", "from_model_id"}
)


def by_name() -> dict[str, tuple[Loader, ...]]:
    """Rows per spelled name (`from_pretrained`, `HuggingFaceEmbeddings`, ...)."""
    table: dict[str, list[Loader]] = {}
    for row in LOADERS:
        table.setdefault(row.name, []).append(row)
    return {name: tuple(rows) for name, rows in table.items()}


BY_NAME = by_name()
CANDIDATE_NAMES = frozenset(BY_NAME)

# Spellings that make a file worth parsing besides the loader names: timm/open_clip
# `hf-hub:` literals, which any call may pass.
EXTRA_NEEDLES = ("hf_hub:", "hf-hub:")


def needles() -> tuple[str, ...]:
    """The prefilter's needles: each spelled name, minus those containing a shorter one."""
    spelled = {row.name for row in LOADERS if row.needle}
    names = sorted({*spelled, *EXTRA_NEEDLES}, key=len)
    kept: list[str] = []
    for name in names:
        if not any(shorter in name for shorter in kept):
            kept.append(name)
    return tuple(sorted(kept))


def needle_patterns() -> tuple[str, ...]:
    """The regexes that confirm a needle: the escaped name, or the row's narrower one."""
    narrower = {row.name: row.needle_re for row in LOADERS if row.needle_re}
    return tuple(narrower.get(name) or re.escape(name) for name in needles())


def module_roots(row: Loader) -> Iterator[str]:
    for module in row.modules:
        yield module.split(".")[0]


def qualnames(row: Loader) -> frozenset[str]:
    """The dotted names the row's callable has when imported from one of its modules."""
    return frozenset(f"{module}.{row.callable}" for module in row.modules)


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
assert all(_IDENT.match(row.name) for row in LOADERS)
