"""conda, mamba and micromamba: environment files and ``--file`` lists must exist.

``conda env create`` with no ``-f`` reads ``environment.yml`` of the working directory. The
``pip:`` section's ``-r``/``-e`` lines are checked relative to the environment file, which
is where conda runs pip from.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from stubtools import pip
from stubtools.common import Missing, absolute, decode, fail, make_venv, read_file, run_command

_PIP_LINE_RE = re.compile(r"^\s*-\s+(-r|--requirement|-e|--editable)[\s=]+(\S+)")
_RUN_VALUE_OPTIONS = ("-n", "--name", "-p", "--prefix", "--cwd")


def main(args: Sequence[str], tool: str) -> int:
    words = [a for a in args if not a.startswith("-")]
    if words[:1] == ["run"]:
        rest = list(args[args.index("run") + 1 :])
        while rest and rest[0].startswith("-"):
            rest = rest[2:] if rest[0] in _RUN_VALUE_OPTIONS else rest[1:]
        return run_command(rest)
    env_command = words[:1] == ["env"]
    command = words[1] if env_command and len(words) > 1 else (words[0] if words else "")
    if command not in ("create", "install", "update"):
        return 0
    try:
        files = _values(args, ("-f", "--file"))
        if not files and env_command and command in ("create", "update"):
            files = ["environment.yml"]
        for name in files:
            path = absolute(name)
            if path.endswith((".yml", ".yaml")) or env_command:
                _environment_file(tool, path)
            else:
                read_file(tool, path)
        prefix = _values(args, ("-p", "--prefix"))
        names = _values(args, ("-n", "--name"))
        if prefix:
            make_venv(absolute(prefix[0]))
        elif names and names[0] != "base":
            make_venv(os.path.join("/opt/conda/envs", names[0]))
    except Missing as exc:
        return fail(tool, str(exc))
    return 0


def _values(args: Sequence[str], names: Sequence[str]) -> list[str]:
    out = []
    for i, arg in enumerate(args):
        if arg in names and i + 1 < len(args):
            out.append(args[i + 1])
        for name in names:
            if name.startswith("--") and arg.startswith(name + "="):
                out.append(arg.split("=", 1)[1])
    return out


def _environment_file(tool: str, path: str) -> None:
    text = decode(read_file(tool, path))
    base = os.path.dirname(path)
    for line in text.splitlines():
        match = _PIP_LINE_RE.match(line)
        if not match:
            continue
        option, value = match.groups()
        if option in ("-r", "--requirement"):
            pip.requirements_file(tool, absolute(value, base), nested=True)
        elif "://" not in value and not value.startswith("git+"):  # a VCS URL reads nothing
            pip.local_path(tool, absolute(value, base))
