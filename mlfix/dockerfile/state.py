"""What is in effect at each instruction: WORKDIR, USER and where COPY puts files.

Pure functions of the model: moving an instruction is only right when these stay
the same for everything it moves past.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass

from mlfix.dockerfile.model import DockerfileModel, Instruction

VAR_RE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-+][^}]*)?\}|([A-Za-z_][A-Za-z0-9_]*))")


def expand(value: str, env: Mapping[str, str]) -> str:
    """Docker's word expansion for the forms COPY, WORKDIR and ENV use."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        whole = match.group(0)
        if ":-" in whole or (whole.startswith("${") and "-" in whole and name not in env):
            default = whole.split("-", 1)[1].rstrip("}")
            return env.get(name) or default
        return env.get(name, "")

    return VAR_RE.sub(substitute, value)


def references(value: str) -> set[str]:
    return {m.group(1) or m.group(2) for m in VAR_RE.finditer(value)}


def _normalise(path: str) -> str:
    cleaned = posixpath.normpath(path)
    return "/" if cleaned in (".", "//") else cleaned


@dataclass(frozen=True)
class Effective:
    workdir: str
    user: str


def effective(model: DockerfileModel) -> dict[int, Effective]:
    """WORKDIR and USER in force when each instruction runs (before it takes effect)."""
    result: dict[int, Effective] = {}
    final: dict[str, Effective] = {}
    for stage in model.stages:
        base = final.get(stage.base.lower(), Effective("/", "root"))
        current = base
        for instruction in stage.instructions:
            result[instruction.index] = current
            if instruction.keyword == "WORKDIR":
                target = expand(instruction.value.strip(), instruction.env)
                current = Effective(
                    _normalise(posixpath.join(current.workdir, target)), current.user
                )
            elif instruction.keyword == "USER":
                current = Effective(
                    current.workdir, expand(instruction.value.strip(), instruction.env)
                )
        if stage.name:
            final[stage.name.lower()] = current
        final[str(stage.index)] = current
    for instruction in model.instructions:
        result.setdefault(instruction.index, Effective("/", "root"))
    return result


@dataclass(frozen=True)
class CopyPlan:
    """A COPY/ADD read as a mapping from build-context sources to an image path."""

    instruction: int
    sources: tuple[str, ...]
    dest: str
    dest_is_dir: bool
    from_context: bool

    def targets(self, source: str) -> tuple[str, ...]:
        """Image paths the file `source` may land on, latest-known rule first.

        A destination without a trailing slash names a file, unless a directory of that
        name is already in the image (`COPY requirements.txt /tmp`, or `ADD src /app` then
        `ADD requirements.txt /app`): then the file goes inside it. Which one holds is not
        known without the image, and a build only succeeds when the install reads the one
        that was written, so both count.
        """
        inside = posixpath.join(self.dest, posixpath.basename(source))
        return (inside,) if self.dest_is_dir else (self.dest, inside)


def copy_plan(instruction: Instruction, workdir: str) -> CopyPlan | None:
    if instruction.keyword not in ("COPY", "ADD") or instruction.heredocs:
        return None
    words = [expand(w, instruction.env) for w in instruction.words()]
    if len(words) < 2:
        return None
    *sources, raw_dest = words
    from_context = not instruction.has_flag("from") and not any(
        re.match(r"^[a-z][a-z0-9+.-]*://", s) or s.startswith("git@") for s in sources
    )
    dest = _normalise(posixpath.join(workdir, raw_dest))
    dest_is_dir = raw_dest.endswith("/") or len(sources) > 1 or raw_dest in (".", "./")
    cleaned = tuple(_context_relative(s) for s in sources)
    return CopyPlan(instruction.index, cleaned, dest, dest_is_dir, from_context)


def _context_relative(source: str) -> str:
    cleaned = posixpath.normpath("/" + source).lstrip("/")
    return cleaned or "."


def container_path(path: str, workdir: str) -> str:
    return _normalise(posixpath.join(workdir, path))
