"""`mlfix pr [PATH]` / `mlfix pr --repo owner/name`: the typer front of the bot."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from mlfix import runner
from mlfix.bot import flow
from mlfix.bot.errors import BotError, scrub
from mlfix.bot.git import BOT, Identity
from mlfix.bot.settings import DEFAULT_BRANCH, Options

app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.command(
    epilog="Environment (GitHub Actions' names): GITHUB_REPOSITORY (owner/name), GITHUB_TOKEN, "
    "GITHUB_API_URL (default https://api.github.com), GITHUB_SERVER_URL (default "
    "https://github.com). Exit 0: done (opened, updated, closed, up to date, declined, left "
    "alone); 2: an error, on one line, with the checkout as it was."
)
def pr(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Where to look in the checkout (default: its root).", show_default=False
        ),
    ] = None,
    repo: Annotated[
        str | None,
        typer.Option(
            help="Clone owner/name from GITHUB_SERVER_URL instead of using a checkout.",
            show_default=False,
        ),
    ] = None,
    base: Annotated[
        str | None,
        typer.Option(
            help="Branch the PR goes into (default: the repository's default branch).",
            show_default=False,
        ),
    ] = None,
    branch: Annotated[str, typer.Option(help="The bot's branch.")] = DEFAULT_BRANCH,
    label: Annotated[
        list[str] | None, typer.Option(help="Label for the PR (repeatable).", show_default=False)
    ] = None,
    unsafe_fixes: Annotated[
        bool | None,
        typer.Option(
            "--unsafe-fixes/--no-unsafe-fixes",
            help="Also apply unsafe fixes (default: the config's unsafe-fixes).",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the commit and the PR; touch nothing.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Open the PR again even if it was declined.")
    ] = False,
    author: Annotated[
        str, typer.Option(help="Author and committer of the fix commit, `Name <email>`.")
    ] = str(BOT),
) -> None:
    """Open or update one pull request with mlfix's fixes (GitHub Actions conventions)."""
    token = os.environ.get("GITHUB_TOKEN", "").strip()
    try:
        if repo and paths and any(p.is_absolute() or ".." in p.parts for p in paths):
            raise BotError("with --repo, PATHs are relative to the repository root")
        options = Options(
            paths=tuple(paths or ()), repo=repo, base=base, branch=branch,
            labels=tuple(label or ()), unsafe_fixes=unsafe_fixes, dry_run=dry_run, force=force,
            author=Identity.parse(author),
        )  # fmt: skip
        line = flow.run(options, os.environ, lambda text: runner.err(scrub(text, token)))
    except BotError as exc:
        runner.err(f"error: {scrub(str(exc), token)}")
        raise typer.Exit(2) from None
    runner.out(scrub(line, token) + "\n")
