"""A progress bar on stderr for slow runs; silent in pipes, pre-commit and editors."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.progress import Progress as Bar
    from rich.progress import TaskID

PROGRESS_AFTER = 0.5  # seconds before a progress bar appears (only on a terminal)


class Progress:
    """A rich progress bar on stderr, only on a terminal and only once a scan is slow.

    rich is imported when the bar first appears, so short runs (pre-commit, editors)
    do not pay for it.
    """

    def __init__(
        self, total: int, *, enabled: bool, stream: TextIO | None = None, after: float | None = None
    ) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty() and total > 1
        self.after = PROGRESS_AFTER if after is None else after
        self.started = time.monotonic()
        self.done = 0
        self.bar: Bar | None = None
        self.task: TaskID | None = None

    def advance(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        if self.bar is None and time.monotonic() - self.started >= self.after:
            from rich.console import Console
            from rich.progress import Progress as RichProgress

            self.bar = RichProgress(console=Console(file=self.stream), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("mlfix", total=self.total)
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, completed=self.done, description=label)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


@contextmanager
def progress(total: int, *, enabled: bool) -> Iterator[Progress]:
    bar = Progress(total, enabled=enabled)
    try:
        yield bar
    finally:
        bar.stop()
