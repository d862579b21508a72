"""MLF201's moves: what a hoisted install passes over, and the COPY lines it needs.

Moving an install above the code COPY is right only while everything it passes keeps
its meaning: an ENV a staying RUN reads, a WORKDIR a relative COPY depends on, or a COPY
into a directory the code COPY creates would change. This module walks the instructions
between the code COPY and the install and decides, for each, whether it moves along,
stays (and weakens the fix), or makes the fix display-only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mlfix.deps import system_hoist
from mlfix.deps.facts import Need, logical
from mlfix.dockerfile.model import Instruction, Stage
from mlfix.dockerfile.state import CopyPlan, references
from mlfix.facts import Facts
from mlfix.model import Applicability

ENVIRONMENT = frozenset({"ENV", "ARG", "WORKDIR", "USER", "SHELL"})
INERT = frozenset(
    {"LABEL", "EXPOSE", "CMD", "ENTRYPOINT", "HEALTHCHECK", "STOPSIGNAL", "MAINTAINER", "VOLUME"}
)
HARMLESS = re.compile(
    r"^\s*(?:(?:cd|mkdir|echo|true|export|set|\.|source|pip\d?[.\d]* config|poetry config"
    r"|python\d?[.\d]* -m venv|uv venv|(?:conda|mamba|micromamba) clean|pip\d?[.\d]* cache"
    r"|poetry cache|uv cache"
    r"|apt-get clean|apt-get autoremove)\b"
    r"|rm\s+-\w+(?:\s+(?:/var/lib/apt|/var/cache|/root/\.cache|/tmp)\S*)+\s*$)"
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


def between(facts: Facts, stage: Stage, plan: Plan, plans: dict[int, Plan]) -> None:
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
        elif (
            copy is not None
            and copy.from_context
            and all(s in needed for s in copy.sources)
            and not _into_existing_directory(plan, copy)
            and not _separates_runs(facts, plan, instruction)
        ):
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
                why = f"it moves with line {instruction.first_line}"
                if earlier.applicability is Applicability.DISPLAY_ONLY and earlier.reasons:
                    why += f", which mlfix does not move ({earlier.reasons[0]})"
                _weaken(plan, earlier.applicability, why)
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
        elif keyword == "RUN" and _changes_packages(facts, instruction):
            plan.applicability = Applicability.DISPLAY_ONLY
            plan.reasons.append(
                f"it would move above `RUN` at line {instruction.first_line}, which also "
                "installs or removes Python packages: in the other order they install "
                "something else"
            )
            return
        elif keyword == "RUN" and _configures_installer(facts, instruction):
            # `poetry config ...` decides where the install goes: it moves along, as an ENV.
            other = next((o for o in staying if o.keyword == "RUN"), None)
            if other is not None:
                plan.applicability = Applicability.DISPLAY_ONLY
                plan.reasons.append(
                    f"the installer configuration at line {instruction.first_line} would move "
                    f"above the RUN at line {other.first_line} and change how it runs"
                )
                return
            plan.moved.append(instruction)
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


def _separates_runs(facts: Facts, plan: Plan, instruction: Instruction) -> bool:
    """Moved away, this COPY would leave two RUNs with the same flags next to each other
    (a new hadolint DL3059): it stays, and a COPY of the same files goes above instead."""
    instructions = facts.dockerfile.instructions
    index = instruction.index
    if index == 0 or index + 1 >= len(instructions):
        return False
    before, after = instructions[index - 1], instructions[index + 1]
    return (
        before.keyword == after.keyword == "RUN"
        and plan.run.index not in (before.index, after.index)
        and before.stage == after.stage == instruction.stage
        and set(before.flags) == set(after.flags)
    )


def _into_existing_directory(plan: Plan, copy: CopyPlan) -> bool:
    """True when a need arrives through `COPY file /dir` landing inside an existing `/dir`.

    Above the code COPY that directory may not exist yet, and the same line would then
    write a file named `/dir`: such a COPY stays, and a new one with an explicit
    directory destination (`/dir/`) goes above instead.
    """
    return not copy.dest_is_dir and any(
        n.supplier == copy.instruction and n.image_path != copy.dest for n in plan.needs
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


PACKAGE_CHANGE = re.compile(
    r"\b(?:pip\d?(?:\.\d+)?|-m\s+pip|uv\s+pip|poetry|pipenv|pdm|conda|mamba|micromamba)"
    r"\s+(?:\S+\s+)*?(?:install|uninstall|remove|add|sync|update|upgrade)\b"
    # A script named for installing (`./requirements_install.sh`), `setup.py install`.
    r"|[\w./-]*install[\w.-]*\.(?:sh|py)\b|\bsetup\.py\s+(?:install|develop)\b"
)
INSTALLER_CONFIG = re.compile(
    r"^\s*(?:pip\d?(?:\.\d+)?|python\d?(?:\.\d+)?\s+-m\s+pip|poetry|conda|mamba"
    r"|micromamba)\s+config\b"
)


def _changes_packages(facts: Facts, instruction: Instruction) -> bool:
    """A RUN that installs or removes Python packages (one MLF201 does not move itself)."""
    run = facts.deps.runs.get(instruction.index)
    if run is not None and any(p.command.tool != "system" for p in run.parts):
        return True
    text = logical(instruction.value, facts.dockerfile.escape)
    return any(
        PACKAGE_CHANGE.search(segment) and not INSTALLER_CONFIG.match(segment)
        for segment in re.split(r"&&|\|\||;|\bthen\b|\belse\b", text)
    )


def _configures_installer(facts: Facts, instruction: Instruction) -> bool:
    """Every command of the RUN is `poetry config`, `pip config` or the like (no files)."""
    text = logical(instruction.value, facts.dockerfile.escape)
    segments = [s for s in re.split(r"&&|;", text) if s.strip()]
    return bool(segments) and all(INSTALLER_CONFIG.match(s) for s in segments)


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


def new_copies(facts: Facts, plan: Plan) -> None:
    """COPY lines for needs that today arrive only with the code.

    When every need is already in the image above the code COPY and the install would
    land right below another RUN, its manifests are copied again right above it: the
    same files to the same place, so the image does not change, and hadolint gets no
    new DL3059 (consecutive RUNs) from the fix.
    """
    moved = {i.index for i in plan.moved}
    missing = [
        need
        for need in plan.needs
        if not (need.supplier < plan.anchor.index or need.supplier in moved)
        and not any(index < plan.anchor.index or index in moved for index in need.earlier)
    ]
    plan.new_copies.extend(_copy_lines(facts, plan, missing))
    above = _above_install(facts, plan)
    if not plan.new_copies and plan.needs and above is not None:
        plan.new_copies.extend(_copy_lines(facts, plan, list(plan.needs)))
        plan.reasons.append(
            f"its manifests are copied again right above it, so it does not follow the RUN "
            f"at line {above.first_line} directly (hadolint DL3059)"
        )
    elif (
        not plan.new_copies
        and above is not None
        and plan.hoisted_text is None
        and _kept_apart(facts, plan, above)
    ):
        # Nothing to copy between them: moved, it would follow that RUN directly, with the
        # same flags, which hadolint reports (DL3059). Joining two RUNs is the user's call.
        plan.applicability = Applicability.DISPLAY_ONLY
        plan.reasons.append(
            f"moved, it would follow the RUN at line {above.first_line} directly (hadolint "
            "DL3059); join the two and move them by hand"
        )


def _kept_apart(facts: Facts, plan: Plan, above: Instruction) -> bool:
    """Something other than the code COPY stays between `above` and the install: moved
    next to each other they would be a new DL3059. Only the code COPY between them means
    they were neighbours before the first of them moved (no new finding)."""
    moved = {i.index for i in plan.moved}
    return any(
        i.index not in moved and i.index != plan.anchor.index
        for i in facts.dockerfile.instructions[above.index + 1 : plan.run.index]
    )


def _above_install(facts: Facts, plan: Plan) -> Instruction | None:
    """The RUN the moved install would directly follow, with the same flags, if any."""
    if plan.moved:
        before = plan.moved[-1]
    else:
        index = plan.anchor.index - 1
        if index < 0 or facts.dockerfile.instructions[index].stage != plan.anchor.stage:
            return None
        before = facts.dockerfile.instructions[index]
    if before.keyword != "RUN" or set(before.flags) != set(plan.run.flags):
        return None
    return before


def _copy_lines(facts: Facts, plan: Plan, needs: list[Need]) -> list[str]:
    workdir = facts.deps.effective[plan.run.index].workdir
    lines: list[str] = []
    by_dest: dict[str, list[str]] = {}
    supplier_flags: dict[str, str] = {}
    for need in needs:
        supplier = facts.dockerfile.instructions[need.supplier]
        flags = " ".join(
            f"--{f.name}={f.value}" if f.value is not None else f"--{f.name}"
            for f in supplier.flags
            if f.name in ("chown", "chmod", "link")
        )
        if need.is_dir:
            dest = _relative(need.image_path, workdir) + "/"
            source = need.context_path.rstrip("/") + "/"
            lines.append(f"COPY {flags + ' ' if flags else ''}{source} {dest}")
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
        lines.append(f"COPY {flags + ' ' if flags else ''}{' '.join(sources)} {dest}")
    return lines


def _relative(path: str, workdir: str) -> str:
    """`.` for the WORKDIR itself; any other directory is written absolute, to be plain.

    With no WORKDIR (`/`) the destination is written absolute too: a relative one is what
    hadolint's DL3045 reports, and the fix must add no finding.
    """
    return "." if path == workdir and workdir != "/" else path
