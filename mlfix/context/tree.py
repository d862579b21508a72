"""A pruned walk of a build context: what `docker build` sends, as fast as `du`.

The walk exists to answer "what does `docker build` send, and what of it is junk?" as fast
as `du` answers "how big is it?". So it lists each directory once with `os.scandir`, stats
each file once without following symlinks, and never keeps a list of files: entries are
yielded as they are found. Directories whose inside does not matter one by one - a venv,
`.git`, a dataset that will be reported as a single entry - are *summarised*: the caller
decides that from the directory's listing, and a tight loop then adds up sizes without
building per-file objects. Directories the ignore file excludes with nothing below that a
`!` line could bring back are skipped unread, as Docker's own walker skips them.

Symlinks are entries of their own (Docker sends the link, never its target), so a walk
never leaves the context and a symlink loop cannot trap it; loops, links pointing outside
the context, directory cycles through bind mounts and unreadable directories become
`Problem`s rather than errors, because the report is still useful without them.

Sizes are `st_size` of regular files, which is what travels to the daemon; a hard link
already counted is not counted again, as BuildKit sends it as a link.
"""

from __future__ import annotations

import enum
import errno
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from mlfix.context.dockerignore import (
    DirAction,
    DockerIgnore,
    Verdict,
)
from mlfix.errors import MlfixError

__all__ = ["EntryKind", "Listing", "Node", "Problem", "ProblemKind", "walk"]

_NO_VERDICT = Verdict(False, -1)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class EntryKind(enum.Enum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    OTHER = "other"  # sockets, fifos, devices: sent as entries, with no content


class ProblemKind(enum.Enum):
    """Why part of the context could not be measured, or will surprise at build time."""

    UNREADABLE = "unreadable"  # Docker fails the build on it too, unless it is ignored
    SYMLINK_LOOP = "symlink-loop"  # sent as a link; anything that follows it fails
    SYMLINK_OUTSIDE = "symlink-outside"  # sent as a link that dangles inside the image
    DIRECTORY_CYCLE = "directory-cycle"  # a bind mount back to a parent: not walked twice


@dataclass(frozen=True)
class Problem:
    path: str
    kind: ProblemKind
    detail: str


@dataclass(frozen=True)
class Listing:
    """One directory's names, handed to the caller to decide whether to summarise it.

    Names come from the listing the walk does anyway, so recognising a venv by its
    `pyvenv.cfg` costs nothing extra.
    """

    path: str
    files: frozenset[str]
    dirs: frozenset[str]

    @property
    def name(self) -> str:
        return self.path.rpartition("/")[2]


@dataclass(frozen=True)
class Node:
    """One entry of the walk.

    For a file, `bytes`/`files` are its size and 1. A walked directory has 0/0 (its
    entries follow it). A summarised directory has the totals of everything below it and
    `summarised=True`; a skipped one (ignored, unread) has 0/0 and `action=SKIP`.
    `sent` says whether Docker sends the entry itself; `sent_bytes`/`sent_files` how much
    of its content it sends. A directory excluded by the ignore file but walked because
    a `!` line may re-include something below is sent only under LEGACY rules; under
    MODERN rules it travels only as the parent of whatever is sent below it.
    """

    path: str
    kind: EntryKind
    bytes: int
    files: int
    sent_bytes: int
    sent_files: int
    sent: bool
    excluded: bool
    action: DirAction | None = None
    summarised: bool = False


class Tally:
    """Running totals for one subtree, with hard links counted once."""

    __slots__ = ("bytes", "files", "sent_bytes", "sent_files")

    def __init__(self) -> None:
        self.bytes = 0
        self.files = 0
        self.sent_bytes = 0
        self.sent_files = 0


def _kind_of(mode: int) -> EntryKind:
    if stat.S_ISREG(mode):
        return EntryKind.FILE
    if stat.S_ISDIR(mode):
        return EntryKind.DIR
    if stat.S_ISLNK(mode):
        return EntryKind.SYMLINK
    return EntryKind.OTHER


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


class _Walk:
    """State of one walk: the ignore file, the problems found and the hard links seen."""

    def __init__(self, root: Path, ignore: DockerIgnore | None) -> None:
        self.root = str(root)
        self.real_root = os.path.realpath(root)
        self.ignore = ignore
        self.problems: list[Problem] = []
        self._seen_total: set[tuple[int, int]] = set()
        self._seen_sent: set[tuple[int, int]] = set()

    # -- matching -----------------------------------------------------------------

    def verdict(self, rel: str, parent: Verdict) -> Verdict:
        if self.ignore is None:
            return _NO_VERDICT
        return self.ignore.verdict(rel, parent)

    def action(self, rel: str, verdict: Verdict) -> DirAction:
        if self.ignore is None:
            return DirAction.WALK
        return self.ignore.dir_action(rel, verdict)

    def dir_sent(self, action: DirAction) -> bool:
        if action is DirAction.WALK:
            return True
        if action is DirAction.WALK_EXCLUDED and self.ignore is not None:
            return self.ignore.sends_walked_excluded_dirs
        return False

    def uniform(self, rel: str, verdict: Verdict) -> bool:
        """Whether every path below `rel` shares its verdict, so sizes need no matching."""
        if self.ignore is None:
            return True
        return not self.ignore.may_change_below(rel, verdict)

    # -- sizes ----------------------------------------------------------------------

    def add_file(self, counter: Tally, st: os.stat_result, sent: bool) -> int:
        """Count one non-directory entry; returns the bytes it adds (0 for a repeat link)."""
        size = st.st_size if stat.S_ISREG(st.st_mode) else 0
        counter.files += 1
        if sent:
            counter.sent_files += 1
        if size and st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            if key in self._seen_total:
                size_total = 0
            else:
                self._seen_total.add(key)
                size_total = size
            counter.bytes += size_total
            if sent and key not in self._seen_sent:
                self._seen_sent.add(key)
                counter.sent_bytes += size
            return size_total
        counter.bytes += size
        if sent:
            counter.sent_bytes += size
        return size

    def scan(self, path: str, rel: str) -> list[os.DirEntry[str]] | None:
        try:
            with os.scandir(path) as it:
                return list(it)
        except OSError as exc:
            self.problems.append(
                Problem(
                    rel,
                    ProblemKind.UNREADABLE,
                    f"cannot be listed ({exc.strerror or exc}); Docker fails the build on it "
                    "unless .dockerignore excludes it",
                )
            )
            return None

    def count_uniform(self, path: str, rel: str, sent: bool, counter: Tally) -> None:
        """Add up a subtree whose paths all share one verdict: the `du` loop.

        Keeps only a stack of directory paths; no per-file object outlives its stat.
        Each directory is opened once and listed through its descriptor, so the stats
        resolve names relative to it (`fstatat`) instead of walking the full path again.
        The per-file work is inlined because it runs once per file of a venv or dataset.
        """
        stack = [(path, rel)]
        total_bytes = files = 0
        is_reg = stat.S_ISREG
        while stack:
            here, here_rel = stack.pop()
            try:
                fd = os.open(here, _DIR_FLAGS)
            except OSError as exc:
                self.problems.append(
                    Problem(here_rel, ProblemKind.UNREADABLE, f"cannot be listed ({exc.strerror})")
                )
                continue
            try:
                with os.scandir(fd) as it:
                    for entry in it:
                        try:
                            if entry.is_dir(follow_symlinks=False):
                                name = entry.name
                                stack.append((f"{here}/{name}", _join(here_rel, name)))
                                continue
                            st = entry.stat(follow_symlinks=False)
                        except OSError:
                            continue
                        files += 1
                        if is_reg(st.st_mode) and st.st_size:
                            if st.st_nlink > 1:
                                self.add_file(counter, st, sent)
                                files -= 1
                            else:
                                total_bytes += st.st_size
            except OSError as exc:
                self.problems.append(
                    Problem(here_rel, ProblemKind.UNREADABLE, f"cannot be listed ({exc.strerror})")
                )
            finally:
                os.close(fd)
        counter.bytes += total_bytes
        counter.files += files
        if sent:
            counter.sent_bytes += total_bytes
            counter.sent_files += files

    def count_matched(
        self,
        path: str,
        rel: str,
        verdict: Verdict,
        entries: list[os.DirEntry[str]] | None,
        counter: Tally,
    ) -> None:
        """Add up a subtree whose paths need matching one by one (a `!` line reaches in)."""
        if entries is None:
            entries = self.scan(path, rel) or []
        for entry in entries:
            child = _join(rel, entry.name)
            child_verdict = self.verdict(child, verdict)
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                st = None if is_dir else entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if st is not None:
                self.add_file(counter, st, not child_verdict.excluded)
                continue
            self.count_dir(entry.path, child, child_verdict, counter)

    def count_dir(self, path: str, rel: str, verdict: Verdict, counter: Tally) -> None:
        action = self.action(rel, verdict)
        if action is DirAction.SKIP:
            self.count_uniform(path, rel, False, counter)
        elif self.uniform(rel, verdict):
            self.count_uniform(path, rel, not verdict.excluded, counter)
        else:
            self.count_matched(path, rel, verdict, None, counter)

    # -- symlinks -------------------------------------------------------------------

    def check_symlink(self, path: str, rel: str) -> None:
        try:
            os.stat(path)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                self.problems.append(
                    Problem(rel, ProblemKind.SYMLINK_LOOP, "symbolic link loop; sent as a link")
                )
            return
        target = os.path.realpath(path)
        if os.path.commonpath([self.real_root, target]) != self.real_root:
            self.problems.append(
                Problem(
                    rel,
                    ProblemKind.SYMLINK_OUTSIDE,
                    f"points outside the context ({os.readlink(path)}); Docker sends the link, "
                    "which dangles in the image",
                )
            )


def walk(
    root: Path,
    *,
    ignore: DockerIgnore | None = None,
    summarise: Callable[[Listing], bool] | None = None,
    measure_ignored: bool = False,
    problems: list[Problem] | None = None,
    start: str | None = None,
) -> Iterator[Node]:
    """Yield the entries of the context at `root`, parents before children.

    `summarise(listing)` is asked once per directory, after its listing: True turns the
    directory into one `Node` with totals. With `ignore`, every node says whether Docker
    sends it. Directories the ignore file excludes for good are skipped unread (one
    `Node` with `action=SKIP`), unless `measure_ignored` asks for their sizes too, in which
    case they are walked like the rest with everything marked as not sent. Problems are
    appended to `problems` when given.

    `start` (a directory relative to `root`, POSIX) walks only that subtree, its own node
    first, with the verdicts and skips its parents give it: everything below a parent
    Docker skips is marked as not sent. Paths stay relative to `root`. It must be a real
    directory inside the context (no symlink on the way), else MlfixError.
    """
    state = _Walk(root, ignore)
    try:
        top = os.stat(root)
    except OSError as exc:
        raise MlfixError(root, f"cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISDIR(top.st_mode):
        raise MlfixError(root, "is not a directory")
    first = _Enter(state.root, "", _NO_VERDICT, DirAction.WALK, (top.st_dev, top.st_ino))
    if start is not None and start not in ("", "."):
        first = _start(state, root, start)
    try:
        yield from _walk(state, summarise, measure_ignored, first)
    finally:
        if problems is not None:
            problems.extend(state.problems)


def _start(state: _Walk, root: Path, start: str) -> _Enter:
    """The walk's first directory when it begins below the root, as Docker reaches it."""
    rel = ""
    path = str(root)
    verdict = _NO_VERDICT
    action = DirAction.WALK
    st: os.stat_result | None = None
    for name in start.strip("/").split("/"):
        if name in ("", "."):
            continue
        if name == "..":
            raise MlfixError(root / start, "is outside the build context")
        rel = _join(rel, name)
        path = f"{path}/{name}"
        try:
            st = os.lstat(path)
        except OSError as exc:
            raise MlfixError(root / start, f"cannot be read ({exc.strerror or exc})") from None
        if not stat.S_ISDIR(st.st_mode):
            raise MlfixError(root / start, "is not a directory inside the context")
        if action is not DirAction.SKIP:
            verdict = state.verdict(rel, verdict)
            action = state.action(rel, verdict)
    if st is None:
        return _Enter(state.root, "", _NO_VERDICT, DirAction.WALK, (0, 0))
    return _Enter(path, rel, verdict, action, (st.st_dev, st.st_ino))


class _Enter(NamedTuple):
    """A directory still to read."""

    path: str
    rel: str
    verdict: Verdict
    action: DirAction
    key: tuple[int, int]


class _Leave(NamedTuple):
    """Marks the end of a directory's subtree, so it stops counting as an ancestor."""

    key: tuple[int, int]


def _walk(
    state: _Walk,
    summarise: Callable[[Listing], bool] | None,
    measure_ignored: bool,
    first: _Enter,
) -> Iterator[Node]:
    ancestors: set[tuple[int, int]] = set()
    stack: list[_Enter | _Leave] = [first]
    while stack:
        item = stack.pop()
        if isinstance(item, _Leave):
            ancestors.discard(item.key)
            continue
        path, rel, verdict, action, key = item
        if key in ancestors:
            state.problems.append(
                Problem(rel, ProblemKind.DIRECTORY_CYCLE, "leads back to a parent directory")
            )
            entries = None
        else:
            entries = state.scan(path, rel)
        if rel and summarise is not None and entries is not None:
            files = frozenset(e.name for e in entries if not _is_dir(e))
            dirs = frozenset(e.name for e in entries if _is_dir(e))
            if summarise(Listing(rel, files, dirs)):
                counter = Tally()
                if action is DirAction.SKIP:
                    for entry in entries:
                        _count_entry(state, entry, rel, verdict, counter, uniform_sent=False)
                elif state.uniform(rel, verdict):
                    for entry in entries:
                        _count_entry(
                            state, entry, rel, verdict, counter, uniform_sent=not verdict.excluded
                        )
                else:
                    state.count_matched(path, rel, verdict, entries, counter)
                yield Node(
                    rel,
                    EntryKind.DIR,
                    counter.bytes,
                    counter.files,
                    counter.sent_bytes,
                    counter.sent_files,
                    sent=state.dir_sent(action) or counter.sent_files > 0,
                    excluded=verdict.excluded,
                    action=action,
                    summarised=True,
                )
                continue
        if rel:
            yield Node(
                rel,
                EntryKind.DIR,
                0,
                0,
                0,
                0,
                sent=state.dir_sent(action),
                excluded=verdict.excluded,
                action=action,
            )
        if entries is None:
            continue
        ancestors.add(key)
        stack.append(_Leave(key))
        pending: list[_Enter] = []
        for entry in entries:
            child = _join(rel, entry.name)
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            child_verdict = verdict if action is DirAction.SKIP else state.verdict(child, verdict)
            if stat.S_ISDIR(st.st_mode):
                if action is DirAction.SKIP:
                    child_action = DirAction.SKIP
                else:
                    child_action = state.action(child, child_verdict)
                if child_action is DirAction.SKIP and not measure_ignored:
                    yield Node(
                        child,
                        EntryKind.DIR,
                        0,
                        0,
                        0,
                        0,
                        sent=False,
                        excluded=True,
                        action=DirAction.SKIP,
                    )
                    continue
                pending.append(
                    _Enter(entry.path, child, child_verdict, child_action, (st.st_dev, st.st_ino))
                )
                continue
            kind = _kind_of(st.st_mode)
            sent = action is not DirAction.SKIP and not child_verdict.excluded
            counter = Tally()
            state.add_file(counter, st, sent)
            if kind is EntryKind.SYMLINK:
                state.check_symlink(entry.path, child)
            yield Node(
                child,
                kind,
                counter.bytes,
                1,
                counter.sent_bytes,
                counter.sent_files,
                sent=sent,
                excluded=child_verdict.excluded,
            )
        stack.extend(reversed(pending))


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _count_entry(
    state: _Walk,
    entry: os.DirEntry[str],
    rel: str,
    verdict: Verdict,
    counter: Tally,
    *,
    uniform_sent: bool,
) -> None:
    try:
        if entry.is_dir(follow_symlinks=False):
            state.count_uniform(entry.path, _join(rel, entry.name), uniform_sent, counter)
            return
        st = entry.stat(follow_symlinks=False)
    except OSError:
        return
    state.add_file(counter, st, uniform_sent)
