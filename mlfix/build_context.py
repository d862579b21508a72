"""Which folder a Dockerfile that no compose service builds is built from.

In order: what the project declares (`mlfix.declared`: workflows, Makefiles, scripts,
bake files); else the Dockerfile's own folder when its COPY/ADD sources are there;
else the nearest folder above it, up to the repository root, where they all are,
with a note saying so; else, when the sources are split so that no folder holds them
all, the Dockerfile is reported as skipped rather than checked against a guess.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mlfix.declared import declarations
from mlfix.dockerfile.model import parse
from mlfix.errors import MlfixError

MAX_DOCKERFILE_BYTES = 1 << 20
MANIFEST = re.compile(
    r"^(?:requirements[\w.-]*\.(?:txt|in)|pyproject\.toml|poetry\.lock|uv\.lock|Pipfile(?:\.lock)?"
    r"|environment[\w.-]*\.ya?ml|conda[\w.-]*\.ya?ml)$"
)


@dataclass(frozen=True)
class Choice:
    """The contexts to check a Dockerfile with (none: skip it), and what to tell the user."""

    contexts: tuple[Path, ...]
    note: str | None = None


def _real(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))


def copy_sources(dockerfile: Path) -> list[str] | None:
    """The context paths the Dockerfile's COPY/ADD read; None when it cannot be read.

    Sources with variables, URLs and `--from` copies say nothing about the context.
    """
    try:
        if not dockerfile.is_file() or dockerfile.stat().st_size > MAX_DOCKERFILE_BYTES:
            return None
        text = dockerfile.read_bytes().decode("utf-8", "surrogateescape")
        model = parse(text, dockerfile)
    except (OSError, MlfixError):
        return None
    sources: list[str] = []
    run_reads: list[str] = []
    for instruction in model.instructions:
        if instruction.keyword == "RUN":
            run_reads.extend(_manifests_named(instruction.words()))
        if instruction.keyword not in ("COPY", "ADD") or instruction.flag("from") is not None:
            continue
        if instruction.heredocs:
            continue
        words = instruction.words()
        for word in words[:-1]:
            if "$" in word or "://" in word or word.startswith("git@"):
                continue
            sources.append(word)
    if any(s.strip("/") in ("", ".") for s in sources):
        # The whole context is copied: the manifests its installs name must be in it.
        sources.extend(run_reads)
    return sources


def _manifests_named(words: list[str]) -> list[str]:
    """Relative manifest paths a RUN line names (`-r requirements.txt`, `environment.yml`)."""
    found: list[str] = []
    for index, word in enumerate(words):
        after_flag = index > 0 and words[index - 1] in ("-r", "--requirement")
        name = word.rsplit("/", 1)[-1]
        if word.startswith(("/", "$", "-", "~")) or "$" in word or "'" in word or '"' in word:
            continue
        if after_flag or MANIFEST.match(name):
            found.append(word.removeprefix("./"))
    return found


def _holds(folder: Path, sources: Iterable[str]) -> bool:
    for source in sources:
        relative = source.lstrip("/")
        if any(ch in relative for ch in "*?["):
            if next(iter(folder.glob(relative)), None) is None:
                return False
        elif not (folder / relative).exists():
            return False
    return True


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix() or "."
    except ValueError:
        return str(path)


def choose(dockerfile: Path, root: Path) -> Choice:
    """The contexts for `dockerfile`, a Dockerfile inside the repository at `root`."""
    real = _real(dockerfile)
    declared: list[Path] = []
    sources_of: list[str] = []
    for declaration in declarations(_real(root)):
        if _real(declaration.dockerfile) == real and declaration.context not in declared:
            declared.append(declaration.context)
            sources_of.append(declaration.where(_real(root)))
    own = dockerfile.parent
    if declared:
        contexts = tuple(own if _real(context) == _real(own) else context for context in declared)
        if contexts == (own,):
            return Choice(contexts)
        names = ", ".join(_relative(c, _real(root)) for c in declared)
        return Choice(contexts, f"built with context {names} (as {', '.join(sources_of)} says)")
    sources = copy_sources(dockerfile)
    if not sources or _holds(own, sources):
        return Choice((own,))
    folder = _real(own)  # absolute: the parent of a relative `.` is `.` again
    top = _real(root)
    while folder != top and top in folder.parents:
        folder = folder.parent
        if _holds(folder, sources):
            shown = folder if own.is_absolute() else Path(os.path.relpath(folder))
            return Choice(
                (shown,),
                f"built with context {_relative(folder, top)}: its COPY sources are "
                "there, not beside it, and nothing declares the context",
            )
    if any(_holds(own, [s]) for s in sources):
        return Choice((own,))  # partly here, the rest nowhere: a missing file, reported as such
    return Choice(
        (),
        "skipped: no folder up to the repository root holds all its COPY sources; "
        "declare the context (compose build.context, or a `docker build` line) to check it",
    )


def holds_none(dockerfile: Path, context: Path) -> bool:
    """True when a declared context holds none of the Dockerfile's COPY sources.

    A compose file whose `build.context` went stale (the Dockerfile moved, the sources
    did not) declares a build that cannot run: checking it against that folder gives
    findings and fixes for a context nobody builds with.
    """
    sources = copy_sources(dockerfile)
    return sources is not None and bool(sources) and not any(_holds(context, [s]) for s in sources)
