"""A tiny PEP 503 "simple" package index over a folder of wheels.

Poetry and uv ignore ``/etc/pip.conf``: they install from the index their lock file names.
Test projects therefore declare ``http://127.0.0.1:38123/simple/`` as their only index, and
``docker build --network host`` lets the build reach this server on the host's loopback.

Served paths:

* ``/simple/`` -- every project;
* ``/simple/<name>/`` -- links ``../../files/<wheel>#sha256=...`` with ``data-requires-python``
  and ``data-core-metadata`` (PEP 658/714, so resolvers need not download whole wheels);
* ``/files/<wheel>`` and ``/files/<wheel>.metadata``;
* ``/mlfix-index`` -- the served folder, so a second process can reuse a running server.

Run by hand (e.g. to regenerate the test projects' lock files)::

    python -m tests.support.pyindex [--port 38123] [WHEEL_DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import html
import re
import threading
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

INDEX_HOST = "127.0.0.1"
INDEX_PORT = 38123
INDEX_URL = f"http://{INDEX_HOST}:{INDEX_PORT}/simple/"


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class WheelFile:
    filename: str
    sha256: str
    requires_python: str | None
    metadata: bytes

    @property
    def metadata_sha256(self) -> str:
        return hashlib.sha256(self.metadata).hexdigest()


def _read_wheel(path: Path) -> WheelFile:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.count("/") == 1]
        (meta_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(meta_name)
    headers = HeaderParser().parsestr(metadata.decode("utf-8", "replace"), headersonly=True)
    return WheelFile(path.name, digest, headers.get("Requires-Python"), metadata)


class _Catalog:
    """Wheels of a folder, grouped by normalized project name, read lazily."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.projects: dict[str, list[str]] = {}
        for wheel in sorted(folder.glob("*.whl")):
            self.projects.setdefault(normalize(wheel.name.split("-")[0]), []).append(wheel.name)
        self._files: dict[str, WheelFile] = {}
        self._lock = threading.Lock()

    def file(self, filename: str) -> WheelFile:
        with self._lock:
            if filename not in self._files:
                self._files[filename] = _read_wheel(self.folder / filename)
            return self._files[filename]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, body: bytes, content_type: str, status: HTTPStatus = HTTPStatus.OK) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _not_found(self) -> None:
        self._send(b"not found\n", "text/plain", HTTPStatus.NOT_FOUND)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        catalog = self.server.catalog
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        parts = [p for p in path.split("/") if p]
        if parts == ["mlfix-index"]:
            self._send(str(catalog.folder).encode(), "text/plain")
        elif parts == ["simple"]:
            if not path.endswith("/"):
                return self._redirect("/simple/")
            links = "".join(f'<a href="{name}/">{name}</a>\n' for name in sorted(catalog.projects))
            self._page("Simple index", links)
        elif len(parts) == 2 and parts[0] == "simple":
            name = normalize(parts[1])
            if name not in catalog.projects:
                return self._not_found()
            if parts[1] != name or not path.endswith("/"):
                return self._redirect(f"/simple/{name}/")
            self._page(f"Links for {name}", "".join(self._link(f) for f in catalog.projects[name]))
        elif len(parts) == 2 and parts[0] == "files":
            filename = parts[1]
            wheel = filename.removesuffix(".metadata")
            if "/" in wheel or not (catalog.folder / wheel).is_file() or wheel.startswith("."):
                return self._not_found()
            if filename.endswith(".metadata"):
                self._send(catalog.file(wheel).metadata, "application/octet-stream")
            else:
                self._send((catalog.folder / wheel).read_bytes(), "application/octet-stream")
        else:
            self._not_found()

    def _link(self, filename: str) -> str:
        info = self.server.catalog.file(filename)
        attrs = f'href="../../files/{filename}#sha256={info.sha256}"'
        if info.requires_python:
            attrs += f' data-requires-python="{html.escape(info.requires_python)}"'
        meta = f"sha256={info.metadata_sha256}"
        attrs += f' data-core-metadata="{meta}" data-dist-info-metadata="{meta}"'
        return f"<a {attrs}>{filename}</a><br>\n"

    def _page(self, title: str, body: str) -> None:
        text = (
            '<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0">'
            f"<title>{title}</title></head><body>\n{body}</body></html>\n"
        )
        self._send(text.encode(), "text/html; charset=utf-8")

    def _redirect(self, location: str) -> None:
        self.send_response(HTTPStatus.MOVED_PERMANENTLY)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], catalog: _Catalog, verbose: bool) -> None:
        super().__init__(address, _Handler)
        self.catalog = catalog
        self.verbose = verbose


def running_index(host: str = INDEX_HOST, port: int = INDEX_PORT) -> Path | None:
    """The folder served by an index already listening there, or None."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/mlfix-index", timeout=2) as resp:
            return Path(resp.read().decode())
    except (OSError, urllib.error.URLError):
        return None


class PyIndex:
    """A PEP 503 index over ``folder`` on ``host:port``, in a background thread.

    Use as a context manager or call ``start()``/``stop()``. When an index over the same
    folder is already listening on the port (another test process), it is reused.
    ``port=0`` picks a free port (``url`` then tells it).
    """

    def __init__(
        self,
        folder: Path,
        host: str = INDEX_HOST,
        port: int = INDEX_PORT,
        *,
        verbose: bool = False,
    ) -> None:
        self.folder = Path(folder).resolve()
        self.host = host
        self.port = port
        self.verbose = verbose
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The simple index URL, e.g. ``http://127.0.0.1:38123/simple/``."""
        return f"http://{self.host}:{self.port}/simple/"

    def start(self) -> PyIndex:
        try:
            server = _Server((self.host, self.port), _Catalog(self.folder), self.verbose)
        except OSError as exc:
            served: Path | None = None
            for _ in range(20):
                served = running_index(self.host, self.port)
                if served is not None:
                    break
                time.sleep(0.1)
            if served is not None and served.resolve() == self.folder:
                return self
            raise RuntimeError(
                f"cannot serve the local index on {self.host}:{self.port}: {exc} "
                f"(already serving: {served})"
            ) from exc
        self._server = server
        self.port = server.server_address[1]  # the real one when port 0 was asked for
        self._thread = threading.Thread(
            target=server.serve_forever, name="mlfix-pyindex", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> PyIndex:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.pyindex")
    parser.add_argument("folder", nargs="?", help="wheel folder (default: the test wheelhouse)")
    parser.add_argument("--host", default=INDEX_HOST)
    parser.add_argument("--port", type=int, default=INDEX_PORT)
    args = parser.parse_args(argv)
    if args.folder:
        folder = Path(args.folder)
    else:
        from tests.support.wheels import ensure_wheelhouse

        folder = ensure_wheelhouse()
    index = PyIndex(folder, args.host, args.port, verbose=True).start()
    print(f"serving {folder} at {index.url} (Ctrl-C stops)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        index.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
