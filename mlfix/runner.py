"""The one pipeline every entry point runs: targets in, results and one Report out.

The check/diff/write command, stdin and `mlfix pr` all go through `run` (or
`run_paths`, which discovers the targets first, or `run_stdin`), so they agree on
which settings apply to a target, what is written, how two targets that change one
file are reconciled, and what the exit code is (the `Report` owns it). `emit`
prints a finished run the way the CLI does; `mlfix pr` reads the run instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import typer
from pathspec import GitIgnoreSpec

from mlfix import discover
from mlfix.config import Config, Overrides, Resolver, Settings
from mlfix.engine import TargetResult, run_target
from mlfix.errors import MlfixError
from mlfix.facts import Target
from mlfix.options import Mode, OutputFormat
from mlfix.patch import unified_diff, write_all, write_root
from mlfix.progress import progress
from mlfix.redact import redact
from mlfix.report import formats, github
from mlfix.report import text as text_report
from mlfix.report.common import Item, items, statistics
from mlfix.report.formats import NAMES
from mlfix.report.outcome import Report
from mlfix.rules import RULES
from mlfix.textio import decode, encode

__all__ = ["Excluder", "Mode", "Run", "emit", "run", "run_paths", "run_stdin"]


def out(text: str, *, redacted: bool = True) -> None:
    """Results to stdout, byte-exact (undecodable bytes survive as they came), tokens
    masked; `redacted=False` only for the user's own file in stdin mode."""
    if not text:
        return
    sys.stdout.flush()
    sys.stdout.buffer.write(encode(redact(text) if redacted else text))
    sys.stdout.buffer.flush()


def err(text: str) -> None:
    typer.echo(redact(text), err=True)


def unknown_selectors(selectors: Sequence[str]) -> list[str]:
    return [s for s in selectors if s != "ALL" and not any(code.startswith(s) for code in RULES)]


def _check_selectors(config: Config | None) -> None:
    if config is None or config.path is None:
        return
    unknown = unknown_selectors((*(config.select or ()), *config.ignore))
    if unknown:
        raise MlfixError(config.path, f"unknown rule selector `{unknown[0]}`")


class Excluder:
    """`--exclude` (relative to the working directory) and each config's `exclude`."""

    def __init__(self, patterns: Sequence[str], resolver: Resolver) -> None:
        self.cli = GitIgnoreSpec.from_lines(patterns) if patterns else None
        self.cwd = Path(os.path.abspath(Path.cwd()))
        self.resolver = resolver
        self.specs: dict[Path, GitIgnoreSpec] = {}

    @staticmethod
    def _match(spec: GitIgnoreSpec, root: Path, path: Path, is_dir: bool) -> bool:
        try:
            relative = path.relative_to(root).as_posix()
        except ValueError:
            return False
        return relative != "." and spec.match_file(relative + ("/" if is_dir else ""))

    def __call__(self, path: Path, is_dir: bool) -> bool:
        absolute = Path(os.path.abspath(path))
        if self.cli is not None and self._match(self.cli, self.cwd, absolute, is_dir):
            return True
        try:
            config = self.resolver.nearest(absolute.parent)
        except MlfixError:
            return False  # reported when the target's settings are resolved
        if config is None or config.path is None or not config.exclude:
            return False
        spec = self.specs.get(config.path)
        if spec is None:
            spec = self.specs[config.path] = GitIgnoreSpec.from_lines(config.exclude)
        return self._match(spec, Path(os.path.abspath(config.root)), absolute, is_dir)


@dataclass
class Run:
    """Everything one invocation did: the results, what changed, and its Report.

    `say` receives each message line (errors, warnings) as it happens; the CLI
    prints them to stderr, a library caller may collect them.
    """

    mode: Mode
    report: Report
    results: list[TargetResult] = field(default_factory=list)
    settings: dict[Path, Settings] = field(default_factory=dict)  # by Dockerfile
    changes: dict[Path, tuple[str | None, str]] = field(default_factory=dict)
    written: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warned: set[str] = field(default_factory=set)
    found: list[Item] = field(default_factory=list)  # what is left to report, set by finish()
    say: Callable[[str], None] = err

    @classmethod
    def start(cls, mode: Mode, *, exit_non_zero_on_fix: bool = False, skipped: int = 0,
              say: Callable[[str], None] = err) -> Run:  # fmt: skip
        report = Report(mode, exit_non_zero_on_fix=exit_non_zero_on_fix, skipped=skipped)
        return cls(mode, report, say=say)

    def error(self, exc: MlfixError | str) -> None:
        self.report.failed += 1
        line = f"error: {exc}"
        if line not in self.errors:
            self.errors.append(line)
            self.say(line)

    def warn(self, message: str) -> None:
        """A warning line, once per run (targets that share a context share its warnings)."""
        line = f"warning: {message}"
        if line not in self.warned:
            self.warned.add(line)
            self.say(line)

    def unsafe_by_dockerfile(self) -> dict[Path, bool]:
        return {path: s.unsafe_fixes for path, s in self.settings.items()}

    def finish(self) -> Run:
        """Count the results into the Report once every target has run."""
        after_fix = self.mode is Mode.WRITE
        self.found = items(
            self.results, after_fix=after_fix, unsafe_fixes=self.unsafe_by_dockerfile()
        )
        report = self.report
        report.checked = {r.target.dockerfile for r in self.results}
        report.with_findings = sum(1 for r in self.results if r.findings)
        report.changed = set(self.written) if self.mode is Mode.WRITE else set(self.changes)
        report.findings = len(self.found)
        report.fixable = sum(item.fix_enabled for item in self.found)
        report.hidden = sum(item.fix_hidden for item in self.found)
        if after_fix:
            before = sum(len(r.findings) for r in self.results)
            report.fixed = max(0, before - len(self.found))
        return self


def _merge(run: Run, result: TargetResult) -> None:
    """Collect a target's changes; two targets that change one file must agree."""
    for path, (old, new) in result.changes.items():
        if path not in run.changes:
            run.changes[path] = (old, new)
            continue
        first_old, latest = run.changes[path]
        if latest == new:
            continue
        if latest == old:
            run.changes[path] = (first_old, new)
            continue
        run.say(
            f"warning: {discover.display(path)}: changed differently for "
            f"{result.target.display}; run mlfix again after applying"
        )


def settings_for(resolver: Resolver, overrides: Overrides, target: Target) -> Settings:
    config = resolver.nearest(target.dockerfile.parent)
    _check_selectors(config)
    return overrides.settings(config)


def _write(run: Run, result: TargetResult) -> bool:
    """WRITE mode: all of a target's files, or none of them (the writer is patch.py's).
    False when nothing could be written: the target failed."""
    if not result.changes:
        return True
    target = result.target
    new = {path: text for path, (_old, text) in result.changes.items()}
    try:
        folders = [target.dockerfile.parent, target.context, *(p.parent for p in new)]
        write_all(new, write_root(folders))
    except MlfixError as exc:
        run.error(exc)  # the target failed: nothing of it was fixed
        return False
    run.written.extend(new)
    return True


def run(
    targets: Sequence[Target],
    mode: Mode,
    resolver: Resolver,
    overrides: Overrides,
    *,
    quiet: bool = True,
    into: Run | None = None,
) -> Run:
    """Run every target (fixing in DIFF/WRITE mode, writing in WRITE mode) and finish."""
    result_run = into or Run.start(mode)
    with progress(len(targets), enabled=not quiet) as bar:
        for target in targets:
            try:
                settings = settings_for(resolver, overrides, target)
            except MlfixError as exc:
                result_run.error(exc)
                bar.advance(target.display)
                continue
            text = None
            if mode is Mode.DIFF and target.dockerfile in result_run.changes:
                text = result_run.changes[target.dockerfile][1]  # a shared Dockerfile: build on it
            result = run_target(target, settings, fix=mode is not Mode.REPORT, dockerfile_text=text)
            bar.advance(target.display)
            for message in () if quiet else result.warnings:
                result_run.warn(message)
            if result.error is not None:
                result_run.error(result.error)
                continue
            if mode is Mode.WRITE and not _write(result_run, result):
                continue
            result_run.settings[target.dockerfile] = settings
            result_run.results.append(result)
            _merge(result_run, result)
    return result_run.finish()


def run_paths(
    paths: Sequence[Path],
    mode: Mode,
    resolver: Resolver,
    overrides: Overrides,
    *,
    respect_gitignore: bool = True,
    quiet: bool = True,
    exit_non_zero_on_fix: bool = False,
    say: Callable[[str], None] = err,
) -> Run:
    """Discover the targets under `paths` (as `mlfix PATH...` does) and run them."""
    excluded = Excluder(overrides.exclude, resolver)
    found = discover.discover(
        paths or [Path(".")], excluded=excluded, respect_gitignore=respect_gitignore
    )
    started = Run.start(
        mode, exit_non_zero_on_fix=exit_non_zero_on_fix, skipped=len(found.skipped), say=say
    )
    for message in found.warnings:
        if not quiet:
            say(f"warning: {message}")
    for message in found.notes:
        if not quiet:
            say(f"note: {message}")
    for error in found.errors:
        started.error(error)
    return run(found.targets, mode, resolver, overrides, quiet=quiet, into=started)


def run_stdin(
    data: bytes,
    stdin_filename: str | None,
    mode: Mode,
    resolver: Resolver,
    overrides: Overrides,
    *,
    exit_non_zero_on_fix: bool = False,
    say: Callable[[str], None] = err,
) -> tuple[Run, str | None]:
    """One Dockerfile given as bytes; returns the run and the text it came as (None: an
    error, or the file is excluded and passes through untouched — see `run.results`)."""
    name = stdin_filename or "-"
    dockerfile = Path(stdin_filename) if stdin_filename else Path("Dockerfile")
    started = Run.start(mode, exit_non_zero_on_fix=exit_non_zero_on_fix, say=say)
    try:
        text = decode(data, Path(name))
    except MlfixError as exc:
        started.error(exc)
        return started.finish(), None
    if stdin_filename and Excluder(overrides.exclude, resolver)(dockerfile, False):
        return started.finish(), text
    target = discover.stdin_target(dockerfile, name)
    try:
        settings = settings_for(resolver, overrides, target)
    except MlfixError as exc:
        started.error(exc)
        return started.finish(), None
    result = run_target(target, settings, fix=mode is not Mode.REPORT, dockerfile_text=text)
    if result.error is not None:
        started.error(result.error)
        return started.finish(), None
    started.results.append(result)
    started.settings[target.dockerfile] = settings
    _merge(started, result)
    finished = started.finish()
    if mode is Mode.WRITE:  # stdin's WRITE prints the text: "changed" is what would be
        finished.report.changed = {p for p in result.changes if p == target.dockerfile}
    return finished, text


def _name(run: Run, path: Path) -> str:
    for result in run.results:
        if result.target.dockerfile == path:
            return result.target.display
    return discover.display(path)


def _step_summary(found: list[Item]) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(redact(github.summary(found, statistics(found, NAMES))))
    except OSError as exc:
        err(f"warning: {path}: cannot write the step summary ({exc.strerror or exc})")


def diff(run: Run) -> str:
    return "".join(
        unified_diff(old, new, _name(run, path)) for path, (old, new) in run.changes.items()
    )


def emit(
    run: Run,
    output_format: OutputFormat,
    *,
    show_fixes: bool = False,
    stats: bool = False,
    quiet: bool = False,
) -> int:
    """Print a finished run as the CLI does; returns the Report's exit code."""
    found = run.found
    if run.mode is Mode.DIFF:
        out(diff(run))
        if show_fixes and not quiet:
            err(text_report.fixed_summary(run.results, NAMES, applied=False).rstrip("\n"))
    else:
        listed = formats.findings(
            found, output_format, show_fixes=show_fixes and run.mode is Mode.REPORT, stats=stats
        )
        if listed or output_format in formats.ALWAYS_PRINTED:
            out(listed)
        if run.mode is Mode.WRITE and show_fixes and output_format not in formats.MACHINE:
            out(text_report.fixed_summary(run.results, NAMES))
        if output_format is OutputFormat.github:
            _step_summary(found)
    if not quiet:
        for line in run.report.hints():
            err(line)
        err(run.report.summary())
    return run.report.exit_code


def emit_stdin(run: Run, text: str | None, output_format: OutputFormat, *, quiet: bool) -> int:
    """stdin: REPORT/DIFF print as usual (no summary); WRITE prints the fixed text and
    sends the findings left to stderr."""
    if text is None:
        return 2
    if not run.results:  # excluded: passes through untouched
        if run.mode is Mode.WRITE:
            out(text, redacted=False)
        return 0
    if run.mode is not Mode.WRITE:
        return emit(run, output_format, quiet=True)
    result = run.results[0]
    dockerfile = result.target.dockerfile
    out(result.changes.get(dockerfile, (text, text))[1], redacted=False)
    others = [discover.display(p) for p in result.changes if p != dockerfile]
    if others:
        err(f"warning: not written in stdin mode: {', '.join(others)}")
    if not quiet:
        diagnostics = formats.findings(run.found, output_format, show_fixes=False, stats=False)
        if diagnostics:
            sys.stderr.write(redact(diagnostics))
    return run.report.exit_code
