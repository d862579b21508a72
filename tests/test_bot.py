"""`mlfix pr` against real git (a bare origin on disk) and a fake GitHub API on loopback.

Every scenario runs the real command in a subprocess with GitHub Actions' environment
and checks three things the issue asks for: what arrived on the remote, what the API
was asked, and that the user's checkout is exactly as it was.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.botworld import TOKEN, World, git, world

BRANCH = "mlfix/docker-build"
TITLE = "Speed up the Docker build (mlfix)"


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path) as made:
        yield made
        _token_nowhere(made)


def _token_nowhere(w: World) -> None:
    """The token is in no config, no git argv, no output, no PR body or comment."""
    for config in (w.checkout / ".git" / "config", w.bare / "config"):
        assert TOKEN not in config.read_text()
    for clone in w.root.rglob("clone/.git/config"):
        assert TOKEN not in clone.read_text()
    argv = w.shim_log.read_text()
    assert TOKEN not in argv and "x-access-token" not in argv and "extraheader" not in argv
    encoded = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    for text in w.outputs:
        assert TOKEN not in text and encoded not in text
    for pr in w.hub.pulls:
        assert TOKEN not in str(pr["body"]) and TOKEN not in str(pr["title"])
    for comments in w.hub.comments.values():
        assert all(TOKEN not in c["body"] for c in comments)
    # the API saw it only where it belongs
    for request in w.hub.requests:
        assert TOKEN not in request.path and TOKEN not in str(request.body)


def _opened(w: World) -> list[dict[str, object]]:
    return [r.body for r in w.hub.calls("POST", r"/pulls$")]


def _fix_commit(w: World) -> str:
    sha = w.remote(BRANCH)
    assert sha is not None
    return sha


def test_first_run_opens_one_pr_whose_branch_holds_exactly_the_fix_commit(w: World) -> None:
    before = w.state()
    main = w.remote("main")
    done = w.mlfix_pr("--label", "performance", "--label", "docker")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("opened #1")
    assert w.state() == before  # checkout untouched: branch, HEAD, index, refs, config
    # exactly one commit on top of main, by the bot, changing exactly the two fixed files
    sha = _fix_commit(w)
    assert git(w.bare, "rev-list", f"main..{BRANCH}").split() == [sha]
    assert git(w.bare, "rev-parse", f"{sha}^") == main
    assert git(w.bare, "log", "-1", "--format=%an <%ae>|%cn <%ce>", sha) == (
        "mlfix[bot] <mlfix[bot]@users.noreply.github.com>|"
        "mlfix[bot] <mlfix[bot]@users.noreply.github.com>"
    )  # not the global config's "Somebody Else"
    changed = git(w.bare, "diff-tree", "--no-commit-id", "--name-status", "-r", sha)
    assert sorted(changed.splitlines()) == ["A\t.dockerignore", "M\tDockerfile"]
    dockerfile = git(w.bare, "show", f"{sha}:Dockerfile")
    assert dockerfile.index("RUN pip install") < dockerfile.index("COPY . .")
    assert "**/*.ckpt" in git(w.bare, "show", f"{sha}:.dockerignore")
    # one PR, as GitHub's API is asked for one
    (created,) = _opened(w)
    assert created["head"] == BRANCH and created["base"] == "main"
    assert created["title"] == TITLE
    pr_body = str(created["body"])
    for code in ("MLF101", "MLF201"):
        assert f"[{code}](" in pr_body
    assert "**Why it is slow:**" in pr_body and "**Safety:** safe" in pr_body
    assert "kept out of the build context" in pr_body  # measured context savings
    assert "1 step no longer re-run after a code edit" in pr_body
    assert "## Suggestions not applied" in pr_body and "MLF301" in pr_body
    assert "--unsafe-fixes" in pr_body
    # the exact diff of each file is the commit's
    for name in ("Dockerfile", ".dockerignore"):
        exact = git(w.bare, "diff", f"{sha}^", sha, "--", name)
        header, _, hunks = exact[exact.index("@@") :].partition("\n")
        assert header.split(" @@")[0] + " @@\n" + hunks in pr_body  # git adds a func context
    assert re.search(r"<!-- mlfix:fingerprint=[0-9a-f]{16} -->", pr_body)
    assert w.hub.labels[1] == ["performance", "docker"]
    assert [r.headers.get("Authorization") for r in w.hub.requests] == [f"Bearer {TOKEN}"] * len(
        w.hub.requests
    )


def test_second_run_with_nothing_new_opens_none_and_pushes_nothing(w: World) -> None:
    assert w.mlfix_pr().returncode == 0
    sha = _fix_commit(w)
    writes = len(w.hub.writes())
    done = w.mlfix_pr()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("up to date: #1")
    assert len(w.hub.writes()) == writes  # no POST, no PATCH
    assert len(_opened(w)) == 1
    assert w.remote(BRANCH) == sha


def test_a_new_change_on_main_updates_the_same_pr(w: World) -> None:
    assert w.mlfix_pr().returncode == 0
    first = _fix_commit(w)
    new_main = w.push_to_main({"wandb/run-1/run.wandb": "x\n"}, "track experiments")
    before = w.state()
    done = w.mlfix_pr()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("updated #1")
    assert w.state() == before
    assert len(_opened(w)) == 1 and len(w.hub.pulls) == 1
    sha = _fix_commit(w)
    assert sha != first
    assert git(w.bare, "rev-list", f"main..{BRANCH}").split() == [sha]
    assert git(w.bare, "rev-parse", f"{sha}^") == new_main
    (patch,) = w.hub.calls("PATCH", r"/pulls/1$")
    assert patch.body["title"] == TITLE
    assert "wandb" in patch.body["body"] and "wandb" in git(w.bare, "show", f"{sha}:.dockerignore")
    assert w.hub.pulls[0]["body"] == patch.body["body"]


def test_a_clean_repo_closes_the_stale_pr_and_deletes_the_branch(w: World) -> None:
    assert w.mlfix_pr().returncode == 0
    sha = _fix_commit(w)
    git(w.checkout, "fetch", "-q", "origin", BRANCH)
    git(w.checkout, "merge", "-q", "--ff-only", sha)  # a maintainer applies the fixes on main
    git(w.checkout, "push", "-q", "origin", "main")
    done = w.mlfix_pr()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("closed #1: nothing left to fix")
    (comment,) = w.hub.comments[1]
    assert "nothing left to fix" in comment["body"]
    assert w.hub.pulls[0]["state"] == "closed"
    assert w.remote(BRANCH) is None
    assert len(w.hub.calls("DELETE", rf"/git/refs/heads/{BRANCH}$")) == 1
    again = w.mlfix_pr()
    assert again.stdout.strip() == "nothing to fix"
    assert len(w.hub.comments[1]) == 1
    # the mistakes come back: mlfix closed #1 itself, so it is not a declined set of fixes
    git(w.checkout, "revert", "--no-edit", "HEAD")
    git(w.checkout, "push", "-q", "origin", "main")
    back = w.mlfix_pr()
    assert back.stdout.startswith("opened #2"), back.stdout + back.stderr


def test_a_human_commit_on_the_branch_stops_updates_with_one_comment(w: World) -> None:
    assert w.mlfix_pr().returncode == 0
    work = w.root / "human"
    git(w.root, "clone", "-q", "-b", BRANCH, f"file://{w.bare}", str(work))
    (work / "NOTES.md").write_text("reviewed\n")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "my own change")
    git(work, "push", "-q", "origin", BRANCH)
    human = w.remote(BRANCH)
    w.push_to_main({"wandb/run-1/run.wandb": "x\n"}, "track experiments")
    for _ in range(2):
        done = w.mlfix_pr()
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("left alone: #1 has a commit by Ada Maintainer")
    assert w.remote(BRANCH) == human  # never force-pushed over the person's work
    assert not w.hub.calls("PATCH", r"/pulls/")
    (comment,) = w.hub.comments[1]  # said once, not once per run
    assert "stops updating it" in comment["body"]


def test_a_closed_unmerged_pr_is_not_reopened_unless_forced_or_changed(w: World) -> None:
    assert w.mlfix_pr().returncode == 0
    w.hub.close_unmerged(1)
    done = w.mlfix_pr()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("declined: #1")
    assert len(_opened(w)) == 1
    forced = w.mlfix_pr("--force")
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.startswith("opened #2")
    w.hub.close_unmerged(2)
    w.push_to_main({"wandb/run-1/run.wandb": "x\n"}, "track experiments")  # the fix set changes
    changed = w.mlfix_pr()
    assert changed.stdout.startswith("opened #3"), changed.stdout + changed.stderr


def test_dry_run_prints_the_commit_and_pr_and_touches_nothing(w: World) -> None:
    before = w.state()
    done = w.mlfix_pr("--dry-run")
    assert done.returncode == 0, done.stderr
    assert "Author: mlfix[bot]" in done.stdout
    assert "+COPY requirements.txt ." in done.stdout
    assert f"would open a pull request from {BRANCH}: {TITLE}" in done.stdout
    assert w.hub.writes() == [] and w.remote(BRANCH) is None
    assert w.state() == before


def test_repo_option_clones_from_the_server_and_opens_the_pr(w: World, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = w.mlfix_pr("--repo", "acme/demo", cwd=elsewhere, GITHUB_REPOSITORY="")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("opened #1")
    sha = _fix_commit(w)
    assert git(w.bare, "rev-list", f"main..{BRANCH}").split() == [sha]
    assert list(elsewhere.iterdir()) == []
    assert "clone --quiet --depth=1" in w.shim_log.read_text()


SETTING = (
    'Settings → Actions → General → Workflow permissions → "Allow GitHub Actions to create '
    'and approve pull requests"'
)
NOT_PERMITTED = "GitHub Actions is not permitted to create or approve pull requests."
SOON = "1"
EXISTS = {"resource": "PullRequest", "code": "custom",
          "message": f"A pull request already exists for acme:{BRANCH}."}  # fmt: skip
NO_COMMITS = {"resource": "PullRequest", "code": "custom",
              "message": f"No commits between main and {BRANCH}"}  # fmt: skip


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (("GET", r"/repos/acme/demo$", 401, "Bad credentials", {}), "rejected the token (401"),
        (("POST", r"/pulls$", 403, NOT_PERMITTED, {}), SETTING),
        (("POST", r"/pulls$", 403, "Resource not accessible by integration", {}),
         "permission denied (403"),
        (("GET", r"/repos/acme/demo$", 404, "Not Found", {}), "not found (404)"),
        (("POST", r"/pulls$", 422, "Validation Failed", {}, [EXISTS]),
         "refused the request (422 Validation Failed; A pull request already exists for"),
        (("POST", r"/pulls$", 422, "Validation Failed", {}, [NO_COMMITS]),
         "refused the request (422 Validation Failed; No commits between main and"),
        (("GET", r"/pulls$", 429, "Too many requests", {"Retry-After": SOON}),
         "rate limit was hit (429)"),
        (("GET", r"/pulls$", 403, "You have exceeded a secondary rate limit.",
          {"Retry-After": SOON}), "secondary rate limit was hit (403)"),
        (("GET", r"/repos/acme/demo$", 403, "API rate limit exceeded",
          {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0"}), "rate limit was hit (403)"),
        (("GET", r"/pulls$", 0, "", {}), "the connection dropped"),
        (("POST", r"/pulls$", 0, "", {}), "the connection dropped"),
    ],
    ids=["401", "403-actions", "403", "404", "422-exists", "422-no-commits", "429",
         "secondary", "primary", "drop-get", "drop-post"],
)  # fmt: skip
def test_api_errors_are_one_line_exit_2_and_leave_everything_as_it_was(
    w: World, failure: tuple[Any, ...], expected: str
) -> None:
    before = w.state()
    method, path, status, message, headers, *errors = failure
    w.hub.fail(method, path, status, message, headers, errors=errors[0] if errors else None)
    done = w.mlfix_pr()
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert expected in lines[0]
    assert w.state() == before
    assert w.remote(BRANCH) is None  # a branch pushed before the PR failed is taken back
    assert w.hub.pulls == []


def test_rate_limits_are_waited_out_within_bounds(w: World) -> None:
    w.hub.fail("GET", r"/pulls$", 429, "Too many requests", {"Retry-After": "1"}, times=1)
    w.hub.fail("GET", r"/repos/acme/demo$", 403, "You have exceeded a secondary rate limit.",
               {"Retry-After": "1"}, times=1)  # fmt: skip
    done = w.mlfix_pr()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("opened #1")
    assert len(w.hub.calls("GET", r"/pulls$")) == 2  # one limited, one answered


def test_a_wait_longer_than_the_cap_is_reported_not_slept(w: World) -> None:
    w.hub.fail("GET", r"/repos/acme/demo$", 429, "Too many requests", {"Retry-After": "3600"})
    done = w.mlfix_pr()
    assert done.returncode == 2
    assert "retry after 3600 s" in done.stderr
    assert len(w.hub.requests) == 1


def test_missing_token_and_a_dirty_update_are_one_line_errors(w: World) -> None:
    before = w.state()
    done = w.mlfix_pr(GITHUB_TOKEN="")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: no token: set GITHUB_TOKEN")
    assert w.hub.requests == [] and w.state() == before
    bad = w.mlfix_pr("--author", "nobody")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --author")


def test_a_dockerfile_mlfix_cannot_read_is_an_error_not_a_reason_to_close(w: World) -> None:
    assert w.mlfix_pr().returncode == 0
    sha = _fix_commit(w)
    w.push_to_main({"Dockerfile": "FROM python:3.11-slim\nRUN <<EOF\n"}, "half a heredoc")
    done = w.mlfix_pr()
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: mlfix could not check main: Dockerfile")
    assert w.hub.pulls[0]["state"] == "open" and w.remote(BRANCH) == sha
    assert not w.hub.calls("PATCH", r"/pulls/") and 1 not in w.hub.comments


def test_the_token_in_the_repository_itself_is_blanked_in_the_pr(w: World) -> None:
    dockerfile = (w.checkout / "Dockerfile").read_text()
    hf = "hf_" + "A1b2C3d4" * 5
    leaked = dockerfile.replace("COPY . .", f"# deploy key {TOKEN} {hf}\nCOPY . .")
    w.push_to_main({"Dockerfile": leaked}, "oops")
    done = w.mlfix_pr()
    assert done.returncode == 0, done.stderr
    (created,) = _opened(w)
    assert "# deploy key *** hf_****" in str(created["body"])  # the diff's context, blanked


def test_unsafe_fixes_from_the_config_are_applied_and_said_to_be_unsafe(w: World) -> None:
    w.push_to_main({"pyproject.toml": "[tool.mlfix]\nunsafe-fixes = true\n"}, "opt in")
    done = w.mlfix_pr()
    assert done.returncode == 0, done.stderr
    (created,) = _opened(w)
    pr_body = str(created["body"])
    assert "[MLF301](" in pr_body and "**Safety:** unsafe" in pr_body
    assert "## Suggestions not applied" not in pr_body
    sha = _fix_commit(w)
    dockerfile = git(w.bare, "show", f"{sha}:Dockerfile")
    assert "COPY --from=weights" in dockerfile and "all-MiniLM-L6-v2" in dockerfile


def test_the_fingerprint_is_the_fix_set_not_the_surrounding_text() -> None:
    from mlfix.bot.body import Fixes

    def fixes(context: str, added: str) -> Fixes:
        diff = f"--- a/x\n+++ b/x\n@@ -1,2 +1,3 @@\n {context}\n+{added}\n"
        return Fixes(applied=[], suggested=[], diffs={"x": diff})

    assert fixes("FROM a", "data").fingerprint == fixes("FROM b", "data").fingerprint
    assert fixes("FROM a", "data").fingerprint != fixes("FROM a", "wandb").fingerprint


def test_a_path_argument_names_the_checkout_from_anywhere(w: World, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    outside = w.mlfix_pr(str(elsewhere), cwd=elsewhere)
    assert outside.returncode == 2 and outside.stderr.startswith("error: git rev-parse failed:")
    done = w.mlfix_pr(str(w.checkout), cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("opened #1")
    assert list(elsewhere.iterdir()) == []


def test_a_shallow_checkout_as_actions_checkout_makes_one(w: World) -> None:
    """actions/checkout fetches one commit: the base and the bot's branch come shallow."""
    shallow = w.root / "shallow"
    git(w.root, "clone", "-q", "--depth=1", f"file://{w.bare}", str(shallow))
    w.checkout = shallow
    assert git(shallow, "rev-parse", "--is-shallow-repository") == "true"
    first = w.mlfix_pr()
    assert first.returncode == 0, first.stderr
    sha = _fix_commit(w)
    again = w.mlfix_pr()  # the branch's head and its parent are fetched to compare patches
    assert again.stdout.startswith("up to date: #1"), again.stdout + again.stderr
    assert w.remote(BRANCH) == sha
    w.push_to_main({"wandb/run-1/run.wandb": "x\n"}, "track experiments")
    before = w.state()
    updated = w.mlfix_pr()
    assert updated.stdout.startswith("updated #1"), updated.stdout + updated.stderr
    assert git(w.bare, "rev-list", f"main..{BRANCH}").split() == [_fix_commit(w)]
    assert w.state() == before


def test_a_push_meanwhile_is_never_overwritten(w: World) -> None:
    """The force-push is leased on the branch head mlfix read: a person's push in between
    makes it fail (one line, exit 2) instead of replacing their commit."""
    assert w.mlfix_pr().returncode == 0
    work = w.root / "human"
    git(w.root, "clone", "-q", "-b", BRANCH, f"file://{w.bare}", str(work))
    (work / "NOTES.md").write_text("reviewed\n")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "my own change")
    git(work, "push", "-q", "origin", f"HEAD:refs/heads/{BRANCH}-draft")
    human = git(work, "rev-parse", "HEAD")
    w.push_to_main({"wandb/run-1/run.wandb": "x\n"}, "track experiments")
    race = f"git --git-dir={w.bare} update-ref refs/heads/{BRANCH} {human}"
    done = w.mlfix_pr(MLFIX_TEST_RACE=race)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: git push failed:") and "stale info" in line
    assert w.remote(BRANCH) == human
    assert not w.hub.calls("PATCH", r"/pulls/")


def test_a_pr_opened_whose_answer_was_lost_is_kept(w: World) -> None:
    """GitHub opened the PR but the connection dropped before the answer: mlfix finds the
    PR, keeps the branch (deleting it would close the PR, read as declined next time)."""
    w.hub.fail("POST", r"/pulls$", -1, times=1)
    done = w.mlfix_pr("--label", "docker")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("opened #1")
    assert w.remote(BRANCH) is not None and w.hub.pulls[0]["state"] == "open"
    assert w.hub.labels[1] == ["docker"]
    again = w.mlfix_pr()
    assert again.stdout.startswith("up to date: #1") and len(w.hub.pulls) == 1
