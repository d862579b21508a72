"""What `mlfix pr` is told: its options, and GitHub Actions' environment conventions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mlfix.bot.errors import BotError
from mlfix.bot.git import BOT, Identity

DEFAULT_BRANCH = "mlfix/docker-build"
DEFAULT_API = "https://api.github.com"
DEFAULT_SERVER = "https://github.com"
REPO = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
BRANCH = re.compile(r"^(?!/)(?!.*(?:\.\.|//|@\{|\.lock(?:/|$)))[A-Za-z0-9._/-]+(?<![/.])$")


@dataclass(frozen=True)
class Options:
    paths: tuple[Path, ...] = ()
    repo: str | None = None  # --repo: clone this one instead of using a checkout
    base: str | None = None
    branch: str = DEFAULT_BRANCH
    labels: tuple[str, ...] = ()
    unsafe_fixes: bool | None = None
    dry_run: bool = False
    force: bool = False
    author: Identity = field(default=BOT)


@dataclass(frozen=True)
class Environment:
    repo: str
    token: str
    api_url: str
    server_url: str

    @staticmethod
    def read(env: Mapping[str, str], options: Options) -> Environment:
        repo = options.repo or env.get("GITHUB_REPOSITORY", "")
        if not repo:
            raise BotError("no repository: set GITHUB_REPOSITORY=owner/name or pass --repo")
        if not REPO.match(repo):
            raise BotError(f"`{repo}` is not a repository name (owner/name)")
        if not BRANCH.match(options.branch) or (options.base and not BRANCH.match(options.base)):
            raise BotError(f"`{options.branch}` is not a branch name git accepts")
        token = env.get("GITHUB_TOKEN", "").strip()
        if not token:
            raise BotError(
                "no token: set GITHUB_TOKEN (in a workflow: `env: GITHUB_TOKEN: "
                "${{ secrets.GITHUB_TOKEN }}` or a GitHub App token)"
            )
        api = (env.get("GITHUB_API_URL") or DEFAULT_API).rstrip("/")
        server = (env.get("GITHUB_SERVER_URL") or DEFAULT_SERVER).rstrip("/")
        return Environment(repo, token, api, server)

    @property
    def owner(self) -> str:
        return self.repo.split("/", 1)[0]
