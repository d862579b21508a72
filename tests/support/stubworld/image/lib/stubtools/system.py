"""python, the system package managers, users and sudo.

* ``python FILE`` needs FILE; ``python -m pip`` is pip; ``python -m venv DIR`` makes a
  venv of stub tools; anything else a Python process would do succeeds without running.
* ``apt-get``/``apk``/``dnf``/``yum``/``microdnf`` install nothing and need only the local
  package files they are given (``./x.deb``).
* ``adduser``/``addgroup`` (Debian's or BusyBox's options) make the user with ``useradd``,
  so a later ``USER`` finds it; ``sudo CMD`` runs CMD.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

from stubtools import pip
from stubtools.common import Missing, absolute, fail, log_read, make_venv, run_command

_PY_VALUE_OPTIONS = ("-W", "-X", "--check-hash-based-pycs")


def python(args: Sequence[str]) -> int:
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("--version", "-V"):
            print("Python 3.11.2")
            return 0
        if arg == "-c":
            return 0
        if arg == "-m":
            module, rest = (args[i + 1] if i + 1 < len(args) else ""), args[i + 2 :]
            if module == "pip":
                return pip.main(rest)
            if module in ("venv", "virtualenv"):
                names = [a for a in rest if not a.startswith("-")]
                if names:
                    make_venv(absolute(names[-1]))
            return 0
        if arg in _PY_VALUE_OPTIONS:
            i += 2
            continue
        if arg.startswith("-"):
            i += 1
            continue
        if arg != "-" and not os.path.isfile(arg):
            return fail("python", f"can't open file {absolute(arg)!r}")
        return 0
    return 0


def packages(args: Sequence[str], tool: str) -> int:
    try:
        for arg in args:
            if arg.endswith((".deb", ".rpm", ".apk")) and "/" in arg and "://" not in arg:
                path = absolute(arg)
                if not os.path.isfile(path):
                    raise Missing(f"{path} does not exist")
                log_read(tool, path)
    except Missing as exc:
        return fail(tool, str(exc))
    return 0


def adduser(args: Sequence[str], group: bool = False) -> int:
    """Both syntaxes: Debian's ``--uid N --ingroup G`` and BusyBox's ``-u N -G G -D``."""
    value = {
        "--uid": "-u",
        "-u": "-u",
        "--gid": "-g",
        "--ingroup": "-g",
        "-G": "-g",
        "-g": "-g" if group else "gecos",
        "--home": "-d",
        "-h": "-d",
        "--shell": "-s",
        "-s": "-s",
        "--gecos": "gecos",
        "--comment": "gecos",
    }
    options: dict[str, str] = {}
    names: list[str] = []
    system = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in value and i + 1 < len(args):
            options[value[arg]] = args[i + 1]
            i += 2
            continue
        if arg in ("--system", "-S", "-r"):
            system = True
        elif not arg.startswith("-"):
            names.append(arg)
        i += 1
    if not names:
        return 0
    if group:
        cmd = [
            "groupadd",
            *(["-g", options["-u"]] if "-u" in options else []),
            *(["-g", options["-g"]] if "-g" in options else []),
            *(["-r"] if system else []),
            names[0],
        ]
    elif len(names) == 2:  # adduser USER GROUP: add to a group
        cmd = ["usermod", "-aG", names[1], names[0]]
    else:
        cmd = ["useradd", "-m", *(["-r"] if system else [])]
        for flag in ("-u", "-g", "-d", "-s"):
            if flag in options:
                cmd += [flag, options[flag]]
        cmd.append(names[0])
    return subprocess.run(cmd, check=False).returncode


def sudo(args: Sequence[str]) -> int:
    rest = list(args)
    while rest and rest[0].startswith("-"):
        rest = rest[2:] if rest[0] in ("-u", "-g", "-C", "-D") else rest[1:]
    return run_command(rest)


if __name__ == "__main__":
    sys.exit(python(sys.argv[1:]))
