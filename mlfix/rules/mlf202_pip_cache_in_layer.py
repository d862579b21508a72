"""## What it does
Finds `pip install`, `uv pip install`, `uv sync` and `poetry install` commands that
leave the tool's download cache in the image layer: no `--no-cache-dir` (pip),
`--no-cache` (uv), no `PIP_NO_CACHE_DIR`/`UV_NO_CACHE` in scope, no BuildKit cache
mount on the cache directory, and no later `rm` of it in the same `RUN`.

## Why is this bad?
pip keeps a copy of every wheel it downloads under `~/.cache/pip`; for an ML stack
(torch, scipy, pandas...) that is hundreds of megabytes written into the layer and
shipped with every image, though nothing reads it again: the next build of that
layer starts from the layer below it, not from this cache.

## Example
```dockerfile
FROM python:3.11-slim
COPY requirements.txt .
RUN pip install -r requirements.txt
```

## Use instead
```dockerfile
FROM python:3.11-slim
COPY requirements.txt .
RUN pip install -r requirements.txt --no-cache-dir
```
Where the Dockerfile already uses BuildKit syntax (a `# syntax=` directive or a
`RUN --mount`), the cache goes to a BuildKit cache mount instead, which keeps it out
of the image *and* reuses it across builds:
```dockerfile
# syntax=docker/dockerfile:1
FROM python:3.11-slim
RUN useradd --create-home --uid 1000 app
USER app
COPY requirements.txt .
RUN --mount=type=cache,target=/home/app/.cache/pip,uid=1000 pip install -r requirements.txt
```
The mount target is the directory the tool really uses at that `RUN`: its own
variable (`PIP_CACHE_DIR`, `UV_CACHE_DIR`, `POETRY_CACHE_DIR`) or `--cache-dir`,
else `$XDG_CACHE_HOME`, else the `.cache` of the active user's `HOME` (from
`ENV HOME`, or the home the `useradd`/`adduser` line gives that user), never a fixed
`/root/.cache/pip`. uv gets `UV_LINK_MODE=copy` (the cache is on another file
system, so uv copies instead of hard-linking); poetry gets mounts on its `cache` and
`artifacts` directories only, because its virtualenvs may live in the same cache
directory and must stay in the image. Without BuildKit syntax, uv gets `--no-cache`
and poetry an `rm -rf` of those two directories at the end of the command.

## Fix safety
Safe: the image keeps the same files and packages, minus the cache. The mount is
unsafe for a non-root user whose cache lies in its home: BuildKit creates the
missing directories of a mount target (such as `~/.cache`) owned by root, so at run
time the app could not write other caches there (for example the Hugging Face hub
cache). When the Dockerfile does not say a non-root user's uid or home, the fix
falls back to `--no-cache-dir`/`--no-cache`, since a cache mount that user cannot
write to would only disable the cache. pipenv and conda are not covered.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from mlfix.deps.commands import InstallCommand
from mlfix.deps.facts import InstallPart, RunFacts, logical
from mlfix.deps.pycache import (
    Account,
    CacheDir,
    account,
    cache_dir,
    cache_mounts,
    covered_by_mount,
    is_truthy,
    removed_later,
    stage_env,
)
from mlfix.dockerfile import shell
from mlfix.dockerfile.model import DockerfileModel, Flag, Instruction
from mlfix.facts import Facts
from mlfix.model import Applicability, Edit, Finding, Fix, Location

CODE = "MLF202"
NAME = "package-cache-in-layer"
SUMMARY = "pip, uv or poetry leaves its download cache in the image layer"

BOOLEAN = frozenset({"1", "0", "true", "false", "yes", "no", "y", "n", "t", "f", "on", "off"})
SUBCOMMANDS = {"pip": ("install", "sync"), "uv": ("sync", "install"), "poetry": ("install", "sync")}


@dataclass(frozen=True)
class Leak:
    """One install command of a RUN that writes its cache into the layer."""

    tool: str  # pip, uv, poetry
    part: InstallPart
    cache: CacheDir
    env: dict[str, str]
    prefix: tuple[str, ...]  # VAR=value words before the command


def check(facts: Facts) -> Iterator[Finding]:
    model = facts.dockerfile
    for index in sorted(facts.deps.runs):
        run = facts.deps.runs[index]
        instruction = model.instructions[index]
        who = account(model, facts.deps, instruction)
        leaks = list(_leaks(model, instruction, run, who))
        if leaks:
            yield _finding(model, instruction, run, who, leaks)


def _tool(command: InstallCommand) -> str | None:
    if command.tool == "pip":
        tool = "uv" if command.argv and command.argv[0].rsplit("/", 1)[-1] == "uv" else "pip"
    elif command.tool in ("uv", "poetry"):
        tool = command.tool
    else:
        return None
    verbs = [w for w in command.argv if w in SUBCOMMANDS[tool]]
    return tool if verbs else None


def _leaks(
    model: DockerfileModel, instruction: Instruction, run: RunFacts, who: Account
) -> Iterator[Leak]:
    mounts = cache_mounts(instruction)
    base_env = stage_env(model, instruction)
    texts = [logical(s.text, model.escape).strip() for s in run.segments]
    for part in run.parts:
        tool = _tool(part.command)
        if tool is None:
            continue
        words = shell.words(run.segments[part.segment].text, model.escape)
        prefix, _command = shell.command_words(words)
        assignments = [w.value for w in prefix if "=" in w.value]
        env = dict(base_env)
        env.update(a.split("=", 1) for a in assignments)  # type: ignore[misc]
        argv = part.command.argv
        if _disabled(tool, argv, env):
            continue
        option = _option(argv, "--cache-dir")
        cache = cache_dir(tool, env, who, option)
        if covered_by_mount(cache.path, mounts, tool):
            continue
        if removed_later(cache.path, tool, texts[part.segment + 1 :]):
            continue
        yield Leak(tool, part, cache, env, tuple(assignments))


def _disabled(tool: str, argv: tuple[str, ...], env: dict[str, str]) -> bool:
    if tool == "pip":
        value = env.get("PIP_NO_CACHE_DIR")
        return any(w == "--no-cache-dir" or w.startswith("--no-cache-dir=") for w in argv) or (
            value is not None and value.strip().lower() in BOOLEAN
        )
    if tool == "uv":
        return any(w in ("--no-cache", "-n") for w in argv) or is_truthy(env.get("UV_NO_CACHE"))
    return False


def _option(argv: tuple[str, ...], name: str) -> str | None:
    for position, word in enumerate(argv):
        if word == name and position + 1 < len(argv):
            return argv[position + 1]
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
    return None


def _mount_targets(leak: Leak) -> list[str]:
    path = leak.cache.path
    assert path is not None
    if leak.tool == "poetry":
        return [f"{path}/cache", f"{path}/artifacts"]
    return [path]


def _finding(
    model: DockerfileModel, instruction: Instruction, run: RunFacts, who: Account, leaks: list[Leak]
) -> Finding:
    tools = list(dict.fromkeys(leak.tool for leak in leaks))
    where = ", ".join(dict.fromkeys(leak.cache.path or f"~{who.user}/.cache" for leak in leaks))
    names = " and ".join(f"`{t}`" for t in tools)
    message = f"{names} keeps its download cache ({where}) in the image layer"
    notes: list[str] = []
    mountable = all(
        leak.cache.path is not None and (who.is_root or who.uid is not None) for leak in leaks
    )
    if mountable and _mount_joins_a_neighbour(model, instruction, who, leaks):
        mountable = False
        notes.append(
            "a cache mount would give this RUN the flags of the RUN next to it (hadolint "
            "DL3059 then asks to merge them); the fix turns the cache off instead"
        )
    if model.uses_buildkit_syntax and mountable:
        edits, applicability = _mount_fix(model, instruction, run, who, leaks, notes)
        title = "Keep the cache in a BuildKit cache mount"
    else:
        if model.uses_buildkit_syntax and not notes:
            notes.append(
                f"the Dockerfile does not say the uid or home of user {who.user}, so a "
                "cache mount it can write to cannot be made; the fix turns the cache off"
            )
        edits = _no_cache_fix(model, instruction, run, leaks, notes)
        applicability = Applicability.SAFE
        title = "Turn the download cache off"
    location = Location(model.path, instruction.first_line, 1, instruction.last_line)
    if not edits:
        fix = Fix("Remove the cache by hand", (), Applicability.DISPLAY_ONLY)
    else:
        fix = Fix(title, tuple(edits), applicability)
    return Finding(CODE, message, location, fix, tuple(notes))


def _segment_end(model: DockerfileModel, instruction: Instruction, run: RunFacts, seg: int) -> int:
    segment = run.segments[seg]
    return (
        instruction.start
        + run.command_offset
        + segment.start
        + shell.end_of_text(segment.text, model.escape)
    )


def _no_cache_fix(
    model: DockerfileModel,
    instruction: Instruction,
    run: RunFacts,
    leaks: list[Leak],
    notes: list[str],
) -> list[Edit]:
    edits: list[Edit] = []
    for leak in leaks:
        at = _segment_end(model, instruction, run, leak.part.segment)
        if leak.tool == "pip":
            edits.append(Edit.insert(model.path, at, " --no-cache-dir"))
        elif leak.tool == "uv":
            edits.append(Edit.insert(model.path, at, " --no-cache"))
        else:
            following = run.segments[leak.part.segment + 1 :]
            if following and following[0].operator_before not in ("&&", ";"):
                notes.append(
                    "poetry's output is piped or chained with `||`; delete its cache by hand"
                )
                continue
            # Unknown home: `$HOME` double-quoted, as hadolint (SC2086) wants it.
            base = leak.cache.path or "$HOME/.cache/pypoetry"
            q = '"' if leak.cache.path is None else ""
            edits.append(
                Edit.insert(model.path, at, f" && rm -rf {q}{base}/cache{q} {q}{base}/artifacts{q}")
            )
    return edits


def _mount_flags(who: Account, leaks: list[Leak]) -> str:
    targets = list(dict.fromkeys(t for leak in leaks for t in _mount_targets(leak)))
    owner = "" if who.is_root else f",uid={who.uid}"
    return "".join(f"--mount=type=cache,target={t}{owner} " for t in targets)


def _mount_joins_a_neighbour(
    model: DockerfileModel, instruction: Instruction, who: Account, leaks: list[Leak]
) -> bool:
    """True when the mount makes this RUN's flags those of the RUN right before or after.

    hadolint reports consecutive RUNs with the same flags (DL3059); a fix adds none.
    """
    added = {Flag("mount", f[len("--mount=") :]) for f in _mount_flags(who, leaks).split()}
    before, after = set(instruction.flags), set(instruction.flags) | added
    for index in (instruction.index - 1, instruction.index + 1):
        if 0 <= index < len(model.instructions):
            other = model.instructions[index]
            if other.keyword == "RUN" and set(other.flags) == after != before:
                return True
    return False


def _mount_fix(
    model: DockerfileModel,
    instruction: Instruction,
    run: RunFacts,
    who: Account,
    leaks: list[Leak],
    notes: list[str],
) -> tuple[list[Edit], Applicability]:
    flags = _mount_flags(who, leaks)
    # After the RUN's own flags, right before the command: MLF203 puts its apt mounts
    # right after `RUN`, so the two rules give the same flag order whichever runs first.
    edits = [Edit.insert(model.path, instruction.start + run.command_offset, flags)]
    for leak in leaks:
        if leak.tool != "uv" or "UV_LINK_MODE" in leak.env:
            continue
        if any(w.startswith("--link-mode") for w in leak.part.command.argv):
            continue
        segment = run.segments[leak.part.segment]
        words = shell.words(segment.text, model.escape)
        start = instruction.start + run.command_offset + segment.start + words[0].start
        edits.append(Edit.insert(model.path, start, "UV_LINK_MODE=copy "))
    applicability = Applicability.SAFE
    home_caches = [leak.cache.path for leak in leaks if leak.cache.under_home]
    if home_caches:
        applicability = Applicability.UNSAFE
        notes.append(
            f"BuildKit creates the missing parents of {home_caches[0]} owned by root, so "
            f"user {who.user} cannot write other caches under ~/.cache at run time "
            "(create the directory as that user first, or set the cache variable)"
        )
    return edits, applicability
