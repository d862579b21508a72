"""One command of a system layer: the package operation it runs, what it reads and writes.

`mlfix.deps.system` cuts a RUN into commands; this module reads each one: a package
manager (directly or through `xargs`) with the offsets of its words, and the files the
command reads or writes (`cat`, `grep`, `< list`, `cp`, `dpkg -i`, `bash setup.sh`...),
whether it runs Python, and which commands mlfix does not know.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from mlfix.dockerfile import shell
from mlfix.dockerfile.state import container_path

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


def pipelines(operators: list[str | None]) -> list[tuple[int, int]]:
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


def manager_op(
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
        return manager_op(list(command[position:]), segment, pipeline, via_xargs=True)
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
class Scan:
    reads: list[tuple[str, str]] = field(default_factory=list)  # (word, workdir)
    package_files: list[tuple[str, str]] = field(default_factory=list)
    writes: list[tuple[str, str]] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    python: bool = False
    relative: bool = False


def scan_command(text: str, escape: str, workdir: str, scan: Scan) -> str:
    """Record what one simple command reads and writes; returns the new workdir (`cd`)."""
    for inner, _offset in shell.substitutions(text):
        for part in shell.segments(inner):
            scan_command(part.text, escape, workdir, scan)
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
