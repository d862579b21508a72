"""A local GitHub REST API for the bot's tests: the endpoints `mlfix pr` calls, backed by
a real bare git repository, recording every request, and able to answer with errors.

Shapes follow GitHub's REST docs (API version 2022-11-28) for the fields the bot and a
reader of the tests care about:

- `GET /repos/{owner}/{repo}`: the repository, with `default_branch`.
- `GET /repos/{owner}/{repo}/pulls?state=&head=owner:branch&per_page=&page=`: PRs,
  newest first, filtered as GitHub filters them (`state` open/closed/all, `head`).
- `POST /repos/{owner}/{repo}/pulls` `{title, head, base, body}`: 201, or 422
  `Validation Failed` with `A pull request already exists for owner:branch.` or
  `No commits between base and head`, read from the bare repository.
- `PATCH /repos/{owner}/{repo}/pulls/{n}` `{title, body, state}`.
- `GET|POST /repos/{owner}/{repo}/issues/{n}/comments`, `POST .../issues/{n}/labels`.
- `DELETE /repos/{owner}/{repo}/git/refs/heads/{branch}`: 204, deleting the branch in
  the bare repository; 422 `Reference does not exist`.
- A request without `Authorization: Bearer <token>` (or `token <token>`) for the
  configured token answers 401 `Bad credentials`.

`fail(method, path_regex, status, message, headers, times)` makes matching requests
answer an error (`status=0` drops the connection without a response; `status=-1` does
what was asked, then drops the connection, as when an answer is lost) `times` times.
The server binds 127.0.0.1 only, answers one request per connection and reads bodies
of at most 1 MB.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

MAX_BODY = 1 << 20
DOCS = "https://docs.github.com/rest"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Failure:
    method: str
    path: re.Pattern[str]
    status: int
    message: str
    headers: dict[str, str]
    times: int
    errors: list[dict[str, str]] | None = None


@dataclass
class FakeGitHub:
    owner: str
    name: str
    bare: Path
    token: str
    default_branch: str = "main"
    pulls: list[dict[str, Any]] = field(default_factory=list)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    labels: dict[int, list[str]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- test controls ------------------------------------------------------------

    def fail(self, method: str, path: str, status: int, message: str = "",
             headers: dict[str, str] | None = None, times: int = 1_000,
             errors: list[dict[str, str]] | None = None) -> None:  # fmt: skip
        self.failures.append(
            Failure(method, re.compile(path), status, message, headers or {}, times, errors)
        )

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "GET"]

    def calls(self, method: str, pattern: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and re.search(pattern, r.path)]

    def close_unmerged(self, number: int) -> None:
        pr = self._pull(number)
        assert pr is not None
        pr.update(state="closed", closed_at=_now(), merged_at=None)

    # -- git ---------------------------------------------------------------------

    def _sha(self, branch: str) -> str | None:
        done = subprocess.run(
            ["git", "rev-parse", "--verify", "-q", f"refs/heads/{branch}"],
            cwd=self.bare, capture_output=True, text=True, check=False,
        )  # fmt: skip
        return done.stdout.strip() or None

    def _ahead(self, base: str, head: str) -> int:
        done = subprocess.run(
            ["git", "rev-list", "--count", f"refs/heads/{base}..refs/heads/{head}"],
            cwd=self.bare, capture_output=True, text=True, check=False,
        )  # fmt: skip
        return int(done.stdout.strip() or 0)

    # -- the API -------------------------------------------------------------------

    def _repo_json(self) -> dict[str, Any]:
        full = f"{self.owner}/{self.name}"
        return {
            "id": 1, "node_id": "R_1", "name": self.name, "full_name": full,
            "owner": {"login": self.owner, "type": "Organization"},
            "private": False, "html_url": f"https://github.invalid/{full}",
            "default_branch": self.default_branch, "archived": False, "fork": False,
            "permissions": {"admin": False, "push": True, "pull": True},
        }  # fmt: skip

    def _pull(self, number: int) -> dict[str, Any] | None:
        return next((p for p in self.pulls if p["number"] == number), None)

    def _pull_json(self, pr: dict[str, Any]) -> dict[str, Any]:
        head = pr["head"]["ref"]
        shown = json.loads(json.dumps(pr))
        shown["head"]["sha"] = self._sha(head) or pr["head"]["sha"]
        return shown

    def handle(self, method: str, path: str, query: dict[str, str], body: Any
               ) -> tuple[int, Any]:  # fmt: skip
        prefix = f"/repos/{self.owner}/{self.name}"
        if not path.startswith(prefix):
            return 404, {"message": "Not Found", "documentation_url": DOCS}
        rest = path[len(prefix) :]
        if rest == "" and method == "GET":
            return 200, self._repo_json()
        if rest == "/pulls" and method == "GET":
            return 200, self._list(query)
        if rest == "/pulls" and method == "POST":
            return self._create(body)
        match = re.fullmatch(r"/pulls/(\d+)", rest)
        if match and method == "PATCH":
            return self._update(int(match.group(1)), body)
        match = re.fullmatch(r"/issues/(\d+)/comments", rest)
        if match:
            number = int(match.group(1))
            if self._pull(number) is None:
                return 404, {"message": "Not Found", "documentation_url": DOCS}
            if method == "GET":
                return 200, self.comments.get(number, [])
            if method == "POST":
                items = self.comments.setdefault(number, [])
                comment = {"id": 100 + len(items), "body": body["body"],
                           "user": {"login": "mlfix[bot]"}, "created_at": _now()}  # fmt: skip
                items.append(comment)
                return 201, comment
        match = re.fullmatch(r"/issues/(\d+)/labels", rest)
        if match and method == "POST":
            held = self.labels.setdefault(int(match.group(1)), [])
            held.extend(label for label in body["labels"] if label not in held)
            return 200, [{"name": label, "color": "ededed"} for label in held]
        match = re.fullmatch(r"/git/refs/heads/(.+)", rest)
        if match and method == "DELETE":
            branch = match.group(1)
            if self._sha(branch) is None:
                return 422, {"message": "Reference does not exist", "documentation_url": DOCS}
            subprocess.run(["git", "update-ref", "-d", f"refs/heads/{branch}"], cwd=self.bare,
                           check=True)  # fmt: skip
            return 204, None
        return 404, {"message": "Not Found", "documentation_url": DOCS}

    def _list(self, query: dict[str, str]) -> list[dict[str, Any]]:
        state = query.get("state", "open")
        head = query.get("head")
        out = []
        for pr in sorted(self.pulls, key=lambda p: -p["number"]):
            if state != "all" and pr["state"] != state:
                continue
            if head and pr["head"]["label"] != head:
                continue
            out.append(self._pull_json(pr))
        per_page = int(query.get("per_page", 30))
        page = int(query.get("page", 1))
        return out[(page - 1) * per_page : page * per_page]

    def _create(self, body: dict[str, Any]) -> tuple[int, Any]:
        head = str(body["head"]).split(":")[-1]
        label = f"{self.owner}:{head}"
        if any(p["state"] == "open" and p["head"]["label"] == label for p in self.pulls):
            return 422, _invalid(f"A pull request already exists for {label}.")
        sha = self._sha(head)
        if sha is None or not self._ahead(body["base"], head):
            return 422, _invalid(f"No commits between {body['base']} and {head}")
        number = len(self.pulls) + 1
        pr = {
            "url": f"{self.url}/repos/{self.owner}/{self.name}/pulls/{number}",
            "id": 1000 + number, "number": number, "state": "open", "locked": False,
            "title": body["title"], "body": body.get("body"), "draft": False,
            "html_url": f"https://github.invalid/{self.owner}/{self.name}/pull/{number}",
            "user": {"login": "mlfix[bot]", "type": "Bot"},
            "head": {"label": label, "ref": head, "sha": sha,
                     "repo": {"full_name": f"{self.owner}/{self.name}"}},
            "base": {"label": f"{self.owner}:{body['base']}", "ref": body["base"],
                     "sha": self._sha(body["base"])},
            "created_at": _now(), "updated_at": _now(), "closed_at": None, "merged_at": None,
            "maintainer_can_modify": bool(body.get("maintainer_can_modify")),
        }  # fmt: skip
        self.pulls.append(pr)
        return 201, self._pull_json(pr)

    def _update(self, number: int, body: dict[str, Any]) -> tuple[int, Any]:
        pr = self._pull(number)
        if pr is None:
            return 404, {"message": "Not Found", "documentation_url": DOCS}
        for key in ("title", "body", "state"):
            if key in body:
                pr[key] = body[key]
        if body.get("state") == "closed":
            pr["closed_at"] = _now()
        pr["updated_at"] = _now()
        return 200, self._pull_json(pr)


def _invalid(message: str) -> dict[str, Any]:
    return {
        "message": "Validation Failed",
        "errors": [{"resource": "PullRequest", "code": "custom", "message": message}],
        "documentation_url": DOCS,
    }


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _handler(hub: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            path = unquote(parts.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            with hub.lock:
                hub.requests.append(
                    Recorded(self.command, path, query, dict(self.headers.items()), body)
                )
                failure = next(
                    (f for f in hub.failures
                     if f.times > 0 and f.method in (self.command, "*") and f.path.search(path)),
                    None,
                )  # fmt: skip
                if failure is not None:
                    failure.times -= 1
                auth = self.headers.get("Authorization", "")
                if failure is None and auth not in (f"Bearer {hub.token}", f"token {hub.token}"):
                    status, payload, headers = 401, {"message": "Bad credentials",
                                                     "documentation_url": DOCS}, {}  # fmt: skip
                elif failure is not None and failure.status == -1:  # done, but the answer is lost
                    hub.handle(self.command, path, query, body)
                    status, payload, headers = 0, None, {}
                elif failure is not None:
                    status, headers = failure.status, failure.headers
                    payload = {"message": failure.message, "documentation_url": DOCS}
                    if failure.errors is not None:
                        payload["errors"] = failure.errors
                else:
                    status, payload = hub.handle(self.command, path, query, body)
                    headers = {}
            if status == 0:  # a dropped connection: no status line at all
                self.close_connection = True
                self.connection.shutdown(2)
                return
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True

        do_GET = do_POST = do_PATCH = do_DELETE = _serve

    return Handler


@contextmanager
def serve(owner: str, name: str, bare: Path, token: str) -> Iterator[FakeGitHub]:
    hub = FakeGitHub(owner, name, bare, token)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    server.daemon_threads = True
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
