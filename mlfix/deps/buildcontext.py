"""The build context as Docker sends it, read only through this view.

Dependency facts ask whether a path is in the context (the ignore file applied the way
Docker applies it) and read manifests from it; nothing outside the context root is read,
and only regular files of bounded size are.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlfix.context.dockerignore import DirAction, DockerIgnore, find_ignore_file
from mlfix.dockerfile.model import parse
from mlfix.dockerfile.state import copy_plan
from mlfix.errors import MlfixError
from mlfix.textio import decode_manifest

MANIFEST_LIMIT = 16_000_000  # bytes read at most from one manifest


class Context:
    """Read-only view of a build context on disk, confined to its root.

    `exists`/`is_dir` answer for the context Docker sends: a path the ignore file on
    disk leaves out (`<dockerfile>.dockerignore` when there is one, else
    `<root>/.dockerignore`) is not there for a COPY that takes a whole directory, so no
    fix adds an explicit `COPY` of it. Paths a `COPY`/`ADD` of `dockerfile_text` names
    (or that lie in a directory it names, other than the context root) are the
    exception: Docker drops them by mistake, MLF103 re-includes them, and the
    dependency rules treat them as there. An ignore file Docker would reject is
    treated as absent here (MLF103 reports it).
    """

    def __init__(
        self, root: Path, dockerfile: Path | None = None, dockerfile_text: str | None = None
    ) -> None:
        self.root = root
        self._real = root.resolve()
        self._dockerfile = dockerfile
        self._dockerfile_text = dockerfile_text
        self._ignore: DockerIgnore | bool | None = False  # False: not read yet
        self._named: tuple[str, ...] = ()

    def _load_ignore(self) -> DockerIgnore | None:
        if self._ignore is False:
            self._ignore = None
            found = find_ignore_file(self.root, self._dockerfile)
            if found is not None:
                try:
                    self._ignore = DockerIgnore.load(found.path)
                except MlfixError:
                    self._ignore = None
            if self._ignore is not None and self._dockerfile_text is not None:
                self._named = _copy_sources(self._dockerfile_text, self._dockerfile)
        return self._ignore if isinstance(self._ignore, DockerIgnore) else None

    def _ignored(self, rel: str) -> bool:
        ignore = self._load_ignore()
        if ignore is None or not ignore.patterns or rel in ("", "."):
            return False
        if ignore.sends_file(rel):
            return False
        if any(rel == named or rel.startswith(named + "/") for named in self._named):
            return False
        # An excluded directory a `!` line reaches into still arrives, holding what it keeps.
        return not ((self.root / rel).is_dir() and ignore.dir_action(rel) is not DirAction.SKIP)

    def _path(self, rel: str) -> Path | None:
        if rel in ("", "."):
            return self.root
        candidate = self.root / rel
        try:
            resolved = candidate.resolve()
        except (OSError, RuntimeError):
            return None
        if resolved != self._real and self._real not in resolved.parents:
            return None
        return candidate

    def exists(self, rel: str) -> bool:
        path = self._path(rel)
        return path is not None and path.exists() and not self._ignored(rel)

    def is_dir(self, rel: str) -> bool:
        path = self._path(rel)
        return path is not None and path.is_dir() and not self._ignored(rel)

    def read_text(self, rel: str) -> str:
        path = self._path(rel)
        if path is None:
            raise MlfixError(self.root / rel, "points outside the build context")
        try:
            if not path.is_file():  # a FIFO would block the read forever
                raise MlfixError(path, "is not a regular file; mlfix reads only regular files")
            if path.stat().st_size > MANIFEST_LIMIT:
                raise MlfixError(path, f"is over {MANIFEST_LIMIT // 1_000_000} MB, not a manifest")
            return decode_manifest(path.read_bytes(), path)
        except OSError as exc:
            raise MlfixError(path, f"cannot be read ({exc.strerror or exc})") from None

    def size(self, rel: str, limit: int | None = None) -> int:
        """Bytes under `rel`; stops counting once past `limit`, which is all callers need."""
        path = self._path(rel)
        if path is None:
            return 0
        if path.is_file():
            return path.stat().st_size
        total = 0
        stack = [str(path)]
        while stack:
            try:
                with os.scandir(stack.pop()) as entries:
                    for entry in entries:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
            if limit is not None and total > limit:
                break
        return total


def _copy_sources(text: str, dockerfile: Path | None) -> tuple[str, ...]:
    """Context paths the Dockerfile's COPY/ADD instructions name (not the root, no globs)."""
    try:
        model = parse(text, dockerfile or Path("Dockerfile"))
    except MlfixError:
        return ()
    named: list[str] = []
    for instruction in model.instructions:
        plan = copy_plan(instruction, "/")
        if plan is None or not plan.from_context:
            continue
        named.extend(s for s in plan.sources if s != "." and not any(ch in s for ch in "*?[$"))
    return tuple(named)
