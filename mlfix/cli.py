"""The `mlfix` command: flags in, engine, output out, and one exit code.

stdout carries only results (findings or the diff); messages go to stderr. Exit 0:
nothing to fix; 1: findings or a non-empty diff; 2: an error (the file is named and
nothing is written for that target).
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated

import typer

from mlfix import __version__
from mlfix.config import Settings
from mlfix.engine import TargetResult, run_target, target_for
from mlfix.errors import MlfixError
from mlfix.patch import unified_diff, write_atomic
from mlfix.report import json as json_report
from mlfix.report import text as text_report


class OutputFormat(str, enum.Enum):
    text = "text"
    json = "json"


app = typer.Typer(add_completion=False, rich_markup_mode=None)


def _codes(values: list[str] | None) -> tuple[str, ...]:
    return tuple(
        code.strip().upper() for value in values or [] for code in value.split(",") if code
    )


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mlfix {__version__}")
        raise typer.Exit()


@app.command()
def check(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Build-context directories or Dockerfiles (default: .)"),
    ] = None,
    diff: Annotated[
        bool, typer.Option("--diff", help="Print a unified diff; write nothing.")
    ] = False,
    write: Annotated[bool, typer.Option("--write", help="Apply safe fixes in place.")] = False,
    select: Annotated[list[str] | None, typer.Option(help="Only these rule codes.")] = None,
    ignore: Annotated[list[str] | None, typer.Option(help="Skip these rule codes.")] = None,
    unsafe_fixes: Annotated[
        bool, typer.Option("--unsafe-fixes", help="Also apply fixes that may change the image.")
    ] = False,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "--output-format", help="Findings format.")
    ] = OutputFormat.text,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Find and fix what makes Docker builds of ML projects slow."""
    del version
    settings = Settings(select=_codes(select), ignore=_codes(ignore), unsafe_fixes=unsafe_fixes)
    results: list[TargetResult] = []
    errors = 0
    for path in paths or [Path(".")]:
        try:
            target = target_for(path)
        except MlfixError as exc:
            typer.echo(f"error: {exc}", err=True)
            errors += 1
            continue
        result = run_target(target, settings, fix=diff or write)
        if result.error is not None:
            typer.echo(f"error: {result.error}", err=True)
            errors += 1
            continue
        results.append(result)
    status = _emit(results, diff=diff, write=write, output_format=output_format)
    raise typer.Exit(2 if errors else status)


def _emit(
    results: list[TargetResult], *, diff: bool, write: bool, output_format: OutputFormat
) -> int:
    render = json_report.render if output_format is OutputFormat.json else text_report.render
    if diff:
        patches = [
            unified_diff(old, new, _display(path))
            for result in results
            for path, (old, new) in result.changes.items()
        ]
        sys.stdout.write("".join(patches))
        return 1 if patches else 0
    if write:
        changed = 0
        for result in results:
            for path, (_old, new) in result.changes.items():
                write_atomic(path, new)
                changed += 1
        remaining = render(results, after_fix=True)
        sys.stdout.write(remaining if output_format is OutputFormat.json or remaining else "")
        fixed = sum(len(r.findings) for r in results) - sum(len(r.remaining) for r in results)
        typer.echo(f"Fixed {fixed} finding(s) in {changed} file(s).", err=True)
        return 1 if any(r.remaining for r in results) else 0
    sys.stdout.write(render(results))
    total = sum(len(r.findings) for r in results)
    if total:
        fixable = sum(
            1 for r in results for f in r.findings if f.fix and f.fix.applicability.value == "safe"
        )
        typer.echo(f"Found {total} finding(s); {fixable} fixable with --write.", err=True)
    return 1 if total else 0


def main() -> None:
    app()
