"""ENV and ARG values in scope at each instruction, read by dockerfile-parse.

The model finds instruction boundaries itself (dockerfile-parse's line regexes get them
wrong); dockerfile-parse only evaluates variables, from a rendering it reads correctly.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence

from dockerfile_parse import DockerfileParser

from mlfix.dockerfile import shell


def _one_line(keyword: str, value: str) -> str:
    return f"{keyword} {' '.join(value.split())}\n"


def _renderings(keyword: str, logical: str, heredocs: bool) -> list[str]:
    """One-line instructions for dockerfile-parse; an `ARG a=1 b` becomes one line per name.

    BuildKit takes several names in one ARG; dockerfile-parse raises on them.
    """
    value = logical if not heredocs else logical.split("<<")[0]
    if keyword == "ARG":
        names = [w.source for w in shell.words(value)]
        if len(names) > 1:
            return [_one_line("ARG", name) for name in names]
    return [_one_line(keyword, value)]


def env_in_scope(raws: Sequence[tuple[str, str, bool]]) -> list[dict[str, str]]:
    """ENV and ARG values visible at each instruction, read by dockerfile-parse.

    The rendering it reads has one instruction per line and no heredoc bodies, the
    shape its line regexes handle correctly. It decodes strictly as UTF-8, so bytes that
    are not UTF-8 (kept as surrogates) go through as private-use characters and come back.
    Should it still fail, no variable is known rather than the file refused: BuildKit
    reads what passed the checks above.
    """
    lines = [_renderings(*raw) for raw in raws]
    rendering = "".join(line for group in lines for line in group).translate(_TO_PRIVATE)
    try:
        parser = DockerfileParser(fileobj=io.BytesIO(rendering.encode("utf-8")))
        contexts = parser.context_structure
    except (IndexError, ValueError, KeyError, UnicodeError):
        return [{} for _ in raws]
    scopes: list[dict[str, str]] = []
    for context in contexts:
        scope = dict(context.get_values(context_type="ARG"))
        scope.update(context.get_values(context_type="ENV"))
        scopes.append(
            {k.translate(_FROM_PRIVATE): v.translate(_FROM_PRIVATE) for k, v in scope.items()}
        )
    if len(scopes) != sum(len(group) for group in lines):  # never trust a count mismatch
        return [{} for _ in raws]
    ends = list(itertools.accumulate(len(group) for group in lines))
    return [scopes[end - 1] for end in ends]


# Surrogate-escaped bytes 0x80-0xff <-> plane-16 private-use characters.
_TO_PRIVATE = {0xDC00 + b: 0x10FF00 + b for b in range(0x80, 0x100)}
_FROM_PRIVATE = {v: k for k, v in _TO_PRIVATE.items()}
