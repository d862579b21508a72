"""Everything a rule may know about one target, gathered before any rule runs.

Rules are pure functions of this object: they never read files. The engine builds a
fresh `Facts` for every pass, because each pass sees the text the previous one made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlfix.config import Settings
from mlfix.deps.facts import DependencyFacts
from mlfix.dockerfile.model import DockerfileModel

if TYPE_CHECKING:  # the families' fact modules import Target from here
    from mlfix.context.facts import IgnoreFacts
    from mlfix.deps.system import SystemFacts
    from mlfix.weights.facts import WeightFacts


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
    # Each rule family's own facts; None when none of its rules runs this time.
    system: SystemFacts | None = None  # system-package layers (MLF201, MLF203)
    weights: WeightFacts | None = None  # models, caches and downloads (MLF301-MLF305)
    ignore: IgnoreFacts | None = None  # the context and its .dockerignore (MLF101-MLF103)
