"""Facts about each dependency install in a Dockerfile: what it needs from the context.

This is the one place that reads manifests from disk for the dependency rules. An
install's needs are found by following the image paths its command names back
through the stage's COPY instructions to build-context files, then reading those
files for includes (`-r`, `-c`, `pip:` sections) and local source paths, which are
mapped the same way. Rules get the result and never touch the disk.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from mlfix.deps.buildcontext import Context
from mlfix.deps.commands import InstallCommand, classify
from mlfix.deps.manifests import (
    Pyproject,
    parse_environment,
    parse_pipfile_paths,
    parse_pyproject,
    parse_requirements,
)
from mlfix.dockerfile.model import DockerfileModel, Instruction
from mlfix.dockerfile.shell import Segment, segments
from mlfix.dockerfile.state import CopyPlan, Effective, container_path, copy_plan, effective
from mlfix.errors import MlfixError

SELF_CONTAINED_LIMIT = 2_000_000  # bytes: a local package bigger than this is "the code"
PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg")


@dataclass(frozen=True)
class Need:
    """A build-context path an install needs in the image before it runs."""

    context_path: str
    image_path: str
    is_dir: bool
    supplier: int  # index of the COPY/ADD whose copy is in the image when the install runs
    earlier: tuple[int, ...] = ()  # COPY/ADDs above that one which bring the same file


@dataclass(frozen=True)
class InstallPart:
    """One install command of a RUN, with what it needs and why it might not move."""

    segment: int
    command: InstallCommand
    needs: tuple[Need, ...]
    blockers: tuple[str, ...] = ()
    pyproject: Pyproject | None = None
    project_in_context: bool = True  # the project `pip install .` builds comes from a COPY


@dataclass(frozen=True)
class RunFacts:
    instruction: int
    command_offset: int  # where the shell text starts inside the instruction's raw text
    segments: tuple[Segment, ...]
    parts: tuple[InstallPart, ...]
    splittable: bool  # raw text has no comment lines or heredocs inside it

    @property
    def is_dependency_install(self) -> bool:
        return any(p.command.tool != "system" for p in self.parts)


@dataclass(frozen=True)
class DependencyFacts:
    effective: dict[int, Effective]
    copies: dict[int, CopyPlan]
    runs: dict[int, RunFacts] = field(default_factory=dict)
    # COPY/ADD sources that are plain files of the context (no folder, no glob, no `.`).
    files: frozenset[str] = frozenset()


def command_offset(model: DockerfileModel, instruction: Instruction) -> int:
    """Offset of the shell text in the instruction's raw text, after keyword and flags."""
    raw = model.text[instruction.start : instruction.end]
    escape = re.escape(model.escape)
    # A comment line inside the continuation is not the command: what is inserted "before
    # the command" (a cache mount) must land after it, not inside it.
    gap = rf"(?:[ \t]|{escape}[ \t]*\r?\n(?:[ \t]*(?:#[^\n]*)?\r?\n)*)+"
    match = re.match(rf"[ \t]*\w+{gap}(?:--\S+{gap})*", raw)
    return match.end() if match else len(raw)


# Blank and comment lines inside a continuation: BuildKit drops them before the shell runs.
_DROPPED_LINES = r"(?:[ \t]*(?:#[^\n]*)?\r?\n|[ \t]*#[^\n]*$)*"


def logical(text: str, escape: str) -> str:
    """Shell text with line continuations joined, as the shell will see it.

    A comment line inside the continuation is dropped, not joined: joined, its `#` would
    hide the words after it from every rule (`pip install x \\ / # note \\ / y`).
    """
    return re.sub(re.escape(escape) + r"[ \t]*\r?\n" + _DROPPED_LINES, " ", text)


class _Resolver:
    def __init__(
        self,
        model: DockerfileModel,
        context: Context,
        copies: list[CopyPlan],
        instruction: Instruction,
    ) -> None:
        self.model = model
        self.context = context
        self.copies = copies
        self.instruction = instruction

    def locate(self, image_path: str, required: bool = True) -> Need | None:
        """The COPY that supplies `image_path`, latest first, as Docker would overlay them."""
        covered_by: CopyPlan | None = None
        hits: list[tuple[str, int]] = []
        for plan in reversed(self.copies):
            for source in plan.sources:
                found = self._match(plan, source, image_path)
                if found is None:
                    continue
                rel, exact = found
                if self.context.exists(rel):
                    hits.append((rel, plan.instruction))
                    break
                if exact:
                    covered_by = plan
        if hits:
            rel, supplier = hits[0]
            earlier = tuple(index for other, index in hits[1:] if other == rel)
            return Need(rel, image_path, self.context.is_dir(rel), supplier, earlier)
        if covered_by is not None and required:
            # Named relative to the context, with the context apart: joined, a Dockerfile in a
            # subfolder whose COPY names the subfolder reads `infra/x/infra/x/...`.
            line = self.model.instructions[covered_by.instruction].first_line
            raise MlfixError(
                self.model.path,
                f"line {self.instruction.first_line} reads {image_path}, which the COPY/ADD "
                f"at line {line} takes from {self._guess(covered_by, image_path)}, but the "
                f"build context ({self.context.root}) has no such file",
            )
        return None

    def _guess(self, plan: CopyPlan, image_path: str) -> str:
        for source in plan.sources:
            found = self._match(plan, source, image_path)
            if found:
                return found[0]
        return posixpath.basename(image_path)

    def _match(self, plan: CopyPlan, source: str, image_path: str) -> tuple[str, bool] | None:
        """Context path that would land on `image_path` through `source`, if any."""
        dest = plan.dest
        if any(ch in source for ch in "*?["):
            if not plan.dest_is_dir and len(plan.sources) == 1:
                return None
            if posixpath.dirname(image_path) != dest:
                return None
            candidate = posixpath.join(posixpath.dirname(source), posixpath.basename(image_path))
            return (candidate, False) if fnmatch.fnmatchcase(candidate, source) else None
        if source == "." or self.context.is_dir(source):
            if image_path == dest:
                return source, False
            if image_path.startswith(dest.rstrip("/") + "/"):
                rel = image_path[len(dest.rstrip("/")) + 1 :]
                return (rel if source == "." else posixpath.join(source, rel)), True
            return None
        return (source, True) if image_path in plan.targets(source) else None


def _segments_of(model: DockerfileModel, instruction: Instruction) -> tuple[int, list[Segment]]:
    raw = model.text[instruction.start : instruction.end]
    offset = command_offset(model, instruction)
    return offset, segments(raw[offset:], model.escape)


def gather(model: DockerfileModel, context: Context) -> DependencyFacts:
    states = effective(model)
    copies: dict[int, CopyPlan] = {}
    runs: dict[int, RunFacts] = {}
    files: set[str] = set()
    for stage in model.stages:
        stage_copies: list[CopyPlan] = []
        for instruction in stage.instructions:
            state = states[instruction.index]
            plan = copy_plan(instruction, state.workdir)
            if plan is not None:
                copies[instruction.index] = plan
                if plan.from_context:
                    stage_copies.append(plan)
                    files.update(s for s in plan.sources if _plain_file(context, s))
                continue
            if instruction.keyword != "RUN" or instruction.heredocs or instruction.is_json:
                continue
            facts = _run_facts(model, context, instruction, state, list(stage_copies))
            if facts is not None:
                runs[instruction.index] = facts
    return DependencyFacts(states, copies, runs, frozenset(files))


def _plain_file(context: Context, source: str) -> bool:
    if any(c in source for c in "*?[") or source.strip("./") == "":
        return False
    return context.exists(source) and not context.is_dir(source)


def _run_facts(
    model: DockerfileModel,
    context: Context,
    instruction: Instruction,
    state: Effective,
    copies: list[CopyPlan],
) -> RunFacts | None:
    offset, segments = _segments_of(model, instruction)
    resolver = _Resolver(model, context, copies, instruction)
    parts: list[InstallPart] = []
    workdir = state.workdir
    for position, segment in enumerate(segments):
        text = logical(segment.text, model.escape)
        words = text.split()
        if words[:1] == ["cd"] and len(words) == 2:
            workdir = container_path(words[1], workdir)
            continue
        command = classify(text)
        if command is None:
            continue
        parts.append(_part(resolver, position, command, workdir))
    if not parts:
        return None
    raw = model.text[instruction.start : instruction.end]
    body_lines = raw.splitlines()[1:]
    splittable = not any(line.lstrip().startswith("#") or not line.strip() for line in body_lines)
    return RunFacts(instruction.index, offset, tuple(segments), tuple(parts), splittable)


def _part(resolver: _Resolver, position: int, command: InstallCommand, workdir: str) -> InstallPart:
    if command.tool == "system":
        return InstallPart(position, command, ())
    needs: dict[str, Need] = {}
    blockers: list[str] = []
    pyproject: Pyproject | None = None
    # Lock files are optional: a project may not commit one; the manifest itself is required.
    queue: list[tuple[str, bool]] = [
        (container_path(m, workdir), position == 0 or command.tool in ("pip", "conda"))
        for position, m in enumerate(command.manifests)
    ]
    project_root = container_path(command.project_dir or ".", workdir)
    local = [container_path(p, workdir) for p in command.local_paths]
    in_context = True
    if command.tool == "pip" and command.installs_project:
        local = [p for p in local if p != project_root]
        pyproject = _project_of(resolver, project_root)
        in_context = resolver.locate(project_root, required=False) is not None
    local += [container_path(p, workdir) for p in command.find_links]
    seen: set[str] = set()
    while queue:
        image_path, required = queue.pop(0)
        if image_path in seen:
            continue
        seen.add(image_path)
        need = resolver.locate(image_path, required=required)
        if need is None:
            continue  # not from the context: made by an earlier RUN or the base image
        needs[need.context_path] = need
        if need.is_dir:
            continue
        name = posixpath.basename(need.context_path)
        text = resolver.context.read_text(need.context_path)
        base = posixpath.dirname(image_path)
        if name == "pyproject.toml":
            pyproject = parse_pyproject(text)
            local += [container_path(p, base) for p in pyproject.local_sources]
        elif name == "Pipfile":
            local += [container_path(p, base) for p in parse_pipfile_paths(text)]
        elif name.endswith((".yml", ".yaml")):
            env = parse_environment(text)
            queue += [(container_path(p, base), True) for p in env.includes]
            local += [container_path(p, workdir) for p in env.local_paths]
        elif name.endswith((".lock",)):
            continue
        else:
            reqs = parse_requirements(text)
            queue += [(container_path(p, base), True) for p in reqs.includes]
            local += [container_path(p, workdir) for p in reqs.local_paths + reqs.find_links]
    for image_path in local:
        need = resolver.locate(image_path, required=True)
        if need is None:
            continue
        problem = _not_self_contained(resolver.context, need, image_path, workdir, project_root)
        if problem:
            blockers.append(problem)
        else:
            needs[need.context_path] = need
    return InstallPart(
        position, command, tuple(needs.values()), tuple(blockers), pyproject, in_context
    )


def _project_of(resolver: _Resolver, project_root: str) -> Pyproject | None:
    """The pyproject.toml of a `pip install .`, if it has one.

    Any of pyproject.toml, setup.py and setup.cfg makes a directory a project pip can
    install; only when the COPYs bring none of them is one reported missing.
    """
    found = {
        m: resolver.locate(posixpath.join(project_root, m), required=False) for m in PROJECT_MARKERS
    }
    pyproject = found["pyproject.toml"]
    if pyproject is not None:
        return parse_pyproject(resolver.context.read_text(pyproject.context_path))
    if not any(found.values()):
        resolver.locate(posixpath.join(project_root, "pyproject.toml"), required=True)
    return None


def _not_self_contained(
    context: Context, need: Need, image_path: str, workdir: str, project_root: str
) -> str | None:
    shown = need.context_path if need.context_path != "." else "the build context root"
    if image_path in (workdir, project_root) or need.context_path == ".":
        return f"it installs the project itself ({shown}), which needs the whole source"
    if not need.is_dir:
        return None
    if not any(context.exists(posixpath.join(need.context_path, m)) for m in PROJECT_MARKERS):
        return f"{shown} is not a Python project (no pyproject.toml, setup.py or setup.cfg)"
    size = context.size(need.context_path, limit=SELF_CONTAINED_LIMIT)
    if size > SELF_CONTAINED_LIMIT:
        return (
            f"{shown} is over {SELF_CONTAINED_LIMIT // 1_000_000} MB, so it is code, not a manifest"
        )
    pyproject = posixpath.join(need.context_path, "pyproject.toml")
    if context.exists(pyproject):
        readme = parse_pyproject(context.read_text(pyproject)).readme
        if readme and readme.startswith(".."):
            return f"{shown} reads {readme} from outside itself"
    return None


def iter_install_runs(facts: DependencyFacts) -> Iterator[RunFacts]:
    yield from (facts.runs[i] for i in sorted(facts.runs))


__all__ = ["Context", "DependencyFacts", "InstallPart", "Need", "RunFacts", "gather"]
