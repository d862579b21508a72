"""Settings that decide which rules run and which fixes are applied, and where they come from.

`Settings` is what the engine and the rules see. It is built for each target from the
nearest configuration file (`.mlfix.toml`, `mlfix.toml`, or `pyproject.toml` with a
`[tool.mlfix]` table, searched from the Dockerfile's directory upwards) with the
command line's options on top, as ruff does:

```toml
[tool.mlfix]
select = ["MLF2"]          # rule codes or prefixes; "ALL" for every rule
ignore = ["MLF203"]
unsafe-fixes = false
exclude = ["legacy/", "*.j2.Dockerfile"]   # gitignore-style, relative to this file
weights = "bake"            # "bake" model weights into the image, or mount a "volume"
hf-home = "/opt/hf"         # HF_HOME inside the image for baked weights
weights-base = "python:3.11-slim"   # the image the `weights` stage starts from
```

In `mlfix.toml` the same keys stand at the top level.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlfix.errors import MlfixError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

WEIGHTS = ("bake", "volume")
CONFIG_NAMES = (".mlfix.toml", "mlfix.toml", "pyproject.toml")
KEYS = ("select", "ignore", "unsafe-fixes", "exclude", "weights", "hf-home", "weights-base")
# The weights stage only runs pip and `hf download`: a small Python image of its own, pinned
# to a minor version, since the app's base may have no pip (CUDA runtime, busybox, node).
DEFAULT_WEIGHTS_BASE = "python:3.11-slim"
_IMAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@-]*", re.ASCII)
_PATH = re.compile(r"/[A-Za-z0-9_.@+/-]*", re.ASCII)  # written bare into ENV and COPY


@dataclass(frozen=True)
class Settings:
    select: tuple[str, ...] = ()  # empty: every rule
    ignore: tuple[str, ...] = ()
    unsafe_fixes: bool = False
    weights: str = "bake"  # how model weights reach the image: "bake" or "volume"
    hf_home: str | None = None  # HF_HOME inside the image; None: the rule's default
    weights_base: str = DEFAULT_WEIGHTS_BASE  # the image the weights stage starts from

    def enabled(self, code: str) -> bool:
        selected = not self.select or any(_matches(code, prefix) for prefix in self.select)
        return selected and not any(_matches(code, prefix) for prefix in self.ignore)


def _matches(code: str, prefix: str) -> bool:
    return prefix == "ALL" or code.startswith(prefix)


@dataclass(frozen=True)
class Config:
    """One configuration file's `mlfix` settings; None means "not set here"."""

    path: Path | None = None
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    unsafe_fixes: bool | None = None
    exclude: tuple[str, ...] = ()
    weights: str | None = None
    hf_home: str | None = None
    weights_base: str | None = None

    @property
    def root(self) -> Path:
        """The directory `exclude` patterns are relative to."""
        return self.path.parent if self.path is not None else Path.cwd()


@dataclass(frozen=True)
class Overrides:
    """What the command line says; it wins over every file."""

    select: tuple[str, ...] | None = None  # replaces the file's `select`
    ignore: tuple[str, ...] = ()  # added to the file's `ignore`
    unsafe_fixes: bool | None = None
    exclude: tuple[str, ...] = field(default=())  # added to the file's `exclude`
    weights: str | None = None
    hf_home: str | None = None

    def settings(self, config: Config | None) -> Settings:
        config = config or Config()
        select = self.select if self.select is not None else config.select
        unsafe = self.unsafe_fixes if self.unsafe_fixes is not None else config.unsafe_fixes
        return Settings(
            select=select or (),
            ignore=config.ignore + self.ignore,
            unsafe_fixes=bool(unsafe),
            weights=self.weights or config.weights or "bake",
            hf_home=self.hf_home or config.hf_home,
            weights_base=config.weights_base or DEFAULT_WEIGHTS_BASE,
        )


def codes(values: Sequence[str]) -> tuple[str, ...]:
    """`["MLF201,MLF202", " mlf3 "]` -> `("MLF201", "MLF202", "MLF3")`."""
    return tuple(
        code.strip().upper() for value in values for code in value.split(",") if code.strip()
    )


def _strings(path: Path, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise MlfixError(path, f"`{key}` must be a list of strings")
    return tuple(value)


def parse(path: Path, table: dict[str, Any]) -> Config:
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise MlfixError(path, f"unknown mlfix setting `{unknown[0]}` (known: {', '.join(KEYS)})")
    config = Config(path=path)
    if "select" in table:
        config = replace(config, select=codes(_strings(path, "select", table["select"])))
    if "ignore" in table:
        config = replace(config, ignore=codes(_strings(path, "ignore", table["ignore"])))
    if "exclude" in table:
        config = replace(config, exclude=_strings(path, "exclude", table["exclude"]))
    if "unsafe-fixes" in table:
        if not isinstance(table["unsafe-fixes"], bool):
            raise MlfixError(path, "`unsafe-fixes` must be true or false")
        config = replace(config, unsafe_fixes=table["unsafe-fixes"])
    if "weights" in table:
        if table["weights"] not in WEIGHTS:
            raise MlfixError(path, f"`weights` must be one of {', '.join(map(repr, WEIGHTS))}")
        config = replace(config, weights=table["weights"])
    if "hf-home" in table:
        value = table["hf-home"]
        if not isinstance(value, str) or not _PATH.fullmatch(value) or "/../" in f"{value}/":
            why = "`hf-home` must be an absolute path inside the image (letters, digits, _.@+-/)"
            raise MlfixError(path, why)
        config = replace(config, hf_home=value)
    if "weights-base" in table:
        value = table["weights-base"]
        if not isinstance(value, str) or not _IMAGE.fullmatch(value):
            raise MlfixError(path, "`weights-base` must be an image reference (`python:3.11-slim`)")
        config = replace(config, weights_base=value)
    return config


def _table(path: Path) -> dict[str, Any] | None:
    """The mlfix table of a config file; None for a pyproject.toml without one."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MlfixError(path, f"cannot be read ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MlfixError(path, f"invalid TOML ({exc})") from None
    if path.name != "pyproject.toml":
        return dict(data)
    tool = data.get("tool")
    table = tool.get("mlfix") if isinstance(tool, dict) else None
    if table is None:
        return None
    if not isinstance(table, dict):
        raise MlfixError(path, "`[tool.mlfix]` must be a table")
    return table


def load(path: Path) -> Config:
    """Read one configuration file (any name: `--config` may point anywhere)."""
    table = _table(path)
    return parse(path, table or {})


class Resolver:
    """Finds and caches the configuration nearest to each directory."""

    def __init__(self, explicit: Path | None = None) -> None:
        self.explicit = load(explicit) if explicit is not None else None
        self._by_dir: dict[Path, Config | None] = {}

    def nearest(self, directory: Path) -> Config | None:
        """The closest config at or above `directory`; raises MlfixError if it is invalid."""
        if self.explicit is not None:
            return self.explicit
        directory = Path(directory).absolute()
        seen: list[Path] = []
        found: Config | None = None
        for current in (directory, *directory.parents):
            if current in self._by_dir:
                found = self._by_dir[current]
                break
            seen.append(current)
            found = self._here(current)
            if found is not None:
                break
        for current in seen:
            self._by_dir[current] = found
        return found

    @staticmethod
    def _here(directory: Path) -> Config | None:
        for name in CONFIG_NAMES:
            candidate = directory / name
            if not candidate.is_file():
                continue
            table = _table(candidate)
            if table is not None:
                return parse(candidate, table)
        return None
