"""The scanned repository: which project file an import names, a bounded cache of parsed
modules, local model directories, and the image's environment."""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Iterator
from collections.abc import Mapping as MappingABC
from pathlib import Path

from mlfix.scan.known import pinned
from mlfix.scan.prefilter import read_bytes
from mlfix.scan.source import Scope, SourceFile

MAX_SEARCHED = 200  # files per directory searched for call sites


class Project:
    """The scanned repository: finds the modules that imports name, and keeps a few parsed.

    Only a bounded number of parsed modules are kept (LRU), so memory does not grow with
    the repository.
    """

    def __init__(
        self,
        root: Path | None,
        env: MappingABC[str, str],
        *,
        versions: MappingABC[str, str] | None = None,
        argv: MappingABC[str, tuple[str, ...]] | None = None,
        cache_size: int = 64,
    ) -> None:
        self.root = root.resolve() if root is not None else None
        self.argv = dict(argv or {})
        self.env = env
        self.env_folded = {key.lower(): (key, value) for key, value in env.items()}
        self.versions = dict(versions or {})
        self._cache: OrderedDict[Path, SourceFile | None] = OrderedDict()
        self._cache_size = cache_size
        # Which file a module name is, per search base: bounded, like the module cache.
        self._found: OrderedDict[tuple[Path, str], Path | None] = OrderedDict()
        self._mentions: dict[tuple[str, Path], list[Path]] = {}

    def argv_for(self, source: SourceFile) -> tuple[str, ...] | None:
        """The arguments the image's start command passes to this file, if it runs it."""
        if not self.argv:
            return None
        return self.argv.get(self.display(source.path).as_posix())

    def files_mentioning(self, name: str, near: Path) -> list[Path]:
        """Python files beside `near` and at the project root whose bytes spell `name`
        (where call sites of a function defined in `near` usually are). Two directory
        listings and at most MAX_SEARCHED small reads per name, cached, so a large
        repository costs no more than a small one."""
        if self.root is None:
            return []
        key = (name, near.parent)
        if key not in self._mentions:
            needle = name.encode()
            found: list[Path] = []
            for directory in dict.fromkeys((_absolute(near).parent, self.root)):
                for path in self._python_files(directory)[:MAX_SEARCHED]:
                    try:
                        if needle in read_bytes(str(path)):
                            found.append(path)
                    except OSError:
                        continue
            self._mentions[key] = found
            if len(self._mentions) > 4 * self._cache_size:
                self._mentions.pop(next(iter(self._mentions)))
        return self._mentions[key]

    def _python_files(self, directory: Path) -> list[Path]:
        try:
            with os.scandir(directory) as entries:
                return sorted(
                    Path(e.path) for e in entries if e.name.endswith(".py") and e.is_file()
                )
        except OSError:
            return []

    def version(self, package: str) -> str | None:
        """The version the project pins for a package, when the caller knows it."""
        return pinned(self.versions, package)

    def display(self, path: Path) -> Path:
        if self.root is not None:
            try:
                return _absolute(path).relative_to(self.root)
            except ValueError:
                pass
        return path

    def remember(self, source: SourceFile) -> None:
        self._store(_absolute(source.path), source)

    def _store(self, key: Path, value: SourceFile | None) -> None:
        old = self._cache.get(key)
        if old is not None and old is not value:
            old.close()
        self._cache[key] = value
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            _, evicted = self._cache.popitem(last=False)
            if evicted is not None:
                evicted.close()

    def close(self) -> None:
        """Release every cached module (see `SourceFile.close`)."""
        for source in self._cache.values():
            if source is not None:
                source.close()
        self._cache.clear()

    def load(self, path: Path) -> SourceFile | None:
        key = _absolute(path)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        source: SourceFile | None
        try:
            source = SourceFile.parse(key, self.display(key), read_bytes(str(key)))
        except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
            source = None
        self._store(key, source)
        return source

    def _search_bases(self, importer: SourceFile) -> Iterator[Path]:
        if self.root is None:
            return
        directory = _absolute(importer.path).parent
        while True:
            yield directory
            if directory == self.root or self.root not in directory.parents:
                break
            directory = directory.parent
        yield self.root / "src"

    def _find(self, base: Path, dotted: str) -> Path | None:
        key = (base, dotted)
        if key not in self._found:
            parts = [part for part in dotted.split(".") if part]
            found: Path | None = None
            if parts:
                candidate = base.joinpath(*parts)
                if candidate.with_suffix(".py").is_file():
                    found = candidate.with_suffix(".py")
                elif (candidate / "__init__.py").is_file():
                    found = candidate / "__init__.py"
            self._found[key] = found
            if len(self._found) > 64 * self._cache_size:
                self._found.popitem(last=False)
            return found
        self._found.move_to_end(key)
        return self._found[key]

    def module_path(self, dotted: str, importer: SourceFile, level: int) -> Path | None:
        """The project file `import dotted` (with `level` leading dots) names, if any."""
        if self.root is None:
            return None
        if level > 0:
            base = _absolute(importer.path).parent
            for _ in range(level - 1):
                base = base.parent
            if not dotted:
                init = base / "__init__.py"
                return init if init.is_file() else None
            return self._find(base, dotted)
        for base in self._search_bases(importer):
            found = self._find(base, dotted)
            if found is not None:
                return found
        return None

    def module_scope(self, dotted: str, importer: SourceFile, level: int) -> Scope | None:
        path = self.module_path(dotted, importer, level)
        if path is None:
            return None
        source = self.load(path)
        return source.module_scope if source is not None else None

    def local_dir(self, name: str, importer: SourceFile) -> Path | None:
        """The project directory a relative model name points at, if it exists.

        Libraries check `os.path.isdir(name)` before the hub, so `models/bert` is local
        when the project has that directory (at its root or beside the loading file).
        """
        if self.root is None or not name or os.path.isabs(name):
            return None
        for base in (_absolute(importer.path).parent, self.root):
            candidate = base / name
            try:
                if candidate.is_dir():
                    return candidate
            except OSError:
                continue
        return None

    def adapter_config(self, directory: Path) -> dict[str, object] | None:
        """A local PEFT adapter's `adapter_config.json`, which names its base model."""
        try:
            data = json.loads(read_bytes(str(directory / "adapter_config.json")))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def env_value(self, name: str, *, case_sensitive: bool = True) -> tuple[str, str] | None:
        if name in self.env:
            return name, self.env[name]
        if not case_sensitive:
            return self.env_folded.get(name.lower())
        return None


def _absolute(path: Path) -> Path:
    """An absolute, normalised path without resolving symlinks (one syscall per part)."""
    text = os.fspath(path)
    return Path(os.path.normpath(text if os.path.isabs(text) else os.path.join(os.getcwd(), text)))
