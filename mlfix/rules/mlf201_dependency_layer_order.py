"""## What it does
Finds a dependency install (pip, poetry, uv, pipenv, conda) that runs below a
`COPY`/`ADD` bringing in more than the install needs, such as `COPY . .`. A COPY of
manifests only (`COPY pyproject.toml poetry.lock ./`) is never the code; below such
COPYs it finds a `poetry install` / `uv sync` that also installs the project itself,
whose code is not in the image yet.

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
static dependencies of `pyproject.toml` (spelled out, an unpinned one would be hadolint's
DL3013, so that RUN gets `# hadolint ignore=DL3013`: the project chose not to pin them).
Display-only when the install needs the
whole source (`-e .` in a requirements file, dynamic dependencies), when a `WORKDIR`
between them changes where a relative `COPY` lands, when the code `COPY` uses a
variable defined between them, or when the move would pass another step that installs
or removes packages (`pip uninstall`, a second install): in the other order they
install something else. A cleanup chained after the install (`&& conda clean --all`)
moves with it, so the layer stays as small. No finding for what belongs after the
code: `pip install --no-deps .`, `poetry install --only-root`, or an install below a
COPY of single files it runs (`setup.py`, a build script). Adding `--no-root`
(`--no-install-project`) to an install whose code is not copied yet is unsafe: the
project was not installed before either (Poetry 1.x skips it with a warning, Poetry 2
and uv fail), but an image that needs its entry points must install it after the code
COPY.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlfix.deps import system_hoist
from mlfix.dockerfile import edit
from mlfix.dockerfile.model import DockerfileModel, Instruction
from mlfix.facts import Facts
from mlfix.model import Applicability, Edit, Finding, Fix, Location, Savings
from mlfix.rules import mlf201_project as project
from mlfix.rules.mlf201_moves import Plan
from mlfix.rules.mlf201_plan import plan_for

CODE = "MLF201"
NAME = "dependency-install-below-code-copy"
SUMMARY = "Dependency install runs below a COPY of the code"


def check(facts: Facts) -> Iterator[Finding]:
    model = facts.dockerfile
    for stage in model.stages:
        plans: dict[int, Plan] = {}
        for instruction in stage.instructions:
            run = facts.deps.runs.get(instruction.index)
            if run is None or not run.is_dependency_install:
                continue
            if all(p.command.project_only for p in run.parts if p.command.tool != "system"):
                continue  # `pip install --no-deps .` after the code COPY is the pattern
            plan = plan_for(facts, stage, instruction, run, plans)
            if plan is None:
                found = project.finding(facts, CODE, stage, instruction, run)
                if found is not None:
                    yield found
                continue
            plans[instruction.index] = plan
            yield _finding(model, plan)


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
    pieces.append(edit.Verbatim(plan.hoisted_text + model.newline))  # cut from the RUN
    edits = list(edit.move_before(model, plan.anchor, pieces))
    if plan.remainder_text is not None:
        edits.append(edit.replace_instruction(model, plan.run, plan.remainder_text))
    return tuple(edits)


__all__ = ["CODE", "NAME", "SUMMARY", "check"]
