"""Where a system package layer can move: above the code COPY and the Python installs.

Shared by MLF203 (which moves system layers up) and MLF201 (which moves the Python
install up and must leave system layers where MLF203 would put them), so that the
rules reach the same file in whatever order they run.

The walk goes up from the layer through its stage. Each instruction on the way is
*crossed* (the layer moves above it), *carried* (it moves up with the layer: an
`ENV`/`ARG` the layer uses, a `COPY` of exactly the files it reads) or a *barrier*
(the walk stops). The layer lands above the topmost code `COPY` or Python install it
crossed, provided the `USER` (and, when it uses relative paths, the `WORKDIR`) in
force there is the one it runs with today.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from mlfix.deps.facts import DependencyFacts, logical
from mlfix.deps.system import (
    Supplier,
    SystemFacts,
    SystemLayer,
    in_system_dir,
    mentions_package_manager,
    system_facts,
)
from mlfix.dockerfile import edit
from mlfix.dockerfile.model import DockerfileModel, Instruction, Stage
from mlfix.dockerfile.state import CopyPlan, Effective, references
from mlfix.facts import Facts
from mlfix.model import Applicability, Edit

APT_ONLY = re.compile(r"^(?:DEBIAN_FRONTEND|DEBCONF_\w*|APT_\w*|APT|TZ)$")
PACKAGE_ENV = re.compile(
    r"^(?:DEBIAN_FRONTEND|DEBCONF_\w*|APT_\w*|TZ|https?_proxy|HTTPS?_PROXY|no_proxy|NO_PROXY"
    r"|ftp_proxy|FTP_PROXY|all_proxy|ALL_PROXY)$"
)
INERT = frozenset(
    {"LABEL", "EXPOSE", "CMD", "ENTRYPOINT", "HEALTHCHECK", "STOPSIGNAL", "MAINTAINER", "ONBUILD"}
)
HARMLESS = re.compile(
    r"^\s*(?:cd|mkdir|echo|true|export|set|:|python\d?[.\d]* -m venv|uv venv"
    r"|pip\d?[.\d]* config|pip\d?[.\d]* cache)\b"
)
PYTHON_PACKAGE = re.compile(r"^(?:python3?-|py3-|python\d+-)[\w.+-]+")


@dataclass
class Hoist:
    """How one system layer moves; `anchor` None with a reason: it stays (display-only)."""

    layer: Instruction
    anchor: Instruction | None
    applicability: Applicability
    reasons: list[str] = field(default_factory=list)
    carried: list[Instruction] = field(default_factory=list)
    crossed: list[Instruction] = field(default_factory=list)
    new_copies: list[str] = field(default_factory=list)
    stays: str | None = None  # why it cannot move above the code
    needs_code: bool = False  # it reads files that arrive with the code COPY

    @property
    def movable(self) -> bool:
        return self.anchor is not None and self.applicability is not Applicability.DISPLAY_ONLY


@dataclass
class _Snapshot:
    anchor: Instruction
    carried: list[Instruction]
    crossed: list[Instruction]
    copies: dict[str, tuple[str, str, Instruction]]  # context path -> (image dir, flags, COPY)
    reasons: list[str]


def _names(instruction: Instruction) -> set[str]:
    if instruction.keyword == "ARG":
        return {w.split("=", 1)[0] for w in instruction.value.split()}
    words = instruction.value.split()
    if words and "=" not in words[0]:
        return {words[0]}
    return {w.split("=", 1)[0] for w in words if "=" in w}


def _raw(model: DockerfileModel, instruction: Instruction) -> str:
    return model.text[instruction.start : instruction.end]


def _flags(instruction: Instruction) -> str:
    return " ".join(
        f"--{f.name}={f.value}" if f.value is not None else f"--{f.name}"
        for f in instruction.flags
        if f.name in ("chown", "chmod", "link")
    )


def is_frequent(deps: DependencyFacts, instruction: Instruction) -> bool:
    """A code/manifest COPY from the context or a Python dependency install."""
    plan = deps.copies.get(instruction.index)
    if plan is not None:
        return plan.from_context
    run = deps.runs.get(instruction.index)
    return run is not None and run.is_dependency_install


def _dependency_run(
    model: DockerfileModel, deps: DependencyFacts, instruction: Instruction
) -> bool:
    """A RUN of Python installs and harmless commands only (no package manager)."""
    run = deps.runs.get(instruction.index)
    if run is None or not run.is_dependency_install:
        return False
    if any(p.command.tool == "system" for p in run.parts):
        return False
    return not mentions_package_manager(_raw(model, instruction).split(None, 1)[-1])


def _plain_run(model: DockerfileModel, instruction: Instruction) -> bool:
    if instruction.is_json or instruction.heredocs:
        return False
    body = _raw(model, instruction).split(None, 1)[-1]
    parts = re.split(r"&&|;|\|\|", logical(body, model.escape))
    return all(HARMLESS.match(p) is not None or not p.strip() for p in parts)


def plans(facts: Facts, vanishing: frozenset[int] = frozenset()) -> dict[int, Hoist]:
    """A plan for every system layer that could move, computed top-down per stage.

    `vanishing`: lone `apt-get update` layers the caller deletes in the same pass; the
    layers below them may move past them.
    """
    system = system_facts(facts.system, facts.dockerfile)
    found: dict[int, Hoist] = {}
    for stage in facts.dockerfile.stages:
        moving: dict[int, int] = {}
        for instruction in stage.instructions:
            layer = system.layers.get(instruction.index)
            if layer is None:
                continue
            hoist = _plan(facts, system, stage, layer, moving, vanishing)
            if hoist is None:
                continue
            found[instruction.index] = hoist
            if hoist.movable and hoist.anchor is not None:
                moving[instruction.index] = hoist.anchor.index
    return found


def _plan(
    facts: Facts,
    system: SystemFacts,
    stage: Stage,
    layer: SystemLayer,
    moving: Mapping[int, int],
    vanishing: frozenset[int],
) -> Hoist | None:
    model = facts.dockerfile
    deps = facts.deps
    instruction = model.instructions[layer.instruction]
    run = deps.runs.get(instruction.index)
    if run is not None and run.is_dependency_install:
        return None  # also installs Python packages: MLF201 moves it
    states = deps.effective
    wanted_env = set(layer.env_names)
    python_packages = [p for p in layer.packages if PYTHON_PACKAGE.match(p)]
    reasons: list[str] = []
    if layer.foreign:
        reasons.append(
            f"the RUN also runs `{layer.foreign[0]}`, which may use what the instructions "
            "it moves above bring"
        )
    needs = {
        read.word: sups for read in layer.reads if (sups := layer.suppliers.get(read.word, ()))
    }
    read_of = {read.word: read for read in layer.reads}
    carried: list[Instruction] = []
    crossed: list[Instruction] = []
    copies: dict[str, tuple[str, str, Instruction]] = {}
    satisfied: set[str] = set()
    snapshots: list[_Snapshot] = []
    stays: str | None = None
    elsewhere: str | None = None  # a place it would run as another USER or in another WORKDIR
    needs_code = False
    cap: int | None = None
    above = [i for i in stage.instructions if i.index < instruction.index and i.keyword != "FROM"]
    for other in reversed(above):
        if cap is not None and other.index < cap:
            break
        verdict, why = _verdict(
            facts, layer, other, needs, wanted_env, moving, satisfied, vanishing
        )
        if verdict == "barrier":
            if why and stays is None and not snapshots:
                stays, needs_code = why, True
            break
        if verdict == "carry":
            carried.append(other)
            for word, sups in needs.items():
                if sups and any(s.instruction == other.index for s in sups):
                    satisfied.add(word)
                    copies.pop(sups[0].context_path or "", None)
            continue
        problem = _carried_conflict(model, deps.copies, carried, other)
        if problem:
            if stays is None and not snapshots and is_frequent(deps, other):
                stays = problem
            break
        crossed.append(other)
        if why:
            reasons.append(why)
        plan = deps.copies.get(other.index)
        if plan is not None and plan.from_context:
            for word, sups in needs.items():
                if word in satisfied or not sups or sups[0].instruction != other.index:
                    continue
                supplier = sups[0]
                assert supplier.context_path is not None
                image = read_of[word].image_path or ""
                copies[supplier.context_path] = (posixpath.dirname(image), _flags(other), other)
        if python_packages and _dependency_run(model, deps, other):
            reasons.append(
                f"it installs {python_packages[0]} from the system packages, which the Python "
                f"install at line {other.first_line} may then find already installed"
            )
        if other.index in moving:
            cap = moving[other.index]
        if not is_frequent(deps, other):
            continue
        if _same_context(states, other, instruction, layer, copies):
            snapshots.append(
                _Snapshot(other, list(carried), list(crossed), dict(copies), list(reasons))
            )
        elif elsewhere is None:
            there, here = states[other.index], states[instruction.index]
            elsewhere = (
                f"above line {other.first_line} it would run as {there.user} in "
                f"{there.workdir}, not as {here.user} in {here.workdir}; move it with a "
                "USER (or WORKDIR) of its own by hand"
            )
    if not snapshots:
        reason = stays or elsewhere
        if reason is not None:
            return Hoist(
                instruction, None, Applicability.DISPLAY_ONLY, stays=reason, needs_code=needs_code
            )
        return None
    best = snapshots[-1]
    carried_now = [c for c in best.carried if c.index > best.anchor.index]
    hoist = Hoist(
        instruction,
        best.anchor,
        Applicability.UNSAFE if best.reasons else Applicability.SAFE,
        list(dict.fromkeys(best.reasons)),
        sorted(carried_now, key=lambda i: i.index),
        best.crossed,
        _copy_lines(states[best.anchor.index].workdir, best.copies),
        stays,
    )
    return hoist


def _same_context(
    states: Mapping[int, Effective],
    anchor: Instruction,
    instruction: Instruction,
    layer: SystemLayer,
    copies: Mapping[str, object],
) -> bool:
    """The layer would run as the same user (and, if it cares, in the same WORKDIR)."""
    there = states[anchor.index]
    here = states[instruction.index]
    if there.user != here.user:
        return False
    if layer.relative or layer.reads or copies:
        return there.workdir == here.workdir
    return True


def _verdict(
    facts: Facts,
    layer: SystemLayer,
    other: Instruction,
    needs: Mapping[str, tuple[Supplier, ...]],
    wanted_env: set[str],
    moving: Mapping[int, int],
    satisfied: set[str],
    vanishing: frozenset[int],
) -> tuple[str, str | None]:
    """("cross" | "carry" | "barrier", why): what the layer does with `other` on its way up."""
    model = facts.dockerfile
    deps = facts.deps
    keyword = other.keyword
    line = other.first_line
    if keyword in ("ENV", "ARG"):
        names = _names(other)
        if names & wanted_env or any(PACKAGE_ENV.match(n) for n in names):
            return "carry", None
        return "cross", None
    if keyword in ("USER", "WORKDIR") or keyword in INERT:
        return "cross", None
    if keyword in ("SHELL", "VOLUME"):
        return "barrier", None
    plan = deps.copies.get(other.index)
    if plan is not None:
        return _copy_verdict(layer, other, plan, needs, satisfied)
    if keyword in ("COPY", "ADD"):  # heredoc COPY: cannot tell what it writes
        return "barrier", None
    if keyword != "RUN":
        return "barrier", None
    if other.index in moving or other.index in vanishing:
        return "cross", None
    if _dependency_run(model, deps, other):
        return "cross", None
    body = _raw(model, other).split(None, 1)[-1]
    if mentions_package_manager(body) or other.index in system_layers_of(facts):
        return "barrier", None
    if _plain_run(model, other):
        return "cross", None
    return "cross", (f"it moves above the RUN at line {line}, which may prepare something it needs")


def system_layers_of(facts: Facts) -> Mapping[int, SystemLayer]:
    return system_facts(facts.system, facts.dockerfile).layers


def _copy_verdict(
    layer: SystemLayer,
    other: Instruction,
    plan: CopyPlan,
    needs: Mapping[str, tuple[Supplier, ...]],
    satisfied: set[str],
) -> tuple[str, str | None]:
    line = other.first_line
    if in_system_dir(plan.dest) or plan.dest == "/":
        return "barrier", None
    supplied = {
        word: sups
        for word, sups in needs.items()
        if any(s.instruction == other.index for s in sups)
    }
    if supplied and not plan.from_context:
        return "barrier", None
    if supplied:
        needed = {s.context_path for sups in needs.values() for s in sups}
        if all(source in needed for source in plan.sources) and not any(
            s.is_dir for sups in supplied.values() for s in sups if s.instruction == other.index
        ):
            return "carry", None
        for word, sups in supplied.items():
            latest = sups[0]
            if latest.instruction != other.index or word in satisfied:
                continue
            if latest.is_dir or any(ch in word for ch in "*?["):
                return "barrier", (
                    f"it needs `{word}`, which arrives with `COPY` at line {line}; "
                    "copy only what it installs above it by hand"
                )
    touched = [w for w in layer.writes if _under(w, plan.dest)]
    if touched:
        return "cross", (
            f"it writes {touched[0]}, where the COPY at line {line} also puts files; "
            "their order changes"
        )
    return "cross", None


def _under(path: str, directory: str) -> bool:
    directory = directory.rstrip("/") or "/"
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _overlaps(a: str, b: str) -> bool:
    return _under(a, b) or _under(b, a)


def _carried_conflict(
    model: DockerfileModel,
    copies: Mapping[int, CopyPlan],
    carried: list[Instruction],
    other: Instruction,
) -> str | None:
    """Why an instruction the layer carries cannot move above `other`, if it cannot."""
    text = _raw(model, other)
    used = references(text)
    for item in carried:
        if item.keyword in ("ENV", "ARG"):
            names = _names(item)
            if names & used:
                return (
                    f"{item.keyword} at line {item.first_line} would move above line "
                    f"{other.first_line}, which uses it"
                )
            if other.keyword == "RUN" and not all(APT_ONLY.match(n) for n in names):
                return (
                    f"{item.keyword} at line {item.first_line} would move above the RUN at "
                    f"line {other.first_line} and change its environment"
                )
        elif item.keyword in ("COPY", "ADD") and other.keyword in ("COPY", "ADD"):
            mine, theirs = copies.get(item.index), copies.get(other.index)
            overlap = mine is None or theirs is None or _overlaps(mine.dest, theirs.dest)
            if overlap and (_flags(item) != _flags(other) or not theirs or not theirs.from_context):
                return (
                    f"the COPY at line {item.first_line} would move above line "
                    f"{other.first_line}, which may write the same files differently"
                )
        elif item.keyword in ("COPY", "ADD") and other.keyword == "RUN":
            files = [posixpath.basename(w) for w in item.words()[:-1] if not w.startswith("-")]
            if any(re.search(rf"(?<![\w.-]){re.escape(n)}(?![\w.-])", text) for n in files):
                return (
                    f"the COPY at line {item.first_line} would move above the RUN at line "
                    f"{other.first_line}, which uses its file"
                )
    return None


def _copy_lines(workdir: str, copies: Mapping[str, tuple[str, str, Instruction]]) -> list[str]:
    grouped: dict[tuple[str, str], list[str]] = {}
    for context_path, (directory, flags, _copy) in copies.items():
        grouped.setdefault((flags, directory), []).append(context_path)
    lines = []
    for (flags, directory), sources in grouped.items():
        if directory == workdir and len(sources) == 1:
            dest = "."
        elif directory == workdir:
            dest = "./"
        else:
            dest = directory.rstrip("/") + "/"
        lines.append(f"COPY {flags + ' ' if flags else ''}{' '.join(sources)} {dest}")
    return lines


def hoist_edits(model: DockerfileModel, hoist: Hoist) -> tuple[Edit, ...]:
    assert hoist.anchor is not None
    pieces: list[edit.Piece] = [(i.lead_start, i.end) for i in hoist.carried]
    pieces += [line + "\n" for line in hoist.new_copies]
    pieces.append((hoist.layer.lead_start, hoist.layer.end))
    return edit.move_before(model, hoist.anchor, pieces)


def describe(instruction: Instruction, limit: int = 60) -> str:
    text = f"{instruction.keyword} {' '.join(instruction.value.split())}"
    return text if len(text) <= limit else text[: limit - 1] + "…"
