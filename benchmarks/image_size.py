"""Image size before and after MLF202/MLF203: what the removed caches weigh.

Builds a fixture as shipped and as `mlfix --write` leaves it, with the real Docker
engine and the local base image of the tests, and prints both image sizes, the bytes
saved, and the only paths the two images differ in (the caches), e.g.

    python benchmarks/image_size.py                  # the heavy pip install (MLF202)
    python benchmarks/image_size.py --apt            # also the apt lists (MLF203)

pip keeps a copy of what it *downloads*, so the heavy fixture installs numpy, scipy,
pandas and scikit-learn from a package index over HTTP: `CachingIndex` serves the
wheels of the test wheel folder on 127.0.0.1:38124 with the cache headers PyPI sends
(pip caches nothing from a server that sends none). The apt case needs Debian's
mirror (`--network host`).
"""

from __future__ import annotations

import argparse
import fnmatch
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support import pyindex  # noqa: E402
from tests.support.docker import (  # noqa: E402
    VOLATILE_PATHS,
    Docker,
    FileInfo,
    compare_trees,
    docker_session,
    ensure_base_image,
    run_docker,
    run_mlfix,
)
from tests.support.wheels import ensure_wheelhouse  # noqa: E402

FIXTURES = ROOT / "fixtures"
HEAVY = FIXTURES / "MLF202" / "fires-heavy-pip-install" / "input"
APT = FIXTURES / "MLF203" / "fires-apt-lists-left" / "input"
CACHING_PORT = 38124


class _CachingHandler(pyindex._Handler):
    """The test index, plus PyPI's cache headers (files are immutable, pages short-lived)."""

    def end_headers(self) -> None:
        if self.path.startswith("/files/"):
            self.send_header("Cache-Control", "max-age=365000000, immutable, public")
        else:
            self.send_header("Cache-Control", "max-age=600, public")
        super().end_headers()


class _CachingServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], catalog: pyindex._Catalog) -> None:
        super().__init__(address, _CachingHandler)
        self.catalog = catalog
        self.verbose = False


class CachingIndex:
    """A PEP 503 index over the test wheels that pip will cache from, on port 38124."""

    def __init__(self, port: int = CACHING_PORT) -> None:
        self.port = port
        self._server: _CachingServer | None = None
        self._thread: object = None

    def __enter__(self) -> CachingIndex:
        folder = ensure_wheelhouse()
        try:
            self._server = _CachingServer((pyindex.INDEX_HOST, self.port), pyindex._Catalog(folder))
        except OSError:
            served = pyindex.running_index(pyindex.INDEX_HOST, self.port)
            if served is not None and served.resolve() == folder.resolve():
                return self  # another process serves the same wheels here: use it
            raise
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        self._thread = thread
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@dataclass
class Figures:
    """One fixture built before and after the fix."""

    name: str
    before_tag: str
    after_tag: str
    before_bytes: int
    after_bytes: int
    differences: list[str] = field(default_factory=list)
    cache_bytes: int = 0  # bytes under the cache paths in the unfixed image
    caches: tuple[str, ...] = ()

    def outside_caches(self) -> list[str]:
        """Differences that are not about a path under one of the caches."""
        return [
            d
            for d in self.differences
            if not any(d.split(": ", 1)[1].startswith(c) for c in self.caches)
        ]

    @property
    def saved(self) -> int:
        return self.before_bytes - self.after_bytes


def image_bytes(tag: str) -> int:
    return int(run_docker("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip())


def fixed_copy(source: Path, dest: Path, *codes: str, unsafe: bool = False) -> Path:
    shutil.copytree(source, dest, symlinks=True)
    args = ["--write", "--select", ",".join(codes)]
    result = run_mlfix(*args, *(["--unsafe-fixes"] if unsafe else []), str(dest))
    if result.returncode != 0:
        raise RuntimeError(f"mlfix --write failed: {result.stdout}{result.stderr}")
    return dest


def cache_differences(
    before: dict[str, FileInfo], after: dict[str, FileInfo], caches: tuple[str, ...]
) -> tuple[list[str], int]:
    """Tree differences outside the Dockerfile, and the bytes under `caches` before."""
    ignore = tuple(
        p
        for p in VOLATILE_PATHS
        if not any(p.startswith(c) or fnmatch.fnmatchcase(c + "/", p) for c in caches)
    )
    diffs = compare_trees(before, after, ignore=(*ignore, "*/Dockerfile"))
    weight = sum(
        info.size
        for path, info in before.items()
        if any(fnmatch.fnmatchcase(path, c + "*") for c in caches)
    )
    return diffs, weight


def measure(
    docker: Docker,
    source: Path,
    work: Path,
    codes: tuple[str, ...],
    caches: tuple[str, ...],
    *,
    network_host: bool,
) -> Figures:
    before = work / "before"
    shutil.copytree(source, before, symlinks=True)
    after = fixed_copy(source, work / "after", *codes)
    old = docker.build(before, network_host=network_host)
    new = docker.build(after, network_host=network_host)
    diffs, weight = cache_differences(
        docker.image_files(old.tag), docker.image_files(new.tag), caches
    )
    return Figures(
        source.parent.name if source.name == "input" else source.name,
        old.tag,
        new.tag,
        image_bytes(old.tag),
        image_bytes(new.tag),
        diffs,
        weight,
        caches,
    )


@contextmanager
def _workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="mlfix-image-size-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _mb(count: int) -> str:
    return f"{count / 1e6:,.1f} MB ({count:,} bytes)"


def report(figures: Figures) -> str:
    lines = [
        f"{figures.name}:",
        f"  image before fix: {_mb(figures.before_bytes)}",
        f"  image after fix:  {_mb(figures.after_bytes)}",
        f"  saved:            {_mb(figures.saved)}",
        f"  cache in the unfixed image: {_mb(figures.cache_bytes)}",
    ]
    outside = figures.outside_caches()
    lines.append(
        f"  differences under {', '.join(figures.caches)}: "
        f"{len(figures.differences) - len(outside)}; anywhere else: {len(outside)}"
    )
    lines.extend(f"    {d}" for d in outside[:20])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/image_size.py")
    parser.add_argument("--apt", action="store_true", help="also measure the apt lists case")
    args = parser.parse_args(argv)
    ensure_base_image()
    with docker_session() as docker, _workdir() as work:
        with CachingIndex():
            heavy = measure(
                docker, HEAVY, work / "pip", ("MLF202",), ("/root/.cache",), network_host=True
            )
        print(report(heavy), flush=True)
        if args.apt:
            apt = measure(
                docker,
                APT,
                work / "apt",
                ("MLF203",),
                ("/var/lib/apt/lists",),
                network_host=True,
            )
            print(report(apt), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
