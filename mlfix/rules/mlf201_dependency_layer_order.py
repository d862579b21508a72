"""## What it does
Finds a dependency install (pip, poetry, uv, pipenv, conda) that runs below a
`COPY`/`ADD` bringing in more than the install needs, such as `COPY . .`.

## Why is this bad?
Docker reuses a layer only while every layer above it is unchanged. With the code
copied first, editing one line of Python invalidates the install layer, and every
build reinstalls every dependency: minutes for an ML stack, instead of seconds.

## Example
```dockerfile
FROM python:3.11-slim
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir -r requirements.txt
```

## Use instead
```dockerfile
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
```

## Fix safety
Safe when the install needs only manifests (requirements files with their `-r`/`-c`
includes, `pyproject.toml` with `poetry.lock` or `uv.lock`, `Pipfile.lock`,
`environment.yml`) and small self-contained local packages: they are copied above
the code `COPY`, the install moves with them, and the code `COPY` copies the same
files again, so the image holds the same files. Poetry and uv installs are split:
`--no-root`/`--no-install-project` above, the original install (now only the
project) stays below. Unsafe when the move passes a `RUN` that stays in place (it
may prepare something the install needs) or when `pip install .` is split using the
static dependencies of `pyproject.toml`. Display-only when the install needs the
whole source (`-e .` in a requirements file, dynamic dependencies), when a `WORKDIR`
between them changes where a relative `COPY` lands, or when the code `COPY` uses a
variable defined between them.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field

from mlfix.deps import system_hoist
from mlfix.deps.commands import classify
from mlfix.deps.facts import InstallPart, Need, RunFacts, logical
from mlfix.dockerfile import edit
from mlfix.dockerfile.model import DockerfileModel, Instruction, Stage
from mlfix.dockerfile.state import CopyPlan, references
from mlfix.facts import Facts
from mlfix.model import Applicability, Edit, Finding, Fix, Location, Savings

CODE = "MLF201"
NAME = "dependency-install-below-code-copy"
SUMMARY = "Dependency install runs below a COPY of the code"

ENVIRONMENT = frozenset({"ENV", "ARG", "WORKDIR", "USER", "SHELL"})
INERT = frozenset(
    {"LABEL", "EXPOSE", "CMD", "ENTRYPOINT", "HEALTHCHECK", "STOPSIGNAL", "MAINTAINER", "VOLUME"}
)
HARMLESS = re.compile(
    r"^\s*(?:(?:cd|mkdir|echo|true|export|set|\.|source|pip\d?[.\d]* config"
    r"|python\d?[.\d]* -m venv|uv venv|(?:conda|mamba|micromamba) clean|pip\d?[.\d]* cache"
    r"|apt-get clean|apt-get autoremove)\b"
    r"|rm\s+-\w+(?:\s+(?:/var/lib/apt|/var/cache|/root/\.cache|/tmp)\S*)+\s*$)"
)
PIP_PROJECT = re.compile(
    r"(?:(?<=\s)|^)(?:-e\s+|--editable(?:\s+|=))?(?:\./?|\.\[[^\]]*\])(?=\s|$)"
)


@dataclass
class Plan:
    """How one install RUN would move above the code COPY."""

    run: Instruction
    anchor: Instruction
    applicability: Applicability
    reasons: list[str] = field(default_factory=list)
    moved: list[Instruction] = field(default_factory=list)
    new_copies: list[str] = field(default_factory=list)
    hoisted_text: str | None = None  # a new RUN above; None: the RUN itself moves
    remainder_text: str | None = None  # what the RUN becomes when split
    needs: tuple[Need, ...] = ()
    # A system package layer on the way that MLF203 would move first: this pass moves
    # only it (exactly as MLF203 would), so both rules reach the same file in any order.
    prelude: system_hoist.Hoist | None = None


def check(facts: Facts) -> Iterator[Finding]:
    model = facts.dockerfile
    for stage in model.stages:
        plans: dict[int, Plan] = {}
        for instruction in stage.instructions:
            run = facts.deps.runs.get(instruction.index)
            if run is None or not run.is_dependency_install:
                continue
            plan = _plan(facts, stage, instruction, run, plans)
            if plan is None:
                continue
            plans[instruction.index] = plan
            yield _finding(model, plan)


def _code_copy(facts: Facts, stage: Stage, run: Instruction, needs: set[str]) -> Instruction | None:
    inputs = _inputs_of_other_layers(facts, stage, run)
    for instruction in stage.instructions:
        if instruction.index >= run.index:
            return None
        plan = facts.deps.copies.get(instruction.index)
        if plan is None or not plan.from_context or instruction.index in inputs:
            continue
        if not all(source in needs for source in plan.sources):
            return instruction
    return None


def _inputs_of_other_layers(facts: Facts, stage: Stage, run: Instruction) -> set[int]:
    """COPYs that only feed another install (its manifests, a system layer's package list).

    They are not code: treating them as such would make two installs, or an install and
    a system layer, each want to move above the other's input, and never settle.
    """
    feeds: dict[int, set[str]] = {}
    for instruction in stage.instructions:
        other = facts.deps.runs.get(instruction.index)
        if instruction.index == run.index or other is None:
            continue
        for part in other.parts:
            for need in part.needs:
                for index in (need.supplier, *need.earlier):
                    feeds.setdefault(index, set()).add(need.context_path)
    for layer_index in system_hoist.system_layers_of(facts):
        if facts.dockerfile.instructions[layer_index].stage != stage.index:
            continue
        for sups in system_hoist.system_layers_of(facts)[layer_index].suppliers.values():
            for supplier in sups:
                if supplier.context_path is not None and not supplier.is_dir:
                    feeds.setdefault(supplier.instruction, set()).add(supplier.context_path)
    inputs = set()
    for index, paths in feeds.items():
        plan = facts.deps.copies.get(index)
        if plan is not None and plan.from_context and set(plan.sources) <= paths:
            inputs.add(index)
    return inputs


def _segment_needs_code(run: RunFacts, position: int, escape: str) -> bool:
    part = next((p for p in run.parts if p.segment == position), None)
    if part is None:
        return HARMLESS.match(logical(run.segments[position].text, escape)) is None
    if part.blockers:
        return True
    return part.command.installs_project and part.command.tool in ("pip", "pipenv")


def _plan(
    facts: Facts, stage: Stage, run: Instruction, runfacts: RunFacts, plans: dict[int, Plan]
) -> Plan | None:
    model = facts.dockerfile
    segments = runfacts.segments
    dep_parts = [p for p in runfacts.parts if p.command.tool != "system"]
    first_code = next(
        (i for i in range(len(segments)) if _segment_needs_code(runfacts, i, model.escape)),
        len(segments),
    )
    hoistable = [p for p in dep_parts if p.segment < first_code]
    reasons: list[str] = []
    applicability = Applicability.SAFE
    if hoistable:
        last = max(p.segment for p in runfacts.parts if p.segment < first_code)
        split = last + 1 if last + 1 < len(segments) else None
    else:
        last, split = -1, None
    needs = {n.context_path: n for p in hoistable for n in p.needs}
    anchor = _code_copy(facts, stage, run, set(needs))
    if anchor is None:
        return None
    project_parts = [p for p in dep_parts if p.command.installs_project]
    only_project = bool(project_parts) and len(project_parts) == len(dep_parts)
    if only_project and _dependencies_installed_above(facts, stage, anchor, project_parts):
        return None  # already split: dependencies above, the project after the code
    plan = Plan(run, anchor, applicability, reasons, needs=tuple(needs.values()))
    if not hoistable:
        blocked = [b for p in dep_parts for b in p.blockers]
        pip_project = next((p for p in dep_parts if p.command.installs_project), None)
        if pip_project is not None and not blocked and pip_project.segment == 0:
            return _split_pip_project(facts, plan, runfacts, pip_project.segment)
        plan.applicability = Applicability.DISPLAY_ONLY
        plan.reasons.append(blocked[0] if blocked else "the install needs the code copied above it")
        return plan
    if split is not None and (segments[split].operator_before != "&&" or not runfacts.splittable):
        plan.applicability = Applicability.DISPLAY_ONLY
        plan.reasons.append(
            "the install is chained to a command that needs the code with "
            f"`{segments[split].operator_before}` or across comment lines; split the RUN by hand"
        )
        return plan
    _between(facts, stage, plan, plans)
    if plan.applicability is Applicability.DISPLAY_ONLY:
        return plan
    raw = model.text[run.start : run.end]
    head = raw[: runfacts.command_offset]
    project_installs = [p for p in hoistable if p.command.installs_project]
    if split is not None or project_installs:
        prefix = "".join(
            s.text if s.operator_before is None else f"{s.operator_before}{s.text}"
            for s in segments[: last + 1]
        )
        for part in project_installs:
            flag = "--no-root" if part.command.tool == "poetry" else "--no-install-project"
            word = "install" if part.command.tool == "poetry" else "sync"
            prefix = re.sub(rf"\b({word})\b", rf"\1 {flag}", prefix, count=1)
        plan.hoisted_text = head + _trim_tail(prefix, model.escape)
        if split is not None and not project_installs:
            installs_left = any(p.segment >= split for p in runfacts.parts)
            plan.remainder_text = (head if installs_left else _without_cache_mounts(head)) + (
                _trim_head(raw[runfacts.command_offset + segments[split].start :], model.escape)
            )
    _new_copies(facts, plan)
    return plan


def _split_pip_project(facts: Facts, plan: Plan, runfacts: RunFacts, position: int) -> Plan | None:
    """`pip install .`: hoist the static dependencies of pyproject.toml, keep the install."""
    part = runfacts.parts[0]
    pyproject = part.pyproject
    if pyproject is None or pyproject.dependencies is None:
        plan.applicability = Applicability.DISPLAY_ONLY
        plan.reasons.append(
            "`pip install .` needs the source, and pyproject.toml declares no static "
            "[project] dependencies that could be installed without it"
        )
        return plan
    if not pyproject.dependencies:
        return None  # no dependencies: nothing to hoist
    raw = facts.dockerfile.text[plan.run.start : plan.run.end]
    head = raw[: runfacts.command_offset]
    segment = runfacts.segments[position].text
    deps = " ".join(shlex.quote(d) for d in pyproject.dependencies)
    hoisted = PIP_PROJECT.sub(deps, _trim_tail(segment, facts.dockerfile.escape), count=1)
    plan.hoisted_text = head + hoisted
    plan.applicability = Applicability.UNSAFE
    plan.reasons.append(
        "`pip install .` needs the source; the fix installs the [project] dependencies "
        "listed in pyproject.toml today above the code, and keeps `pip install .` below "
        "(edit both if the list changes); pip then records them as directly requested"
    )
    _between(facts, facts_stage(facts, plan.run), plan, {})
    return plan


def _dependencies_installed_above(
    facts: Facts, stage: Stage, anchor: Instruction, parts: list[InstallPart]
) -> bool:
    """True when a RUN above the code COPY already installs what these need but the project."""
    above = [
        part
        for instruction in stage.instructions
        if instruction.index < anchor.index and instruction.index in facts.deps.runs
        for part in facts.deps.runs[instruction.index].parts
    ]
    for part in parts:
        tool = part.command.tool
        if tool == "poetry":
            found = any(p.command.tool == "poetry" and "--no-root" in p.command.argv for p in above)
        elif tool == "uv":
            found = any(
                p.command.tool == "uv" and "--no-install-project" in p.command.argv for p in above
            )
        else:
            wanted = set(part.pyproject.dependencies or ()) if part.pyproject else set()
            found = bool(wanted) and any(
                p.command.tool == "pip" and wanted <= set(p.command.argv) for p in above
            )
        if not found:
            return False
    return True


def facts_stage(facts: Facts, instruction: Instruction) -> Stage:
    stage = facts.dockerfile.stage_of(instruction)
    assert stage is not None
    return stage


def _between(facts: Facts, stage: Stage, plan: Plan, plans: dict[int, Plan]) -> None:
    """Decide what moves with the install and what the move passes over."""
    needed = {n.context_path for n in plan.needs}
    anchor_plan = facts.deps.copies[plan.anchor.index]
    anchor_refs = references(plan.anchor.value)
    staying: list[Instruction] = [plan.anchor]
    for instruction in stage.instructions:
        if not plan.anchor.index < instruction.index < plan.run.index:
            continue
        keyword = instruction.keyword
        copy = facts.deps.copies.get(instruction.index)
        if keyword in ENVIRONMENT:
            problem = _environment_conflict(instruction, staying, anchor_plan, anchor_refs)
            if problem:
                plan.applicability = Applicability.DISPLAY_ONLY
                plan.reasons.append(problem)
                return
            plan.moved.append(instruction)
        elif copy is not None and copy.from_context and all(s in needed for s in copy.sources):
            plan.moved.append(instruction)
        elif copy is not None and not copy.from_context:
            plan.moved.append(instruction)
            if _overlaps(copy.dest, anchor_plan.dest):
                _weaken(
                    plan,
                    Applicability.UNSAFE,
                    f"line {instruction.first_line} copies into "
                    f"{copy.dest}, where the code COPY also writes; their order changes",
                )
        elif keyword == "RUN" and instruction.index in plans:
            earlier = plans[instruction.index]
            if earlier.hoisted_text is None and earlier.remainder_text is None:
                # Moving an earlier install along means bringing its manifests along too:
                # the engine may apply this fix without the earlier one (a suppression).
                plan.moved.append(instruction)
                plan.needs = _union(plan.needs, earlier.needs)
                _weaken(plan, earlier.applicability, f"it moves with line {instruction.first_line}")
            else:
                staying.append(instruction)
                _weaken(
                    plan,
                    Applicability.UNSAFE,
                    f"it moves above line {instruction.first_line} "
                    "(part of that RUN stays), which it may depend on",
                )
        elif keyword == "RUN" and _is_system_install(facts, instruction):
            hoist = system_hoist.plans(facts).get(instruction.index)
            if hoist is not None and hoist.anchor is None and hoist.needs_code:
                staying.append(instruction)
                _weaken(
                    plan,
                    Applicability.UNSAFE,
                    f"it moves above `RUN` at line {instruction.first_line}, which installs "
                    "system packages from files the code COPY brings",
                )
                continue
            plan.moved.append(instruction)
            if (
                hoist is not None
                and hoist.movable
                and plan.prelude is None
                and (hoist.applicability is Applicability.SAFE or plan.applicability.rank < 2)
            ):
                plan.prelude = hoist
        elif keyword in INERT or keyword == "ONBUILD":
            continue
        else:
            staying.append(instruction)
            if keyword == "RUN":
                _weaken(
                    plan,
                    Applicability.UNSAFE,
                    f"it moves above `RUN` at line "
                    f"{instruction.first_line}, which may prepare something it needs",
                )


def _environment_conflict(
    instruction: Instruction, staying: list[Instruction], anchor: CopyPlan, anchor_refs: set[str]
) -> str | None:
    keyword = instruction.keyword
    for other in staying:
        if other.keyword == "RUN":
            return (
                f"{keyword} at line {instruction.first_line} would move above the RUN at "
                f"line {other.first_line} and change how it runs"
            )
        if keyword == "WORKDIR" and other.keyword in ("COPY", "ADD"):
            dest = other.words()[-1] if other.words() else ""
            if not dest.startswith("/") and not dest.startswith("$"):
                return (
                    f"WORKDIR at line {instruction.first_line} would change where the "
                    f"relative COPY at line {other.first_line} puts files"
                )
        if keyword in ("ENV", "ARG"):
            defined = set(instruction.env) - set(other.env)
            names = {w.split("=", 1)[0] for w in instruction.value.split()}
            if (names | defined) & references(other.value):
                return (
                    f"{keyword} at line {instruction.first_line} is used by line "
                    f"{other.first_line}, which stays in place"
                )
    del anchor, anchor_refs
    return None


def _is_system_install(facts: Facts, instruction: Instruction) -> bool:
    run = facts.deps.runs.get(instruction.index)
    if run is None:
        return False
    return all(
        (
            (part := next((p for p in run.parts if p.segment == i), None)) is not None
            and part.command.tool == "system"
        )
        or HARMLESS.match(logical(segment.text, facts.dockerfile.escape)) is not None
        for i, segment in enumerate(run.segments)
    )


def _union(first: tuple[Need, ...], second: tuple[Need, ...]) -> tuple[Need, ...]:
    merged = {n.context_path: n for n in (*second, *first)}
    return tuple(merged.values())


def _overlaps(a: str, b: str) -> bool:
    a, b = a.rstrip("/") + "/", b.rstrip("/") + "/"
    return a.startswith(b) or b.startswith(a)


def _weaken(plan: Plan, to: Applicability, reason: str) -> None:
    if to.rank < plan.applicability.rank:
        plan.applicability = to
    if to is not Applicability.SAFE:
        plan.reasons.append(reason)


def _new_copies(facts: Facts, plan: Plan) -> None:
    """COPY lines for needs that today arrive only with the code."""
    moved = {i.index for i in plan.moved}
    workdir = facts.deps.effective[plan.run.index].workdir
    by_dest: dict[str, list[str]] = {}
    supplier_flags: dict[str, str] = {}
    for need in plan.needs:
        if need.supplier < plan.anchor.index or need.supplier in moved:
            continue
        if any(index < plan.anchor.index or index in moved for index in need.earlier):
            continue  # the same file is already copied above the code COPY
        supplier = facts.dockerfile.instructions[need.supplier]
        flags = " ".join(
            f"--{f.name}={f.value}" if f.value is not None else f"--{f.name}"
            for f in supplier.flags
            if f.name in ("chown", "chmod", "link")
        )
        if need.is_dir:
            dest = _relative(need.image_path, workdir) + "/"
            source = need.context_path.rstrip("/") + "/"
            plan.new_copies.append(f"COPY {flags + ' ' if flags else ''}{source} {dest}")
            continue
        directory = need.image_path.rsplit("/", 1)[0] or "/"
        key = f"{flags}\0{directory}"
        by_dest.setdefault(key, []).append(need.context_path)
        supplier_flags[key] = flags
    for key, sources in by_dest.items():
        directory = key.split("\0", 1)[1]
        rel = _relative(directory, workdir)
        dest = "." if rel == "." and len(sources) == 1 else rel.rstrip("/") + "/"
        flags = supplier_flags[key]
        plan.new_copies.append(f"COPY {flags + ' ' if flags else ''}{' '.join(sources)} {dest}")


def _relative(path: str, workdir: str) -> str:
    """`.` for the WORKDIR itself; any other directory is written absolute, to be plain."""
    return "." if path == workdir else path


def _trim_tail(text: str, escape: str) -> str:
    previous = None
    while previous != text:
        previous = text
        text = text.rstrip(" \t\r\n")
        if text.endswith(escape):
            text = text[: -len(escape)]
    return text


def _without_cache_mounts(head: str) -> str:
    """`RUN` and its flags without cache mounts: the part that stays installs nothing."""
    return re.sub(r"--mount=(?=\S*\btype=cache\b)\S+(?:[ \t]+|[\\`][ \t]*\r?\n[ \t]*)", "", head)


def _trim_head(text: str, escape: str) -> str:
    return re.sub(rf"^(?:[ \t]|{re.escape(escape)}[ \t]*\r?\n)*", "", text)


def _describe(instruction: Instruction, limit: int = 60) -> str:
    text = f"{instruction.keyword} {' '.join(instruction.value.split())}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _finding(model: DockerfileModel, plan: Plan) -> Finding:
    run, anchor = plan.run, plan.anchor
    message = (
        f"`{_describe(run)}` reinstalls dependencies whenever anything copied by "
        f"`{_describe(anchor)}` (line {anchor.first_line}) changes"
    )
    notes = tuple(dict.fromkeys(plan.reasons))
    if plan.applicability is Applicability.DISPLAY_ONLY:
        fix = Fix(
            "Move the dependency install above the code COPY by hand",
            (),
            Applicability.DISPLAY_ONLY,
        )
    elif plan.prelude is not None:
        layer = plan.prelude.layer
        fix = Fix(
            f"Move the system packages at line {layer.first_line} up first; the install "
            "follows on the next pass",
            system_hoist.hoist_edits(model, plan.prelude),
            Applicability.weakest(plan.applicability, plan.prelude.applicability),
        )
    else:
        fix = Fix(_title(plan), _edits(model, plan), plan.applicability)
    location = Location(model.path, run.first_line, 1, run.last_line)
    return Finding(CODE, message, location, fix, notes, Savings(rebuild_steps=1))


def _title(plan: Plan) -> str:
    what = ", ".join(n.context_path for n in plan.needs) or "nothing from the context"
    return f"Copy {what} and install above `{_describe(plan.anchor, 30)}`"


def _edits(model: DockerfileModel, plan: Plan) -> tuple[Edit, ...]:
    pieces: list[edit.Piece] = [(i.lead_start, i.end) for i in plan.moved]
    pieces += [line + "\n" for line in plan.new_copies]
    if plan.hoisted_text is None:
        pieces.append((plan.run.lead_start, plan.run.end))
        return edit.move_before(model, plan.anchor, pieces)
    pieces.append(plan.hoisted_text.replace(model.newline, "\n") + "\n")
    edits = list(edit.move_before(model, plan.anchor, pieces))
    if plan.remainder_text is not None:
        edits.append(edit.replace_instruction(model, plan.run, plan.remainder_text))
    return tuple(edits)


__all__ = ["CODE", "NAME", "SUMMARY", "check", "classify"]
