"""The one Report of a run: counts, the hint lines, the summary line and the exit code.

Like black's `Report`, it is the single place that decides what a run amounts to, so
the check/diff/write command, stdin and `mlfix pr` cannot disagree about when a run
"found something" or "failed". It is filled by the runner while targets are
processed and read once at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlfix.options import Mode
from mlfix.report.common import plural


@dataclass
class Report:
    """What one invocation did to its files.

    `checked` holds every Dockerfile a target was run for; `changed` the files that
    were written (WRITE) or would change (DIFF, and stdin's WRITE, which prints
    instead of writing). `findings` are those left to report (after the fixes in
    WRITE mode); `fixable`/`hidden` count their fixes `--write` would apply and those
    `--unsafe-fixes` would enable; `fixed` counts findings the fixes removed.
    """

    mode: Mode
    exit_non_zero_on_fix: bool = False
    checked: set[Path] = field(default_factory=set)
    with_findings: int = 0  # targets with findings before any fix
    changed: set[Path] = field(default_factory=set)
    skipped: int = 0
    failed: int = 0
    findings: int = 0
    fixable: int = 0
    hidden: int = 0
    fixed: int = 0

    @property
    def unchanged(self) -> int:
        return len(self.checked - self.changed)

    @property
    def exit_code(self) -> int:
        """0: nothing to fix; 1: findings or a non-empty diff (or files changed with
        `--exit-non-zero-on-fix`); 2: an error."""
        if self.failed:
            return 2
        if self.mode is Mode.DIFF:
            return 1 if self.changed else 0
        if self.mode is Mode.WRITE:
            return 1 if self.findings or (self.exit_non_zero_on_fix and self.changed) else 0
        return 1 if self.findings else 0

    def hints(self) -> list[str]:
        lines: list[str] = []
        if self.mode is Mode.REPORT:
            if self.findings:
                tail = f"; {self.fixable} fixable with --write." if self.fixable else "."
                lines.append(f"Found {plural(self.findings, 'finding')}{tail}")
            elif not self.failed:
                lines.append("All checks passed.")
        elif self.mode is Mode.WRITE:
            if self.fixed or self.findings:
                lines.append(f"Fixed {plural(self.fixed, 'finding')} ({self.findings} remaining).")
            elif not self.failed:
                lines.append("All checks passed.")
        if self.hidden:
            lines.append(
                f"{plural(self.hidden, 'hidden fix', 'hidden fixes')} "
                "can be enabled with --unsafe-fixes."
            )
        return lines

    def summary(self) -> str:
        if self.mode is Mode.REPORT:
            return (
                f"{plural(len(self.checked), 'file')} checked: {self.with_findings} with findings, "
                f"{self.skipped} skipped, {self.failed} failed."
            )
        verb = "changed" if self.mode is Mode.WRITE else "would change"
        return (
            f"{plural(len(self.changed), 'file')} {verb}, {self.unchanged} unchanged, "
            f"{self.skipped} skipped, {self.failed} failed."
        )

    def __str__(self) -> str:
        return self.summary()
