"""Unified diffs and the all-or-none write: the only code that turns results into files.

A target's files are written together or not at all. Every destination is checked before
anything is touched (a link, a directory reached through a link out of the repository, a
special or hard-linked file, a read-only file or folder: refused), every new text is staged
as a temp file beside its destination and synced, and only then are they renamed into
place; if a rename fails, the ones already done are put back from staged copies of their
old bytes. So an
`error:` line always means the target's files are as they were.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import os
import stat
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


LINKS = "mlfix does not write through links"


def write_atomic(path: Path, text: str) -> None:
    """One file, with the same checks and guarantees as `write_all`."""
    write_all({path: text}, write_root([path.parent]))


def write_root(folders: Iterable[Path]) -> Path:
    """The tree a target's files must stay in: the git repository holding its folders, else
    the working directory when it holds them all, else their nearest common folder.

    Paths are made absolute without resolving links, so a folder that is a link out of
    the tree is still seen as one.
    """
    folders = [Path(os.path.abspath(f)) for f in folders]
    for directory in (folders[0], *folders[0].parents):
        if (directory / ".git").exists() and all(f.is_relative_to(directory) for f in folders):
            return directory
    cwd = Path(os.path.abspath(os.getcwd()))
    if all(f.is_relative_to(cwd) for f in folders):
        return cwd
    return Path(os.path.commonpath([str(f) for f in folders]))


@dataclass
class _Slot:
    """One destination: its staged text, and a backup of what it held."""

    path: Path
    data: bytes
    mode: int
    owner: tuple[int, int] | None
    existed: bool
    temp: Path | None = None
    backup: Path | None = None
    replaced: bool = False


def write_all(changes: Mapping[Path, str], root: Path) -> None:
    """Write every file of `changes` or none of them; raise MlfixError naming the file."""
    slots = [_check(path, text, root) for path, text in changes.items()]
    current: Path | None = None
    try:
        for slot in slots:
            current = slot.path
            slot.temp = _stage(slot.path, slot.data, slot.mode, slot.owner)
            if slot.existed:
                slot.backup = _backup(slot)
        for slot in slots:
            current = slot.path
            assert slot.temp is not None
            os.replace(slot.temp, slot.path)
            slot.temp, slot.replaced = None, True
    except OSError as exc:
        _roll_back(slots)
        assert current is not None
        raise MlfixError(current, f"cannot write ({_why(exc)}); nothing written") from None
    except BaseException:
        _roll_back(slots)
        raise
    for slot in slots:
        if slot.backup is not None:
            slot.backup.unlink(missing_ok=True)
        _sync_folder(slot.path.parent)


def _why(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    return exc.strerror or str(exc)


def _check(path: Path, text: str, root: Path) -> _Slot:
    """Refuse a destination before anything is written (see the module docstring)."""
    try:
        info: os.stat_result | None = os.lstat(path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise MlfixError(path, f"cannot write ({_why(exc)})") from None
    linked = _link(path, info)
    if linked is not None:
        raise MlfixError(path, f"{linked}; {LINKS}")
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise MlfixError(path, "is not a regular file; mlfix writes only regular files")
    folder = Path(os.path.abspath(path)).parent
    real_root, real_folder = Path(root).resolve(), folder.resolve()
    if not real_folder.is_relative_to(real_root):
        raise MlfixError(
            path, f"its folder is a symbolic link to {real_folder}, outside {root}; {LINKS}"
        )
    if not real_folder.is_dir():
        raise MlfixError(path, f"cannot write ({folder} is not a directory)")
    folder_mode = real_folder.stat().st_mode
    if not os.access(real_folder, os.W_OK | os.X_OK) or not folder_mode & 0o222:
        raise MlfixError(path, f"cannot write (the folder {folder} is read-only)")
    if info is not None and (not os.access(path, os.W_OK) or not info.st_mode & 0o222):
        raise MlfixError(path, "cannot write (the file is read-only)")
    if info is None:
        umask = os.umask(0)
        os.umask(umask)
        mode, owner = 0o666 & ~umask, None
    else:
        mode, owner = stat.S_IMODE(info.st_mode), (info.st_uid, info.st_gid)
    return _Slot(path, encode(text), mode, owner, info is not None)


def linked(path: Path) -> str | None:
    """Why `path` is written through a link (a symbolic link, or a file with more than one
    name), else None. The engine asks before fixing: such a fix is shown, not applied, since
    writing would change the other file too (a `.dockerignore` linked to `.gitignore`)."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return _link(path, info)


def _link(path: Path, info: os.stat_result | None) -> str | None:
    if info is None:
        return None
    if stat.S_ISLNK(info.st_mode):
        return f"is a symbolic link to {os.readlink(path)}"
    if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
        return f"has {info.st_nlink} hard links"
    return None


def _stage(path: Path, data: bytes, mode: int, owner: tuple[int, int] | None) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".mlfix", dir=path.parent)
    temp = Path(name)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fchmod(fd, mode)
        if owner is not None and (os.fstat(fd).st_uid, os.fstat(fd).st_gid) != owner:
            with contextlib.suppress(OSError):  # only root may give a file away
                os.fchown(fd, *owner)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        temp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return temp


def _backup(slot: _Slot) -> Path:
    """A staged copy of the old bytes, to put back if a later rename fails.

    A copy rather than a second hard link: a concurrent run would see the file with two
    links and refuse it.
    """
    return _stage(slot.path, slot.path.read_bytes(), slot.mode, slot.owner)


def _roll_back(slots: list[_Slot]) -> None:
    """Put back every file already renamed; remove every temp file and backup."""
    for slot in reversed(slots):
        with contextlib.suppress(OSError):
            if slot.replaced and slot.backup is not None:
                os.replace(slot.backup, slot.path)
                slot.backup = None
            elif slot.replaced:
                slot.path.unlink()
        for leftover in (slot.temp, slot.backup):
            if leftover is not None:
                with contextlib.suppress(OSError):
                    leftover.unlink()


def _sync_folder(folder: Path) -> None:
    """Make the renames durable; a folder that cannot be opened or synced is left as is."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
