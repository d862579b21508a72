"""Where a project says its Dockerfiles are built from, outside compose files.

A Dockerfile in a subfolder is often built with the repository root as its context,
and the only place that says so is a CI workflow (`docker/build-push-action`'s
`context:`/`file:`, or a `docker build -f sub/Dockerfile .` in a `run:` step), a
Makefile or shell script that runs `docker build`, or a `docker-bake.hcl`. Taking the
Dockerfile's own folder instead makes every COPY source look missing. This module only
reads those files (bounded in number, size and depth); it never runs anything.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

MAX_FILE_BYTES = 256 * 1024
MAX_DEPTH = 3  # scripts and Makefiles deeper than this are not read
MAX_FILES = 400
SKIP_DIRS = frozenset(
    {".git", "node_modules", "__pycache__", ".venv", "venv", ".tox", "site-packages", "dist"}
)
SCRIPT = re.compile(r"^(?:(?:GNU)?[Mm]akefile|.+\.mk|.+\.sh|.+\.bash|[Jj]ustfile)$")
BAKE = re.compile(r"^docker-bake(?:\.[\w-]+)*\.(?:hcl|json)$")
# `docker build`, `docker buildx build`, `docker image build`, `podman build`.
BUILD_COMMAND = re.compile(r"\b(?:docker|podman)(?:\s+(?:buildx|image))?\s+build\b")
# Options of `docker build` that take a value in the next word.
VALUE_OPTIONS = frozenset(
    {
        "-f", "--file", "-t", "--tag", "--build-arg", "--target", "--platform", "--label",
        "--cache-from", "--cache-to", "--secret", "--ssh", "-o", "--output", "--progress",
        "--network", "--add-host", "--iidfile", "--metadata-file", "--builder", "--build-context",
        "--shm-size", "-m", "--memory", "--cpuset-cpus", "--ulimit", "--attest", "--sbom",
        "--provenance", "--annotation", "--allow", "--call",
    }
)  # fmt: skip
# Shell and make spellings of "the directory this runs in".
HERE = re.compile(r"^(?:\$\(CURDIR\)|\$\{CURDIR\}|\$\(PWD\)|\$\{PWD\}|\$PWD|\$\(pwd\)|`pwd`)")


@dataclass(frozen=True)
class Declaration:
    """One place that builds `dockerfile` with `context` (both absolute and normalised)."""

    dockerfile: Path
    context: Path
    source: Path
    line: int

    def where(self, root: Path) -> str:
        try:
            name = self.source.relative_to(root).as_posix()
        except ValueError:
            name = str(self.source)
        return f"{name}:{self.line}"


def _norm(path: Path) -> Path:
    return Path(os.path.normpath(path))


def _read(path: Path) -> str | None:
    """A small regular file's text, or None (FIFOs, devices and huge files are not read)."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
            return None
        with open(path, "rb") as handle:
            return handle.read(MAX_FILE_BYTES).decode("utf-8", "replace")
    except OSError:
        return None


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Lines with backslash continuations joined, each with its first line number."""
    start, parts = 0, list[str]()
    for number, line in enumerate(text.splitlines(), 1):
        if not parts:
            start = number
        stripped = line.rstrip()
        if stripped.endswith("\\"):
            parts.append(stripped[:-1])
            continue
        parts.append(line)
        yield start, " ".join(parts)
        parts = []
    if parts:
        yield start, " ".join(parts)


def _words(command: str) -> list[str] | None:
    try:
        return shlex.split(command, comments=True)
    except ValueError:
        return None


def parse_build(command: str) -> tuple[str, str | None] | None:
    """`(context, dockerfile or None)` of the first `docker build` in a shell line.

    A context that is a URL, stdin (`-`) or an unresolvable variable gives None: that
    build says nothing usable about a local folder.
    """
    match = BUILD_COMMAND.search(command)
    if match is None:
        return None
    tail = command[match.end() :]
    for stop in ("&&", "||", ";", "|"):
        tail = tail.split(stop, 1)[0]
    words = _words(tail)
    if words is None:
        return None
    dockerfile: str | None = None
    positional: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word.startswith("--") and "=" in word:
            name, value = word.split("=", 1)
            if name == "--file":
                dockerfile = value
        elif word in VALUE_OPTIONS:
            if word in ("-f", "--file") and index + 1 < len(words):
                dockerfile = words[index + 1]
            index += 1
        elif word.startswith("-f") and len(word) > 2:
            dockerfile = word[2:]
        elif not word.startswith("-"):
            positional.append(word)
        index += 1
    if len(positional) != 1:
        return None
    return positional[0], dockerfile


def _resolve(base: Path, value: str) -> Path | None:
    value = HERE.sub(".", value)
    if "$" in value or "`" in value or "://" in value or value == "-" or value.startswith("git@"):
        return None
    return _norm(base / value)


def _declaration(
    base: Path, context: str, dockerfile: str | None, source: Path, line: int
) -> Declaration | None:
    """A build whose paths resolve against `base` to a Dockerfile that exists."""
    context_path = _resolve(base, context)
    if context_path is None:
        return None
    file_path = _resolve(base, dockerfile) if dockerfile else context_path / "Dockerfile"
    if file_path is None or not file_path.is_file() or not context_path.is_dir():
        return None
    return Declaration(file_path, context_path, source, line)


def _from_script(path: Path, root: Path, bases: tuple[Path, ...]) -> Iterator[Declaration]:
    """`docker build` lines of a Makefile or shell script.

    Make runs recipes in the Makefile's folder; a script may be run from its own folder
    or from the repository root, so both are tried and the first that names an existing
    Dockerfile is taken.
    """
    text = _read(path)
    if text is None or "build" not in text:
        return
    for line, command in _logical_lines(text):
        found = parse_build(command)
        if found is None:
            continue
        for base in bases:
            declaration = _declaration(base, found[0], found[1], path, line)
            if declaration is not None:
                yield declaration
                break


def _line_of(node: Any) -> int:
    lc = getattr(node, "lc", None)
    return int(lc.line) + 1 if lc is not None and lc.line is not None else 1


MATRIX = re.compile(r"\$\{\{\s*matrix\.([\w-]+)\s*\}\}")
MAX_COMBINATIONS = 64


class Step(NamedTuple):
    """A workflow step, the folder it runs in, and its job's matrix values by key."""

    step: dict[str, Any]
    directory: str | None
    matrix: dict[str, list[str]]


def _matrix(job: dict[str, Any]) -> dict[str, list[str]]:
    """The values each `matrix.X` takes: its list, plus what `include` entries add."""
    strategy = job.get("strategy")
    matrix = strategy.get("matrix") if isinstance(strategy, dict) else None
    if not isinstance(matrix, dict):
        return {}
    values: dict[str, list[str]] = {}
    for key, value in matrix.items():
        if isinstance(value, list) and key not in ("include", "exclude"):
            values[str(key)] = [str(v) for v in value if isinstance(v, (str, int, float))]
    for entry in matrix.get("include") or ():
        if isinstance(entry, dict):
            for key, value in entry.items():
                if isinstance(value, (str, int, float)):
                    values.setdefault(str(key), []).append(str(value))
    return values


def expand(text: str, matrix: dict[str, list[str]]) -> list[str]:
    """`text` with every `${{ matrix.X }}` replaced by each value X takes (bounded)."""
    keys = list(dict.fromkeys(MATRIX.findall(text)))
    results = [text]
    for key in keys:
        choices = matrix.get(key)
        if not choices:
            return []  # a value the workflow does not list: unknown here
        pattern = re.compile(r"\$\{\{\s*matrix\." + re.escape(key) + r"\s*\}\}")
        values = list(dict.fromkeys(choices))
        results = [pattern.sub(value.replace("\\", "\\\\"), r) for r in results for value in values]
        if len(results) > MAX_COMBINATIONS:
            return results[:MAX_COMBINATIONS]
    return results


def _steps(data: Any) -> Iterator[Step]:
    """Every step of every job, with the working directory it runs in and its matrix."""
    if not isinstance(data, dict):
        return
    jobs = data.get("jobs")
    if not isinstance(jobs, dict):
        return
    default = _working_directory(data)
    for job in jobs.values():
        if not isinstance(job, dict) or not isinstance(job.get("steps"), list):
            continue
        job_default = _working_directory(job) or default
        matrix = _matrix(job)
        for step in job["steps"]:
            if isinstance(step, dict):
                directory = step.get("working-directory")
                yield Step(step, directory if isinstance(directory, str) else job_default, matrix)


def _working_directory(node: dict[str, Any]) -> str | None:
    defaults = node.get("defaults")
    run = defaults.get("run") if isinstance(defaults, dict) else None
    directory = run.get("working-directory") if isinstance(run, dict) else None
    return directory if isinstance(directory, str) else None


def _from_workflow(path: Path, root: Path) -> Iterator[Declaration]:
    text = _read(path)
    if text is None or "build" not in text:
        return
    try:
        data = YAML(typ="rt").load(text)
    except (YAMLError, ValueError):
        return
    for step, directory, matrix in _steps(data):
        base = _norm(root / directory) if directory and "$" not in directory else root
        line = _line_of(step)
        uses = step.get("uses")
        if isinstance(uses, str) and uses.split("@")[0] == "docker/build-push-action":
            inputs = step.get("with")
            inputs = inputs if isinstance(inputs, dict) else {}
            for context in expand(str(inputs.get("context", ".")), matrix):
                file = inputs.get("file")
                # build-push-action hands `file` to buildx as given: relative to the workspace.
                for named in expand(str(file), matrix) if file else [None]:
                    declaration = _declaration(root, context, named, path, line)
                    if declaration is not None:
                        yield declaration
            continue
        run = step.get("run")
        if isinstance(run, str):
            for _offset, logical in _logical_lines(run):
                for command in expand(logical, matrix):
                    found = parse_build(command)
                    if found is not None:
                        declaration = _declaration(base, found[0], found[1], path, line)
                        if declaration is not None:
                            yield declaration


HCL_TARGET = re.compile(r'^\s*target\s+"(?P<name>[^"]+)"\s*\{', re.MULTILINE)
HCL_FIELD = re.compile(r'^\s*(?P<key>context|dockerfile)\s*=\s*"(?P<value>[^"$]*)"', re.MULTILINE)


def _from_bake(path: Path) -> Iterator[Declaration]:
    """Targets of a bake file: `context` (default `.`) and `dockerfile` relative to it."""
    text = _read(path)
    if text is None:
        return
    blocks: list[tuple[int, dict[str, str]]] = []
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except ValueError:
            return
        targets = data.get("target") if isinstance(data, dict) else None
        for value in (targets or {}).values() if isinstance(targets, dict) else ():
            if isinstance(value, dict):
                blocks.append((1, {k: v for k, v in value.items() if isinstance(v, str)}))
    else:
        starts = list(HCL_TARGET.finditer(text))
        for index, match in enumerate(starts):
            end = starts[index + 1].start() if index + 1 < len(starts) else len(text)
            body = text[match.end() : end]
            fields = {m["key"]: m["value"] for m in HCL_FIELD.finditer(body)}
            blocks.append((text.count("\n", 0, match.start()) + 1, fields))
    for line, fields in blocks:
        context = _norm(path.parent / fields.get("context", "."))
        dockerfile = _norm(context / fields.get("dockerfile", "Dockerfile"))
        if dockerfile.is_file() and context.is_dir():
            yield Declaration(dockerfile, context, path, line)


def _kind(name: str) -> str | None:
    if BAKE.match(name):
        return "bake"
    return "script" if SCRIPT.match(name) else None


def _candidates(root: Path) -> Iterator[tuple[str, Path]]:
    """(kind, path) of the files that may declare builds, breadth first, bounded."""
    workflows = root / ".github" / "workflows"
    try:
        for entry in sorted(os.scandir(workflows), key=lambda e: e.name):
            if entry.name.endswith((".yml", ".yaml")) and entry.is_file():
                yield "workflow", Path(entry.path)
    except OSError:
        pass
    level = [root]
    seen = 0
    for _depth in range(MAX_DEPTH + 1):
        following: list[Path] = []
        for directory in level:
            try:
                entries = sorted(os.scandir(directory), key=lambda e: e.name)
            except OSError:
                continue
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name not in SKIP_DIRS and not entry.name.startswith("."):
                            following.append(Path(entry.path))
                        continue
                    if not entry.is_file(follow_symlinks=False):
                        continue
                except OSError:
                    continue
                kind = _kind(entry.name)
                if kind is not None:
                    seen += 1
                    if seen > MAX_FILES:
                        return
                    yield kind, Path(entry.path)
        level = following


@lru_cache(maxsize=16)
def declarations(root: Path) -> tuple[Declaration, ...]:
    """Every build the repository at `root` declares outside compose files."""
    found: list[Declaration] = []
    for kind, path in _candidates(root):
        if kind == "workflow":
            found.extend(_from_workflow(path, root))
        elif kind == "bake":
            found.extend(_from_bake(path))
        else:
            found.extend(_from_script(path, root, (path.parent, root)))
    return tuple(found)
