"""Paths a Dockerfile's RUN steps create, so a name that is one of them is a local folder.

`SentenceTransformer("src/my-model")` looks like a hub repo id, but when a RUN step unzips
an archive into `src/my-model` below the WORKDIR the app starts in, the loader reads that
folder and never asks the hub: baking `src/my-model` would make the build fail. The steps
read are the ones that make a folder or file at a path they name: `unzip -d`, `git clone
URL [dir]`, `wget -O`/`-P`, `curl -o`, `tar -C`/`-xf ... -C`, `mkdir`, `mv`/`cp`/`ln`
targets, and `--local-dir` of a hub download. Nothing is run; paths are read as written,
relative to the WORKDIR of their step.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator, Sequence

_DEST_FLAGS = {
    "unzip": ("-d",),
    "wget": ("-O", "-P", "--output-document", "--directory-prefix"),
    "curl": ("-o", "--output"),
    "tar": ("-C", "--directory"),
}
_LAST_IS_TARGET = frozenset({"mv", "cp", "ln", "rsync"})
_GIT_CLONE_VALUE_FLAGS = frozenset(
    {"--depth", "-b", "--branch", "--filter", "-c", "--config", "-o", "--origin", "-j", "--jobs"}
    | {"--reference", "--separate-git-dir", "--shallow-since", "--shallow-exclude"}
)


def _flag_values(words: Sequence[str], flags: Sequence[str]) -> Iterator[str]:
    for i, word in enumerate(words):
        for flag in flags:
            if word == flag and i + 1 < len(words):
                yield words[i + 1]
            elif flag.startswith("--") and word.startswith(flag + "="):
                yield word[len(flag) + 1 :]
            elif not flag.startswith("--") and word.startswith(flag) and len(word) > len(flag):
                yield word[len(flag) :]


def _targets(words: Sequence[str]) -> Iterator[str]:
    if not words:
        return
    program = posixpath.basename(words[0])
    args = list(words[1:])
    if program in _DEST_FLAGS:
        yield from _flag_values(args, _DEST_FLAGS[program])
    operands = [w for w in args if not w.startswith("-")]
    if program == "git" and args[:1] == ["clone"]:
        rest: list[str] = []
        skip = False
        for word in args[1:]:
            if skip:
                skip = False
            elif word in _GIT_CLONE_VALUE_FLAGS:
                skip = True
            elif not word.startswith("-"):
                rest.append(word)
        if len(rest) >= 2:
            yield rest[1]
        elif rest:
            yield posixpath.basename(rest[0].rstrip("/")).removesuffix(".git")
    elif program == "mkdir":
        yield from operands
    elif program in _LAST_IS_TARGET and len(operands) >= 2:
        yield operands[-1]
    yield from _flag_values(args, ("--local-dir",))


def made_paths(runs: Iterable[tuple[str, Sequence[str]]]) -> frozenset[str]:
    """Absolute image paths the commands create, from (workdir, words) per simple command."""
    found: set[str] = set()
    for workdir, words in runs:
        for target in _targets(words):
            if not target or "$" in target or "://" in target:
                continue
            path = posixpath.normpath(posixpath.join(workdir or "/", target))
            if path != "/":
                found.add(path)
    return frozenset(found)


def is_made(name: str, workdir: str, paths: frozenset[str]) -> bool:
    """Whether `name`, read from `workdir` as a loader does, is a path a RUN created.

    Only the path itself counts, not a folder inside a created one: `mkdir -p /app/models`
    says nothing about `models/org-name`, and an archive unpacked into the WORKDIR says
    nothing about every name read from there."""
    return posixpath.normpath(posixpath.join(workdir or "/", name)) in paths
