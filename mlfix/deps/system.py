"""System package layers: what an `apt-get`/`apk`/`dnf`/`microdnf` RUN does and reads.

A `RUN` is a system layer when one of its commands (or an `xargs` it runs) is a
package manager. For each one this module records the package operations with the
offsets of their words (so fixes can insert a flag after `install`), the files the
layer reads (`$(cat packages.txt)`, `xargs -a apt.txt`, `< list`, `./debs/*.deb`,
`dpkg -i x.deb`, `bash setup.sh`...), the paths it writes besides the package
manager's own, whether it runs commands mlfix does not know, and whether it runs a
Python tool. The files it reads are traced back through the stage's `COPY`s to the
build context; `provide` checks them on disk, so rules stay pure. Reading one command is
`mlfix.deps.system_commands`' job.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import posixpath
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlfix.deps.facts import Context, command_offset
from mlfix.deps.system_commands import PackageOp, Scan, manager_op, pipelines, scan_command
from mlfix.dockerfile import shell
from mlfix.dockerfile.model import DockerfileModel, Instruction
from mlfix.dockerfile.state import CopyPlan, container_path, copy_plan, effective, expand

SYSTEM_DIRS = ("/etc", "/usr", "/var", "/lib", "/lib32", "/lib64", "/libx32", "/bin",
               "/sbin", "/boot", "/run", "/srv")  # fmt: skip
PACKAGE_MANAGER_TEXT = re.compile(
    r"\b(?:apt-get|apt|aptitude|dpkg|debconf|apk|dnf|dnf5|yum|microdnf|tdnf|rpm|zypper)\b"
    r"|/etc/(?:apt|apk|yum|dnf)|add-apt-repository|sources\.list|keyrings?\b"
)


@dataclass(frozen=True)
class Read:
    """A file the layer reads, as written and as an image path (None: not resolvable)."""

    word: str
    image_path: str | None
    is_glob: bool
    package_file: bool  # a .deb/.rpm/.apk it installs


@dataclass(frozen=True)
class Supplier:
    """A COPY/ADD above the layer that puts a read path into the image."""

    instruction: int
    context_path: str | None  # None: not from the build context (COPY --from, ADD <url>)
    is_dir: bool
    dedicated: bool  # the COPY brings nothing else (only paths the layer reads)


@dataclass(frozen=True)
class SystemLayer:
    instruction: int
    ops: tuple[PackageOp, ...]
    segments: tuple[str, ...]  # raw text of each segment
    segment_starts: tuple[int, ...]  # offset of each segment in the instruction's text
    operators: tuple[str | None, ...]
    command_offset: int
    reads: tuple[Read, ...]
    writes: tuple[str, ...]  # image paths written outside the package manager's own
    foreign: tuple[str, ...]  # commands mlfix does not know
    runs_python: bool
    relative: bool  # uses a relative path or `cd`: the WORKDIR matters
    env_names: frozenset[str]  # variables its text references
    splittable: bool  # no comment lines inside the RUN
    suppliers: Mapping[str, tuple[Supplier, ...]] = field(default_factory=dict)

    @property
    def families(self) -> frozenset[str]:
        return frozenset(op.family for op in self.ops)

    @property
    def installs(self) -> list[PackageOp]:
        return [op for op in self.ops if op.is_install]

    @property
    def packages(self) -> list[str]:
        return [a for op in self.installs for a in op.arguments]


@dataclass(frozen=True)
class SystemFacts:
    layers: dict[int, SystemLayer]


def _layer(model: DockerfileModel, instruction: Instruction, workdir: str) -> SystemLayer | None:
    if instruction.keyword != "RUN" or instruction.is_json or instruction.heredocs:
        return None
    raw = model.text[instruction.start : instruction.end]
    offset = command_offset(model, instruction)
    segments = shell.segments(raw[offset:], model.escape)
    operators = [s.operator_before for s in segments]
    spans = pipelines(operators)
    ops: list[PackageOp] = []
    scan = Scan()
    current = workdir
    for position, segment in enumerate(segments):
        ws = shell.words(segment.text, model.escape)
        if ws and ws[0].source.startswith("\\") and not ws[0].value.strip():
            # `&& \    apt-get update` on one line: a continuation that lost its line
            # break. sh runs a program named " ", hadolint reads `apt-get update`; a
            # fix either way would be judged by the other, so the RUN is left alone.
            return None
        op = manager_op(ws, position, spans[position])
        if op is not None:
            ops.append(op)
        current = scan_command(segment.text, model.escape, current, scan)
    if not any(op.is_install or op.is_update for op in ops):
        return None
    env = instruction.env
    reads: list[Read] = []
    package_words = {word for word, _at in scan.package_files}
    for word, at in scan.reads + scan.package_files:
        value = expand(word, env)
        resolvable = "$" not in value and not value.startswith("~") and value != "-"
        image = container_path(value, at) if resolvable else None
        if image is not None and image.startswith(("/dev/", "/proc/")):
            continue
        reads.append(Read(word, image, any(c in value for c in "*?["), word in package_words))
    writes = []
    for word, at in scan.writes:
        value = expand(word, env)
        if "$" in value or value.startswith("~") or value.startswith("/dev/"):
            continue
        writes.append(container_path(value, at))
    body_lines = raw.splitlines()[1:]
    splittable = not any(line.lstrip().startswith("#") for line in body_lines)
    names = frozenset(
        m.group(1) or m.group(2)
        for m in re.finditer(
            r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))", raw
        )
    )
    return SystemLayer(
        instruction=instruction.index,
        ops=tuple(ops),
        segments=tuple(s.text for s in segments),
        segment_starts=tuple(offset + s.start for s in segments),
        operators=tuple(operators),
        command_offset=offset,
        reads=tuple(dict.fromkeys(reads)),
        writes=tuple(dict.fromkeys(writes)),
        foreign=tuple(dict.fromkeys(scan.foreign)),
        runs_python=scan.python,
        relative=scan.relative,
        env_names=names,
        splittable=splittable,
    )


Exists = Callable[[str], tuple[bool, bool]]  # context path -> (exists, is_dir)


def _match(plan: CopyPlan, source: str, image_path: str, is_glob: bool) -> str | None:
    """The context path that lands on `image_path` through `source` of `plan`, if any."""
    dest = plan.dest.rstrip("/") or "/"
    if any(ch in source for ch in "*?["):
        if posixpath.dirname(image_path) != dest:
            return None
        candidate = posixpath.join(posixpath.dirname(source), posixpath.basename(image_path))
        return candidate if fnmatch.fnmatchcase(candidate, source) else None
    if image_path in plan.targets(source) and source != ".":
        return source
    if image_path == dest:
        return source
    if image_path.startswith(dest.rstrip("/") + "/"):
        rel = image_path[len(dest.rstrip("/")) + 1 :]
        return rel if source == "." else posixpath.join(source, rel)
    if is_glob and fnmatch.fnmatchcase(dest, image_path):
        return source
    return None


def suppliers(
    model: DockerfileModel,
    copies: Mapping[int, CopyPlan],
    layer: SystemLayer,
    read: Read,
    exists: Exists,
) -> tuple[Supplier, ...]:
    """COPY/ADDs above the layer in its stage that put `read` in the image, latest first."""
    if read.image_path is None:
        return ()
    instruction = model.instructions[layer.instruction]
    stage = model.stage_of(instruction)
    if stage is None:
        return ()
    found: list[Supplier] = []
    above = [i for i in stage.instructions if i.index < layer.instruction]
    for other in reversed(above):
        plan = copies.get(other.index)
        if plan is None:
            continue
        for source in plan.sources:
            if not plan.from_context:
                covered = _under(read.image_path, plan.dest) or (
                    read.is_glob and fnmatch.fnmatchcase(plan.dest, read.image_path)
                )
                if covered:
                    found.append(Supplier(other.index, None, False, False))
                    break
                continue
            rel = _match(plan, source, read.image_path, read.is_glob)
            if rel is None:
                continue
            rel = posixpath.normpath(rel)
            present, is_dir = exists(rel)
            if not present:
                continue
            dedicated = source != "." and not is_dir and not any(ch in source for ch in "*?[")
            found.append(Supplier(other.index, rel, is_dir, dedicated))
            break
    return tuple(found)


def _under(path: str, directory: str) -> bool:
    directory = directory.rstrip("/") or "/"
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def layers(model: DockerfileModel, exists: Exists | None = None) -> dict[int, SystemLayer]:
    """Every system package layer of the file, keyed by instruction index."""
    states = effective(model)
    copies: dict[int, CopyPlan] = {}
    found: dict[int, SystemLayer] = {}
    for instruction in model.instructions:
        state = states[instruction.index]
        plan = copy_plan(instruction, state.workdir)
        if plan is not None:
            copies[instruction.index] = plan
            continue
        layer = _layer(model, instruction, state.workdir)
        if layer is None:
            continue
        check = exists or (lambda _rel: (False, False))
        table = {read.word: suppliers(model, copies, layer, read, check) for read in layer.reads}
        found[instruction.index] = _with_suppliers(layer, table)
    return found


def _with_suppliers(layer: SystemLayer, table: Mapping[str, tuple[Supplier, ...]]) -> SystemLayer:
    return dataclasses.replace(layer, suppliers=dict(table))


def provide(
    target: Any, documents: Any, model: DockerfileModel, settings: Any
) -> SystemFacts | None:
    """Fact provider: system layers with the files they read checked on disk.

    Lookups are kept in `documents.cache` for the session: the context does not change
    while the fixes run.
    """
    if not (settings.enabled("MLF203") or settings.enabled("MLF201")):
        return None
    context = Context(target.context, target.dockerfile, model.text)
    # Per Dockerfile text: a path the ignore file leaves out counts as there when a COPY of
    # this text names it (see Context), and the fixes change the text between passes.
    by_text: dict[str, dict[str, tuple[bool, bool]]] = documents.cache.setdefault(
        "system.exists", {}
    )
    cache = by_text.setdefault(model.text, {})

    def exists(rel: str) -> tuple[bool, bool]:
        if rel not in cache:
            cache[rel] = _exists(context, rel)
        return cache[rel]

    return SystemFacts(layers(model, exists))


def _exists(context: Context, rel: str) -> tuple[bool, bool]:
    if any(ch in rel for ch in "*?["):
        directory = posixpath.dirname(rel)
        if not context.is_dir(directory or "."):
            return False, False
        try:
            names = [p.name for p in (context.root / directory).iterdir()]
        except OSError:
            return False, False
        pattern = posixpath.basename(rel)
        return any(fnmatch.fnmatchcase(n, pattern) for n in names), False
    return context.exists(rel), context.is_dir(rel)


def system_facts(found: SystemFacts | None, model: DockerfileModel) -> SystemFacts:
    """The provider's facts, or (without it) the same with no file known to exist.

    Without the provider nothing a layer reads is traced to the build context, so a
    layer that reads `packages.txt` from `COPY . .` is not given a COPY of it: the
    engine registers the provider, and only direct callers of a rule see this.
    """
    if found is not None:
        return found
    return SystemFacts(layers(model, lambda _rel: (False, False)))


def iter_layers(facts: SystemFacts) -> Iterator[SystemLayer]:
    yield from (facts.layers[i] for i in sorted(facts.layers))


def in_system_dir(path: str) -> bool:
    return any(_under(path, d) for d in SYSTEM_DIRS)


def mentions_package_manager(text: str) -> bool:
    return PACKAGE_MANAGER_TEXT.search(text) is not None


__all__ = ["PackageOp", "Read", "Supplier", "SystemFacts", "SystemLayer", "layers", "provide"]
