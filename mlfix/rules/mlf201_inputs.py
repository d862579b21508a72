"""What MLF201 must not take for the app's code: the COPYs that feed the build itself.

A COPY of an install's manifests, of a system layer's package list, of a build script a
RUN then runs, or of the package the install builds is an input of the build. Moving an
install above it gains nothing and may break it, so such a COPY is never the "code COPY".
"""

from __future__ import annotations

import posixpath

from mlfix.deps import system_hoist
from mlfix.dockerfile.model import Instruction, Stage
from mlfix.facts import Facts


def inputs_of_other_layers(facts: Facts, stage: Stage, run: Instruction) -> set[int]:
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
    return inputs | _scripts_run(facts, stage, run)


def _scripts_run(facts: Facts, stage: Stage, run: Instruction) -> set[int]:
    """COPYs of single files that a RUN above the install then names (`./install_py.sh`).

    A build script copied and run at once is an input of the build, not the app's code.
    """
    found = set()
    for instruction in stage.instructions:
        plan = facts.deps.copies.get(instruction.index)
        if instruction.index >= run.index or plan is None or not plan.from_context:
            continue
        later = [
            (i.value, i.index in facts.deps.runs)
            for i in stage.instructions
            if i.keyword == "RUN" and instruction.index < i.index < run.index
        ]
        if plan.sources and all(_named(s, facts.deps.files, later) for s in plan.sources):
            found.add(instruction.index)
    return found


def _named(source: str, files: frozenset[str], runs: list[tuple[str, bool]]) -> bool:
    """A file by its name, a folder by its path (`./scripts/pgsql/install.sh`); a top
    folder (`requirements/`) only when an install names a file in it."""
    if source in files:
        return any(posixpath.basename(source) in text for text, _ in runs)
    bare = source.strip("/").removeprefix("./")
    if bare.strip("./") == "" or any(c in bare for c in "*?["):
        return False  # `.` or a glob: the app's code
    if "/" not in bare:
        return any(f"{bare}/" in text for text, install in runs if install)
    return any(bare in text for text, _ in runs)


def builds_what_it_copies(facts: Facts, anchor: Instruction, run: Instruction) -> bool:
    """`COPY vendor/sam3 /opt/sam3` then `cd /opt/sam3 && pip install -e .`: the COPY is
    the package the install builds, not code that happens to sit above it."""
    plan = facts.deps.copies.get(anchor.index)
    if plan is None or not plan.sources:
        return False
    if any(s.strip("./") == "" or any(c in s for c in "*?[") for s in plan.sources):
        return False
    text = run.value
    dest = plan.dest.rstrip("/")
    return (dest not in ("", ".") and dest in text) or all(
        s.strip("/").removeprefix("./") in text for s in plan.sources
    )


def copies_named_files(facts: Facts, stage: Stage, anchor: Instruction, run: Instruction) -> bool:
    """Every context COPY from the code COPY down to the install names single files."""
    for instruction in stage.instructions:
        if not anchor.index <= instruction.index < run.index:
            continue
        plan = facts.deps.copies.get(instruction.index)
        if (
            plan is not None
            and plan.from_context
            and not all(source in facts.deps.files for source in plan.sources)
        ):
            return False
    return True
