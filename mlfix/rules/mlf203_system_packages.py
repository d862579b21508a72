"""## What it does
Finds system package layers (`apt-get`, `apk`, `dnf`, `yum`, `microdnf`) that sit
below the code `COPY` or the Python dependency install, and layers that keep what
the package manager downloaded: apt lists without `rm -rf /var/lib/apt/lists/*`, an
`apt-get install` whose `apt-get update` ran in an earlier layer (or never), `apk
add` without `--no-cache`, `dnf install` without `dnf clean all`, and installs that
pull in recommended (or weak) packages.

## Why is this bad?
System packages change less often than anything else in an ML image. Below
`COPY . .`, every code edit reinstalls them; below `pip install`, every requirements
change does. In the layer itself, apt's package lists (tens of MB) ship with the
image, and an `apt-get update` cached in its own layer feeds stale lists to a later
`apt-get install`, which then fails to find the versions it asks for.

## Example
```dockerfile
FROM python:3.11-slim
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir -r requirements.txt
RUN apt-get update
RUN apt-get install -y libgomp1
```

## Use instead
```dockerfile
FROM python:3.11-slim
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \\
    && rm -rf /var/lib/apt/lists/*
COPY . .
RUN pip install --no-cache-dir -r requirements.txt
```
The layer moves with what it needs: the `ENV`/`ARG` it uses (and package manager
settings such as `DEBIAN_FRONTEND` or a proxy), a `COPY` of exactly the files it
reads, or, when those files arrive with the code (`apt-get install $(cat
packages.txt)` under `COPY . .`), a new `COPY packages.txt .` above it. Where the
Dockerfile already uses BuildKit syntax, the apt lists and archives go to cache
mounts (`--mount=type=cache,target=/var/lib/apt/lists,sharing=locked` and the same
for `/var/cache/apt`) instead of being deleted, so rebuilds reuse them. Debian's
images ship `/etc/apt/apt.conf.d/docker-clean`, which deletes downloaded `.deb` files
after every install: with it in place the archive mount stays empty and only the
lists are reused. mlfix leaves that file alone (removing it changes the image and
every later apt layer built on it); delete it in an earlier `RUN` to cache the
packages too.

## Fix safety
Moving a layer is safe when every instruction it moves above is a `COPY` from the
build context into a non-system directory, a Python install, an `ENV`/`ARG` it does
not use, or an instruction that does not run; the `USER` (and the `WORKDIR`, when
it uses relative paths) stays the same. It is unsafe when it moves above a `RUN`
mlfix cannot read, when the layer runs commands mlfix does not know, writes where a
`COPY` it passes writes, or installs `python3-*` packages that a pip install it
passes might then find. A layer that installs files from the code (`./debs/*.deb`,
a directory) stays and is reported. The list cleanup, `apt-get update` in the same
layer, `apk --no-cache`, `dnf clean all` and the removal of a lone `RUN apt-get
update` are safe: the image keeps the same packages and files, minus caches.
`--no-install-recommends` and `install_weak_deps=False` are unsafe: they change the
set of installed packages, and the app may need a recommended one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mlfix.deps.pycache import cache_mounts
from mlfix.deps.system import PackageOp, SystemLayer, iter_layers, system_facts
from mlfix.deps.system_hoist import Hoist, describe, hoist_edits, is_frequent, plans
from mlfix.dockerfile import shell
from mlfix.dockerfile.model import DockerfileModel, Instruction
from mlfix.facts import Facts
from mlfix.model import Applicability, Edit, Finding, Fix, Location

CODE = "MLF203"
NAME = "system-packages-layer"
SUMMARY = (
    "System packages install below the code or the Python install, or keep their caches "
    "in the layer"
)

APT_LISTS = "/var/lib/apt/lists"
APT_MOUNTS = ("/var/cache/apt", APT_LISTS)
CLEANUP = {
    "apt": re.compile(r"^rm\s+(?:-\w+\s+)*['\"]?/var/lib/apt/lists(?:/\*?)?['\"]?(?:\s|$)"),
    "apk": re.compile(r"^rm\s+(?:-\w+\s+)*['\"]?/var/cache/apk(?:/\*?)?['\"]?(?:\s|$)"),
    "rpm": re.compile(
        r"^(?:(?:dnf|yum|microdnf|tdnf|dnf5)\s+clean\s+all\b"
        r"|rm\s+(?:-\w+\s+)*['\"]?/var/cache/(?:dnf|yum|libdnf5))"
    ),
}
NO_RECOMMENDS = ("--no-install-recommends",)
WEAK_DEPS = re.compile(r"install_weak_deps=(?:false|False|0|no)")


def check(facts: Facts) -> Iterator[Finding]:
    model = facts.dockerfile
    system = system_facts(facts.system, model)
    layers = list(iter_layers(system))
    lone = {
        layer.instruction: finding
        for layer in layers
        if (finding := _lone_update(facts, layer, layers)) is not None
    }
    hoists = plans(facts, vanishing=frozenset(lone))
    yield from lone.values()  # first: a layer that moves must not strand the update
    for layer in layers:
        hoist = hoists.get(layer.instruction)
        if hoist is not None and layer.instruction not in lone:
            yield _placement(facts, hoist)
    for layer in layers:
        finding = _in_layer(facts, layer, layers)
        if finding is not None:
            yield finding
    for layer in layers:
        finding = _recommends(facts, layer)
        if finding is not None:
            yield finding


def _location(model: DockerfileModel, instruction: Instruction) -> Location:
    return Location(model.path, instruction.first_line, 1, instruction.last_line)


def _placement(facts: Facts, hoist: Hoist) -> Finding:
    model = facts.dockerfile
    layer = hoist.layer
    if hoist.anchor is None:
        frequent = next(
            (
                i
                for i in reversed(model.instructions[: layer.index])
                if i.stage == layer.stage and is_frequent(facts.deps, i)
            ),
            None,
        )
        what = f"`{describe(frequent)}` (line {frequent.first_line})" if frequent else "the code"
        message = f"system packages install below {what}, and cannot move up on their own"
        fix = Fix("Move the system packages up by hand", (), Applicability.DISPLAY_ONLY)
        return Finding(CODE, message, _location(model, layer), fix, (hoist.stays or "",))
    anchor = hoist.anchor
    plan = facts.deps.copies.get(anchor.index)
    if plan is not None:
        because = "every change to what it copies reinstalls them"
    else:
        because = "every change to the Python dependencies reinstalls them"
    message = (
        f"system packages install below `{describe(anchor)}` (line {anchor.first_line}): {because}"
    )
    notes = list(hoist.reasons)
    if hoist.stays:
        notes.append(f"it cannot move higher: {hoist.stays}")
    title = f"Move the system packages above `{describe(anchor, 30)}`"
    fix = Fix(title, hoist_edits(model, hoist), hoist.applicability)
    return Finding(CODE, message, _location(model, layer), fix, tuple(notes))


def _abs(layer: SystemLayer, instruction: Instruction, segment: int, offset: int) -> int:
    return instruction.start + layer.segment_starts[segment] + offset


def _first_word(layer: SystemLayer, segment: int, escape: str) -> int:
    words = shell.words(layer.segments[segment], escape)
    return words[0].start if words else 0


def _segment_end(layer: SystemLayer, segment: int, escape: str) -> int:
    return shell.end_of_text(layer.segments[segment], escape)


def _ops(layer: SystemLayer, family: str) -> list[PackageOp]:
    return [op for op in layer.ops if op.family == family]


def _cleaned(layer: SystemLayer, family: str, after: int, escape: str) -> bool:
    pattern = CLEANUP[family]
    for segment in layer.segments[after + 1 :]:
        text = " ".join(w.value for w in shell.words(segment, escape))
        if pattern.match(text):
            return True
    return False


def _continuation_style(raw: str, escape: str, newline: str) -> str | None:
    """`` \\<newline><indent>&& `` when the RUN puts each `&&` at the start of a line."""
    match = re.search(rf"{re.escape(escape)}[ \t]*\r?\n([ \t]+)&&", raw)
    if match is None:
        return None
    return f" {escape}{newline}{match.group(1)}&& "


def _append(
    model: DockerfileModel, instruction: Instruction, layer: SystemLayer, segment: int, command: str
) -> Edit:
    at = _abs(layer, instruction, segment, _segment_end(layer, segment, model.escape))
    raw = model.text[instruction.start : instruction.end]
    style = _continuation_style(raw, model.escape, model.newline)
    text = (style or " && ") + command
    return Edit.insert(model.path, at, text)


def _fixable(model: DockerfileModel, layer: SystemLayer) -> bool:
    return layer.splittable


def _in_layer(facts: Facts, layer: SystemLayer, layers: list[SystemLayer]) -> Finding | None:
    model = facts.dockerfile
    instruction = model.instructions[layer.instruction]
    escape = model.escape
    problems: list[str] = []
    edits: list[Edit] = []
    notes: list[str] = []
    buildkit = model.uses_buildkit_syntax
    mounted = {m.target for m in cache_mounts(instruction)}
    apt = _ops(layer, "apt")
    if apt:
        installs = [op for op in apt if op.is_install]
        updates = [op for op in apt if op.is_update]
        first_install = installs[0] if installs else None
        needs_update = first_install is not None and not any(
            op.segment < first_install.segment for op in updates
        )
        last = max(op.pipeline_end for op in apt if op.is_install or op.is_update)
        lists_mounted = any(t in (APT_LISTS, "/var/lib/apt") for t in mounted)
        cleaned = lists_mounted or _cleaned(layer, "apt", last, escape)
        if needs_update and first_install is not None:
            problems.append("runs `apt-get install` without `apt-get update` in the same RUN")
            start = first_install.pipeline_start
            at = _abs(layer, instruction, start, _first_word(layer, start, escape))
            edits.append(Edit.insert(model.path, at, "apt-get update && "))
        if installs and not cleaned:
            problems.append("leaves apt's package lists in the layer")
            if buildkit:  # first: an `apt-get update` prepended at the same offset follows it
                edits.insert(0, _apt_mounts(model, instruction, mounted))
                notes.append(
                    "Debian's /etc/apt/apt.conf.d/docker-clean deletes downloaded packages "
                    "after each install, so the /var/cache/apt mount stays empty while that "
                    "file is in the image; the package lists are reused either way"
                )
            else:
                edits.append(
                    _append(model, instruction, layer, last, "rm -rf /var/lib/apt/lists/*")
                )
    apk = _ops(layer, "apk")
    if apk:
        for op in apk:
            if op.is_install and not op.has("--no-cache"):
                problems.append(f"`apk {op.action}` without `--no-cache` keeps its index")
                at = _abs(layer, instruction, op.segment, op.action_word.end)
                edits.append(Edit.insert(model.path, at, " --no-cache"))
        last = max(op.pipeline_end for op in apk if op.is_install or op.is_update)
        installing = any(op.is_install for op in apk)
        updated = any(op.is_update for op in apk) and "/var/cache/apk" not in mounted
        if installing and updated and not _cleaned(layer, "apk", last, escape):
            problems.append("`apk update` leaves its index in the layer")
            edits.append(_append(model, instruction, layer, last, "rm -rf /var/cache/apk/*"))
    rpm = _ops(layer, "rpm")
    if rpm and any(op.is_install for op in rpm):
        last_op = max((op for op in rpm if op.is_install), key=lambda op: op.pipeline_end)
        mounted_cache = any(t.startswith(("/var/cache/dnf", "/var/cache/yum")) for t in mounted)
        if not mounted_cache and not _cleaned(layer, "rpm", last_op.pipeline_end, escape):
            manager = last_op.manager
            problems.append(f"`{manager} install` without `{manager} clean all` keeps its cache")
            edits.append(
                _append(model, instruction, layer, last_op.pipeline_end, f"{manager} clean all")
            )
    if not problems:
        return None
    message = "; ".join(dict.fromkeys(problems))
    if not _fixable(model, layer):
        fix = Fix("Clean up in the same RUN by hand", (), Applicability.DISPLAY_ONLY)
        notes.append("the RUN has comment lines inside it; mlfix does not edit its commands")
    else:
        fix = Fix("Clean up in the same RUN", tuple(edits), Applicability.SAFE)
    return Finding(CODE, message, _location(model, instruction), fix, tuple(notes))


def _apt_mounts(model: DockerfileModel, instruction: Instruction, mounted: set[str]) -> Edit:
    flags = "".join(
        f"--mount=type=cache,target={target},sharing=locked "
        for target in APT_MOUNTS
        if target not in mounted
    )
    raw = model.text[instruction.start : instruction.end]
    keyword = re.match(rf"[ \t]*\w+(?:[ \t]|{re.escape(model.escape)}[ \t]*\r?\n)+", raw)
    assert keyword is not None
    return Edit.insert(model.path, instruction.start + keyword.end(), flags)


def _recommends(facts: Facts, layer: SystemLayer) -> Finding | None:
    model = facts.dockerfile
    instruction = model.instructions[layer.instruction]
    if not _fixable(model, layer):
        return None
    edits: list[Edit] = []
    problems: list[str] = []
    for op in layer.ops:
        if op.family == "apt" and op.action == "install" and not op.has(*NO_RECOMMENDS):
            values = " ".join(w.value for w in op.words)
            if re.search(r"Install-Recommends[=\s]*(?:false|0|no)", values, re.I):
                continue
            if _recommends_off(model, instruction):
                continue
            problems.append(
                f"`{op.manager} install` without `--no-install-recommends` also installs "
                "recommended packages"
            )
            at = _abs(layer, instruction, op.segment, op.action_word.end)
            edits.append(Edit.insert(model.path, at, " --no-install-recommends"))
        elif op.manager in ("dnf", "microdnf", "tdnf", "dnf5") and op.action == "install":
            values = " ".join(w.value for w in op.words)
            if WEAK_DEPS.search(values) or values == "--nodocs":
                continue
            value = "0" if op.manager == "microdnf" else "False"
            problems.append(
                f"`{op.manager} install` without `--setopt=install_weak_deps={value}` also "
                "installs weak dependencies"
            )
            at = _abs(layer, instruction, op.segment, op.action_word.end)
            edits.append(Edit.insert(model.path, at, f" --setopt=install_weak_deps={value}"))
    if not problems:
        return None
    fix = Fix("Install only the packages named", tuple(edits), Applicability.UNSAFE)
    notes = (
        "the app may need a package that is only recommended (wget, for one, only recommends "
        "the ca-certificates it needs for https)",
    )
    return Finding(
        CODE, "; ".join(dict.fromkeys(problems)), _location(model, instruction), fix, notes
    )


def _recommends_off(model: DockerfileModel, instruction: Instruction) -> bool:
    """An earlier RUN of the stage turns recommends off in apt's configuration."""
    for other in model.instructions[: instruction.index]:
        if other.keyword != "RUN" or other.stage > instruction.stage:
            continue
        text = model.text[other.start : other.end]
        if re.search(r"Install-Recommends\W+(?:false|0)\b", text, re.I):
            return True
    return False


def _lone_update(facts: Facts, layer: SystemLayer, layers: list[SystemLayer]) -> Finding | None:
    """A RUN that only runs `apt-get update` (or `apk update`) for installs in later layers."""
    model = facts.dockerfile
    instruction = model.instructions[layer.instruction]
    if not layer.ops or any(not op.is_update for op in layer.ops):
        return None
    if len(layer.families) != 1 or layer.foreign or layer.runs_python:
        return None
    family = next(iter(layer.families))
    if family not in ("apt", "apk"):
        return None
    if any(
        not _trivial(s, model.escape)
        for i, s in enumerate(layer.segments)
        if i not in {op.segment for op in layer.ops}
    ):
        return None
    stage = model.stage_of(instruction)
    assert stage is not None
    later = [i for i in stage.instructions if i.index > instruction.index]
    by_index = {lay.instruction: lay for lay in layers}
    consumers = []
    for other in later:
        other_layer = by_index.get(other.index)
        if other_layer is not None and family in other_layer.families:
            if any(op.is_update for op in other_layer.ops if op.family == family) and not any(
                op.is_install for op in other_layer.ops if op.family == family
            ):
                break  # another lone update takes over from here
            if not _fixable(model, other_layer):
                return None
            consumers.append(other)
            continue
        if other.keyword == "RUN" and re.search(
            r"\b(?:apt-get|apt|apt-cache|apk|dpkg)\b", model.text[other.start : other.end]
        ):
            return None  # some other use of the lists that mlfix cannot fix
    if not consumers:
        return None
    if stage.name and any(
        s.base.lower() == stage.name.lower() for s in model.stages if s.index > stage.index
    ):
        return None  # a later stage builds on this one and may use the lists
    tool = layer.ops[0].manager
    message = (
        f"`{tool} update` runs in a layer of its own: its lists stay in the image, and once "
        f"that layer is cached the installs below it (line {consumers[0].first_line}) get "
        "stale ones"
    )
    end = instruction.end
    text = model.text
    start = instruction.start
    if (
        instruction.lead_start == start
        and _blank_before(text, start)
        and text.startswith(model.newline, end)
    ):
        end += len(model.newline)
    if end >= len(text) and start > 0 and not text.endswith("\n"):
        start -= len(model.newline)  # the last line has no newline: keep it that way
    fix = Fix("Delete it; each install runs its own update", (Edit.delete(model.path, start, end),))
    return Finding(CODE, message, _location(model, instruction), fix)


def _blank_before(text: str, start: int) -> bool:
    return start == 0 or text[:start].endswith(("\n\n", "\n\r\n"))


def _trivial(segment: str, escape: str) -> bool:
    words = [w.value for w in shell.words(segment, escape)]
    return not words or words[0] in ("true", ":", "set", "echo")
