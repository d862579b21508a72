"""What every stub tool shares: the reads log, how a real tool decodes a file, failing loudly.

The stub tools run inside the stub image with the real interpreter (``/.stubworld/python``)
and only the standard library. A tool "reads" a file the way the real one would, checks it
exists, and logs ``tool<TAB>absolute path<TAB>sha256`` to the reads log, so the oracle can
compare what the installs of two builds read.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import sys
from collections.abc import Sequence

# The tests of the tools themselves run them on the host with a log of their own.
READS_LOG = os.environ.get("STUBWORLD_READS_LOG", "/.stubworld/reads.log")
SHIM = "/.stubworld/bin/shim"


class Missing(Exception):
    """A file the real tool would read is not there: the real build would fail too."""


def fail(tool: str, message: str) -> int:
    print(f"stubworld {tool}: ERROR: {message}", file=sys.stderr)
    return 1


def absolute(path: str, base: str | None = None) -> str:
    path = os.path.expanduser(path)
    return os.path.normpath(os.path.join(base or os.getcwd(), path))


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def log_read(tool: str, path: str, digest: str | None = None) -> None:
    """Record one read; a directory (a project's source) is logged with digest ``-``."""
    if digest is None:
        digest = "-" if os.path.isdir(path) else sha256(path)
    line = f"{tool}\t{path}\t{digest}\n"
    with open(READS_LOG, "a", encoding="utf-8") as handle:
        handle.write(line)
    print(f"stubworld {tool}: read {path} {digest[:12]}", file=sys.stderr)


def read_file(tool: str, path: str) -> bytes:
    """The bytes of a file the tool needs (``Missing`` if there is none), logged."""
    if not os.path.exists(path) or os.path.isdir(path):
        raise Missing(f"{path} does not exist")
    log_read(tool, path)
    with open(path, "rb") as handle:
        return handle.read()


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CODING_RE = re.compile(rb"coding[:=]\s*([-\w.]+)")


def decode(data: bytes) -> str:
    """Like pip's ``auto_decode``: a BOM, else a PEP 263 coding line, else UTF-8."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding)
    for line in data.split(b"\n")[:2]:
        match = _CODING_RE.search(line)
        if line.startswith(b"#") and match:
            return data.decode(match.group(1).decode("ascii"))
    return data.decode("utf-8")


def find_upward(name: str, start: str) -> str | None:
    """The nearest ``name`` in ``start`` or a parent (how poetry, uv and pipenv find it)."""
    here = os.path.abspath(start)
    while True:
        candidate = os.path.join(here, name)
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def make_venv(prefix: str) -> None:
    """A virtual environment whose ``bin/`` holds the stub tools (python, pip)."""
    bindir = os.path.join(prefix, "bin")
    os.makedirs(bindir, exist_ok=True)
    os.makedirs(os.path.join(prefix, "lib", "python3.11", "site-packages"), exist_ok=True)
    for name in ("python", "python3", "python3.11", "pip", "pip3"):
        link = os.path.join(bindir, name)
        if not os.path.lexists(link):
            os.symlink(SHIM, link)
    with open(os.path.join(bindir, "activate"), "w", encoding="utf-8") as handle:
        handle.write(f'VIRTUAL_ENV="{prefix}"\nexport VIRTUAL_ENV\nPATH="{bindir}:$PATH"\n')
    with open(os.path.join(prefix, "pyvenv.cfg"), "w", encoding="utf-8") as handle:
        handle.write("home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n")


def run_command(argv: Sequence[str]) -> int:
    """``conda run``/``poetry run``/``sudo``: run what follows (through the stub tools)."""
    if not argv:
        return 0
    try:
        os.execvp(argv[0], list(argv))
    except FileNotFoundError:
        print(f"stubworld: {argv[0]}: not provided, taken as success", file=sys.stderr)
        return 0
    return 0  # not reached


def stub_bytes(name: str, what: str) -> bytes:
    """Deterministic content for a file a download would make (same in every build)."""
    return f"stubworld download {what}\n".encode()


def split_option(arg: str, names: Sequence[str]) -> str | None:
    """The value of ``--name=value`` for any of ``names``, else None."""
    for name in names:
        if name.startswith("--") and arg.startswith(name + "="):
            return arg[len(name) + 1 :]
    return None
