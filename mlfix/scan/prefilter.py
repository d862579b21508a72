"""Find the Python files worth parsing, reading each file once, as bytes.

Most files of a repository never load a model. Parsing costs far more than reading, so a
file is parsed only when its raw bytes contain one of the NEEDLES, derived from the loader
table: every loader the scan recognises is spelled by its name at the call or at the
import that names it.

Speed notes, measured on CPython 3.11 (20,000 files, 65 MB): one alternation regex of all
needles runs at about 230 MB/s, because `re` has no fast path when the alternatives share no
first byte. The same needles in groups that share a first byte run at 2.5 GB/s per group,
and searching a batch of files joined by NUL pays the per-call overhead once per batch
rather than once per file. `LOADER_RE` is the one regex that defines the needles; the
groups are derived from the same needles and a test checks they match the same files.

The walk uses `os.scandir` and generators only, so memory stays flat as the repo grows.
"""

from __future__ import annotations

import bisect
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from mlfix.regular import kind
from mlfix.scan import loaders

NEEDLES: tuple[bytes, ...] = tuple(needle.encode() for needle in loaders.needles())
LOADER_RE = re.compile("|".join(loaders.needle_patterns()).encode())


# Where a needle's fast-group tail starts: at its first byte from this list. Few distinct
# first bytes means few passes over the buffer, which is what costs (each group is one
# literal-prefix scan); measured on the benchmark repository, these four and INSTRUCTOR's
# own give 5 groups at about 1.7x the speed of one group per capital letter.
_ANCHORS = (b"_", b"-", b"d", b"e")


def _anchor(needle: bytes) -> bytes:
    """The tail of a needle that its fast group searches for."""
    for anchor in _ANCHORS:
        index = needle.find(anchor)
        if index >= 0:
            return needle[index:]
    return needle


def _groups() -> tuple[re.Pattern[bytes], ...]:
    tails: dict[int, set[bytes]] = {}
    for needle in NEEDLES:
        tail = _anchor(needle)
        tails.setdefault(tail[0], set()).add(tail[1:])
    return tuple(
        re.compile(
            re.escape(bytes([first]))
            + b"(?:"
            + b"|".join(re.escape(t) for t in sorted(rest, key=len, reverse=True))
            + b")"
        )
        for first, rest in sorted(tails.items())
    )


# The needles in groups whose alternatives share a first byte (see the module docstring).
# Each group matches a superset of its needles (a tail of each); `may_load_models` confirms
# a hit with the exact groups, so the answer is exactly LOADER_RE's.
_FAST_GROUPS: tuple[re.Pattern[bytes], ...] = _groups()


def _exact_groups() -> tuple[re.Pattern[bytes], ...]:
    """LOADER_RE's alternatives split by their first character: together they match what
    LOADER_RE matches, each at the speed of a literal-prefix scan.

    They confirm a fast-group hit. In ML code nearly every file is one (`model` holds the
    `del` of FlagModel's tail), and LOADER_RE, one alternation with no common prefix, reads
    about 230 MB/s: on a corpus of real ML repositories that confirmation was most of the
    prefilter's time. These stop at the first hit, which a file that loads a model has early.
    """
    by_first: dict[str, list[str]] = {}
    for pattern in loaders.needle_patterns():
        by_first.setdefault(pattern[0], []).append(pattern)
    return tuple(re.compile("|".join(group).encode()) for _, group in sorted(by_first.items()))


_EXACT_GROUPS = _exact_groups()


def _confirmed(data: bytes) -> bool:
    return any(group.search(data) for group in _EXACT_GROUPS)


# Directories that never hold the project's own code.
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "__pycache__",
        "site-packages",
        "dist-packages",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".ipynb_checkpoints",
    }
)

Exclude = Callable[[str, bool], bool]
"""`exclude(relative_posix_path, is_dir)`: True to skip (a `.dockerignore`d path)."""


class PythonFile(NamedTuple):
    """A Python file found by the walk: its OS path and its path relative to the root.

    A named tuple, not a dataclass: the walk makes one per file of the repository, and a
    frozen dataclass costs several times as much to build.
    """

    path: str
    rel: str


@dataclass(frozen=True)
class Candidate:
    """One walked file: its bytes when it may load a model, else None; or the read error.

    `too_large` files (over MAX_FILE_BYTES by their size, or grown past it while read) are
    not parsed, and read no further than the cap. `error` is an Unread for a FIFO or device.
    """

    file: PythonFile
    data: bytes | None
    error: OSError | None = None
    too_large: bool = False


def may_load_models(data: bytes) -> bool:
    """Whether the bytes mention any loader needle (exactly LOADER_RE's answer)."""
    return any(group.search(data) for group in _FAST_GROUPS) and _confirmed(data)


def needle_lines(data: bytes) -> list[int]:
    """The 1-based line numbers holding a needle, sorted: the lines a parse must look at."""
    lines: list[int] = []
    line = 1
    pos = 0
    for match in LOADER_RE.finditer(data):
        line += data.count(b"\n", pos, match.start())
        pos = match.start()
        if not lines or lines[-1] != line:
            lines.append(line)
    return lines


def _is_environment(names: set[str]) -> bool:
    """A virtualenv (pyvenv.cfg) or conda env (conda-meta/): installed code, not the project's."""
    return "pyvenv.cfg" in names or "conda-meta" in names


def iter_python_files(
    root: str | os.PathLike[str], exclude: Exclude | None = None
) -> Iterator[PythonFile]:
    """Yield the project's `.py` files under root, depth first, in a stable (sorted) order.

    Directories that cannot hold project code are not descended: SKIP_DIRS, environments,
    symlinked directories (loops, and code outside the context), and whatever `exclude`
    rejects, so a `.dockerignore`d directory costs one call, not a walk.
    """
    top = os.fspath(root)
    stack: list[tuple[str, str]] = [(top, "")]
    while stack:
        directory, rel = stack.pop()
        try:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError:
            continue
        if rel and _is_environment({entry.name for entry in entries}):
            continue
        subdirs: list[tuple[str, str]] = []
        for entry in entries:
            name = entry.name
            entry_rel = f"{rel}/{name}" if rel else name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if name in SKIP_DIRS or (exclude is not None and exclude(entry_rel, True)):
                        continue
                    subdirs.append((entry.path, entry_rel))
                elif name.endswith(".py") and (entry.is_file() or _special(entry)):
                    if exclude is not None and exclude(entry_rel, False):
                        continue
                    yield PythonFile(entry.path, entry_rel)
            except OSError:
                continue
        stack.extend(reversed(subdirs))


_READ_SIZE = 1 << 16
MAX_FILE_BYTES = 4 << 20  # larger .py files are generated code or data, never parsed
_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


class Unread(OSError):
    """A file the scan does not read because it is not a regular file.

    Opening a FIFO waits for a writer and reading one waits for data, so every scan read
    opens with O_NONBLOCK (which never waits) and checks the open file with fstat (a file
    swapped for a FIFO after the walk saw it is caught too). The message uses the words
    `mlfix.regular` uses for every other file mlfix refuses to read.
    """


def _special(entry: os.DirEntry[str]) -> bool:
    """A FIFO, socket or device named `*.py` (or a link to one): walked so the reader can
    say it was skipped; a broken link is not (Docker sends it as a link, nothing to read)."""
    try:
        return not entry.is_dir() and os.path.exists(entry.path)
    except OSError:
        return False


def _open(path: str) -> tuple[int, int]:
    """An open regular file and its size; raises Unread for anything else."""
    fd = os.open(path, _FLAGS)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Unread(f"is {kind(info.st_mode)}, not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return fd, info.st_size


def read_problem(exc: OSError) -> str:
    """How a file the scan could not read is reported."""
    if isinstance(exc, Unread):
        return f"not scanned: {exc}"
    return f"cannot be read ({exc.strerror or exc})"


def read_bytes(path: str) -> bytes:
    """A regular file's bytes, at most one byte past MAX_FILE_BYTES, with raw `os` calls
    (about twice as fast as `open()` for small files). Raises Unread for a FIFO or device."""
    fd, _size = _open(path)
    try:
        data = os.read(fd, _READ_SIZE)
        return data + _read_rest(fd) if len(data) == _READ_SIZE else data
    finally:
        os.close(fd)


def iter_candidates(files: Iterable[PythonFile], *, batch_files: int = 256) -> Iterator[Candidate]:
    """Read every file once and yield it, with its bytes only when it may load a model."""
    batch: list[PythonFile] = []
    for file in files:
        batch.append(file)
        if len(batch) >= batch_files:
            yield from _every(batch)
            batch = []
    yield from _every(batch)


def _every(batch: list[PythonFile]) -> Iterator[Candidate]:
    found = {candidate.file: candidate for candidate in filter_batch(batch)}
    for file in batch:
        yield found.get(file) or Candidate(file, None)


def filter_batch(files: Sequence[PythonFile]) -> list[Candidate]:
    """Read a batch of files; return those that may load a model (with their bytes) and
    those that cannot be read (with the error), in order. The rest cost nothing more.

    The batch is searched as one buffer, the files joined by NUL (which no needle
    contains, so a hit never spans files): one regex call per group per batch instead of
    per file. Callers bound the batch size, so memory stays flat.
    """
    open_, read, close, fstat, is_regular = os.open, os.read, os.close, os.fstat, stat.S_ISREG
    datas: list[bytes] = []
    errors: dict[int, OSError] = {}
    large: set[int] = set()
    for index, file in enumerate(files):
        data = b""
        try:
            fd = open_(file.path, _FLAGS)  # never waits, even on a FIFO
            try:
                info = fstat(fd)  # the file opened, not the one the walk saw
                if not is_regular(info.st_mode):
                    raise Unread(f"is {kind(info.st_mode)}, not a regular file")
                if info.st_size > MAX_FILE_BYTES:  # a sparse 2 GB file is never read
                    large.add(index)
                else:
                    data = read(fd, _READ_SIZE)
                    if len(data) == _READ_SIZE:
                        data += _read_rest(fd)
            finally:
                close(fd)
        except OSError as exc:
            errors[index] = exc
        datas.append(data)
    starts: list[int] = []
    offset = 0
    for data in datas:
        starts.append(offset)
        offset += len(data) + 1
    blob = b"\0".join(datas)
    maybe: set[int] = set()
    for group in _FAST_GROUPS:
        for match in group.finditer(blob):
            maybe.add(bisect.bisect_right(starts, match.start()) - 1)
    large.update(i for i, data in enumerate(datas) if len(data) > MAX_FILE_BYTES)  # it grew
    kept = sorted(maybe | set(errors) | large)
    result: list[Candidate] = []
    for index in kept:
        if index in errors:
            result.append(Candidate(files[index], None, errors[index]))
        elif index in large:
            result.append(Candidate(files[index], None, too_large=True))
        elif _confirmed(datas[index]):
            result.append(Candidate(files[index], datas[index]))
    return result


def _read_rest(fd: int) -> bytes:
    """The rest of a file, at most one byte past MAX_FILE_BYTES: a file that grows while it
    is read, or a link to /dev/zero, costs one bounded read and is known to be too large."""
    chunks: list[bytes] = []
    size = _READ_SIZE
    while size <= MAX_FILE_BYTES and (
        chunk := os.read(fd, min(1 << 20, MAX_FILE_BYTES + 1 - size + _READ_SIZE))
    ):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
