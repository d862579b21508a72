"""Types shared by every stage of the pipeline: findings, fixes and edits.

Rules return these and never touch the disk; the engine applies edits to in-memory
texts and only the writer turns them into files.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path


class Applicability(enum.Enum):
    """How much a fix may be trusted, in ruff's terms.

    SAFE fixes keep the image's files and packages identical and are applied by
    `--write`; UNSAFE ones may change what the app sees and need `--unsafe-fixes`;
    DISPLAY_ONLY ones are shown but never applied.
    """

    SAFE = "safe"
    UNSAFE = "unsafe"
    DISPLAY_ONLY = "display-only"

    @property
    def rank(self) -> int:
        return {"safe": 2, "unsafe": 1, "display-only": 0}[self.value]

    @staticmethod
    def weakest(*items: Applicability) -> Applicability:
        return min(items, key=lambda a: a.rank, default=Applicability.SAFE)


@dataclass(frozen=True)
class Edit:
    """Replace `text[start:end]` of the file at `path` with `content`.

    Offsets index the decoded text (str), so an edit never splits a UTF-8 sequence.
    A file that does not exist yet has the text "" and is created by an insert at 0.
    """

    path: Path
    start: int
    end: int
    content: str

    @staticmethod
    def insert(path: Path, at: int, content: str) -> Edit:
        return Edit(path, at, at, content)

    @staticmethod
    def delete(path: Path, start: int, end: int) -> Edit:
        return Edit(path, start, end, "")


@dataclass(frozen=True)
class Fix:
    title: str
    edits: tuple[Edit, ...]
    applicability: Applicability = Applicability.SAFE


@dataclass(frozen=True)
class Location:
    path: Path
    line: int
    column: int = 1
    end_line: int | None = None
    end_column: int | None = None


@dataclass(frozen=True)
class Savings:
    """What a fix saves, where it can be known before building."""

    bytes: int | None = None
    files: int | None = None
    rebuild_steps: int | None = None


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    location: Location
    fix: Fix | None = None
    notes: tuple[str, ...] = field(default=())
    saves: Savings | None = None

    @property
    def applicability(self) -> Applicability | None:
        return None if self.fix is None else self.fix.applicability
