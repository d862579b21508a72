"""System package layers: what an `apt-get`/`apk`/`dnf`/`microdnf` RUN does and reads.

A `RUN` is a system layer when one of its commands (or an `xargs` it runs) is a
package manager. For each one this module records the package operations with the
offsets of their words (so fixes can insert a flag after `install`), the files the
layer reads (`$(cat packages.txt)`, `xargs -a apt.txt`, `< list`, `./debs/*.deb`,
`dpkg -i x.deb`, `bash setup.sh`...), the paths it writes besides the package
manager's own, whether it runs commands mlfix does not know, and whether it runs a
Python tool. The files it reads are traced back through the stage's `COPY`s to the
build context; `provide` checks them on disk, so rules stay pure.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import posixpath
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlfix.deps.facts import Context, command_offset
from mlfix.dockerfile import shell
from mlfix.dockerfile.model import DockerfileModel, Instruction
from mlfix.dockerfile.state import CopyPlan, container_path, copy_plan, effective, expand

MANAGERS = {
    "apt-get": "apt", "apt": "apt", "aptitude": "apt",
    "apk": "apk",
    "dnf": "rpm", "yum": "rpm", "microdnf": "rpm", "tdnf": "rpm", "dnf5": "rpm",
}  # fmt: skip
INSTALL_ACTIONS = {
    "apt": frozenset({"install", "upgrade", "dist-upgrade", "full-upgrade", "build-dep",
                      "reinstall", "satisfy"}),
    "apk": frozenset({"add", "upgrade", "fix"}),
    "rpm": frozenset({"install", "upgrade", "update", "groupinstall", "reinstall",
                      "distro-sync", "localinstall", "group", "module"}),
}  # fmt: skip
UPDATE_ACTIONS = {"apt": frozenset({"update"}), "apk": frozenset({"update"}),
                  "rpm": frozenset({"makecache"})}  # fmt: skip
# Options of the package managers that take a value (so the value is not the action).
VALUE_OPTIONS = frozenset(
    {"-o", "-c", "-t", "--target-release", "--default-release", "-X", "--repository",
     "--root", "-p", "--repo", "--enablerepo", "--disablerepo", "--setopt", "--installroot",
     "--releasever", "-x", "--exclude", "--virtual", "--arch", "--config"}
)  # fmt: skip
PYTHON_TOOLS = re.compile(
    r"^(?:python\d?(?:\.\d+)?|pip\d?(?:\.\d+)?|poetry|uv|pipenv|conda|mamba|micromamba|pdm)$"
)
KNOWN = frozenset(
    {
        "apt-get", "apt", "aptitude", "apt-cache", "apt-key", "apt-mark", "apt-config",
        "dpkg", "dpkg-reconfigure", "dpkg-divert", "debconf-set-selections",
        "add-apt-repository", "apk", "dnf", "yum", "microdnf", "tdnf", "dnf5", "rpm",
        "update-ca-certificates", "update-alternatives", "locale-gen", "update-locale",
        "localedef", "ldconfig", "useradd", "groupadd", "adduser", "addgroup", "usermod",
        "rm", "mkdir", "ln", "echo", "printf", "cat", "tee", "sed", "grep", "egrep", "awk",
        "tr", "sort", "cut", "head", "tail", "xargs", "chmod", "chown", "touch", "cp", "mv",
        "install", "true", "false", "set", "export", ":", "test", "[", "curl", "wget", "gpg",
        "tar", "unzip", "gunzip", "find", "which", "command", "env", "cd", "ls", "git",
        "ca-certificates", "rmdir", "sleep", "id", "uname", "date",
    }
)  # fmt: skip
READERS = frozenset({"cat", "sort", "head", "tail", "cut", "tr", "debconf-set-selections"})
PATTERN_FIRST = frozenset({"grep", "egrep", "fgrep", "sed", "awk"})
PACKAGE_FILE = re.compile(r"\.(?:deb|rpm|apk)$")
SYSTEM_DIRS = ("/etc", "/usr", "/var", "/lib", "/lib32", "/lib64", "/libx32", "/bin",
               "/sbin", "/boot", "/run", "/srv")  # fmt: skip
PACKAGE_MANAGER_TEXT = re.compile(
    r"\b(?:apt-get|apt|aptitude|dpkg|debconf|apk|dnf|dnf5|yum|microdnf|tdnf|rpm|zypper)\b"
    r"|/etc/(?:apt|apk|yum|dnf)|add-apt-repository|sources\.list|keyrings?\b"
)


@dataclass(frozen=True)
class PackageOp:
    """One package-manager command; word offsets index the raw text of its segment."""

    segment: int
    manager: str
    family: str  # apt, apk, rpm
    action: str
    action_word: shell.Word
    words: tuple[shell.Word, ...]  # the manager and its arguments
    pipeline_start: int  # first segment of the pipeline it stands in
    pipeline_end: int  # last segment of that pipeline
    via_xargs: bool = False

    @property
    def is_install(self) -> bool:
        return self.action in INSTALL_ACTIONS[self.family]

    @property
    def is_update(self) -> bool:
        return self.action in UPDATE_ACTIONS[self.family]

    def has(self, *options: str) -> bool:
        values = [w.value for w in self.words]
        return any(v == o or v.startswith(o + "=") for v in values for o in options)

    @property
    def arguments(self) -> list[str]:
        """Positional words after the action (package names and package files)."""
        found: list[str] = []
        after = False
        skip = False
        for word in self.words[1:]:
            if word is self.action_word:
                after = True
                continue
            if skip:
                skip = False
                continue
            value = word.value
            if value in VALUE_OPTIONS:
                skip = True
                continue
            if after and not value.startswith("-"):
                found.append(value)
        return found


@dataclass(frozen=True)
class Read:
    """A file the layer reads, as written and as an image path (None: not resolvable)."""

    word: str
    image_path: str | None
    is_glob: bool
    package_file: bool  # a .deb/.rpm/.apk it installs


@dataclass(frozen=True)
class Supplier:
    """A COPY/ADD above the layer that puts a read path into the image."""

    instruction: int
    context_path: str | None  # None: not from the build context (COPY --from, ADD <url>)
    is_dir: bool
    dedicated: bool  # the COPY brings nothing else (only paths the layer reads)


@dataclass(frozen=True)
class SystemLayer:
    instruction: int
    ops: tuple[PackageOp, ...]
    segments: tuple[str, ...]  # raw text of each segment
    segment_starts: tuple[int, ...]  # offset of each segment in the instruction's text
    operators: tuple[str | None, ...]
    command_offset: int
    reads: tuple[Read, ...]
    writes: tuple[str, ...]  # image paths written outside the package manager's own
    foreign: tuple[str, ...]  # commands mlfix does not know
    runs_python: bool
    relative: bool  # uses a relative path or `cd`: the WORKDIR matters
    env_names: frozenset[str]  # variables its text references
    splittable: bool  # no comment lines inside the RUN
    suppliers: Mapping[str, tuple[Supplier, ...]] = field(default_factory=dict)

    @property
    def families(self) -> frozenset[str]:
        return frozenset(op.family for op in self.ops)

    @property
    def installs(self) -> list[PackageOp]:
        return [op for op in self.ops if op.is_install]

    @property
    def packages(self) -> list[str]:
        return [a for op in self.installs for a in op.arguments]


@dataclass(frozen=True)
class SystemFacts:
    layers: dict[int, SystemLayer]


def _pipelines(operators: list[str | None]) -> list[tuple[int, int]]:
    """(first, last) segment of the pipeline each segment stands in."""
    spans: list[tuple[int, int]] = []
    start = 0
    for index in range(len(operators)):
        if index > 0 and operators[index] != "|":
            start = index
        spans.append((start, index))
    result: list[tuple[int, int]] = []
    for index, (first, _last) in enumerate(spans):
        last = index
        while last + 1 < len(operators) and operators[last + 1] == "|":
            last += 1
        result.append((first, last))
    return result


def _manager_op(
    ws: list[shell.Word], segment: int, pipeline: tuple[int, int], via_xargs: bool = False
) -> PackageOp | None:
    _prefix, command = shell.command_words(ws)
    if not command:
        return None
    name = posixpath.basename(command[0].value)
    if name == "xargs" and not via_xargs:
        position = 1
        while position < len(command) and command[position].value.startswith("-"):
            value = command[position].value
            position += 2 if value in ("-a", "-d", "-E", "-I", "-L", "-n", "-P", "-s") else 1
        return _manager_op(list(command[position:]), segment, pipeline, via_xargs=True)
    family = MANAGERS.get(name)
    if family is None:
        return None
    action_word: shell.Word | None = None
    position = 1
    while position < len(command):
        value = command[position].value
        if value in VALUE_OPTIONS:
            position += 2
            continue
        if not value.startswith("-"):
            action_word = command[position]
            break
        position += 1
    if action_word is None:
        return None
    action = action_word.value
    if family == "rpm" and action in ("group", "module"):
        following = [w.value for w in command[position + 1 :] if not w.value.startswith("-")]
        action = f"{action} {following[0]}" if following else action
        if following and following[0] in ("install", "upgrade", "update"):
            action = "install"
    return PackageOp(
        segment,
        name,
        family,
        action,
        action_word,
        tuple(command),
        pipeline[0],
        pipeline[1],
        via_xargs,
    )


def _looks_like_path(value: str) -> bool:
    if not value or value.startswith("-") or " " in value or "\n" in value:
        return False
    if re.search(r"[\^|()]", value):
        return False
    return "/" in value or re.search(r"\.[A-Za-z0-9]{1,8}$", value) is not None


@dataclass
class _Scan:
    reads: list[tuple[str, str]] = field(default_factory=list)  # (word, workdir)
    package_files: list[tuple[str, str]] = field(default_factory=list)
    writes: list[tuple[str, str]] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    python: bool = False
    relative: bool = False


def _scan_command(text: str, escape: str, workdir: str, scan: _Scan) -> str:
    """Record what one simple command reads and writes; returns the new workdir (`cd`)."""
    for inner, _offset in shell.substitutions(text):
        for part in shell.segments(inner):
            _scan_command(part.text, escape, workdir, scan)
    ws = shell.words(text, escape)
    for word in ws:
        if word.redirect in ("<",):
            scan.reads.append((word.value, workdir))
        elif word.redirect in (">", ">>", "&>"):
            scan.writes.append((word.value, workdir))
    _prefix, command = shell.command_words(ws)
    values = [w.value for w in command if not w.source.startswith(("$(", "`"))]
    if not values:
        return workdir
    name = posixpath.basename(values[0])
    args = values[1:]
    positional = [a for a in args if not a.startswith("-")]
    if name == "cd":
        target = positional[0] if positional else "/root"
        if not target.startswith("/"):
            scan.relative = True
        return container_path(target, workdir)
    if PYTHON_TOOLS.match(name):
        scan.python = True
        return workdir
    if values[0].startswith(("./", "../")) or (
        "/" in values[0] and not values[0].startswith(("/", "-", "$"))
    ):
        scan.reads.append((values[0], workdir))
        scan.foreign.append(values[0])
        return workdir
    if name not in KNOWN:
        scan.foreign.append(name)
    if name in ("bash", "sh", "source", ".") and positional and positional[0] != "-c":
        scan.reads.append((positional[0], workdir))
    elif name in READERS:
        scan.reads.extend((a, workdir) for a in positional if a != "-")
    elif name in PATTERN_FIRST:
        explicit = any(a in ("-e", "-f", "--expression", "--file") for a in args)
        files = positional if explicit else positional[1:]
        scan.reads.extend((a, workdir) for a in files if _looks_like_path(a))
        if name == "sed" and any(a.startswith("-i") for a in args):
            scan.writes.extend((a, workdir) for a in files if _looks_like_path(a))
    elif name == "xargs":
        for position, arg in enumerate(args):
            if arg == "-a" and position + 1 < len(args):
                scan.reads.append((args[position + 1], workdir))
            elif arg.startswith("--arg-file="):
                scan.reads.append((arg.split("=", 1)[1], workdir))
    elif name in ("cp", "mv", "install") and len(positional) >= 2:
        scan.reads.extend((a, workdir) for a in positional[:-1])
        scan.writes.append((positional[-1], workdir))
    elif name in ("mkdir", "touch", "rm", "rmdir", "chmod", "chown", "ln"):
        targets = positional[1:] if name in ("chmod", "chown") else positional
        scan.writes.extend((a, workdir) for a in targets)
    elif name == "dpkg" and any(a in ("-i", "--install") for a in args):
        scan.package_files.extend((a, workdir) for a in positional)
    if name in MANAGERS:
        scan.package_files.extend(
            (a, workdir) for a in positional if "/" in a or PACKAGE_FILE.search(a) is not None
        )
    for value in values[1:]:
        if not value.startswith("/") and ("/" in value or value in (".", "..")):
            scan.relative = True
    return workdir


def _layer(model: DockerfileModel, instruction: Instruction, workdir: str) -> SystemLayer | None:
    if instruction.keyword != "RUN" or instruction.is_json or instruction.heredocs:
        return None
    raw = model.text[instruction.start : instruction.end]
    offset = command_offset(model, instruction)
    segments = shell.segments(raw[offset:], model.escape)
    operators = [s.operator_before for s in segments]
    pipelines = _pipelines(operators)
    ops: list[PackageOp] = []
    scan = _Scan()
    current = workdir
    for position, segment in enumerate(segments):
        ws = shell.words(segment.text, model.escape)
        op = _manager_op(ws, position, pipelines[position])
        if op is not None:
            ops.append(op)
        current = _scan_command(segment.text, model.escape, current, scan)
    if not any(op.is_install or op.is_update for op in ops):
        return None
    env = instruction.env
    reads: list[Read] = []
    package_words = {word for word, _at in scan.package_files}
    for word, at in scan.reads + scan.package_files:
        value = expand(word, env)
        resolvable = "$" not in value and not value.startswith("~") and value != "-"
        image = container_path(value, at) if resolvable else None
        if image is not None and image.startswith(("/dev/", "/proc/")):
            continue
        reads.append(Read(word, image, any(c in value for c in "*?["), word in package_words))
    writes = []
    for word, at in scan.writes:
        value = expand(word, env)
        if "$" in value or value.startswith("~") or value.startswith("/dev/"):
            continue
        writes.append(container_path(value, at))
    body_lines = raw.splitlines()[1:]
    splittable = not any(line.lstrip().startswith("#") for line in body_lines)
    names = frozenset(
        m.group(1) or m.group(2)
        for m in re.finditer(
            r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))", raw
        )
    )
    return SystemLayer(
        instruction=instruction.index,
        ops=tuple(ops),
        segments=tuple(s.text for s in segments),
        segment_starts=tuple(offset + s.start for s in segments),
        operators=tuple(operators),
        command_offset=offset,
        reads=tuple(dict.fromkeys(reads)),
        writes=tuple(dict.fromkeys(writes)),
        foreign=tuple(dict.fromkeys(scan.foreign)),
        runs_python=scan.python,
        relative=scan.relative,
        env_names=names,
        splittable=splittable,
    )


Exists = Callable[[str], tuple[bool, bool]]  # context path -> (exists, is_dir)


def _match(plan: CopyPlan, source: str, image_path: str, is_glob: bool) -> str | None:
    """The context path that lands on `image_path` through `source` of `plan`, if any."""
    dest = plan.dest.rstrip("/") or "/"
    if any(ch in source for ch in "*?["):
        if posixpath.dirname(image_path) != dest:
            return None
        candidate = posixpath.join(posixpath.dirname(source), posixpath.basename(image_path))
        return candidate if fnmatch.fnmatchcase(candidate, source) else None
    if image_path in plan.targets(source) and source != ".":
        return source
    if image_path == dest:
        return source
    if image_path.startswith(dest.rstrip("/") + "/"):
        rel = image_path[len(dest.rstrip("/")) + 1 :]
        return rel if source == "." else posixpath.join(source, rel)
    if is_glob and fnmatch.fnmatchcase(dest, image_path):
        return source
    return None


def suppliers(
    model: DockerfileModel,
    copies: Mapping[int, CopyPlan],
    layer: SystemLayer,
    read: Read,
    exists: Exists,
) -> tuple[Supplier, ...]:
    """COPY/ADDs above the layer in its stage that put `read` in the image, latest first."""
    if read.image_path is None:
        return ()
    instruction = model.instructions[layer.instruction]
    stage = model.stage_of(instruction)
    if stage is None:
        return ()
    found: list[Supplier] = []
    above = [i for i in stage.instructions if i.index < layer.instruction]
    for other in reversed(above):
        plan = copies.get(other.index)
        if plan is None:
            continue
        for source in plan.sources:
            if not plan.from_context:
                covered = _under(read.image_path, plan.dest) or (
                    read.is_glob and fnmatch.fnmatchcase(plan.dest, read.image_path)
                )
                if covered:
                    found.append(Supplier(other.index, None, False, False))
                    break
                continue
            rel = _match(plan, source, read.image_path, read.is_glob)
            if rel is None:
                continue
            rel = posixpath.normpath(rel)
            present, is_dir = exists(rel)
            if not present:
                continue
            dedicated = source != "." and not is_dir and not any(ch in source for ch in "*?[")
            found.append(Supplier(other.index, rel, is_dir, dedicated))
            break
    return tuple(found)


def _under(path: str, directory: str) -> bool:
    directory = directory.rstrip("/") or "/"
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def layers(model: DockerfileModel, exists: Exists | None = None) -> dict[int, SystemLayer]:
    """Every system package layer of the file, keyed by instruction index."""
    states = effective(model)
    copies: dict[int, CopyPlan] = {}
    found: dict[int, SystemLayer] = {}
    for instruction in model.instructions:
        state = states[instruction.index]
        plan = copy_plan(instruction, state.workdir)
        if plan is not None:
            copies[instruction.index] = plan
            continue
        layer = _layer(model, instruction, state.workdir)
        if layer is None:
            continue
        check = exists or (lambda _rel: (False, False))
        table = {read.word: suppliers(model, copies, layer, read, check) for read in layer.reads}
        found[instruction.index] = _with_suppliers(layer, table)
    return found


def _with_suppliers(layer: SystemLayer, table: Mapping[str, tuple[Supplier, ...]]) -> SystemLayer:
    return dataclasses.replace(layer, suppliers=dict(table))


def provide(target: Any, documents: Any, model: DockerfileModel, settings: Any) -> dict[str, Any]:
    """Fact provider: system layers with the files they read checked on disk.

    Lookups are kept in `documents.cache` for the session: the context does not change
    while the fixes run.
    """
    if not (settings.enabled("MLF203") or settings.enabled("MLF201")):
        return {}
    context = Context(target.context, target.dockerfile, model.text)
    # Per Dockerfile text: a path the ignore file leaves out counts as there when a COPY of
    # this text names it (see Context), and the fixes change the text between passes.
    by_text: dict[str, dict[str, tuple[bool, bool]]] = documents.cache.setdefault(
        "system.exists", {}
    )
    cache = by_text.setdefault(model.text, {})

    def exists(rel: str) -> tuple[bool, bool]:
        if rel not in cache:
            cache[rel] = _exists(context, rel)
        return cache[rel]

    return {"system": SystemFacts(layers(model, exists))}


def _exists(context: Context, rel: str) -> tuple[bool, bool]:
    if any(ch in rel for ch in "*?["):
        directory = posixpath.dirname(rel)
        if not context.is_dir(directory or "."):
            return False, False
        try:
            names = [p.name for p in (context.root / directory).iterdir()]
        except OSError:
            return False, False
        pattern = posixpath.basename(rel)
        return any(fnmatch.fnmatchcase(n, pattern) for n in names), False
    return context.exists(rel), context.is_dir(rel)


def system_facts(extra: Mapping[str, Any], model: DockerfileModel) -> SystemFacts:
    """The provider's facts, or (without it) the same with no file known to exist.

    Without the provider nothing a layer reads is traced to the build context, so a
    layer that reads `packages.txt` from `COPY . .` is not given a COPY of it: the
    engine registers the provider, and only direct callers of a rule see this.
    """
    found = extra.get("system")
    if isinstance(found, SystemFacts):
        return found
    return SystemFacts(layers(model, lambda _rel: (False, False)))


def iter_layers(facts: SystemFacts) -> Iterator[SystemLayer]:
    yield from (facts.layers[i] for i in sorted(facts.layers))


def in_system_dir(path: str) -> bool:
    return any(_under(path, d) for d in SYSTEM_DIRS)


def mentions_package_manager(text: str) -> bool:
    return PACKAGE_MANAGER_TEXT.search(text) is not None
