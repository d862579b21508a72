"""A small GitHub REST client on the standard library, with GitHub's errors as one line.

The stdlib is enough for the dozen JSON calls the bot makes and keeps the bot free of
dependencies a CI image must install. Rate limits are honoured as GitHub documents
them: `Retry-After` first (secondary limits and 429), then `X-RateLimit-Reset` when
`X-RateLimit-Remaining` is 0, with a bounded number of retries and a cap on any
single wait. A request whose connection drops is retried only when it is safe to
repeat (GET, PATCH, DELETE); a POST could create a second PR or comment.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from mlfix import __version__
from mlfix.bot.errors import BotError, scrub

API_VERSION = "2022-11-28"
RETRIES = 3  # attempts after the first
MAX_WAIT = 60.0  # seconds; a longer Retry-After or reset is reported, not waited for
SECONDARY_WAIT = 60.0  # GitHub: "wait for at least one minute" when no header says
IDEMPOTENT = frozenset({"GET", "PATCH", "DELETE", "PUT"})
WORKFLOW_SETTING = (
    "Settings → Actions → General → Workflow permissions → "
    '"Allow GitHub Actions to create and approve pull requests"'
)


class Response:
    def __init__(self, status: int, headers: Mapping[str, str], data: bytes) -> None:
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.data = data

    def json(self) -> Any:
        if not self.data:
            return None
        try:
            return json.loads(self.data)
        except ValueError:
            return None

    def message(self) -> str:
        payload = self.json()
        if not isinstance(payload, dict):
            return self.data[:200].decode("utf-8", "replace").strip()
        text = str(payload.get("message") or "")
        details = [
            str(e.get("message") or e.get("code") or "")
            for e in payload.get("errors") or []
            if isinstance(e, dict)
        ]
        details = [d for d in details if d and d not in text]
        return "; ".join([text, *details]) if details else text


def _rate_wait(response: Response, now: float) -> float | None:
    """Seconds to wait before a retry, or None when the response is not a rate limit."""
    headers = response.headers
    if "retry-after" in headers:
        try:
            return max(0.0, float(headers["retry-after"]))
        except ValueError:
            return SECONDARY_WAIT
    if headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
        try:
            return max(0.0, float(headers["x-ratelimit-reset"]) - now) + 1.0
        except ValueError:
            return SECONDARY_WAIT
    if response.status == 429 or "secondary rate limit" in response.message().lower():
        return SECONDARY_WAIT
    return None


class GitHub:
    """One repository's API, authenticated with a token that never leaves the headers."""

    def __init__(
        self,
        api_url: str,
        token: str,
        repo: str,
        *,
        timeout: float = 30.0,
        retries: int = RETRIES,
        max_wait: float = MAX_WAIT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api = api_url.rstrip("/")
        self.token = token
        self.repo = repo
        self.timeout = timeout
        self.retries = retries
        self.max_wait = max_wait
        self.sleep = sleep

    # -- transport ---------------------------------------------------------------

    def _send(self, method: str, url: str, body: bytes | None) -> Response:
        request = urllib.request.Request(url, data=body, method=method)
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("X-GitHub-Api-Version", API_VERSION)
        request.add_header("User-Agent", f"mlfix/{__version__}")
        if body is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as handle:
                return Response(handle.status, dict(handle.headers), handle.read())
        except urllib.error.HTTPError as exc:
            data = exc.read() if exc.fp is not None else b""
            return Response(exc.code, dict(exc.headers or {}), data)

    def request(self, method: str, path: str, payload: Any = None, **query: Any) -> Any:
        url = self.api + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        body = None if payload is None else json.dumps(payload).encode()
        what = f"{method} {path}"
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self._send(method, url, body)
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                if method in IDEMPOTENT and not last:
                    self.sleep(min(0.5 * 2.0**attempt, self.max_wait))
                    continue
                raise BotError(f"{what}: {_dropped(exc)} ({self.api})") from None
            if response.status < 300:
                return response.json()
            wait = _rate_wait(response, time.time()) if response.status in (403, 429) else None
            if wait is not None:
                if last or wait > self.max_wait:
                    raise BotError(_rate_limited(what, response, wait))
                self.sleep(wait)
                continue
            raise BotError(self._error(what, response))
        raise AssertionError("unreachable")

    def _error(self, what: str, response: Response) -> str:
        message = scrub(response.message(), self.token) or "no message"
        status = response.status
        if status == 401:
            return f"{what}: GitHub rejected the token (401 {message}); check GITHUB_TOKEN"
        if status == 403 and "not permitted to create or approve pull requests" in message:
            return (
                f"{what}: {message} (403); allow it in the repository's {WORKFLOW_SETTING}, "
                "or use a GitHub App token"
            )
        if status == 403:
            return (
                f"{what}: permission denied (403 {message}); the token needs "
                "contents: write and pull-requests: write"
            )
        if status == 404:
            return f"{what}: not found (404); does {self.repo} exist, and can the token see it?"
        if status == 422:
            return f"{what}: GitHub refused the request (422 {message})"
        return f"{what}: GitHub answered {status} ({message})"

    # -- the calls the bot makes ----------------------------------------------------

    def _repo_path(self, tail: str = "") -> str:
        owner, name = self.repo.split("/", 1)
        return f"/repos/{urllib.parse.quote(owner)}/{urllib.parse.quote(name)}{tail}"

    def repository(self) -> dict[str, Any]:
        data = self.request("GET", self._repo_path())
        return data if isinstance(data, dict) else {}

    def pulls(self, head: str) -> list[dict[str, Any]]:
        """Every PR (open or closed) from `owner:branch`, newest first."""
        found: list[dict[str, Any]] = []
        for page in range(1, 6):
            data = self.request(
                "GET", self._repo_path("/pulls"), state="all", head=head, per_page=100, page=page
            )
            batch = [pr for pr in data or [] if isinstance(pr, dict)]
            found.extend(batch)
            if len(batch) < 100:
                break
        return sorted(found, key=lambda pr: -int(pr.get("number") or 0))

    def create_pull(self, title: str, head: str, base: str, body: str) -> dict[str, Any]:
        payload = {"title": title, "head": head, "base": base, "body": body,
                   "maintainer_can_modify": True}  # fmt: skip
        return dict(self.request("POST", self._repo_path("/pulls"), payload) or {})

    def update_pull(self, number: int, **fields: Any) -> dict[str, Any]:
        return dict(self.request("PATCH", self._repo_path(f"/pulls/{number}"), fields) or {})

    def comments(self, number: int) -> list[dict[str, Any]]:
        data = self.request("GET", self._repo_path(f"/issues/{number}/comments"), per_page=100)
        return [c for c in data or [] if isinstance(c, dict)]

    def comment(self, number: int, body: str) -> None:
        self.request("POST", self._repo_path(f"/issues/{number}/comments"), {"body": body})

    def add_labels(self, number: int, labels: list[str]) -> None:
        self.request("POST", self._repo_path(f"/issues/{number}/labels"), {"labels": labels})

    def delete_branch(self, branch: str) -> None:
        ref = urllib.parse.quote(f"heads/{branch}")
        self.request("DELETE", self._repo_path(f"/git/refs/{ref}"))


def _dropped(exc: BaseException) -> str:
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, socket.timeout | TimeoutError):
        return "the connection timed out"
    if isinstance(reason, ConnectionRefusedError):
        return "the connection was refused"
    return f"the connection dropped ({type(reason).__name__})"


def _rate_limited(what: str, response: Response, wait: float) -> str:
    kind = (
        "rate limit"
        if response.headers.get("x-ratelimit-remaining") == "0"
        else ("secondary rate limit")
    )
    return f"{what}: GitHub's {kind} was hit ({response.status}); retry after {int(wait + 0.999)} s"
