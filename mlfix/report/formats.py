"""Which renderer prints the findings for an `--output-format`: the one switch over formats.

Pure: items in, text out. The runner decides where the text goes.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlfix.options import OutputFormat
from mlfix.report import github, sarif
from mlfix.report import json as json_report
from mlfix.report import text as text_report
from mlfix.report.common import Item, statistics
from mlfix.rules import RULES

NAMES = {code: str(getattr(module, "NAME", "")) for code, module in RULES.items()}


MACHINE = (OutputFormat.json, OutputFormat.sarif, OutputFormat.github)
ALWAYS_PRINTED = (OutputFormat.json, OutputFormat.sarif)  # an empty list is still a document


def findings(
    found: Sequence[Item], output_format: OutputFormat, *, show_fixes: bool, stats: bool
) -> str:
    """The findings (or, with `stats`, the counts per rule) in one format."""
    if stats:
        table = statistics(found, NAMES)
        if output_format is OutputFormat.json:
            return json_report.statistics(table)
        return text_report.statistics(table)
    if output_format is OutputFormat.json:
        return json_report.dumps(list(found), NAMES)
    if output_format is OutputFormat.sarif:
        return sarif.dumps(list(found), RULES)
    if output_format is OutputFormat.github:
        return github.render(list(found))
    if output_format is OutputFormat.full:
        return text_report.full(found)
    return text_report.concise(found, show_fixes=show_fixes)
