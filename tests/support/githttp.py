"""git's smart HTTP over loopback: `git http-backend` as a CGI behind a tiny server.

Like a public GitHub repository, anyone may fetch, and a push needs the token, sent as
GitHub takes it from git: `Authorization: basic base64("x-access-token:<token>")`. Every
request's `Authorization` headers are recorded (all of them: two would mean a stale
header was sent alongside), so a test can see exactly what git sent.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MAX_BODY = 64 << 20


@dataclass
class GitServer:
    root: Path
    token: str
    url: str = ""
    seen: list[tuple[str, str, list[str]]] = field(default_factory=list)  # method, path, auths

    @property
    def expected(self) -> str:
        return "basic " + base64.b64encode(f"x-access-token:{self.token}".encode()).decode()


def _handler(server: GitServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            auths = self.headers.get_all("Authorization") or []
            server.seen.append((self.command, parts.path, list(auths)))
            pushing = "git-receive-pack" in parts.path or "service=git-receive-pack" in (
                parts.query
            )
            authorised = [a.lower() for a in auths] == [server.expected.lower()]
            if pushing and not authorised:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
            body = self.rfile.read(length) if length else b""
            env = {
                "PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": str(server.root),
                "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": parts.path,
                "QUERY_STRING": parts.query, "REQUEST_METHOD": self.command,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "127.0.0.1",
                "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(server.root),
            }  # fmt: skip
            if authorised:
                env["REMOTE_USER"] = "x-access-token"
            if self.headers.get("Git-Protocol"):
                env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
            if self.headers.get("Content-Encoding"):
                env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
            done = subprocess.run(["git", "http-backend"], input=body, env=env,
                                  capture_output=True, check=False, timeout=60)  # fmt: skip
            head, _, payload = done.stdout.partition(b"\r\n\r\n")
            status, headers = 200, []
            for line in head.decode("latin-1").split("\r\n"):
                key, _, value = line.partition(":")
                if key.lower() == "status":
                    status = int(value.strip().split()[0])
                elif key:
                    headers.append((key, value.strip()))
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _serve

    return Handler


@contextmanager
def serve(root: Path, token: str) -> Iterator[GitServer]:
    """Serve the bare repositories under `root` (as `<url>/owner/name.git`) on 127.0.0.1."""
    state = GitServer(root, token)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
