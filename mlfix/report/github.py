"""GitHub Actions workflow commands: one `::warning` annotation per finding.

GitHub shows at most 10 annotations of a kind per step, so `summary()` renders
every finding as Markdown for `$GITHUB_STEP_SUMMARY` (the CLI appends it there).
"""

from __future__ import annotations

from collections.abc import Sequence

from mlfix.report.common import Item, Stat, plural

MAX_ROWS = 500
MAX_DIFFS = 50


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(item: Item) -> str:
    finding = item.finding
    where = finding.location
    props = [
        f"title={_property(f'mlfix ({finding.code})')}",
        f"file={_property(item.path)}",
        f"line={where.line}",
        f"col={where.column}",
    ]
    if where.end_line is not None:
        props.append(f"endLine={where.end_line}")
    if where.end_column is not None and (where.end_line or where.line) == where.line:
        props.append(f"endColumn={where.end_column}")
    message = f"{finding.code} {finding.message}"
    message += "".join(f"\nnote: {note}" for note in finding.notes)
    if finding.fix is not None:
        message += f"\nfix ({finding.fix.applicability.value}): {finding.fix.title}"
    return f"::warning {','.join(props)}::{_data(message)}"


def render(found: Sequence[Item]) -> str:
    return "".join(annotation(item) + "\n" for item in found)


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def summary(found: Sequence[Item], stats: Sequence[Stat]) -> str:
    """Every finding as Markdown, with counts per rule and each fix's diff."""
    out = ["## mlfix", ""]
    if not found:
        return "\n".join([*out, "No findings.", ""]) + "\n"
    fixable = sum(item.fix_enabled for item in found)
    hidden = sum(item.fix_hidden for item in found)
    line = f"Found {plural(len(found), 'finding')}; {fixable} fixable with `mlfix --write`."
    if hidden:
        line += f" {plural(hidden, 'hidden fix', 'hidden fixes')} can be enabled with"
        line += " `--unsafe-fixes`."
    out += [line, "", "| Rule | Count | Fixable |", "| --- | ---: | ---: |"]
    out += [f"| `{s.code}` {_cell(s.name)} | {s.count} | {s.fixable} |" for s in stats]
    out += ["", "| Location | Rule | Fix | Message |", "| --- | --- | --- | --- |"]
    for item in found[:MAX_ROWS]:
        finding = item.finding
        where = f"`{item.path}:{finding.location.line}:{finding.location.column}`"
        fix = finding.fix.applicability.value if finding.fix else ""
        out.append(f"| {where} | `{finding.code}` | {fix} | {_cell(finding.message)} |")
    if len(found) > MAX_ROWS:
        out.append(f"\n… and {len(found) - MAX_ROWS} more.")
    diffs = [(item, item.fix_diff()) for item in found if item.finding.fix][:MAX_DIFFS]
    diffs = [(item, diff) for item, diff in diffs if diff]
    if diffs:
        out += ["", "<details><summary>Fixes</summary>", ""]
        for item, diff in diffs:
            finding = item.finding
            assert finding.fix is not None
            out.append(
                f"**{item.path}:{finding.location.line}** `{finding.code}`: "
                f"{finding.fix.title} ({finding.fix.applicability.value})"
            )
            out += ["", "```diff", diff.rstrip("\n"), "```", ""]
        out.append("</details>")
    return "\n".join(out) + "\n"
