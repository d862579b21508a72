"""Downloads: ``hf``/``huggingface-cli download`` make the hub cache entries the real one
makes; ``curl``/``wget`` write the file they were asked for (an empty archive for archive
names, so a following ``tar x`` works); ``git clone`` makes the directory.

Content is a function of the request only, so two builds that ask the same get the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tarfile
import zipfile
from collections.abc import Sequence
from urllib.parse import urlparse

from stubtools.common import absolute, fail

_HF_VALUE_OPTIONS = {
    "--revision",
    "--cache-dir",
    "--local-dir",
    "--repo-type",
    "--token",
    "--max-workers",
    "--local-dir-use-symlinks",
    "--format",
}


def hub_cache() -> str:
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return os.environ[var]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(xdg, "huggingface", "hub")


def hf(args: Sequence[str]) -> int:
    if not args or args[0] != "download":
        return 0
    positionals: list[str] = []
    include: list[str] = []
    options: dict[str, str] = {}
    i, args = 0, list(args[1:])
    while i < len(args):
        arg = args[i]
        if "=" in arg and arg.split("=", 1)[0] in _HF_VALUE_OPTIONS | {"--include", "--exclude"}:
            key, value = arg.split("=", 1)
            args[i : i + 1] = [key, value]
            continue
        if arg in ("--include", "--exclude"):
            j = i + 1
            while j < len(args) and not args[j].startswith("-"):
                if arg == "--include":
                    include.append(args[j])
                j += 1
            i = j
        elif arg in _HF_VALUE_OPTIONS:
            options[arg] = args[i + 1] if i + 1 < len(args) else ""
            i += 2
        elif arg.startswith("-"):
            i += 1
        else:
            positionals.append(arg)
            i += 1
    if not positionals or positionals[0].count("/") > 1:
        return fail("hf", f"not a repo id: {positionals[:1]}")
    repo, files = positionals[0], positionals[1:]
    names = files + [re.sub(r"[*?\[\]]+", "stub", pattern) for pattern in include]
    names = names or ["README.md"]
    revision = options.get("--revision", "main")
    kind = options.get("--repo-type", "model")
    if options.get("--local-dir"):
        folder = absolute(options["--local-dir"])
    else:
        folder = _snapshot(options.get("--cache-dir") or hub_cache(), kind, repo, revision)
    for name in names:
        path = os.path.join(folder, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(f"stubworld hub file {kind}:{repo}@{revision}/{name}\n".encode())
    print(folder)
    return 0


def _snapshot(cache: str, kind: str, repo: str, revision: str) -> str:
    """``<cache>/models--org--name/snapshots/<commit>``, and ``refs/<revision>`` naming it."""
    root = os.path.join(absolute(cache), f"{kind}s--" + repo.replace("/", "--"))
    if re.fullmatch(r"[0-9a-f]{40}", revision):
        commit = revision
    else:
        commit = hashlib.sha1(f"{repo}@{revision}".encode()).hexdigest()
        os.makedirs(os.path.join(root, "refs"), exist_ok=True)
        with open(os.path.join(root, "refs", revision), "w", encoding="utf-8") as handle:
            handle.write(commit)
    folder = os.path.join(root, "snapshots", commit)
    os.makedirs(folder, exist_ok=True)
    return folder


def download_bytes(url: str, name: str) -> bytes:
    """An empty archive for an archive name, else a line naming the URL."""
    if name.endswith((".tar.gz", ".tgz", ".tar", ".tar.xz", ".tar.bz2")):
        buffer = io.BytesIO()
        mode = {".gz": "w:gz", ".tgz": "w:gz", ".xz": "w:xz", ".bz2": "w:bz2"}.get(
            os.path.splitext(name)[1], "w"
        )
        with tarfile.open(fileobj=buffer, mode=mode):  # type: ignore[call-overload]
            pass
        return buffer.getvalue()
    if name.endswith(".zip"):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w"):
            pass
        return buffer.getvalue()
    return f"stubworld download {url}\n".encode()


def _url_name(url: str) -> str:
    return os.path.basename(urlparse(url).path) or "index.html"


def _write(path: str, url: str) -> None:
    with open(path, "wb") as handle:
        handle.write(download_bytes(url, path))


_CURL_VALUE = set("HdXuAewmbcxTFEKrYyzQ") | {"C"}


def curl(args: Sequence[str]) -> int:
    urls: list[str] = []
    outputs: list[str] = []
    remote_name = False
    out_dir = "."
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-o", "--output"):
            outputs.append(args[i + 1] if i + 1 < len(args) else "")
            i += 2
        elif arg == "--output-dir":
            out_dir = args[i + 1] if i + 1 < len(args) else "."
            i += 2
        elif arg in ("-O", "--remote-name", "--remote-name-all"):
            remote_name = True
            i += 1
        elif arg.startswith("--"):
            i += 2 if arg in _CURL_LONG_VALUE else 1
        elif arg.startswith("-") and len(arg) > 1:
            flags = arg[1:]
            for k, ch in enumerate(flags):
                if ch == "O":
                    remote_name = True
                elif ch == "o" or ch in _CURL_VALUE:
                    value = flags[k + 1 :] or (args[i + 1] if i + 1 < len(args) else "")
                    if ch == "o":
                        outputs.append(value)
                    if not flags[k + 1 :]:
                        i += 1
                    break
            i += 1
        else:
            urls.append(arg)
            i += 1
    for url, output in zip(urls, outputs, strict=False):
        if output and output != "-":
            _write(absolute(output, absolute(out_dir)), url)
    if remote_name:
        for url in urls[len(outputs) :]:
            _write(os.path.join(absolute(out_dir), _url_name(url)), url)
    return 0


_CURL_LONG_VALUE = {
    "--header",
    "--data",
    "--data-raw",
    "--data-binary",
    "--data-urlencode",
    "--user",
    "--request",
    "--user-agent",
    "--referer",
    "--write-out",
    "--max-time",
    "--retry",
    "--retry-delay",
    "--retry-max-time",
    "--connect-timeout",
    "--cookie",
    "--cookie-jar",
    "--proxy",
    "--upload-file",
    "--form",
    "--cert",
    "--key",
    "--cacert",
    "--range",
    "--config",
    "--url",
}


def wget(args: Sequence[str]) -> int:
    urls: list[str] = []
    output: str | None = None
    prefix = "."
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--output-document="):
            output = arg.split("=", 1)[1]
        elif arg == "--output-document":
            output, i = args[i + 1], i + 1
        elif arg.startswith("--directory-prefix="):
            prefix = arg.split("=", 1)[1]
        elif arg.startswith("--"):
            pass
        elif arg.startswith("-") and len(arg) > 1:
            flags = arg[1:]
            for k, ch in enumerate(flags):
                if ch in "OPtTUeao":
                    value = flags[k + 1 :] or (args[i + 1] if i + 1 < len(args) else "")
                    if not flags[k + 1 :]:
                        i += 1
                    if ch == "O":
                        output = value
                    elif ch == "P":
                        prefix = value
                    break
        else:
            urls.append(arg)
        i += 1
    if output == "-":
        return 0
    for url in urls:
        path = absolute(output) if output else os.path.join(absolute(prefix), _url_name(url))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _write(path, url)
    return 0


_GIT_VALUE = {
    "--depth",
    "-b",
    "--branch",
    "-c",
    "--config",
    "--filter",
    "-o",
    "--origin",
    "-j",
    "--jobs",
    "--reference",
    "--separate-git-dir",
    "--template",
    "-u",
}


def git(args: Sequence[str]) -> int:
    args = list(args)
    cwd = os.getcwd()
    while args and args[0] in ("-C", "-c"):
        if args[0] == "-C" and len(args) > 1:
            cwd = absolute(args[1])
        args = args[2:]
    if not args or args[0] != "clone":
        return 0
    positionals, i = [], 1
    while i < len(args):
        if args[i] in _GIT_VALUE:
            i += 2
            continue
        if not args[i].startswith("-"):
            positionals.append(args[i])
        i += 1
    if not positionals:
        return fail("git", "clone needs a repository")
    url = positionals[0]
    name = positionals[1] if len(positionals) > 1 else _url_name(url).removesuffix(".git")
    target = absolute(name, cwd)
    os.makedirs(os.path.join(target, ".git"), exist_ok=True)
    with open(os.path.join(target, ".git", "HEAD"), "w", encoding="utf-8") as handle:
        handle.write(f"stubworld clone of {url}\n")
    return 0
