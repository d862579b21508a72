"""Everything a rule may know about one target, gathered before any rule runs.

Rules are pure functions of this object: they never read files. The engine builds a
fresh `Facts` for every pass, because each pass sees the text the previous one made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlfix.config import Settings
from mlfix.deps.facts import DependencyFacts
from mlfix.dockerfile.model import DockerfileModel


@dataclass(frozen=True)
class Target:
    """A Dockerfile and the build context Docker would send with it."""

    dockerfile: Path
    context: Path
    display: str  # how the Dockerfile is named in output
    compose_service: str | None = None
    build_target: str | None = None  # the stage compose builds (`build.target`), if named


@dataclass(frozen=True)
class Facts:
    target: Target
    dockerfile: DockerfileModel
    deps: DependencyFacts
    settings: Settings
    texts: dict[Path, str | None] = field(default_factory=dict)  # current text of every document
    extra: dict[str, Any] = field(default_factory=dict)  # facts other rule families add
