"""Where a Hugging Face loader looks for cached files inside the image.

huggingface_hub stores downloads as `<hub cache>/models--org--name/{blobs,refs,snapshots}`;
which directory is the hub cache depends on the loader's `cache_dir=`, a library variable
(`SENTENCE_TRANSFORMERS_HOME`, `TRANSFORMERS_CACHE`), `HF_HUB_CACHE`, `HF_HOME` or, with
none of them, the home directory of whoever runs the process. A download baked at build
time is found at runtime only when both resolve to the same directory. fastembed passes its
own directory to huggingface_hub as the hub cache (`mlfix.weights.fastembed`).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping

from mlfix.dockerfile.state import expand
from mlfix.weights import fastembed

HUB_CACHE_VARS = ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE")
HOME_VARS = ("HF_HOME", "XDG_CACHE_HOME")
LIBRARY_VARS = {
    "sentence-transformers": ("SENTENCE_TRANSFORMERS_HOME",),
    "transformers": ("TRANSFORMERS_CACHE", "PYTORCH_TRANSFORMERS_CACHE"),
}
ALL_VARS = (*HUB_CACHE_VARS, *HOME_VARS, "SENTENCE_TRANSFORMERS_HOME", "TRANSFORMERS_CACHE")


def home_of(user: str, env: Mapping[str, str]) -> str:
    """$HOME for a USER: the image's HOME when set, /root for root, else /home/<name>."""
    if env.get("HOME"):
        return env["HOME"]
    name = user.split(":")[0].strip() or "root"
    return "/root" if name in ("root", "0") else f"/home/{name}"


def absolute(path: str, workdir: str, user: str, env: Mapping[str, str]) -> str:
    path = expand(path, env)
    if path.startswith("~"):
        path = home_of(user, env) + path[1:]
    return posixpath.normpath(posixpath.join(workdir, path))


def value(env: Mapping[str, str], name: str) -> str | None:
    """An ENV/ARG value that is set and not empty (an `ARG X` with no value counts as unset)."""
    found = env.get(name)
    return found if found else None


def hub_cache(
    env: Mapping[str, str],
    user: str,
    workdir: str,
    *,
    library: str | None = None,
    cache_dir: str | None = None,
) -> str:
    """The hub cache directory a loader of `library` uses under this ENV, USER and WORKDIR."""
    if library == fastembed.LIBRARY:
        return absolute(fastembed.cache_dir(env, cache_dir), workdir, user, env)
    if cache_dir:
        return absolute(cache_dir, workdir, user, env)
    for name in LIBRARY_VARS.get(library or "", ()):
        found = value(env, name)
        if found:
            return absolute(found, workdir, user, env)
    for name in HUB_CACHE_VARS:
        found = value(env, name)
        if found:
            return absolute(found, workdir, user, env)
    home = value(env, "HF_HOME")
    if home:
        return absolute(posixpath.join(home, "hub"), workdir, user, env)
    xdg = value(env, "XDG_CACHE_HOME")
    if xdg:
        return absolute(posixpath.join(xdg, "huggingface", "hub"), workdir, user, env)
    return posixpath.join(home_of(user, env), ".cache", "huggingface", "hub")


def project_sets_cache(env: Mapping[str, str]) -> bool:
    """Whether the image names a hub cache itself (then mlfix bakes into that one)."""
    return any(value(env, name) for name in (*HUB_CACHE_VARS, *HOME_VARS))


def repo_folder(repo_id: str, repo_type: str = "model") -> str:
    """`models--org--name`: the folder huggingface_hub keeps one repo in."""
    return f"{repo_type}s--" + repo_id.replace("/", "--")


def is_under(path: str, directory: str) -> bool:
    directory = directory.rstrip("/") or "/"
    return path == directory or path.startswith(directory.rstrip("/") + "/")
