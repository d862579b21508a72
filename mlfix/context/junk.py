"""What counts as junk in a build context, by name or by what a folder holds (pure).

The walk (`tree`) hands each directory listing here to decide whether to summarise it;
the `.dockerignore` rules then get one `JunkEntry` per piece of junk.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass

from mlfix.context.tree import Listing


class JunkKind(enum.Enum):
    """Things that should not travel to the daemon, by how they are recognised."""

    GIT = "git"
    VENV = "venv"
    CACHE = "cache"
    WEIGHTS = "weights"
    DATASET = "dataset"
    EXPERIMENT = "experiment"
    NODE_MODULES = "node_modules"
    SECRET = "secret"


CACHE_DIRS = frozenset(
    {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".ipynb_checkpoints"}
)
DATASET_DIRS = frozenset({"data", "datasets"})
EXPERIMENT_DIRS = frozenset({"wandb", "mlruns", "lightning_logs", "outputs"})
WEIGHT_SUFFIXES = frozenset(
    {".pt", ".pth", ".bin", ".safetensors", ".ckpt", ".onnx", ".gguf", ".h5"}
)
_SECRET_NAMES = frozenset(
    {
        "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", ".netrc", ".npmrc", ".pypirc",
        ".git-credentials", "credentials.json", "kaggle.json",
    }
)  # fmt: skip
_SECRET_SUFFIXES = frozenset({".pem", ".key", ".p12", ".pfx"})
# Folders that hold credentials and nothing an image needs (`.huggingface/token`).
SECRET_DIRS = frozenset({".aws", ".ssh", ".huggingface", ".kaggle", ".gnupg"})
# Files that mark a folder as data the app itself reads and writes: a vector store it
# persists (Chroma's `chroma.sqlite3`, a FAISS `index.faiss`, LlamaIndex's storage).
# Its `*.bin` files are index segments, not model weights.
APP_DATA_MARKERS = frozenset({"chroma.sqlite3", "index.faiss", "docstore.json"})
HNSW_SEGMENT = frozenset({"header.bin", "length.bin", "link_lists.bin"})  # one Chroma index
# `.env.example` and friends are templates meant to be shared, not secrets.
_ENV_TEMPLATES = frozenset({".example", ".sample", ".template", ".dist", ".defaults"})


def classify_dir(listing: Listing) -> JunkKind | None:
    """The junk class of a directory, from its name and what it holds.

    A venv is known by `pyvenv.cfg` or `conda-meta/`, never by a name like `env/`; and a
    `data/` or `outputs/` holding `__init__.py` is a Python package, not a dataset.
    """
    name = listing.name
    if name == ".git":
        return JunkKind.GIT
    if "pyvenv.cfg" in listing.files or "conda-meta" in listing.dirs:
        return JunkKind.VENV
    if name in SECRET_DIRS:
        return JunkKind.SECRET
    if name in CACHE_DIRS:
        return JunkKind.CACHE
    if name == "node_modules":
        return JunkKind.NODE_MODULES
    is_package = "__init__.py" in listing.files
    if name in DATASET_DIRS and not is_package:
        return JunkKind.DATASET
    if name in EXPERIMENT_DIRS and not is_package:
        return JunkKind.EXPERIMENT
    return None


def classify_file(name: str) -> JunkKind | None:
    """The junk class of a file (or of a `.git` file, as worktrees and submodules have)."""
    if name == ".git":
        return JunkKind.GIT
    suffix = os.path.splitext(name)[1]
    if suffix in WEIGHT_SUFFIXES:
        return JunkKind.WEIGHTS
    if name == ".env" or (
        name.startswith(".env.") and os.path.splitext(name)[1] not in _ENV_TEMPLATES
    ):
        return JunkKind.SECRET
    if suffix in _SECRET_SUFFIXES or name in _SECRET_NAMES:
        return JunkKind.SECRET
    return None


def is_app_data(listing: Listing) -> bool:
    """A folder the app persists its own data in (see APP_DATA_MARKERS): never junk."""
    return not APP_DATA_MARKERS.isdisjoint(listing.files) or listing.files >= HNSW_SEGMENT


@dataclass(frozen=True)
class JunkEntry:
    """One piece of junk, measured whole and as Docker sends it now.

    `bytes`/`files` are everything on disk; `sent_bytes`/`sent_files` the part the
    current ignore file lets through, which is what an entry for it would save. Junk
    entries never nest (a junk directory is summarised, not searched), so savings add up.
    """

    path: str
    kind: JunkKind
    is_dir: bool
    bytes: int
    files: int
    sent_bytes: int
    sent_files: int


@dataclass(frozen=True)
class EntrySavings:
    """One proposed `.dockerignore` line and what the context loses with it.

    `removed` lists every junk entry the line keeps back, so a finding can name each
    path it removes; the before/after numbers are Docker's whole transfer. A `!` line
    can bring entries back: they are in `restored`, and its savings are negative.
    """

    line: str
    removed: tuple[JunkEntry, ...]
    sent_bytes_before: int
    sent_files_before: int
    sent_bytes_after: int
    sent_files_after: int
    restored: tuple[JunkEntry, ...] = ()  # entries an earlier line removed and a `!` brings back

    @property
    def saved_bytes(self) -> int:
        return self.sent_bytes_before - self.sent_bytes_after

    @property
    def saved_files(self) -> int:
        return self.sent_files_before - self.sent_files_after
