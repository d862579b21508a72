"""The `mlfix` command: flags in, the runner, output out, and one exit code.

stdout carries only results (findings, the diff, or the fixed text for stdin);
messages, hints, progress and the summary line go to stderr. Exit 0: nothing to
fix; 1: findings or a non-empty diff (or, with `--exit-non-zero-on-fix`, files
changed); 2: an error (one `error: <file>: message` line; nothing is written for
that target). The pipeline and the exit code live in `mlfix.runner` and its
`Report`; this module only turns flags into a run.

`mlfix rule CODE` prints a rule's documentation page, and `mlfix pr` opens a fix
pull request (`mlfix.bot`). Each is a separate typer app picked in `main()` by the
first argument, so `mlfix [PATHS]` stays the default command (a directory named
`rule` or `pr` can be checked as `mlfix ./rule`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from mlfix import __version__
from mlfix.options import Mode, OutputFormat, Weights

# The pipeline (runner, rules, config) is imported inside the commands that use it:
# `mlfix --version` and `--help` then cost little more than typer itself.
__all__ = ["Mode", "OutputFormat", "app", "main", "rule_app"]


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


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mlfix {__version__}")
        raise typer.Exit()


@app.command(
    epilog="Rule documentation: `mlfix rule MLF201`, or `mlfix rule` for the list of codes. "
    "Fix pull requests: `mlfix pr --help`."
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
    from mlfix import runner
    from mlfix.config import Overrides, Resolver, codes
    from mlfix.errors import MlfixError

    _err = runner.err
    mode = Mode.DIFF if diff else Mode.WRITE if write else Mode.REPORT
    select_codes = codes(select) if select else None
    unknown = runner.unknown_selectors((*(select_codes or ()), *codes(ignore or [])))
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
    given = list(paths or [])
    if given == [Path("-")] or (not given and stdin_filename):
        run, text = runner.run_stdin(
            sys.stdin.buffer.read(), stdin_filename, mode, resolver, overrides,
            exit_non_zero_on_fix=exit_non_zero_on_fix,
        )  # fmt: skip
        raise typer.Exit(runner.emit_stdin(run, text, output_format, quiet=quiet))
    if Path("-") in given:
        _err("error: -: stdin cannot be combined with other paths")
        raise typer.Exit(2)
    run = runner.run_paths(
        given, mode, resolver, overrides, respect_gitignore=respect_gitignore, quiet=quiet,
        exit_non_zero_on_fix=exit_non_zero_on_fix,
    )  # fmt: skip
    status = runner.emit(
        run, output_format, show_fixes=show_fixes, stats=show_statistics, quiet=quiet
    )
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
    from mlfix.report.formats import NAMES
    from mlfix.rules import RULES
    from mlfix.runner import err as _err
    from mlfix.runner import out as _out

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
    elif args and args[0] == "pr":
        from mlfix.bot.command import app as pr_app

        pr_app(args=args[1:], prog_name="mlfix pr")
    else:
        app(args=args, prog_name="mlfix")
