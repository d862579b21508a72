"""The `mlfix` command: flags in, engine, output out, and one exit code.

stdout carries only results (findings, the diff, or the fixed text for stdin);
messages, hints, progress and the summary line go to stderr. Exit 0: nothing to
fix; 1: findings or a non-empty diff (or, with `--exit-non-zero-on-fix`, files
changed); 2: an error (one `error: <file>: message` line; nothing is written for
that target).

`mlfix rule CODE` prints a rule's documentation page. It is a separate typer app
picked in `main()` when the first argument is `rule`, so `mlfix [PATHS]` stays the
default command (a directory named `rule` can be checked as `mlfix ./rule`).
"""

from __future__ import annotations

import enum
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer
from pathspec import GitIgnoreSpec

from mlfix import __version__, discover
from mlfix.config import Config, Overrides, Resolver, Settings, codes
from mlfix.engine import TargetResult, run_target
from mlfix.errors import MlfixError
from mlfix.facts import Target
from mlfix.patch import unified_diff, write_all, write_root
from mlfix.redact import redact
from mlfix.report import github, sarif
from mlfix.report import json as json_report
from mlfix.report import text as text_report
from mlfix.report.common import Item, items, plural, statistics
from mlfix.rules import RULES
from mlfix.textio import decode, encode

if TYPE_CHECKING:
    from rich.progress import Progress as Bar
    from rich.progress import TaskID

PROGRESS_AFTER = 0.5  # seconds before a progress bar appears (only on a terminal)


class Weights(str, enum.Enum):
    bake = "bake"
    volume = "volume"


class OutputFormat(str, enum.Enum):
    concise = "concise"
    full = "full"
    json = "json"
    sarif = "sarif"
    github = "github"
    text = "text"  # the same as concise


class Mode(enum.Enum):
    REPORT = "report"
    DIFF = "diff"
    WRITE = "write"


app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
rule_app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
NAMES = {code: str(getattr(module, "NAME", "")) for code, module in RULES.items()}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mlfix {__version__}")
        raise typer.Exit()


def _out(text: str, *, redacted: bool = True) -> None:
    """Results to stdout, byte-exact (undecodable bytes survive as they came), tokens
    masked; `redacted=False` only for the user's own file in stdin mode."""
    if not text:
        return
    sys.stdout.flush()
    sys.stdout.buffer.write(encode(redact(text) if redacted else text))
    sys.stdout.buffer.flush()


def _err(text: str) -> None:
    typer.echo(redact(text), err=True)


def _unknown_selectors(selectors: Sequence[str]) -> list[str]:
    return [s for s in selectors if s != "ALL" and not any(code.startswith(s) for code in RULES)]


def _check_selectors(config: Config | None) -> None:
    if config is None or config.path is None:
        return
    unknown = _unknown_selectors((*(config.select or ()), *config.ignore))
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


@dataclass
class Run:
    """Everything one invocation did, for the outputs and the exit code."""

    mode: Mode
    results: list[TargetResult] = field(default_factory=list)
    settings: dict[Path, Settings] = field(default_factory=dict)  # by Dockerfile
    changes: dict[Path, tuple[str | None, str]] = field(default_factory=dict)
    written: list[Path] = field(default_factory=list)
    failed: int = 0
    skipped: int = 0
    errors_seen: set[str] = field(default_factory=set)

    def error(self, exc: MlfixError | str) -> None:
        self.failed += 1
        line = f"error: {exc}"
        if line not in self.errors_seen:
            self.errors_seen.add(line)
            _err(line)

    def unsafe_by_dockerfile(self) -> dict[Path, bool]:
        return {path: s.unsafe_fixes for path, s in self.settings.items()}


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
        _err(
            f"warning: {discover.display(path)}: changed differently for "
            f"{result.target.display}; run mlfix again after applying"
        )


def _settings(resolver: Resolver, overrides: Overrides, target: Target) -> Settings:
    config = resolver.nearest(target.dockerfile.parent)
    _check_selectors(config)
    return overrides.settings(config)


def _process(
    run: Run, targets: Sequence[Target], resolver: Resolver, overrides: Overrides, quiet: bool
) -> None:
    with progress(len(targets), enabled=not quiet) as bar:
        for target in targets:
            try:
                settings = _settings(resolver, overrides, target)
            except MlfixError as exc:
                run.error(exc)
                bar.advance(target.display)
                continue
            text = None
            if run.mode is Mode.DIFF and target.dockerfile in run.changes:
                text = run.changes[target.dockerfile][1]  # a shared Dockerfile: build on it
            result = run_target(
                target, settings, fix=run.mode is not Mode.REPORT, dockerfile_text=text
            )
            bar.advance(target.display)
            if result.error is not None:
                run.error(result.error)
                continue
            run.settings[target.dockerfile] = settings
            run.results.append(result)
            if run.mode is Mode.WRITE and result.changes:
                new = {path: text for path, (_old, text) in result.changes.items()}
                try:  # all of a target's files, or none of them
                    folders = [target.dockerfile.parent, target.context, *(p.parent for p in new)]
                    write_all(new, write_root(folders))
                except MlfixError as exc:
                    run.error(exc)  # the target failed: nothing of it was fixed
                    run.results.remove(result)
                    continue
                run.written.extend(new)
            _merge(run, result)


def _findings_output(
    run: Run,
    found: list[Item],
    output_format: OutputFormat,
    *,
    show_fixes: bool,
    stats: bool,
) -> str:
    if stats:
        table = statistics(found, NAMES)
        if output_format is OutputFormat.json:
            return json_report.statistics(table)
        return text_report.statistics(table)
    if output_format is OutputFormat.json:
        return json_report.dumps(found, NAMES)
    if output_format is OutputFormat.sarif:
        return sarif.dumps(found, RULES)
    if output_format is OutputFormat.github:
        return github.render(found)
    if output_format is OutputFormat.full:
        return text_report.full(found)
    return text_report.concise(found, show_fixes=show_fixes and run.mode is Mode.REPORT)


def _step_summary(found: list[Item]) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(redact(github.summary(found, statistics(found, NAMES))))
    except OSError as exc:
        _err(f"warning: {path}: cannot write the step summary ({exc.strerror or exc})")


def _hints(run: Run, found: list[Item]) -> list[str]:
    lines: list[str] = []
    fixable = sum(item.fix_enabled for item in found)
    hidden = sum(item.fix_hidden for item in found)
    if run.mode is Mode.REPORT:
        if found:
            found_line = f"Found {plural(len(found), 'finding')}"
            tail = f"; {fixable} fixable with --write." if fixable else "."
            lines.append(found_line + tail)
        elif not run.failed:
            lines.append("All checks passed.")
    elif run.mode is Mode.WRITE:
        before = sum(len(r.findings) for r in run.results)
        fixed = max(0, before - len(found))
        if fixed or found:
            lines.append(f"Fixed {plural(fixed, 'finding')} ({len(found)} remaining).")
        elif not run.failed:
            lines.append("All checks passed.")
    if hidden:
        lines.append(
            f"{plural(hidden, 'hidden fix', 'hidden fixes')} can be enabled with --unsafe-fixes."
        )
    return lines


def _summary_line(run: Run) -> str:
    dockerfiles = {r.target.dockerfile for r in run.results}
    if run.mode is Mode.REPORT:
        with_findings = sum(1 for r in run.results if r.findings)
        return (
            f"{plural(len(dockerfiles), 'file')} checked: {with_findings} with findings, "
            f"{run.skipped} skipped, {run.failed} failed."
        )
    changed = set(run.written) if run.mode is Mode.WRITE else set(run.changes)
    unchanged = len(dockerfiles - changed)
    verb = "changed" if run.mode is Mode.WRITE else "would change"
    return (
        f"{plural(len(changed), 'file')} {verb}, {unchanged} unchanged, "
        f"{run.skipped} skipped, {run.failed} failed."
    )


def _emit(
    run: Run,
    output_format: OutputFormat,
    *,
    show_fixes: bool,
    stats: bool,
    quiet: bool,
    exit_non_zero_on_fix: bool,
) -> int:
    after_fix = run.mode is Mode.WRITE
    found = items(run.results, after_fix=after_fix, unsafe_fixes=run.unsafe_by_dockerfile())
    if run.mode is Mode.DIFF:
        _out(
            "".join(
                unified_diff(old, new, _name(run, path)) for path, (old, new) in run.changes.items()
            )
        )
        if show_fixes and not quiet:
            _err(text_report.fixed_summary(run.results, NAMES, applied=False).rstrip("\n"))
    else:
        output = _findings_output(run, found, output_format, show_fixes=show_fixes, stats=stats)
        if output or output_format in (OutputFormat.json, OutputFormat.sarif):
            _out(output)
        if run.mode is Mode.WRITE and show_fixes and output_format not in _MACHINE:
            _out(text_report.fixed_summary(run.results, NAMES))
        if output_format is OutputFormat.github:
            _step_summary(found)
    if not quiet:
        for line in _hints(run, found):
            _err(line)
        _err(_summary_line(run))
    if run.failed:
        return 2
    if run.mode is Mode.DIFF:
        return 1 if run.changes else 0
    if run.mode is Mode.WRITE:
        return 1 if found or (exit_non_zero_on_fix and run.written) else 0
    return 1 if found else 0


_MACHINE = (OutputFormat.json, OutputFormat.sarif, OutputFormat.github)


def _name(run: Run, path: Path) -> str:
    for result in run.results:
        if result.target.dockerfile == path:
            return result.target.display
    return discover.display(path)


def _stdin(
    mode: Mode,
    stdin_filename: str | None,
    resolver: Resolver,
    overrides: Overrides,
    excluded: Excluder,
    output_format: OutputFormat,
    *,
    quiet: bool,
    exit_non_zero_on_fix: bool,
) -> int:
    """`mlfix [--diff|--write] -`: the Dockerfile comes from stdin; the result goes to stdout."""
    data = sys.stdin.buffer.read()
    name = stdin_filename or "-"
    dockerfile = Path(stdin_filename) if stdin_filename else Path("Dockerfile")
    try:
        text = decode(data, Path(name))
    except MlfixError as exc:
        _err(f"error: {exc}")
        return 2
    if stdin_filename and excluded(dockerfile, False):
        if mode is Mode.WRITE:
            _out(text, redacted=False)
        return 0
    target = discover.stdin_target(dockerfile, name)
    run = Run(mode)
    try:
        settings = _settings(resolver, overrides, target)
    except MlfixError as exc:
        run.error(exc)
        return 2
    result = run_target(target, settings, fix=mode is not Mode.REPORT, dockerfile_text=text)
    if result.error is not None:
        run.error(result.error)
        return 2
    run.results.append(result)
    run.settings[target.dockerfile] = settings
    _merge(run, result)
    if mode is not Mode.WRITE:
        return _emit(
            run, output_format, show_fixes=False, stats=False, quiet=True,
            exit_non_zero_on_fix=exit_non_zero_on_fix,
        )  # fmt: skip
    fixed = result.changes.get(target.dockerfile, (text, text))[1]
    _out(fixed, redacted=False)
    others = [discover.display(p) for p in result.changes if p != target.dockerfile]
    if others:
        _err(f"warning: not written in stdin mode: {', '.join(others)}")
    found = items([result], after_fix=True, unsafe_fixes=run.unsafe_by_dockerfile())
    if not quiet:
        diagnostics = _findings_output(run, found, output_format, show_fixes=False, stats=False)
        if diagnostics:
            sys.stderr.write(redact(diagnostics))
    changed = target.dockerfile in result.changes
    return 1 if found or (exit_non_zero_on_fix and changed) else 0


@app.command(
    epilog="Rule documentation: `mlfix rule MLF201`, or `mlfix rule` for the list of codes."
)
def check(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Directories to search for Dockerfiles and compose files, Dockerfiles, "
            "compose files, or - for stdin (default: .)",
            show_default=False,
        ),
    ] = None,
    diff: Annotated[
        bool, typer.Option("--diff", help="Print a unified diff; write nothing.")
    ] = False,
    write: Annotated[bool, typer.Option("--write", help="Apply safe fixes in place.")] = False,
    select: Annotated[
        list[str] | None, typer.Option(help="Only these rule codes or prefixes (comma-separated).")
    ] = None,
    ignore: Annotated[
        list[str] | None, typer.Option(help="Skip these rule codes or prefixes.")
    ] = None,
    unsafe_fixes: Annotated[
        bool | None,
        typer.Option(
            "--unsafe-fixes/--no-unsafe-fixes",
            help="Also apply fixes that may change what the image holds.",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--output-format", "--format", help="How findings are printed (text = concise)."
        ),
    ] = OutputFormat.concise,
    show_fixes: Annotated[
        bool,
        typer.Option(
            "--show-fixes",
            help="List the fixes: under each finding, or what --write fixed, per file.",
        ),
    ] = False,
    show_statistics: Annotated[
        bool, typer.Option("--statistics", help="Print counts per rule instead of findings.")
    ] = False,
    exclude: Annotated[
        list[str] | None,
        typer.Option(help="Skip paths matching these gitignore-style patterns."),
    ] = None,
    respect_gitignore: Annotated[
        bool,
        typer.Option(
            "--respect-gitignore/--no-respect-gitignore",
            help="Skip files that .gitignore excludes when searching directories.",
        ),
    ] = True,
    config: Annotated[
        Path | None,
        typer.Option(help="Use this config file instead of the nearest one.", show_default=False),
    ] = None,
    stdin_filename: Annotated[
        str | None,
        typer.Option(
            help="Where the Dockerfile read from stdin lives (its directory is the context).",
            show_default=False,
        ),
    ] = None,
    exit_non_zero_on_fix: Annotated[
        bool,
        typer.Option(
            "--exit-non-zero-on-fix", help="With --write: exit 1 when any file was changed."
        ),
    ] = False,
    weights: Annotated[
        Weights | None,
        typer.Option(
            help="Bake model weights into the image, or mount them as a compose volume.",
            show_default=False,
        ),
    ] = None,
    hf_home: Annotated[
        str | None,
        typer.Option(help="HF_HOME inside the image for baked weights.", show_default=False),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only results and errors; no summary.")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Find and fix what makes Docker builds of ML projects slow."""
    del version
    mode = Mode.DIFF if diff else Mode.WRITE if write else Mode.REPORT
    select_codes = codes(select) if select else None
    unknown = _unknown_selectors((*(select_codes or ()), *codes(ignore or [])))
    if unknown:
        _err(f"error: unknown rule selector `{unknown[0]}`")
        raise typer.Exit(2)
    overrides = Overrides(
        select=select_codes,
        ignore=codes(ignore or []),
        unsafe_fixes=unsafe_fixes,
        exclude=tuple(p.strip() for value in exclude or [] for p in value.split(",") if p.strip()),
        weights=weights.value if weights is not None else None,
        hf_home=hf_home,
    )
    try:
        resolver = Resolver(config)
    except MlfixError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2) from None
    excluded = Excluder(overrides.exclude, resolver)
    given = list(paths or [])
    if given == [Path("-")] or (not given and stdin_filename):
        status = _stdin(
            mode, stdin_filename, resolver, overrides, excluded, output_format,
            quiet=quiet, exit_non_zero_on_fix=exit_non_zero_on_fix,
        )  # fmt: skip
        raise typer.Exit(status)
    if Path("-") in given:
        _err("error: -: stdin cannot be combined with other paths")
        raise typer.Exit(2)
    found = discover.discover(
        given or [Path(".")], excluded=excluded, respect_gitignore=respect_gitignore
    )
    run = Run(mode, skipped=len(found.skipped))
    for message in found.warnings:
        if not quiet:
            _err(f"warning: {message}")
    for message in found.notes:
        if not quiet:
            _err(f"note: {message}")
    for error in found.errors:
        run.error(error)
    _process(run, found.targets, resolver, overrides, quiet)
    status = _emit(
        run, output_format, show_fixes=show_fixes, stats=show_statistics, quiet=quiet,
        exit_non_zero_on_fix=exit_non_zero_on_fix,
    )  # fmt: skip
    raise typer.Exit(status)


@rule_app.command()
def rule(
    code: Annotated[
        str | None, typer.Argument(help="A rule code, e.g. MLF201.", show_default=False)
    ] = None,
    all_rules: Annotated[bool, typer.Option("--all", help="Print every rule's page.")] = False,
) -> None:
    """Print a rule's documentation page (or, with no code, the list of rules)."""
    from mlfix.docs import page

    if all_rules:
        _out("\n".join(page(module) for module in RULES.values()))
        return
    if code is None:
        width = max(len(name) for name in NAMES.values())
        _out("".join(f"{c}  {NAMES[c]:<{width}}  {m.SUMMARY}\n" for c, m in sorted(RULES.items())))
        return
    module = RULES.get(code.strip().upper())
    if module is None:
        _err(f"error: unknown rule code `{code}` (see `mlfix rule` for the list)")
        raise typer.Exit(2)
    _out(page(module))


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "rule":
        rule_app(args=args[1:], prog_name="mlfix rule")
    else:
        app(args=args, prog_name="mlfix")
