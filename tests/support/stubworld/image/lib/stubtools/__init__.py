"""The stub world's tools, one entry point: the name a tool was run by picks it."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence

from stubtools import conda, fetch, pip, projects, system

_TOOLS: dict[str, Callable[[Sequence[str]], int]] = {
    "pip": pip.main,
    "poetry": projects.poetry,
    "uv": projects.uv,
    "pipenv": projects.pipenv,
    "conda": lambda a: conda.main(a, "conda"),
    "mamba": lambda a: conda.main(a, "mamba"),
    "micromamba": lambda a: conda.main(a, "micromamba"),
    "apt-get": lambda a: system.packages(a, "apt-get"),
    "apt": lambda a: system.packages(a, "apt"),
    "apk": lambda a: system.packages(a, "apk"),
    "dnf": lambda a: system.packages(a, "dnf"),
    "yum": lambda a: system.packages(a, "yum"),
    "microdnf": lambda a: system.packages(a, "microdnf"),
    "hf": fetch.hf,
    "huggingface-cli": fetch.hf,
    "curl": fetch.curl,
    "wget": fetch.wget,
    "git": fetch.git,
    "python": system.python,
    "adduser": system.adduser,
    "addgroup": lambda a: system.adduser(a, group=True),
    "sudo": system.sudo,
}
NAMES = sorted(_TOOLS)


def main(argv: Sequence[str]) -> int:
    name = os.path.basename(argv[0])
    name = re.sub(r"^(pip|python)3?(\.\d+)?$", r"\1", name)
    tool = _TOOLS.get(name)
    if tool is None:
        return 0
    return tool(list(argv[1:]))
