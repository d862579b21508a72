"""MLF202 and MLF203 proven with real builds: the caches leave the image, nothing else does.

Each case is built as shipped and as `mlfix --write` leaves it. The two images may
differ only under the cache paths the fix removes (pip's cache, apt's lists), and
the fixed one is smaller by what those weighed. The cache-mount variants are built
too: BuildKit keeps the cache between builds and out of the image. The apt cases
need Debian's mirror over the host network and skip without it.

Figures (`-s` prints them; `python benchmarks/image_size.py --apt` prints the first
two): the heavy pip fixture (numpy, scipy, pandas, scikit-learn downloaded from an
index) loses its 75 MB pip cache, the apt fixture its 83 MB of package lists, the
uv and poetry test projects their 3.2 MB and 67 kB caches.
"""

from __future__ import annotations

import shutil
import stat
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.image_size import (
    APT,
    HEAVY,
    CachingIndex,
    fixed_copy,
    measure,
    report,
)
from fixture_cases import FIXTURES
from tests.support.docker import (
    VOLATILE_PATHS,
    Docker,
    append_line,
    compare_trees,
    drop_syntax_directive,
)
from tests.support.projects import project_dir

MIRROR = "http://deb.debian.org/debian/dists/bookworm/InRelease"


@pytest.fixture(scope="module")
def caching_index() -> Iterator[CachingIndex]:
    with CachingIndex() as index:
        yield index


@pytest.fixture(scope="module")
def debian_mirror() -> None:
    try:
        with urllib.request.urlopen(MIRROR, timeout=10) as response:
            response.read(1)
    except OSError as exc:
        pytest.skip(f"Debian's mirror is not reachable for apt-get in builds: {exc}")


def _under(diffs: list[str], prefix: str) -> list[str]:
    """The differences that are not about a path under `prefix`."""
    return [d for d in diffs if not d.split(": ", 1)[1].startswith(prefix)]


def test_pip_cache_leaves_the_heavy_image_and_nothing_else_changes(
    docker: Docker, caching_index: CachingIndex, tmp_path: Path
) -> None:
    figures = measure(docker, HEAVY, tmp_path, ("MLF202",), ("/root/.cache",), network_host=True)
    print("\n" + report(figures))
    assert figures.cache_bytes > 50_000_000, "pip should have cached the downloaded wheels"
    assert figures.outside_caches() == []
    assert all(d.startswith("only before: /root/.cache") for d in figures.differences)
    assert figures.saved >= figures.cache_bytes * 0.99
    assert docker.pip_freeze(figures.before_tag) == docker.pip_freeze(figures.after_tag)


def test_cache_mount_keeps_the_cache_out_and_reuses_it(
    docker: Docker, caching_index: CachingIndex, tmp_path: Path
) -> None:
    source = FIXTURES / "MLF202" / "fires-buildkit-bind-mount" / "input"
    before = tmp_path / "before"
    shutil.copytree(source, before)
    after = fixed_copy(source, tmp_path / "after", "MLF202")
    assert "--mount=type=cache,target=/root/.cache/pip" in (after / "Dockerfile").read_text()
    old = docker.build(before, network_host=True)
    new = docker.build(after, network_host=True)
    ignore = tuple(p for p in VOLATILE_PATHS if p != "/root/.cache/*")
    diffs = compare_trees(
        docker.image_files(old.tag), docker.image_files(new.tag), ignore=(*ignore, "*/Dockerfile")
    )
    assert diffs and _under(diffs, "/root/.cache") == []
    assert docker.pip_freeze(old.tag) == docker.pip_freeze(new.tag)
    # A requirements change re-runs the install: the wheels come from the mounted cache.
    append_line(after / "requirements.txt")  # a unique comment: the build cache outlives runs
    again = docker.build(after, network_host=True)
    assert not again.step("pip install -r /tmp/requirements.txt").cached
    assert "Using cached http://127.0.0.1:38124/files/six-1.17.0-py2.py3-none-any.whl" in again.log
    assert "Using cached http://127.0.0.1:38124/files/idna-3.20-py3-none-any.whl" in again.log


def test_a_mount_in_a_users_home_leaves_a_root_owned_cache_dir(
    docker: Docker, tmp_path: Path
) -> None:
    """Why MLF202 calls the mount unsafe for a non-root user: what BuildKit leaves behind."""
    source = FIXTURES / "MLF202" / "unsafe-buildkit-user-home" / "input"
    after = fixed_copy(source, tmp_path / "after", "MLF202", unsafe=True)
    text = (after / "Dockerfile").read_text()
    assert "--mount=type=cache,target=/home/app/.cache/pip,uid=1000" in text
    drop_syntax_directive(after / "Dockerfile")
    files = docker.image_files(docker.build(after).tag)
    cache = files["/home/app/.cache"]
    assert stat.S_ISDIR(cache.mode) and (cache.uid, cache.gid) == (0, 0)
    assert files["/home/app"].uid == 1000


def test_apt_lists_leave_the_image(docker: Docker, debian_mirror: None, tmp_path: Path) -> None:
    figures = measure(
        docker, APT, tmp_path, ("MLF203",), ("/var/lib/apt/lists",), network_host=True
    )
    print("\n" + report(figures))
    assert figures.cache_bytes > 10_000_000
    assert figures.outside_caches() == []
    assert figures.saved >= figures.cache_bytes * 0.99


def test_moved_apt_layer_keeps_the_image_and_survives_a_code_edit(
    docker: Docker, debian_mirror: None, tmp_path: Path
) -> None:
    source = FIXTURES / "MLF203" / "fires-apt-reads-package-list" / "input"
    before = tmp_path / "before"
    shutil.copytree(source, before)
    after = fixed_copy(source, tmp_path / "after", "MLF203")
    old = docker.build(before, network_host=True)
    new = docker.build(after, network_host=True)
    diffs = compare_trees(
        docker.image_files(old.tag),
        docker.image_files(new.tag),
        ignore=(*VOLATILE_PATHS, "*/Dockerfile"),
    )
    assert diffs == []
    append_line(after / "app.py")
    again = docker.build(after, new.tag, network_host=True)
    assert again.is_cached("apt-get install -y --no-install-recommends $(cat packages.txt)")
    assert not again.is_cached("COPY . .")


def test_apt_cache_mounts_build_and_reuse_the_lists(
    docker: Docker, debian_mirror: None, tmp_path: Path
) -> None:
    source = FIXTURES / "MLF203" / "fires-apt-buildkit-cache-mount" / "input"
    after = fixed_copy(source, tmp_path / "after", "MLF203")
    drop_syntax_directive(after / "Dockerfile")
    built = docker.build(after, network_host=True)
    files = docker.image_files(built.tag)
    assert not [p for p in files if p.startswith("/var/lib/apt/lists/") and "partial" not in p]
    # Another package: `apt-get update` runs again and finds the package index it
    # needs in the cache mount, so it fetches only the release file, not `Packages`.
    dockerfile = after / "Dockerfile"
    edit = f"libgomp1 zlib1g && : {uuid.uuid4().hex}"  # new each run: the cache outlives it
    dockerfile.write_text(dockerfile.read_text().replace("libgomp1", edit))
    again = docker.build(after, network_host=True)
    assert not again.step("apt-get install").cached
    assert "InRelease" in again.log
    assert "main amd64 Packages" not in again.log


@pytest.mark.parametrize(
    ("project", "cache"), [("uv-tiny", "/root/.cache"), ("poetry-tiny", "/root/.cache/pypoetry")]
)
def test_uv_and_poetry_caches_leave_the_image(
    docker: Docker, local_index: object, tmp_path: Path, project: str, cache: str
) -> None:
    """uv gets `--no-cache`, poetry an `rm` of its cache and artifacts (its venvs stay)."""
    figures = measure(
        docker, project_dir(project), tmp_path, ("MLF202",), (cache,), network_host=True
    )
    print("\n" + report(figures))
    assert figures.differences and figures.outside_caches() == []
    assert all(d.startswith(f"only before: {cache}") for d in figures.differences)
    assert figures.saved > 0
