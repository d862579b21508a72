"""The task a hub model card names, when a copy of the card is inside the build context.

`pipeline(model=...)` without a task asks the hub API for the model's `pipeline_tag`
(transformers `get_task` -> `model_info(model).pipeline_tag`), so it cannot run offline.
mlfix never reaches the hub, so the task can only be named when the project carries the
repo's card itself: a huggingface_hub cache inside the context
(`models--org--name/snapshots/<revision>/README.md`) whose YAML front matter sets
`pipeline_tag:`. Anything else (a tag the hub infers from the architecture) stays unknown.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from mlfix.weights.cache import repo_folder

MAX_DEPTH = 6
SKIP = frozenset({".git", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache"})
CARD_BYTES = 64 * 1024
_TAG = re.compile(r"^pipeline_tag:\s*['\"]?([A-Za-z0-9_-]+)['\"]?\s*(?:#.*)?$")


def front_matter_tag(card: str) -> str | None:
    """`pipeline_tag` of a model card's YAML front matter (between the leading `---` lines)."""
    lines = card.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    for line in lines[1:]:
        if line.strip() == "---":
            return None
        match = _TAG.match(line.strip())
        if match:
            return match.group(1)
    return None


def _repo_dirs(root: Path, wanted: set[str]) -> Iterable[Path]:
    base_depth = len(root.parts)
    for current, dirs, _files in os.walk(root):
        here = Path(current)
        found = [d for d in dirs if d in wanted]
        for name in found:
            yield here / name
        depth = len(here.parts) - base_depth
        dirs[:] = [d for d in dirs if d not in SKIP and d not in wanted and depth < MAX_DEPTH]


def pipeline_tags(root: Path, repos: Iterable[str]) -> dict[str, tuple[str, str]]:
    """repo id -> (pipeline_tag, the card it came from, relative to `root`)."""
    folders = {repo_folder(repo): repo for repo in repos}
    found: dict[str, tuple[str, str]] = {}
    if not folders:
        return found
    for directory in _repo_dirs(root, set(folders)):
        repo = folders[directory.name]
        if repo in found:
            continue
        for card in sorted((directory / "snapshots").glob("*/README.md")):
            try:
                with card.open("rb") as handle:
                    text = handle.read(CARD_BYTES).decode("utf-8", "replace")
            except OSError:
                continue
            tag = front_matter_tag(text)
            if tag:
                found[repo] = (tag, card.relative_to(root).as_posix())
                break
    return found
