"""Machine-readable findings, with fix applicability, what it saves and the edits themselves.

A list of objects shaped like ruff's JSON output. Each edit carries both row/column
positions (1-based, columns in code points) and the `start`/`end` offsets into the
decoded text it was computed against, so tools can apply it either way. The output is
valid Unicode: a byte of a name or text that is not UTF-8 shows as U+FFFD.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from mlfix.engine import TargetResult
from mlfix.model import Finding
from mlfix.report.common import Item, Stat, items, position, valid_unicode


def _end(item: Item) -> dict[str, int]:
    where = item.finding.location
    row = where.end_line or where.line
    if where.end_column is not None:
        return {"row": row, "column": where.end_column}
    source = item.source or ""
    rows = source.splitlines()
    column = len(rows[row - 1]) + 1 if 0 < row <= len(rows) else where.column
    return {"row": row, "column": column}


def item_dict(item: Item, names: dict[str, str] | None = None) -> dict[str, Any]:
    finding = item.finding
    fix = finding.fix
    saves = finding.saves
    return {
        "code": finding.code,
        "name": (names or {}).get(finding.code),
        "message": finding.message,
        "filename": item.path,
        "location": {"row": finding.location.line, "column": finding.location.column},
        "end_location": _end(item),
        "service": item.service,
        "notes": list(finding.notes),
        "saves": None
        if saves is None
        else {"bytes": saves.bytes, "files": saves.files, "rebuild_steps": saves.rebuild_steps},
        "fix": None
        if fix is None
        else {
            "message": fix.title,
            "applicability": fix.applicability.value,
            "edits": [_edit(item, e) for e in fix.edits],
        },
    }


def _edit(item: Item, e: Any) -> dict[str, Any]:
    text = item.texts.get(e.path)
    row, column = position(text, e.start)
    end_row, end_column = position(text, e.end)
    return {
        "filename": item.names.get(e.path, str(e.path)),
        "location": {"row": row, "column": column},
        "end_location": {"row": end_row, "column": end_column},
        "content": e.content,
        "start": e.start,
        "end": e.end,
    }


def finding_dict(finding: Finding) -> dict[str, Any]:
    """One finding without its source text (kept for library callers)."""
    item = Item(finding, str(finding.location.path), {}, {})
    return item_dict(item)


def dumps(found: Sequence[Item], names: dict[str, str] | None = None) -> str:
    return json.dumps(valid_unicode([item_dict(item, names) for item in found]), indent=2) + "\n"


def statistics(stats: Sequence[Stat]) -> str:
    rows = [{"code": s.code, "name": s.name, "count": s.count, "fixable": s.fixable} for s in stats]
    return json.dumps(rows, indent=2) + "\n"


def render(results: Iterable[TargetResult], *, after_fix: bool = False) -> str:
    return dumps(items(results, after_fix=after_fix))
