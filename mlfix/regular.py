"""Read only what is a regular file: a FIFO blocks a reader forever, a device never ends.

Discovery reads compose and `.gitignore` files through here, and checks every Dockerfile
it hands on, so a FIFO named `Dockerfile` or a link to `/dev/zero` becomes one error line
naming the file instead of a hang or a MemoryError. Other readers (textio, deps, the
context) can use the same two functions.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from mlfix.errors import MlfixError

MAX_READ = 8 << 20  # compose and ignore files larger than this are not read


def kind(mode: int) -> str | None:
    """What a file that is not a regular file is, for the message (None: a regular file).

    Every reader that refuses a FIFO or a device names it with these words (the scan's
    reader too), so one kind of skipped file reads the same wherever it is met.
    """
    if stat.S_ISREG(mode):
        return None
    kinds = (
        (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"), (stat.S_ISDIR, "a directory"),
    )  # fmt: skip
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def not_regular(path: Path) -> str | None:
    """Why `path` (links followed) must not be read, or None.

    Reading a FIFO blocks forever and a device (a link to /dev/zero) never ends, so
    only regular files are read. A path that does not resolve (a broken link, a loop)
    is left to whoever reads it, which reports it.
    """
    try:
        what = kind(os.stat(path).st_mode)
    except (OSError, ValueError):
        return None
    return None if what is None else f"is {what}, not a regular file; skipped"


def read_regular(path: Path, limit: int = MAX_READ) -> bytes:
    """A small regular file's text; never waits on a FIFO nor reads a device without end."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # opening a FIFO does not wait
    except OSError as exc:
        raise MlfixError(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        what = kind(info.st_mode)
        if what is not None:
            raise MlfixError(path, f"is {what}, not a regular file; skipped")
        if info.st_size > limit:
            raise MlfixError(path, f"is larger than {limit >> 20} MiB; skipped")
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise MlfixError(path, f"cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    return data
