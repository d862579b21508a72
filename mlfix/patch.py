"""Unified diffs and atomic writes: the only code that turns results into files."""

from __future__ import annotations

import difflib
import os
import stat
import tempfile
from pathlib import Path

from mlfix.errors import MlfixError
from mlfix.textio import encode

NO_NEWLINE = "\\ No newline at end of file\n"


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True) if text else []


def unified_diff(old: str | None, new: str, name: str) -> str:
    """A diff `git apply` and `patch` accept, including the missing-final-newline marker."""
    name = name.lstrip("/")  # an absolute path still reads `a/tmp/x`, as git writes it
    before = "/dev/null" if old is None else f"a/{name}"
    out: list[str] = []
    for line in difflib.unified_diff(_lines(old or ""), _lines(new), before, f"b/{name}"):
        if line.startswith(("---", "+++")):
            out.append(line.rstrip("\n") + "\n")
            continue
        out.append(line)
        if not line.endswith("\n"):
            out.append("\n" + NO_NEWLINE)
    return "".join(out)


def write_atomic(path: Path, text: str) -> None:
    """Replace the file in one rename, keeping its mode; a symlink's target is written."""
    target = path.resolve() if path.is_symlink() else path
    try:
        mode: int | None = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = None
    data = encode(text)
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".mlfix", dir=target.parent)
    except OSError as exc:
        raise MlfixError(path, f"cannot write ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
