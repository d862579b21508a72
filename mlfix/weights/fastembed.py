"""Where fastembed keeps its models, and which files it reads: its cache, in its layout.

Read from fastembed 0.9.1 (never imported: it needs onnxruntime):

- `fastembed/common/utils.py`, `define_cache_dir(cache_dir)`: the `cache_dir=` argument,
  else `FASTEMBED_CACHE_PATH`, else `os.path.join(tempfile.gettempdir(), "fastembed_cache")`.
  In a Linux image `tempfile.gettempdir()` is `$TMPDIR`, `$TEMP` or `$TMP` (the first
  set), else `/tmp`.
- `fastembed/common/model_management.py`, `ModelManagement.download_files_from_huggingface`:
  `snapshot_download(repo_id=<the model's sources.hf>, allow_patterns=..., cache_dir=<that
  directory>)`, so the fastembed cache directory *is* a huggingface_hub cache:
  `<cache>/models--Org--name/{blobs,refs,snapshots}`. `hf download <repo> --cache-dir <cache>`
  writes exactly that. `allow_patterns` is the five files below, then the model's
  `model_file` and `additional_files`.
- `ModelManagement.download_model`: it first calls the same function with
  `local_files_only=True` and returns the snapshot when `model_file` and every additional file
  exist in it, so a baked cache loads without the network (and `HF_HUB_OFFLINE=1` turns
  `local_files_only` on for the rest). The `files_metadata.json` it writes after an online
  download is only checked when present, so a cache made by `hf download` without it loads.

The default directory is under the temp dir, which platforms often mount empty at runtime;
mlfix bakes such models into `BAKED_CACHE` and sets `FASTEMBED_CACHE_PATH` to it in the image.
A project that names the cache (`cache_dir=`, `FASTEMBED_CACHE_PATH`) gets it there.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping

from mlfix.scan.refs import ModelRef

LIBRARY = "fastembed"
ENV_VAR = "FASTEMBED_CACHE_PATH"
DEFAULT_FOLDER = "fastembed_cache"
TEMP_VARS = ("TMPDIR", "TEMP", "TMP")  # tempfile._candidate_tempdir_list, in its order
BAKED_CACHE = "/opt/fastembed"
SCAN_DEFAULT = posixpath.join("/tmp", DEFAULT_FOLDER)
# ModelManagement.download_files_from_huggingface, `allow_patterns` before the model's files.
ALWAYS = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "preprocessor_config.json",
)


def allow_patterns(model_file: str, additional_files: Iterable[str] = ()) -> tuple[str, ...]:
    """What fastembed's `snapshot_download` fetches for a model description, in its order."""
    found = [*ALWAYS, model_file, *additional_files]
    return tuple(dict.fromkeys(found))


def _set(env: Mapping[str, str], name: str) -> str | None:
    return env.get(name) or None


def temp_dir(env: Mapping[str, str]) -> str:
    """`tempfile.gettempdir()` in the image: the first temp variable that is set, else /tmp."""
    for name in TEMP_VARS:
        found = _set(env, name)
        if found:
            return found
    return "/tmp"


def uses_default(env: Mapping[str, str], ref: ModelRef) -> bool:
    """Whether fastembed falls back to `<tempdir>/fastembed_cache` for this loader.

    A ref whose `cache_dir` is None names no directory. The scan may also fill in the
    default itself (`/tmp/fastembed_cache`, what `tempfile.gettempdir()` gives in a Linux
    image) when neither `cache_dir=` nor FASTEMBED_CACHE_PATH reached the call: that counts
    as the default too, unless the value came from the variable.
    """
    if _set(env, ENV_VAR) is not None or ENV_VAR in ref.env_vars:
        return False
    return not ref.cache_dir or ref.cache_dir == SCAN_DEFAULT


def cache_dir(env: Mapping[str, str], argument: str | None) -> str:
    """The directory `define_cache_dir` gives, before it is made absolute against WORKDIR."""
    if argument:
        return argument
    return _set(env, ENV_VAR) or posixpath.join(temp_dir(env), DEFAULT_FOLDER)


def app_env(env: Mapping[str, str], missing: Iterable[ModelRef]) -> tuple[tuple[str, str], ...]:
    """The ENV the app stage needs so fastembed reads the baked cache: set only when a model
    to bake would otherwise land in the temp-dir default."""
    if any(r.library == LIBRARY and uses_default(env, r) for r in missing):
        return ((ENV_VAR, BAKED_CACHE),)
    return ()


def baked_dir(env: Mapping[str, str], ref: ModelRef) -> str | None:
    """`BAKED_CACHE` for a fastembed model that would land in the temp-dir default."""
    if ref.library == LIBRARY and uses_default(env, ref):
        return BAKED_CACHE
    return None


def link_note(include: Iterable[str] | None, runtime_user: str, chown: str | None) -> str | None:
    """Why a baked model with ONNX external data may not load for a non-root USER.

    `fastembed/common/onnx_external_data.py` `link_external_data`: with huggingface_hub's
    sharded blob store the model and its `.onnx_data` resolve into different directories,
    and fastembed hard-links both into `<repo>/onnx_snapshots/` on first load, which needs
    write access to the cache. Root, or a COPY --chown to the app's user, has it.
    """
    if chown or runtime_user.split(":")[0] in ("root", "0", ""):
        return None
    if not any(p.endswith(".onnx_data") for p in include or ()):
        return None
    return (
        f"fastembed links the model's ONNX external data into the cache on first load; the"
        f" cache belongs to root, so USER {runtime_user} cannot: create the user before the"
        " COPY (it then gets --chown) or make the cache writable"
    )
