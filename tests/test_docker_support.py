"""The real-Docker test infrastructure works: base image, offline installs, tree and cache."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import stat
import tarfile
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.support.docker import (
    BASE_LABEL,
    BASE_TAGS,
    Docker,
    FileInfo,
    append_line,
    base_image_hash,
    compare_trees,
    drop_syntax_directive,
    image_label,
    parse_plain_log,
    read_tree,
    run_docker,
)
from tests.support.projects import project_dir
from tests.support.pyindex import INDEX_URL, PyIndex
from tests.support.wheels import WHEELS_TXT, _batches, read_pins

# --------------------------------------------------------------------------- no engine needed

PLAIN_LOG = """\
#1 [internal] load build definition from Dockerfile
#1 sha256:b094
#1 DONE 0.0s

#4 [1/4] FROM docker.io/library/python:3.11-slim
#4 DONE 0.0s

#7 [2/4] COPY requirements.txt .
#7 sha256:582c
#7 CACHED

#8 [3/4] RUN pip install --no-cache-dir -r requirements.txt &&     python -c "import six"
#8 sha256:c8e8
#8 CACHED

#9 [4/4] COPY . .
#9 0.123 some output
#9 DONE 0.4s

#10 exporting to image
#10 DONE 0.0s
"""


def test_parse_plain_log_reports_cached_steps() -> None:
    steps = parse_plain_log(PLAIN_LOG)
    assert [s.id for s in steps] == [1, 4, 7, 8, 9, 10]
    assert [s.name for s in steps if s.cached] == [
        "[2/4] COPY requirements.txt .",
        '[3/4] RUN pip install --no-cache-dir -r requirements.txt &&     python -c "import six"',
    ]
    copy_all = next(s for s in steps if s.id == 9)
    assert copy_all.done and not copy_all.cached and copy_all.seconds == pytest.approx(0.4)
    assert [s.id for s in steps if s.is_internal] == [1, 10]


def test_build_result_finds_steps_whitespace_insensitively() -> None:
    from tests.support.docker import BuildResult

    result = BuildResult("t", 0, PLAIN_LOG, 1.0)
    assert result.is_cached("pip install --no-cache-dir -r requirements.txt && python -c")
    assert not result.is_cached("COPY . .")
    assert result.cached_steps() == [s.name for s in result.steps() if s.cached]
    with pytest.raises(LookupError, match="no step"):
        result.step("poetry install")
    with pytest.raises(LookupError, match="2 steps"):
        result.step("COPY")


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    buffer.seek(0)
    return buffer


def test_read_tree_types_modes_links() -> None:
    def info(name: str, kind: bytes, mode: int, size: int = 0, link: str = "") -> tarfile.TarInfo:
        member = tarfile.TarInfo(name)
        member.type, member.mode, member.size, member.linkname = kind, mode, size, link
        member.uid = member.gid = 1000
        return member

    data = b"hello\n"
    tree = read_tree(
        _tar(
            [
                (info("app/", tarfile.DIRTYPE, 0o755), None),
                (info("app/x.txt", tarfile.REGTYPE, 0o640, len(data)), data),
                (info("app/ln", tarfile.SYMTYPE, 0o777, link="x.txt"), None),
                (info("app/hard", tarfile.LNKTYPE, 0o640, link="app/x.txt"), None),
            ]
        )
    )
    sha = hashlib.sha256(data).hexdigest()
    assert tree["/app"] == FileInfo(stat.S_IFDIR | 0o755, 0, "", 1000, 1000)
    assert tree["/app/x.txt"] == FileInfo(stat.S_IFREG | 0o640, 6, sha, 1000, 1000)
    assert tree["/app/ln"].digest == "x.txt" and stat.S_ISLNK(tree["/app/ln"].mode)
    assert tree["/app/hard"] == tree["/app/x.txt"]


def test_compare_trees() -> None:
    reg = stat.S_IFREG | 0o644
    before = {
        "/app/a.py": FileInfo(reg, 1, "aa"),
        "/app/__pycache__/a.cpython-311.pyc": FileInfo(reg, 9, "p1"),
        "/etc/hostname": FileInfo(reg, 0, "h1"),
        "/gone": FileInfo(reg, 0, "g"),
    }
    after = {
        "/app/a.py": FileInfo(reg, 1, "ab"),
        "/app/__pycache__/a.cpython-311.pyc": FileInfo(reg, 9, "p2"),
        "/etc/hostname": FileInfo(reg, 0, "h2"),
        "/new": FileInfo(reg, 0, "n", uid=1),
    }
    diffs = compare_trees(before, after)
    assert [d.split(":")[0] + ":" + d.split(":")[1] for d in diffs] == [
        "changed: /app/a.py",
        "only before: /gone",
        "only after: /new",
    ]
    assert compare_trees(before, after, under="/app") == diffs[:1]
    assert len(compare_trees(before, after, ignore=(), content_ignore=())) == 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"# syntax=docker/dockerfile:1\nFROM x\n", b"FROM x\n"),
        (
            b"# escape=`\r\n#syntax = docker/dockerfile:1.7\r\nFROM x\r\n",
            b"# escape=`\r\nFROM x\r\n",
        ),
        (b"FROM x\n# syntax=docker/dockerfile:1\n", None),
    ],
)
def test_drop_syntax_directive(tmp_path: Path, text: bytes, expected: bytes | None) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(text)
    assert drop_syntax_directive(path) is (expected is not None)
    assert path.read_bytes() == (expected if expected is not None else text)


def test_wheels_txt_is_fully_pinned() -> None:
    pins = read_pins(WHEELS_TXT)
    names = {re.sub(r"[-_.]+", "-", p.name).lower() for p in pins}
    for required in ("six", "numpy", "scipy", "pandas", "scikit-learn", "poetry", "uv"):
        assert required in names
    assert all(re.fullmatch(r"[0-9a-f]{64}", p.sha256) for p in pins)
    assert all(p.filename.endswith(".whl") for p in pins)
    doubled = [*pins[:2], pins[0]]
    assert [len(b) for b in _batches(doubled)] == [2, 1]


def _tiny_wheel(folder: Path, name: str, version: str) -> Path:
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}/__init__.py", "")
        archive.writestr(
            f"{name}-{version}.dist-info/METADATA",
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Python: >=3.8\n",
        )
    return path


def test_pyindex_serves_pep503(tmp_path: Path) -> None:
    wheel = _tiny_wheel(tmp_path, "tiny_pkg", "1.0")
    with PyIndex(tmp_path, port=0) as index:
        assert index.url.endswith("/simple/") and index.port != 0
        with urllib.request.urlopen(index.url) as resp:
            assert 'href="tiny-pkg/"' in resp.read().decode()
        with urllib.request.urlopen(index.url + "Tiny_Pkg/") as resp:  # redirect, normalized
            page = resp.read().decode()
        sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
        assert f'href="../../files/{wheel.name}#sha256={sha}"' in page
        assert 'data-requires-python="&gt;=3.8"' in page
        base = index.url.removesuffix("simple/")
        with urllib.request.urlopen(f"{base}files/{wheel.name}") as resp:
            assert resp.read() == wheel.read_bytes()
        with urllib.request.urlopen(f"{base}files/{wheel.name}.metadata") as resp:
            assert b"Name: tiny_pkg" in resp.read()
        # A second index over the same folder on the same port reuses the running one.
        with PyIndex(tmp_path, port=index.port):
            pass


@pytest.mark.parametrize("name", ["poetry-tiny", "uv-tiny"])
def test_lock_files_name_only_the_local_index(name: str) -> None:
    folder = project_dir(name)
    lock = (folder / ("poetry.lock" if name.startswith("poetry") else "uv.lock")).read_text()
    urls = set(re.findall(r"https?://[^/\"' ]+", lock))
    assert urls == {INDEX_URL.removesuffix("/simple/")}
    assert INDEX_URL in (folder / "pyproject.toml").read_text()


# --------------------------------------------------------------------------- real Docker


@pytest.mark.docker
def test_base_image_and_offline_pip_install(docker: Docker, tmp_path: Path) -> None:
    digest = base_image_hash()
    ids = {run_docker("image", "inspect", "--format", "{{.Id}}", t).stdout for t in BASE_TAGS}
    assert len(ids) == 1
    assert all(image_label(tag, BASE_LABEL) == digest for tag in BASE_TAGS)

    (tmp_path / "Dockerfile").write_text(
        "FROM python:3.11-slim\n"
        "RUN pip install six && python -c 'import six; print(six.__version__)'\n"
        "RUN python --version && pip --version\n"
        "RUN test ! -e /usr/lib/python3.11/EXTERNALLY-MANAGED\n"
    )
    result = docker.build(tmp_path, network="none", no_cache=True)
    assert "Successfully installed six-1.17.0" in result.log
    assert "six==1.17.0" in docker.pip_freeze(result.tag)
    conf = docker.run(result.tag, "cat", "/etc/pip.conf").stdout
    assert "no-index = true" in conf and "find-links = /wheels" in conf


@pytest.mark.docker
def test_pip_project_installs_offline(docker: Docker) -> None:
    result = docker.build(project_dir("pip-tiny"), network="none")
    freeze = docker.pip_freeze(result.tag)
    assert "six==1.17.0" in freeze
    assert any(line.startswith("requests==") for line in freeze)
    assert docker.run(result.tag, "python", "app.py").stdout.startswith("1.17.0 ")


@pytest.mark.docker
def test_poetry_project_installs_from_local_index(docker: Docker, local_index: PyIndex) -> None:
    result = docker.build(project_dir("poetry-tiny"), network_host=True, no_cache=True)
    freeze = docker.pip_freeze(result.tag)
    assert any(line.startswith("attrs==") for line in freeze)
    out = docker.run(result.tag, "python", "app.py").stdout.split()
    assert [f"attrs=={out[0]}", f"requests=={out[1]}"] == [
        line for line in freeze if line.startswith(("attrs==", "requests=="))
    ]


@pytest.mark.docker
def test_uv_project_installs_from_local_index(docker: Docker, local_index: PyIndex) -> None:
    result = docker.build(project_dir("uv-tiny"), network_host=True, no_cache=True)
    freeze = docker.pip_freeze(result.tag, python="/app/.venv/bin/python")
    assert [line.split("==")[0].lower() for line in freeze] == ["attrs", "pyyaml"]
    assert docker.run(result.tag, "/app/.venv/bin/python", "app.py").stdout.strip()


@pytest.mark.docker
def test_image_files_sees_copied_files(docker: Docker, tmp_path: Path) -> None:
    data = b"weights\n" * 100
    (tmp_path / "model.bin").write_bytes(data)
    (tmp_path / "Dockerfile").write_text(
        "FROM python:3.11-slim\n"
        "COPY model.bin /srv/model.bin\n"
        "RUN ln -s model.bin /srv/current && chmod 600 /srv/model.bin\n"
    )
    first = docker.build(tmp_path)
    tree = docker.image_files(first.tag)
    model = tree["/srv/model.bin"]
    assert model == FileInfo(stat.S_IFREG | 0o600, len(data), hashlib.sha256(data).hexdigest())
    assert tree["/srv/current"].digest == "model.bin"
    assert stat.S_ISDIR(tree["/usr"].mode) and "/usr/bin/python3" in tree

    (tmp_path / "model.bin").write_bytes(data + b"x")
    second = docker.build(tmp_path)
    assert docker.compare_trees(tree, docker.image_files(second.tag)) == [
        f"changed: /srv/model.bin: mode=0o100600 size={len(data)} "
        f"{model.digest[:12]} owner=0:0 -> mode=0o100600 size={len(data) + 1} "
        f"{hashlib.sha256(data + b'x').hexdigest()[:12]} owner=0:0"
    ]


@pytest.mark.docker
def test_cached_steps_after_one_line_edit(docker: Docker, tmp_path: Path) -> None:
    context = tmp_path / "pip-tiny"
    shutil.copytree(project_dir("pip-tiny"), context)
    install = "pip install --no-cache-dir -r requirements.txt"
    first = docker.build(context, network="none")
    before = docker.image_files(first.tag)

    append_line(context / "app.py")  # a unique line: the BuildKit cache outlives runs
    second = docker.build(context, first.tag, network="none")
    assert second.is_cached(install)
    assert second.is_cached("COPY requirements.txt")
    assert not second.is_cached("COPY . .")
    assert install in " ".join(second.cached_steps())
    diffs = docker.compare_trees(before, docker.image_files(second.tag))
    assert [d.split(":")[:2] for d in diffs] == [["changed", " /app/app.py"]]

    append_line(context / "requirements.txt")
    third = docker.build(context, first.tag, network="none")
    assert not third.is_cached(install)
