"""Findings of one repository scored against its hand-written labels (see realworld.py).

Labels are per Dockerfile: ``mlf101`` (bool), ``mlf102`` (junk entries), ``mlf201``
(bool), and per repository ``models`` (hub repos the app loads at start, with ``knowable``
and ``hub``) and ``not_hub`` (names that must not be baked). A Dockerfile's findings are
the JSON findings whose ``filename`` is that Dockerfile.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_REPO_IN_MESSAGE = re.compile(r"^`([^`]+)`")


@dataclass
class Tally:
    """found / missed / extra of one kind of mistake, with what each one was."""

    found: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.found += other.found
        self.missed += other.missed
        self.extra += other.extra

    def cell(self) -> str:
        return f"{len(self.found)}/{len(self.missed)}/{len(self.extra)}"


def _norm(path: str) -> str:
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


def for_dockerfile(
    findings: Iterable[Mapping[str, Any]], dockerfile: str
) -> list[Mapping[str, Any]]:
    return [f for f in findings if _norm(str(f.get("filename", ""))) == _norm(dockerfile)]


def _text(finding: Mapping[str, Any]) -> str:
    fix = finding.get("fix") or {}
    parts = [str(finding.get("message", "")), *map(str, finding.get("notes", []))]
    parts += [str(e.get("content", "")) for e in fix.get("edits", [])]
    return "\n".join(parts)


def score_bool(label: bool | None, found: bool, name: str) -> Tally:
    tally = Tally()
    if label is None:
        return tally
    if label and found:
        tally.found.append(name)
    elif label:
        tally.missed.append(name)
    elif found:
        tally.extra.append(name)
    return tally


def score_junk(label: Sequence[str], mine: Sequence[Mapping[str, Any]], name: str) -> Tally:
    """Each labelled junk entry must be named by an MLF101/MLF102 finding of the Dockerfile;
    an MLF102 finding where nothing is labelled is extra."""
    tally = Tally()
    texts = "\n".join(_text(f) for f in mine if f.get("code") in ("MLF101", "MLF102"))
    for entry in label:
        key = entry.strip("/").removeprefix("./")
        (tally.found if key and key in texts else tally.missed).append(f"{name}: {entry}")
    if not label and any(f.get("code") == "MLF102" for f in mine):
        tally.extra.append(name)
    return tally


def baked_models(mine: Iterable[Mapping[str, Any]], fixed_text: str | None) -> list[str]:
    """Hub repos an MLF301 fix bakes: named first in its message, and (when the fixed
    Dockerfile is known) present in it."""
    out = []
    for finding in mine:
        fix = finding.get("fix")
        if finding.get("code") != "MLF301" or not fix or fix.get("applicability") == "display-only":
            continue
        match = _REPO_IN_MESSAGE.match(str(finding.get("message", "")))
        if match and (fixed_text is None or match.group(1) in fixed_text):
            out.append(match.group(1))
    return sorted(set(out))


def score_models(
    entry: Mapping[str, Any],
    dockerfile: str,
    baked: Sequence[str],
    name: str,
    downloads: Sequence[str] = (),
) -> Tally:
    """Knowable hub models labelled for this Dockerfile: baked or missed; a bake of a repo no
    label names (or that a ``not_hub``/``downloads`` label says must not be baked) is extra.

    A model the Dockerfile already downloads (its ``downloads`` label) is in the image
    without a bake, so it counts as found when mlfix leaves it alone and as extra when
    mlfix downloads it again. A bake is matched by the repo id or by the name as written
    (``distilgpt2`` is cached under that name, not under the id the hub redirects to).
    """
    tally = Tally()
    labelled: dict[str, set[str]] = {}
    allowed = set()
    for model in entry.get("models", []):
        where = model.get("dockerfile")
        if where and _norm(where) != _norm(dockerfile):
            continue
        repo_id = model.get("repo_id")
        if not repo_id:
            continue
        spellings = {repo_id}
        written = model.get("as_written")
        if isinstance(written, str) and re.fullmatch(r"[\w.-]+(/[\w.-]+)?", written):
            spellings.add(written)
        allowed |= spellings
        if model.get("knowable") and model.get("hub"):
            labelled.setdefault(repo_id, set()).update(spellings)
    # `not_hub` is per repository: a name it lists for another Dockerfile's app (the same
    # model, not loaded by that image) stays allowed where this Dockerfile's app loads it.
    forbidden = {str(n.get("name")) for n in entry.get("not_hub", [])} - set(labelled)
    present = set(downloads)
    for repo_id, spellings in sorted(labelled.items()):
        hit = bool(spellings & set(baked)) or bool(spellings & present)
        (tally.found if hit else tally.missed).append(f"{name}: {repo_id}")
    for repo_id in baked:
        if repo_id not in allowed or repo_id in forbidden or repo_id in present:
            tally.extra.append(f"{name}: {repo_id}")
    return tally
