"""MLF201's plan: which install moves, above which COPY, and what it becomes.

An install that needs only manifests moves above the first COPY that brings more than
its inputs (the code COPY); a chained RUN is split where the part that needs the code
starts; `poetry install`/`uv sync` are split into a `--no-root`/`--no-install-project`
part above and the project install below; `pip install .` hoists pyproject.toml's
static dependencies.
"""

from __future__ import annotations

import re
import shlex

from mlfix.deps import system_hoist
from mlfix.deps.commands import InstallCommand
from mlfix.deps.facts import InstallPart, RunFacts, logical
from mlfix.deps.manifests import is_manifest
from mlfix.dockerfile.model import Instruction, Stage
from mlfix.facts import Facts
from mlfix.model import Applicability
from mlfix.rules import mlf201_inputs as feeds
from mlfix.rules.mlf201_moves import HARMLESS, Plan, between, new_copies

VERSIONED = re.compile(r"==|>=|<=|~=|!=|[<>@]")  # what hadolint's DL3013 takes for a pin
PIP_PROJECT = re.compile(
    r"(?:(?<=\s)|^)(?:-e\s+|--editable(?:\s+|=))?(?:\./?|\.\[[^\]]*\])(?=\s|$)"
)


def _code_copy(facts: Facts, stage: Stage, run: Instruction, needs: set[str]) -> Instruction | None:
    inputs = feeds.inputs_of_other_layers(facts, stage, run)
    for instruction in stage.instructions:
        if instruction.index >= run.index:
            return None
        plan = facts.deps.copies.get(instruction.index)
        if plan is None or not plan.from_context or instruction.index in inputs:
            continue
        if all(is_manifest(source) for source in plan.sources):
            continue  # a COPY of manifests only is never the code, needed or not
        if not all(source in needs for source in plan.sources):
            return instruction
    return None


def _segment_needs_code(run: RunFacts, position: int, escape: str) -> bool:
    part = next((p for p in run.parts if p.segment == position), None)
    if part is None:
        return HARMLESS.match(logical(run.segments[position].text, escape)) is None
    if part.blockers:
        return True
    # `cd /opt/vendor/x && pip wheel .` builds a folder of the image, not of the context.
    return (
        part.command.installs_project
        and part.command.tool in ("pip", "pipenv")
        and part.project_in_context
    )


def _removable(facts: Facts, parts: list[InstallPart]) -> set[str]:
    """Image paths the install reads that arrive by a COPY of nothing else.

    Removing one right after the install can go up with it: no COPY left below brings it
    back. What the code COPY brings (`COPY . .`) would be copied again: that `rm` stays.
    """
    needs = [n for p in parts for n in p.needs]
    read = {n.context_path for n in needs}
    paths = set()
    for need in needs:
        supplier = facts.deps.copies.get(need.supplier)
        if supplier is not None and set(supplier.sources) <= read:
            paths.add(need.image_path.rstrip("/"))
    return paths


def _removes_only(text: str, paths: set[str]) -> bool:
    """`rm -rf /src/pkg` of what the install just read: it stays in the install's layer."""
    words = text.split()
    if words[:1] != ["rm"] or len(words) < 2:
        return False
    targets = [w for w in words[1:] if not w.startswith("-")]
    return bool(targets) and all(t.rstrip("/") in paths for t in targets)


def plan_for(
    facts: Facts, stage: Stage, run: Instruction, runfacts: RunFacts, plans: dict[int, Plan]
) -> Plan | None:
    model = facts.dockerfile
    segments = runfacts.segments
    dep_parts = [p for p in runfacts.parts if p.command.tool != "system"]
    read = _removable(facts, dep_parts)
    first_code = next(
        (
            i
            for i in range(len(segments))
            if _segment_needs_code(runfacts, i, model.escape)
            and not _removes_only(logical(segments[i].text, model.escape), read)
        ),
        len(segments),
    )
    hoistable = [p for p in dep_parts if p.segment < first_code]
    reasons: list[str] = []
    applicability = Applicability.SAFE
    if hoistable:
        # Everything up to the first command that needs the code goes up with the install:
        # a cleanup chained after it (`&& conda clean --all`) must stay in its layer, or the
        # image keeps what it removes.
        last = first_code - 1
        split = first_code if first_code < len(segments) else None
    else:
        last, split = -1, None
    needs = {n.context_path: n for p in hoistable for n in p.needs}
    anchor = _code_copy(facts, stage, run, set(needs))
    if anchor is None:
        return None
    project_parts = [p for p in dep_parts if p.command.installs_project]
    if project_parts and _dependencies_installed_above(facts, stage, anchor, dep_parts, plans):
        return None  # already split: dependencies above, the project after the code
    plan = Plan(run, anchor, applicability, reasons, needs=tuple(needs.values()))
    if not hoistable:
        blocked = [b for p in dep_parts for b in p.blockers]
        pip_project = next((p for p in dep_parts if p.command.installs_project), None)
        if pip_project is not None and not blocked and pip_project.segment == 0:
            if not _dependencies_installed_above(facts, stage, anchor, [pip_project]):
                return _split_pip_project(facts, plan, runfacts, pip_project.segment)
            # Its dependencies are above already (this fix ran); what is chained after the
            # project install can only move once the RUN is split.
            plan.applicability = Applicability.DISPLAY_ONLY
            plan.reasons.append(
                "the project's dependencies are installed above the code already; the "
                "installs chained after `pip install .` need it split into its own RUN"
            )
            return plan
        if feeds.builds_what_it_copies(facts, anchor, run) or (
            not blocked and feeds.copies_named_files(facts, stage, anchor, run)
        ):
            # `COPY setup.py pkg/version.py ./` then an install that runs them: those files
            # are copied for the install, on purpose. Nothing a move would win.
            return None
        plan.applicability = Applicability.DISPLAY_ONLY
        plan.reasons.append(
            blocked[0]
            if blocked
            else "it runs with a command mlfix cannot tell needs no code; if none does, "
            "move the RUN above the code COPY by hand"
        )
        return plan
    if split is not None and (segments[split].operator_before != "&&" or not runfacts.splittable):
        plan.applicability = Applicability.DISPLAY_ONLY
        plan.reasons.append(
            "the install is chained to a command that needs the code with "
            f"`{segments[split].operator_before}` or across comment lines; split the RUN by hand"
        )
        return plan
    between(facts, stage, plan, plans)
    if plan.applicability is Applicability.DISPLAY_ONLY:
        return plan
    raw = model.text[run.start : run.end]
    head = raw[: runfacts.command_offset]
    # Poetry and uv split into a dependencies-only install above and the project below;
    # a pip project that reached here builds a folder of the image and moves whole.
    project_installs = [
        p for p in hoistable if p.command.installs_project and p.command.tool in ("poetry", "uv")
    ]
    if split is not None or project_installs:
        projects = {part.segment: part.command.tool for part in project_installs}
        prefix = "".join(
            (s.operator_before or "") + _without_project(s.text, projects.get(position))
            for position, s in enumerate(segments[: last + 1])
        )
        plan.hoisted_text = head + _trim_tail(prefix, model.escape)
        if split is not None and not project_installs:
            installs_left = any(p.segment >= split for p in runfacts.parts)
            plan.remainder_text = (head if installs_left else _without_cache_mounts(head)) + (
                _trim_head(raw[runfacts.command_offset + segments[split].start :], model.escape)
            )
    new_copies(facts, plan)
    if plan.remainder_text is not None and plan.prelude is None:
        plan.prelude = _system_layer_passing(facts, stage, plan)
    return plan


def _without_project(segment: str, tool: str | None) -> str:
    """A `poetry install`/`uv sync` segment with its project left out (`--no-root`,
    `--no-install-project`); any other segment as it is. Per segment: in
    `pip install -r r.txt && poetry install` the flag belongs to poetry's `install`."""
    if tool is None:
        return segment
    flag = "--no-root" if tool == "poetry" else "--no-install-project"
    word = "install" if tool == "poetry" else "sync"
    return re.sub(rf"\b({word})\b", rf"\1 {flag}", segment, count=1)


def _system_layer_passing(facts: Facts, stage: Stage, plan: Plan) -> system_hoist.Hoist | None:
    """A system layer below the install that MLF203 would move above the code COPY.

    Once the RUN is split, the part that stays would keep that layer below it; so this
    pass moves only the layer, exactly as MLF203 would, and both rules reach the same
    file in any order.
    """
    for index, hoist in sorted(system_hoist.plans(facts).items()):
        layer = facts.dockerfile.instructions[index]
        if index <= plan.run.index or layer.stage != stage.index or not hoist.movable:
            continue
        if hoist.anchor is None or hoist.anchor.index > plan.anchor.index:
            continue
        if hoist.applicability is Applicability.SAFE or plan.applicability.rank < 2:
            return hoist
    return None


def _split_pip_project(facts: Facts, plan: Plan, runfacts: RunFacts, position: int) -> Plan | None:
    """`pip install .`: hoist the static dependencies of pyproject.toml, keep the install."""
    part = runfacts.parts[0]
    pyproject = part.pyproject
    if pyproject is None or pyproject.dependencies is None:
        plan.applicability = Applicability.DISPLAY_ONLY
        where = (
            "pyproject.toml declares"
            if pyproject is not None
            else "the project (no pyproject.toml) has"
        )
        plan.reasons.append(
            f"`pip install .` needs the source, and {where} no static "
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
    if any(not VERSIONED.search(d) for d in pyproject.dependencies):
        # `pip install .` named them only through pyproject.toml, which hadolint does not
        # read; spelled out, an unpinned one is DL3013. They are the project's own choice.
        plan.hoisted_text = "# hadolint ignore=DL3013\n" + plan.hoisted_text
    plan.applicability = Applicability.UNSAFE
    plan.reasons.append(
        "`pip install .` needs the source; the fix installs the [project] dependencies "
        "listed in pyproject.toml today above the code, and keeps `pip install .` below "
        "(edit both if the list changes); pip then records them as directly requested"
    )
    between(facts, facts_stage(facts, plan.run), plan, {})
    return plan


def _dependencies_installed_above(
    facts: Facts,
    stage: Stage,
    anchor: Instruction,
    parts: list[InstallPart],
    plans: dict[int, Plan] | None = None,
) -> bool:
    """True when RUNs above the code COPY already install what these need but the project.

    An install that MLF201 moves above the code COPY itself (in `plans`) counts: once it
    has moved, the project install below the code is the pattern, not a finding.

    A part that installs no project (`poetry install --no-root`, `pip install -r r.txt`)
    chained with one that does is hoisted as it is, and stays in the RUN below the code
    too (a no-op there, as `poetry install` is after `poetry install --no-root`): the same
    command above is what this fix left. Without that the fix would hoist it again on
    every pass (`poetry install --no-root && uv sync`: "fixes did not settle").
    """
    moving = {
        index
        for index, plan in (plans or {}).items()
        if plan.applicability is not Applicability.DISPLAY_ONLY and plan.hoisted_text is None
    }
    above = [
        part
        for instruction in stage.instructions
        if (instruction.index < anchor.index or instruction.index in moving)
        and instruction.index in facts.deps.runs
        for part in facts.deps.runs[instruction.index].parts
    ]
    for part in parts:
        tool = part.command.tool
        if not part.command.installs_project:
            found = any(_same_install(p.command, part.command) for p in above)
        elif tool == "poetry":
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


# What MLF202 adds to one copy of a command and maybe not to the other.
_CACHE_FLAGS = frozenset({"--no-cache-dir", "--no-cache"})


def _same_install(a: InstallCommand, b: InstallCommand) -> bool:
    def words(command: InstallCommand) -> list[str]:
        return [word for word in command.argv if word not in _CACHE_FLAGS]

    return a.tool == b.tool and words(a) == words(b)


def facts_stage(facts: Facts, instruction: Instruction) -> Stage:
    stage = facts.dockerfile.stage_of(instruction)
    assert stage is not None
    return stage


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
    return re.sub(
        r"--mount=(?=\S*\btype=cache\b)\S+(?:[ \t]*[\\`][ \t]*\r?\n[ \t]*|[ \t]+)", "", head
    )


def _trim_head(text: str, escape: str) -> str:
    return re.sub(rf"^(?:[ \t]|{re.escape(escape)}[ \t]*\r?\n)*", "", text)
