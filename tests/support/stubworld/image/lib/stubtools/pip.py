"""``pip`` (and ``uv pip``): succeed only when every file pip would read is where it reads it.

* ``-r``/``-c`` files, and the ``-r``/``-c`` lines inside them, recursively; a nested path is
  relative to the file that names it (pip's rule), a top-level one to the working directory.
* Local paths (``.``, ``./pkg[extra]``, ``-e PATH``, ``file://``, ``name @ file://``): a
  directory must hold ``pyproject.toml``, ``setup.py`` or ``setup.cfg``; an archive must exist.
  Paths inside a requirements file are relative to the working directory, as in pip.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence

from stubtools.common import Missing, absolute, decode, fail, log_read, read_file

PROJECT_FILES = ("pyproject.toml", "setup.py", "setup.cfg")
ARCHIVES = (".whl", ".tar.gz", ".tgz", ".zip", ".tar.bz2", ".tar")
# pip/uv options that take a value in the next argument (all others are flags).
VALUE_OPTIONS = {
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "-t",
    "--target",
    "--prefix",
    "--root",
    "--cache-dir",
    "--src",
    "--log",
    "--upgrade-strategy",
    "--python-version",
    "--platform",
    "--abi",
    "--implementation",
    "--only-binary",
    "--no-binary",
    "--progress-bar",
    "-C",
    "--config-settings",
    "--global-option",
    "--trusted-host",
    "--proxy",
    "--timeout",
    "--retries",
    "--exists-action",
    "--report",
    "--root-user-action",
    "--python",
    "-p",
    "--use-feature",
    "--use-deprecated",
    "--index",
    "--default-index",
    "--index-strategy",
    "--keyring-provider",
    "--link-mode",
    "--resolution",
    "--prerelease",
    "--exclude-newer",
    "--override",
    "--extra",
    "-o",
    "--output-file",
    "--build-constraint",
    "-b",
    "--build",
    "--dest",
    "-d",
    "-w",
    "--wheel-dir",
    "--python-platform",
    "--compile-bytecode-level",
    "--group",
}
_ENV_RE = re.compile(r"\$\{([A-Z0-9_]+)\}")
_COMMENT_RE = re.compile(r"(^|\s+)#.*$")


# Where pip puts what it installs or builds: made, so a later `COPY --from=builder
# /install /usr/local` (or /wheels, ~/.local) finds it.
OUTPUT_OPTIONS = {
    "--prefix": "", "--target": "", "-t": "", "--root": "", "-w": "", "--wheel-dir": "",
    "-d": "", "--dest": "",
}  # fmt: skip


def main(args: Sequence[str], tool: str = "pip") -> int:
    command, rest = _command(args)
    try:
        if command in ("install", "download", "wheel"):
            install(rest, tool)
            _make_outputs(command, rest)
        elif command == "sync":  # uv pip sync FILE...
            for name in _positionals(rest):
                requirements_file(tool, absolute(name), nested=False)
            install(rest, tool, positional_files=False)
        elif command == "compile":  # uv pip compile FILE... -o OUT
            for name in _positionals(rest):
                requirements_file(tool, absolute(name), nested=False)
    except Missing as exc:
        return fail(tool, str(exc))
    return 0


def _make_outputs(command: str, args: Sequence[str]) -> None:
    dirs = []
    for i, arg in enumerate(args):
        name, _, value = arg.partition("=")
        if name in OUTPUT_OPTIONS:
            dirs.append(value or (args[i + 1] if i + 1 < len(args) else ""))
        elif arg == "--user":
            dirs.append(os.path.expanduser("~/.local/lib/python3.11/site-packages"))
    if command == "wheel" and not dirs:
        dirs.append(".")
    for folder in filter(None, dirs):
        os.makedirs(absolute(folder), exist_ok=True)
        if command == "wheel":
            wheel = os.path.join(absolute(folder), "stubworld-0-py3-none-any.whl")
            with open(wheel, "wb") as handle:
                handle.write(b"stubworld wheel\n")


def _command(args: Sequence[str]) -> tuple[str, list[str]]:
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in VALUE_OPTIONS:
            i += 2
            continue
        if not arg.startswith("-"):
            return arg, list(args[i + 1 :])
        i += 1
    return "", []


def _positionals(args: Sequence[str]) -> list[str]:
    out, i = [], 0
    while i < len(args):
        if args[i] in VALUE_OPTIONS or args[i] in (
            "-r",
            "-c",
            "-e",
            "--requirement",
            "--constraint",
            "--editable",
        ):
            i += 2
            continue
        if not args[i].startswith("-"):
            out.append(args[i])
        i += 1
    return out


def install(args: Sequence[str], tool: str, positional_files: bool = True) -> None:
    """The arguments of ``pip install``: option files first-class, then requirements."""
    i = 0
    while i < len(args):
        arg = args[i]
        value = args[i + 1] if i + 1 < len(args) else ""
        if arg in ("-r", "--requirement", "-c", "--constraint"):
            requirements_file(tool, absolute(value), nested=False)
            i += 2
        elif arg in ("-e", "--editable"):
            requirement(tool, value)
            i += 2
        elif arg.startswith(("--requirement=", "--constraint=")):
            requirements_file(tool, absolute(arg.split("=", 1)[1]), nested=False)
            i += 1
        elif arg.startswith("--editable="):
            requirement(tool, arg.split("=", 1)[1])
            i += 1
        elif arg[:2] in ("-r", "-c") and len(arg) > 2 and not arg.startswith("--"):
            requirements_file(tool, absolute(arg[2:]), nested=False)
            i += 1
        elif arg[:2] == "-e" and len(arg) > 2 and not arg.startswith("--"):
            requirement(tool, arg[2:])
            i += 1
        elif arg in VALUE_OPTIONS:
            i += 2
        elif arg.startswith("-"):
            i += 1
        else:
            if positional_files:
                requirement(tool, arg)
            i += 1


def requirements_file(tool: str, path: str, nested: bool) -> None:
    text = decode(read_file(tool, path))
    for line in _logical_lines(text):
        line = _ENV_RE.sub(lambda m: os.environ.get(m.group(1), ""), line)
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        if not words:
            continue
        head = words[0]
        if head.startswith("-"):
            _option_line(tool, path, words)
        else:
            requirement(tool, line.split(";")[0].split(" --")[0].strip())


def _option_line(tool: str, path: str, words: list[str]) -> None:
    head, value = words[0], words[1] if len(words) > 1 else ""
    for names in (("-r", "--requirement"), ("-c", "--constraint"), ("-e", "--editable")):
        for name in names:
            if head == name:
                arg = value
            elif head.startswith(name + "=") and name.startswith("--"):
                arg = head.split("=", 1)[1]
            elif len(name) == 2 and head.startswith(name) and len(head) > 2:
                arg = head[2:]
            else:
                continue
            if name in ("-e", "--editable"):
                requirement(tool, arg)
            elif "://" not in arg:
                requirements_file(tool, absolute(arg, os.path.dirname(path)), nested=True)
            return


def _logical_lines(text: str) -> list[str]:
    lines, pending = [], ""
    for raw in text.splitlines():
        if raw.endswith("\\"):
            pending += raw[:-1]
            continue
        line = _COMMENT_RE.sub("", pending + raw).strip()
        pending = ""
        if line:
            lines.append(line)
    if pending.strip():
        lines.append(pending.strip())
    return lines


def requirement(tool: str, spec: str) -> None:
    """One requirement: a local path must be a project or an archive; a name reads nothing."""
    spec = spec.strip()
    if " @ " in spec:
        spec = spec.split(" @ ", 1)[1].strip()
    if spec.startswith("file:"):
        spec = spec[len("file:") :]
        spec = "/" + spec.lstrip("/") if spec.startswith("//") else spec
    elif "://" in spec or spec.startswith("git+"):
        return
    if not looks_like_path(spec):
        return
    path = absolute(re.sub(r"\[[^\]]*\]$", "", spec.split("#", 1)[0]))
    local_path(tool, path)


def looks_like_path(spec: str) -> bool:
    return spec.startswith((".", "/", "~")) or "/" in spec or spec.endswith(ARCHIVES)


def local_path(tool: str, path: str) -> None:
    if os.path.isdir(path):
        found = [name for name in PROJECT_FILES if os.path.isfile(os.path.join(path, name))]
        if not found:
            raise Missing(f"{path} is a directory without {', '.join(PROJECT_FILES)}")
        for name in found:
            read_file(tool, os.path.join(path, name))
        log_read(tool, path)
    elif os.path.isfile(path):
        log_read(tool, path)
    else:
        raise Missing(f"{path} does not exist")
