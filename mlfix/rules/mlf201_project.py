"""MLF201's other case: a poetry/uv install that also installs a project whose code is absent.

`COPY pyproject.toml poetry.lock ./` then `RUN poetry install` is the right layer order,
but without `--no-root` (uv: `--no-install-project`) the install also builds the project
itself, whose source is not in the image yet: Poetry 1.x warns and skips it, Poetry 2 and
uv fail. What the finding says is exactly that, and the fix adds the flag.
"""

from __future__ import annotations

from mlfix.deps.facts import InstallPart, RunFacts
from mlfix.deps.manifests import is_manifest
from mlfix.dockerfile import shell
from mlfix.dockerfile.model import Instruction, Stage
from mlfix.facts import Facts
from mlfix.model import Applicability, Edit, Finding, Fix, Location

FLAGS = {"poetry": ("install", "--no-root"), "uv": ("sync", "--no-install-project")}


def finding(
    facts: Facts, code: str, stage: Stage, run: Instruction, runfacts: RunFacts
) -> Finding | None:
    """The finding for the first project install below manifests-only COPYs, if any."""
    if not _only_manifests_above(facts, stage, run):
        return None
    part = next((p for p in runfacts.parts if _installs_absent_project(p)), None)
    if part is None:
        return None
    tool = part.command.tool
    verb, flag = FLAGS[tool]
    model = facts.dockerfile
    segment = runfacts.segments[part.segment]
    words = shell.words(segment.text, model.escape)
    word = next((w for w in words if w.value == verb), None)
    if word is None:
        return None
    at = run.start + runfacts.command_offset + segment.start + word.end
    message = (
        f"`{tool} {verb}` also installs the project itself, but only its manifests are "
        f"copied above it: add `{flag}` to install the dependencies alone"
    )
    notes = (
        f"the code is not in the image when line {run.first_line} runs, so installing the "
        f"project fails ({'Poetry 1.x only warns' if tool == 'poetry' else 'uv stops'}); "
        f"if the image needs the project installed (its entry points), run `{tool} "
        f"{'install --only-root' if tool == 'poetry' else 'sync'}` after the code COPY",
    )
    fix = Fix(f"Add `{flag}`", (Edit.insert(model.path, at, f" {flag}"),), Applicability.UNSAFE)
    location = Location(model.path, run.first_line, 1, run.last_line)
    return Finding(code, message, location, fix, notes)


def _installs_absent_project(part: InstallPart) -> bool:
    command, pyproject = part.command, part.pyproject
    if command.tool not in FLAGS or not command.installs_project or pyproject is None:
        return False
    if command.tool == "poetry":
        return pyproject.poetry_package_mode
    return pyproject.uv_package is True or (
        pyproject.uv_package is None and pyproject.has_build_system
    )


def _only_manifests_above(facts: Facts, stage: Stage, run: Instruction) -> bool:
    """True when every COPY/ADD above the install in its stage brings manifests only."""
    names = {s.name.lower() for s in facts.dockerfile.stages if s.name and s.index < stage.index}
    if stage.base.lower() in names or stage.base.isdigit():
        return False  # built on an earlier stage, which may hold the code
    for instruction in stage.instructions:
        if instruction.index >= run.index:
            return True
        if instruction.keyword not in ("COPY", "ADD"):
            continue
        plan = facts.deps.copies.get(instruction.index)
        if plan is None or not plan.from_context:
            return False  # a heredoc, another stage or a URL may bring the source
        if not all(is_manifest(source) for source in plan.sources):
            return False
    return True
