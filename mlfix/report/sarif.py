"""SARIF 2.1.0 output, for GitHub code scanning and other SARIF viewers.

One run; `tool.driver.rules` describes the rules that reported something (with
their documentation page as `help`); every result carries its location, its
properties (applicability, notes, what the fix saves, compose service) and, when
it has edits, a `fixes[]` entry whose replacements use line/column regions
(columns counted in Unicode code points, as `columnKind` says). Paths are
relative to the working directory, with `%SRCROOT%` as their base; a URI %-encodes the
name's own bytes, so a directory name that is not UTF-8 survives exactly, and every text
is valid Unicode (such bytes show as U+FFFD).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from types import ModuleType
from typing import Any
from urllib.parse import quote

from mlfix import __version__
from mlfix.docs import page
from mlfix.model import Edit
from mlfix.report.common import Item, position, valid_unicode

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _location(path: str) -> dict[str, Any]:
    posix = path.replace("\\", "/")
    uri = quote(os.fsencode(posix))  # the name's own bytes, even when they are not UTF-8
    if PurePosixPath(posix).is_absolute():
        return {"uri": "file://" + uri}
    return {"uri": uri, "uriBaseId": "%SRCROOT%"}


def _first_paragraph(doc: str, heading: str) -> str:
    _, _, rest = doc.partition(heading)
    paragraph = rest.strip().split("\n\n", 1)[0]
    return " ".join(paragraph.split())


def _rule(code: str, module: ModuleType | None) -> dict[str, Any]:
    if module is None:
        return {"id": code}
    doc = module.__doc__ or ""
    return {
        "id": code,
        "name": module.NAME,
        "shortDescription": {"text": module.SUMMARY},
        "fullDescription": {"text": _first_paragraph(doc, "## What it does") or module.SUMMARY},
        "help": {"text": module.SUMMARY, "markdown": page(module)},
        "defaultConfiguration": {"level": "warning"},
    }


def _region(item: Item) -> dict[str, Any]:
    where = item.finding.location
    region: dict[str, Any] = {"startLine": where.line, "startColumn": where.column}
    end_line = where.end_line or where.line
    if where.end_column is not None:
        region.update(endLine=end_line, endColumn=where.end_column)
        return region
    rows = (item.source or "").splitlines()
    if 0 < end_line <= len(rows):
        region.update(endLine=end_line, endColumn=len(rows[end_line - 1]) + 1)
    return region


def _replacement(text: str | None, edit: Edit) -> dict[str, Any]:
    start_line, start_column = position(text, edit.start)
    end_line, end_column = position(text, edit.end)
    region = {
        "startLine": start_line,
        "startColumn": start_column,
        "endLine": end_line,
        "endColumn": end_column,
    }
    replacement: dict[str, Any] = {"deletedRegion": region}
    if edit.content:
        replacement["insertedContent"] = {"text": edit.content}
    return replacement


def _fixes(item: Item) -> list[dict[str, Any]]:
    fix = item.finding.fix
    if fix is None or not fix.edits:
        return []
    changes: dict[str, list[dict[str, Any]]] = {}
    for edit in sorted(fix.edits, key=lambda e: (str(e.path), e.start, e.end)):
        name = item.names.get(edit.path, str(edit.path))
        changes.setdefault(name, []).append(_replacement(item.texts.get(edit.path), edit))
    return [
        {
            "description": {"text": f"{fix.title} ({fix.applicability.value} fix)"},
            "artifactChanges": [
                {"artifactLocation": _location(name), "replacements": replacements}
                for name, replacements in changes.items()
            ],
            "properties": {"applicability": fix.applicability.value},
        }
    ]


def _result(item: Item, index: int) -> dict[str, Any]:
    finding = item.finding
    properties: dict[str, Any] = {}
    if finding.fix is not None:
        properties["applicability"] = finding.fix.applicability.value
    if finding.notes:
        properties["notes"] = list(finding.notes)
    saves = finding.saves
    if saves is not None:
        kept = {"bytes": saves.bytes, "files": saves.files, "rebuildSteps": saves.rebuild_steps}
        properties["saves"] = {k: v for k, v in kept.items() if v is not None}
    if item.service:
        properties["composeService"] = item.service
    text = finding.message + "".join(f"\nnote: {note}" for note in finding.notes)
    result: dict[str, Any] = {
        "ruleId": finding.code,
        "ruleIndex": index,
        "level": "warning",
        "message": {"text": text},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": _location(item.path),
                    "region": _region(item),
                }
            }
        ],
    }
    fixes = _fixes(item)
    if fixes:
        result["fixes"] = fixes
    if properties:
        result["properties"] = properties
    return result


def log(found: Sequence[Item], rules: Mapping[str, ModuleType]) -> dict[str, Any]:
    codes = sorted({item.finding.code for item in found})
    index = {code: n for n, code in enumerate(codes)}
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "mlfix",
                        "version": __version__,
                        "rules": [_rule(code, rules.get(code)) for code in codes],
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": [_result(item, index[item.finding.code]) for item in found],
            }
        ],
    }


def dumps(found: Sequence[Item], rules: Mapping[str, ModuleType]) -> str:
    return json.dumps(valid_unicode(log(found, rules)), indent=2) + "\n"
