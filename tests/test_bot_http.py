"""`mlfix pr` over git's smart HTTP: the token reaches the git server as a header, once.

The origin is served by `git http-backend` on loopback and, like GitHub, takes a push
only with `Authorization: basic base64("x-access-token:<token>")`. The checkout carries
the stale header `actions/checkout` persists in `.git/config` by default; mlfix's own
header must replace it, not be sent beside it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import githttp
from tests.support.botworld import NAME, OWNER, TOKEN, World, git, world

BRANCH = "mlfix/docker-build"


@pytest.fixture
def http_world(tmp_path: Path) -> Iterator[tuple[World, githttp.GitServer]]:
    with world(tmp_path) as w, githttp.serve(w.server, TOKEN) as server:
        url = f"{server.url}/{OWNER}/{NAME}.git"
        git(w.checkout, "remote", "set-url", "origin", url)
        stale = base64.b64encode(b"x-access-token:ghs_expired").decode()
        git(w.checkout, "config", "--local", f"http.{server.url}/.extraheader",
            f"AUTHORIZATION: basic {stale}")  # fmt: skip
        server.seen.clear()
        yield w, server


def test_push_over_http_sends_exactly_our_header(
    http_world: tuple[World, githttp.GitServer],
) -> None:
    w, server = http_world
    before = w.state()
    trace = w.root / "git-trace.log"  # every command line git runs, its helpers' included
    done = w.mlfix_pr(GITHUB_SERVER_URL=server.url, GIT_TRACE=str(trace))
    assert done.returncode == 0, done.stderr
    traced = trace.read_text()
    assert "run_command: git remote-http" in traced or "git-remote-http" in traced, traced
    secret = server.expected.split(" ", 1)[1]  # the header's base64 is the token too
    for text in (traced, w.shim_log.read_text(), done.stdout, done.stderr):
        assert TOKEN not in text and secret not in text
    assert done.stdout.startswith("opened #1")
    sha = w.remote(BRANCH)
    assert sha is not None and git(w.bare, "rev-list", f"main..{BRANCH}").split() == [sha]
    pushes = [s for s in server.seen if "receive-pack" in s[1] or "receive-pack" in s[0]]
    assert pushes, server.seen
    for _method, _path, auths in server.seen:
        assert [a.lower() for a in auths] == [server.expected.lower()]  # never the stale one too
    assert w.state() == before
    assert TOKEN not in (w.checkout / ".git" / "config").read_text()
    assert TOKEN not in w.shim_log.read_text()


def test_repo_option_clones_over_http(
    http_world: tuple[World, githttp.GitServer], tmp_path: Path
) -> None:
    w, server = http_world
    empty = tmp_path / "empty"
    empty.mkdir()
    done = w.mlfix_pr("--repo", f"{OWNER}/{NAME}", cwd=empty, GITHUB_SERVER_URL=server.url)
    assert done.returncode == 0, done.stderr
    assert w.remote(BRANCH) is not None
    assert all(auths for _m, _p, auths in server.seen)


def test_a_rejected_push_is_one_line_and_leaves_nothing(
    http_world: tuple[World, githttp.GitServer],
) -> None:
    w, server = http_world
    server.token = "ghs_someone_else"  # the git server no longer takes our token
    before = w.state()
    done = w.mlfix_pr(GITHUB_SERVER_URL=server.url)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: git push failed:")
    assert "refused the token; it needs contents: write" in line
    assert TOKEN not in line
    assert w.state() == before and w.remote(BRANCH) is None and w.hub.pulls == []
