"""What every output format needs: findings with their display path and source text.

The formats are pure functions of these items (no disk I/O): the source text a
finding's location and its fix's offsets refer to travels with it, so a code frame,
a row/column for an edit or a per-fix diff can be rendered for stdin input too.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlfix.discover import display
from mlfix.dockerfile import edit as edits
from mlfix.engine import TargetResult
from mlfix.model import Applicability, Edit, Finding
from mlfix.patch import unified_diff


@dataclass(frozen=True)
class Item:
    """One finding as the reports show it."""

    finding: Finding
    path: str  # display path of the finding's file
    texts: Mapping[Path, str | None]  # texts the location and the fix offsets refer to
    names: Mapping[Path, str]  # display path of every file a fix edits
    service: str | None = None  # compose service the target belongs to
    unsafe_fixes: bool = False  # whether unsafe fixes are on for this target

    @property
    def source(self) -> str | None:
        return self.texts.get(self.finding.location.path)

    @property
    def fix_enabled(self) -> bool:
        """Would `--write` apply this fix with the target's settings?"""
        fix = self.finding.fix
        if fix is None or not fix.edits:
            return False
        return fix.applicability is Applicability.SAFE or (
            fix.applicability is Applicability.UNSAFE and self.unsafe_fixes
        )

    @property
    def fix_hidden(self) -> bool:
        """An unsafe fix that `--unsafe-fixes` would enable."""
        fix = self.finding.fix
        return (
            fix is not None
            and bool(fix.edits)
            and fix.applicability is Applicability.UNSAFE
            and not self.unsafe_fixes
        )

    def fix_diff(self) -> str:
        """This finding's fix alone, as a unified diff against the text it was found in."""
        fix = self.finding.fix
        if fix is None:
            return ""
        by_path: dict[Path, list[Edit]] = {}
        for e in fix.edits:
            by_path.setdefault(e.path, []).append(e)
        out: list[str] = []
        for path, path_edits in sorted(by_path.items()):
            old = self.texts.get(path)
            new = edits.apply(old or "", path_edits)
            name = self.names.get(path, display(path))
            out.append(unified_diff(old, new, name))
        return "".join(out)


_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_unicode(value: Any) -> Any:
    """The same JSON-like value with every lone surrogate replaced by U+FFFD.

    Names and texts are decoded with `surrogateescape`, so a byte that is not UTF-8 (a
    directory called `caf\\xe9`) travels as a lone surrogate. JSON and SARIF must be valid
    Unicode for their readers, so those bytes are shown as U+FFFD there (SARIF URIs keep
    the exact bytes, %-encoded).
    """
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {valid_unicode(k): valid_unicode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [valid_unicode(item) for item in value]
    return value


def position(text: str | None, offset: int) -> tuple[int, int]:
    """1-based (row, column) of a text offset; columns count code points."""
    if not text:
        return 1, 1
    offset = max(0, min(offset, len(text)))
    row = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return row, column


def _texts(result: TargetResult, after_fix: bool) -> dict[Path, str | None]:
    texts: dict[Path, str | None] = dict(result.originals)
    for path, (old, new) in result.changes.items():
        texts[path] = new if after_fix else old
    return texts


def items(
    results: Iterable[TargetResult],
    *,
    after_fix: bool = False,
    unsafe_fixes: Mapping[Path, bool] | None = None,
) -> list[Item]:
    """Every finding of the results (the remaining ones after a fix), each once.

    Two targets can share a Dockerfile (two compose services with different
    contexts); a finding both report at the same place is shown once.
    """
    seen: set[tuple[str, Path, int, int, str]] = set()
    out: list[Item] = []
    for result in results:
        texts = _texts(result, after_fix)
        names = {path: display(path) for path in texts}
        names[result.target.dockerfile] = result.target.display
        unsafe = bool(unsafe_fixes and unsafe_fixes.get(result.target.dockerfile))
        for finding in result.remaining if after_fix else result.findings:
            where = finding.location
            key = (finding.code, where.path, where.line, where.column, finding.message)
            if key in seen:
                continue
            seen.add(key)
            for e in finding.fix.edits if finding.fix else ():
                names.setdefault(e.path, display(e.path))
            path = names.get(where.path) or display(where.path)
            out.append(Item(finding, path, texts, names, result.target.compose_service, unsafe))
    out.sort(key=lambda i: (i.path, i.finding.location.line, i.finding.location.column))
    return out


@dataclass(frozen=True)
class Stat:
    code: str
    name: str
    count: int
    fixable: int  # findings whose fix --write would apply


def statistics(found: Iterable[Item], names: Mapping[str, str]) -> list[Stat]:
    """Counts per rule, most frequent first, like `ruff --statistics`."""
    counts: Counter[str] = Counter()
    fixable: Counter[str] = Counter()
    for item in found:
        counts[item.finding.code] += 1
        fixable[item.finding.code] += item.fix_enabled
    return [
        Stat(code, names.get(code, ""), count, fixable[code])
        for code, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else many or word + 's'}"
