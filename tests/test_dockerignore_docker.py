"""The matcher against a real engine: what `COPY . /ctx/` puts in an image is what mlfix predicts.

Each case under `fixtures/dockerignore-matcher/` is a build context with a `.dockerignore`
full of edge cases. The test builds `FROM scratch` + `COPY . /ctx/` with BuildKit (and
with the classic builder, which ignores per-Dockerfile ignore files but otherwise agrees),
exports the container's file system and compares the entries under `ctx/` - files,
directories and symlinks - with the entries `walk()` marks as sent, under the engine rules
of the docker client in use (the client walks and filters the context).

No engine: skipped, or failed when MLFIX_REQUIRE_DOCKER=1.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlfix.context.dockerignore import DockerIgnore, Engine, find_ignore_file
from mlfix.context.tree import EntryKind, walk

DOCKER = "/usr/bin/docker"
CASES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "dockerignore-matcher"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if p.is_dir())
SCRATCH_DOCKERFILE = "FROM scratch\nCOPY . /ctx/\n"
LABEL = "org.mlfix.tests=dockerignore-matcher"

pytestmark = pytest.mark.docker


def _docker(
    *args: str, timeout: float = 300, buildkit: bool = True
) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, DOCKER_BUILDKIT="1" if buildkit else "0")
    return subprocess.run(
        [DOCKER, *args], capture_output=True, timeout=timeout, env=env, check=False
    )


@pytest.fixture(scope="module")
def engine() -> Engine:
    """The engine rules of the docker client, or a skip (a failure when Docker is required)."""
    template = "{{.Client.Version}} {{.Server.Version}}"
    problem = None
    client = ""
    if not os.access(DOCKER, os.X_OK):
        problem = f"{DOCKER} is not installed"
    else:
        try:
            result = _docker("version", "--format", template, timeout=30)
        except subprocess.TimeoutExpired:
            problem = "docker version timed out"
        else:
            if result.returncode != 0:
                problem = "no Docker engine: " + result.stderr.decode(errors="replace").strip()
            else:
                client = result.stdout.decode().split()[0]
    if problem is not None:
        if os.environ.get("MLFIX_REQUIRE_DOCKER") == "1":
            pytest.fail(f"MLFIX_REQUIRE_DOCKER=1 but {problem}")
        pytest.skip(problem)
    return Engine.for_docker_client(client)


def _dockerfile_of(context: Path) -> Path | None:
    for candidate in (context / "Dockerfile", context / "docker" / "Dockerfile"):
        if candidate.is_file():
            return candidate
    return None


def _image_entries(context: Path, dockerfile: Path, *, buildkit: bool = True) -> set[str]:
    """Build, export, and list what arrived under /ctx: `d:dir`, `l:link`, `f:file`."""
    tag = f"mlfix-test-matcher:{uuid.uuid4().hex[:12]}"
    args = ["build", "-q", "--no-cache", "--label", LABEL, "-f", str(dockerfile), "-t", tag]
    build = _docker(*args, str(context), buildkit=buildkit)
    assert build.returncode == 0, build.stderr.decode(errors="replace")
    try:
        created = _docker("create", tag, "none")
        assert created.returncode == 0, created.stderr.decode(errors="replace")
        container = created.stdout.decode().strip()
        try:
            with subprocess.Popen([DOCKER, "export", container], stdout=subprocess.PIPE) as proc:
                assert proc.stdout is not None
                entries = set(_tar_entries(proc.stdout))
            assert proc.returncode == 0
        finally:
            _docker("rm", "-f", container)
    finally:
        _docker("rmi", "-f", tag)
    return entries


def _tar_entries(stream: object) -> Iterator[str]:
    with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
        for member in tar:
            name = member.name.rstrip("/")
            if not name.startswith("ctx/"):
                continue
            rel = name[len("ctx/") :]
            mark = "d" if member.isdir() else "l" if member.issym() else "f"
            yield f"{mark}:{rel}"


def predict(context: Path, ignore: DockerIgnore | None) -> set[str]:
    """The entries mlfix says Docker sends, with the parents a sent entry brings along."""
    entries: set[str] = set()
    dirs: set[str] = set()
    for node in walk(context, ignore=ignore):
        if not node.sent:
            continue
        if node.kind is EntryKind.DIR:
            dirs.add(node.path)
        else:
            mark = "l" if node.kind is EntryKind.SYMLINK else "f"
            entries.add(f"{mark}:{node.path}")
        head = node.path.rpartition("/")[0]
        while head:
            dirs.add(head)
            head = head.rpartition("/")[0]
    return entries | {f"d:{d}" for d in dirs}


@pytest.mark.parametrize("builder", ["buildkit", "classic"])
@pytest.mark.parametrize("case", CASES)
def test_docker_sends_what_mlfix_predicts(
    case: str, builder: str, engine: Engine, tmp_path: Path
) -> None:
    """BuildKit is what matters; the classic builder is checked too, as 20.10 still has it."""
    buildkit = builder == "buildkit"
    context = CASES_DIR / case
    dockerfile = _dockerfile_of(context)
    if dockerfile is None:
        # Outside the context, so the context is exactly the fixture; no
        # `<Dockerfile>.dockerignore` exists beside it, so `<context>/.dockerignore` applies.
        dockerfile = tmp_path / "Dockerfile"
        dockerfile.write_text(SCRATCH_DOCKERFILE)
    found = find_ignore_file(context, dockerfile, buildkit=buildkit)
    ignore = None if found is None else DockerIgnore.load(found.path, engine=engine)
    expected = predict(context, ignore)
    if not buildkit and dockerfile.is_relative_to(context):
        # The classic builder always sends the Dockerfile and deletes it from the context
        # afterwards when it is excluded, which leaves its parent directories behind.
        rel = dockerfile.relative_to(context).parent
        expected |= {f"d:{p.as_posix()}" for p in (rel, *rel.parents) if p != Path(".")}
    actual = _image_entries(context, dockerfile, buildkit=buildkit)
    assert sorted(actual - expected) == [], "sent by Docker, not predicted"
    assert sorted(expected - actual) == [], "predicted, not sent by Docker"
