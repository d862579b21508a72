"""The lines a new `.dockerignore` gets for what a working tree grows later (pure).

The bot and CI run mlfix on fresh clones, where `__pycache__`, `.venv`, `.env` and
experiment runs do not exist yet; on every developer's machine they will, and
`COPY . .` sends them into the image. So when MLF101 writes a file for a context that
is copied whole, it adds these few lines too, after the lines for what the context
holds now. A line is left out when the context already has something of that name
(then what the walk found decides, by content: a package called `wandb/` stays), when
another line already covers it, or when it would take a path a COPY names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlfix.context.dockerignore import DockerIgnore, Engine

if TYPE_CHECKING:  # facts.py imports this module for NAMES
    from mlfix.context.facts import CopySource

TITLE = "Not in this checkout yet, but every Python/ML working tree grows these"


@dataclass(frozen=True)
class BaselineLine:
    text: str
    name: str  # the name whose presence in the context makes the line moot
    what: str


BASELINE: tuple[BaselineLine, ...] = (
    BaselineLine("**/__pycache__", "__pycache__", "bytecode caches"),
    BaselineLine("**/.ipynb_checkpoints", ".ipynb_checkpoints", "notebook checkpoints"),
    BaselineLine("**/.pytest_cache", ".pytest_cache", "test caches"),
    BaselineLine(".venv", ".venv", "the usual virtualenv"),
    BaselineLine(".env", ".env", "local secrets"),
    BaselineLine("wandb", "wandb", "experiment runs"),
    BaselineLine("mlruns", "mlruns", "experiment runs"),
    BaselineLine("lightning_logs", "lightning_logs", "experiment runs"),
)
NAMES = frozenset(line.name for line in BASELINE)


def choose(
    present: Iterable[str],
    existing_lines: Sequence[str],
    copies: Sequence[CopySource],
    engine: Engine = Engine.MODERN,
) -> list[BaselineLine]:
    """The baseline lines a new file for this context gets.

    `present` are the baseline names that exist anywhere the walk looked (top level
    for anchored lines); `existing_lines` the lines already proposed.
    """
    have = set(present)
    chosen: list[BaselineLine] = []
    named = [c.source for c in copies if not c.whole and c.keyword != "RUN"]
    for line in BASELINE:
        if line.name in have or line.text in existing_lines:
            continue
        ignore = DockerIgnore.parse(line.text + "\n", engine=engine)
        if any(ignore.excludes(path) for path in named):
            continue
        chosen.append(line)
    return chosen


def render(lines: Sequence[BaselineLine], newline: str) -> str:
    if not lines:
        return ""
    return f"# {TITLE}{newline}" + "".join(line.text + newline for line in lines)
