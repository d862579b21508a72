"""Machine-readable findings, with fix applicability and the edits themselves."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from mlfix.engine import TargetResult
from mlfix.model import Finding


def finding_dict(finding: Finding) -> dict[str, Any]:
    fix = finding.fix
    return {
        "code": finding.code,
        "message": finding.message,
        "filename": str(finding.location.path),
        "location": {"row": finding.location.line, "column": finding.location.column},
        "end_location": {"row": finding.location.end_line or finding.location.line},
        "notes": list(finding.notes),
        "fix": None
        if fix is None
        else {
            "message": fix.title,
            "applicability": fix.applicability.value,
            "edits": [
                {"filename": str(e.path), "start": e.start, "end": e.end, "content": e.content}
                for e in fix.edits
            ],
        },
    }


def render(results: Iterable[TargetResult], *, after_fix: bool = False) -> str:
    items = [
        finding_dict(f)
        for result in results
        for f in (result.remaining if after_fix else result.findings)
    ]
    return json.dumps(items, indent=2) + "\n"
