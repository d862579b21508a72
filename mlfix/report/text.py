"""Human-readable findings, one line each, like ruff's concise output."""

from __future__ import annotations

from collections.abc import Iterable

from mlfix.engine import TargetResult
from mlfix.model import Applicability, Finding

MARKS = {
    Applicability.SAFE: "[*]",
    Applicability.UNSAFE: "[unsafe fix]",
    Applicability.DISPLAY_ONLY: "[manual]",
}


def line(finding: Finding, display: str) -> str:
    mark = f" {MARKS[finding.fix.applicability]}" if finding.fix else ""
    where = f"{display}:{finding.location.line}:{finding.location.column}"
    text = f"{where}: {finding.code}{mark} {finding.message}"
    for note in finding.notes:
        text += f"\n    note: {note}"
    return text


def render(results: Iterable[TargetResult], *, after_fix: bool = False) -> str:
    lines: list[str] = []
    for result in results:
        findings = result.remaining if after_fix else result.findings
        for finding in findings:
            path = finding.location.path
            display = result.target.display if path == result.target.dockerfile else str(path)
            lines.append(line(finding, display))
    return "\n".join(lines) + ("\n" if lines else "")
