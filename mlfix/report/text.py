"""Human-readable findings: `concise` (one line each, like ruff's concise output, with
notes indented below) and `full` (the offending lines, notes, what the fix saves and
the fix itself as a diff), plus `--statistics` and `--show-fixes`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from mlfix.engine import TargetResult
from mlfix.model import Applicability, Finding, Savings
from mlfix.report.common import Item, Stat, items, plural

MARKS = {
    Applicability.SAFE: "[*]",
    Applicability.UNSAFE: "[unsafe fix]",
    Applicability.DISPLAY_ONLY: "[manual]",
}
FIX_HEADINGS = {
    Applicability.SAFE: "Safe fix",
    Applicability.UNSAFE: "Unsafe fix (applied with --unsafe-fixes)",
    Applicability.DISPLAY_ONLY: "Manual fix (shown, never applied)",
}
BEFORE, AFTER, MAX_SPAN = 2, 1, 8


def line(finding: Finding, display: str) -> str:
    mark = f" {MARKS[finding.fix.applicability]}" if finding.fix else ""
    where = f"{display}:{finding.location.line}:{finding.location.column}"
    text = f"{where}: {finding.code}{mark} {finding.message}"
    for note in finding.notes:
        text += f"\n    note: {note}"
    return text


def _indent(text: str, prefix: str = "    ") -> str:
    return "".join(prefix + row if row not in ("", "\n") else row for row in text.splitlines(True))


def concise(found: Sequence[Item], *, show_fixes: bool = False) -> str:
    out: list[str] = []
    for item in found:
        out.append(line(item.finding, item.path) + "\n")
        if show_fixes and item.finding.fix and item.finding.fix.edits:
            fix = item.finding.fix
            out.append(f"    {FIX_HEADINGS[fix.applicability]}: {fix.title}\n")
            out.append(_indent(item.fix_diff(), "      "))
    return "".join(out)


def size(count: int) -> str:
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def savings(saves: Savings | None) -> str | None:
    if saves is None:
        return None
    parts = []
    if saves.bytes:
        parts.append(size(saves.bytes))
    if saves.files:
        parts.append(plural(saves.files, "file"))
    if saves.rebuild_steps:
        parts.append(plural(saves.rebuild_steps, "rebuild step"))
    return ", ".join(parts) or None


def _frame(item: Item) -> list[str]:
    source = item.source
    where = item.finding.location
    if not source:
        return []
    rows = source.splitlines()
    first = min(max(where.line, 1), len(rows))
    last = min(max(where.end_line or where.line, first), len(rows))
    shown = list(range(max(1, first - BEFORE), min(len(rows), last + AFTER) + 1))
    if last - first + 1 > MAX_SPAN:
        keep_head = set(range(first, first + MAX_SPAN // 2))
        keep_tail = set(range(last - MAX_SPAN // 2 + 1, last + 1))
        shown = [n for n in shown if not first <= n <= last or n in keep_head | keep_tail]
    width = len(str(shown[-1])) if shown else 1
    out = [f"{'':>{width}} |"]
    previous = None
    for number in shown:
        if previous is not None and number != previous + 1:
            out.append(f"{'':>{width}} ...")
        gutter = ">" if first <= number <= last else "|"
        out.append(f"{number:>{width}} {gutter} {rows[number - 1]}".rstrip())
        previous = number
    out.append(f"{'':>{width}} |")
    return out


def full(found: Sequence[Item]) -> str:
    blocks: list[str] = []
    for item in found:
        finding = item.finding
        mark = f" {MARKS[finding.fix.applicability]}" if finding.fix else ""
        where = f"{item.path}:{finding.location.line}:{finding.location.column}"
        out = [f"{where}: {finding.code}{mark} {finding.message}"]
        out.extend("  " + row if row else row for row in _frame(item))
        if item.service:
            out.append(f"  = service: {item.service}")
        out.extend(f"  = note: {note}" for note in finding.notes)
        saved = savings(finding.saves)
        if saved:
            out.append(f"  = saves: {saved}")
        fix = finding.fix
        if fix is not None:
            out.append(f"  = help: {fix.title}")
            diff = item.fix_diff() if fix.edits else ""
            if diff:
                out.append("")
                out.append(f"  {FIX_HEADINGS[fix.applicability]}:")
                out.append(_indent(diff).rstrip("\n"))
        blocks.append("\n".join(out) + "\n")
    return "\n".join(blocks)


def statistics(stats: Sequence[Stat]) -> str:
    if not stats:
        return ""
    count_width = max(len(str(s.count)) for s in stats)
    code_width = max(len(s.code) for s in stats)
    rows = []
    for stat in stats:
        mark = "[*]" if stat.fixable == stat.count else "[-]" if stat.fixable else "   "
        rows.append(f"{stat.count:>{count_width}}  {stat.code:<{code_width}}  {mark} {stat.name}")
    return "\n".join(rows) + "\n"


def fixed_summary(
    results: Iterable[TargetResult], names: Mapping[str, str], *, applied: bool = True
) -> str:
    """`--show-fixes`: what `--write` fixed (or would fix), per file and rule."""
    sections: list[str] = []
    total = 0
    for result in results:
        before = Counter(f.code for f in result.findings)
        after = Counter(f.code for f in result.remaining)
        fixed = {code: n - after.get(code, 0) for code, n in before.items()}
        fixed = {code: n for code, n in sorted(fixed.items()) if n > 0}
        if not fixed:
            continue
        total += sum(fixed.values())
        rows = [f"- {result.target.display}:"]
        rows += [f"    {n} × {code} ({names.get(code, '')})" for code, n in fixed.items()]  # noqa: RUF001
        sections.append("\n".join(rows))
    if not total:
        return ""
    verb = "Fixed" if applied else "Would fix"
    return f"{verb} {plural(total, 'finding')}:\n" + "\n".join(sections) + "\n"


def render(results: Iterable[TargetResult], *, after_fix: bool = False) -> str:
    return concise(items(results, after_fix=after_fix))
