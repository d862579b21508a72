"""The REST client's waiting: how long it sleeps for each kind of limit, and when it stops.

In-process against the fake API, with `sleep` recorded instead of slept, so the waits
GitHub asks for (`Retry-After`, `X-RateLimit-Reset`) are checked exactly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlfix.bot.errors import BotError
from mlfix.bot.github import RETRIES, GitHub
from tests.support.fakegithub import FakeGitHub, serve

TOKEN = "ghs_unit"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[FakeGitHub]:
    with serve("acme", "demo", tmp_path, TOKEN) as fake:
        yield fake


def _client(hub: FakeGitHub, slept: list[float]) -> GitHub:
    return GitHub(hub.url, TOKEN, "acme/demo", sleep=slept.append)


def test_retry_after_is_slept_as_given_then_the_answer_is_used(hub: FakeGitHub) -> None:
    hub.fail("GET", r"/repos/acme/demo$", 429, "Too many requests", {"Retry-After": "7"}, times=2)
    slept: list[float] = []
    assert _client(hub, slept).repository()["default_branch"] == "main"
    assert slept == [7.0, 7.0]


def test_the_primary_limit_waits_for_its_reset(hub: FakeGitHub) -> None:
    reset = int(time.time()) + 20
    hub.fail("GET", r"/repos/acme/demo$", 403, "API rate limit exceeded",
             {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}, times=1)  # fmt: skip
    slept: list[float] = []
    _client(hub, slept).repository()
    (wait,) = slept
    assert 18 <= wait <= 22


def test_a_secondary_limit_without_headers_waits_a_minute(hub: FakeGitHub) -> None:
    hub.fail("GET", r"/repos/acme/demo$", 403, "You have exceeded a secondary rate limit", times=1)
    slept: list[float] = []
    _client(hub, slept).repository()
    assert slept == [60.0]


def test_retries_are_bounded(hub: FakeGitHub) -> None:
    hub.fail("GET", r"/repos/acme/demo$", 429, "Too many requests", {"Retry-After": "1"})
    slept: list[float] = []
    with pytest.raises(BotError, match=r"rate limit was hit \(429\); retry after 1 s"):
        _client(hub, slept).repository()
    assert len(slept) == RETRIES and len(hub.requests) == RETRIES + 1


def test_a_dropped_post_is_not_repeated(hub: FakeGitHub) -> None:
    hub.fail("POST", r"/pulls$", 0)
    slept: list[float] = []
    with pytest.raises(BotError, match="the connection dropped"):
        _client(hub, slept).create_pull("t", "b", "main", "body")
    assert len(hub.calls("POST", r"/pulls$")) == 1 and slept == []


def test_a_dropped_get_is_retried(hub: FakeGitHub) -> None:
    hub.fail("GET", r"/repos/acme/demo$", 0, times=2)
    slept: list[float] = []
    assert _client(hub, slept).repository()["full_name"] == "acme/demo"
    assert len(slept) == 2


def test_a_refused_connection_is_one_line(tmp_path: Path) -> None:
    with serve("acme", "demo", tmp_path, TOKEN) as fake:
        url = fake.url
    client = GitHub(url, TOKEN, "acme/demo", sleep=lambda _s: None)
    with pytest.raises(BotError, match="the connection was refused") as caught:
        client.repository()
    assert "\n" not in str(caught.value) and TOKEN not in str(caught.value)
