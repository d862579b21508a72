"""Real Docker builds for the tests: a local base image, builds, and what is in an image.

No registry is reachable, so the ``python:*`` images the fixtures start ``FROM`` are made
here: ``debootstrap`` a minimal Debian bookworm with python3/pip/venv, ``docker import`` it,
then add ``/wheels`` (see ``wheels.py``) and an ``/etc/pip.conf`` that installs from it with
no index. See ``tests/support/README.md``.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NamedTuple

from tests.support.wheels import cache_dir, ensure_wheelhouse, file_lock, wheels_hash

DOCKER = "/usr/bin/docker"
REQUIRE_ENV = "MLFIX_REQUIRE_DOCKER"

DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = os.environ.get("MLFIX_DEBIAN_MIRROR", "http://deb.debian.org/debian")
DEBOOTSTRAP_INCLUDE = ("python3", "python3-pip", "python3-venv")
# Bump when the rootfs post-processing or the base Dockerfile below changes.
RECIPE_VERSION = 1

# Every name a fixture may start FROM; all are the same image (Debian's python3.11).
BASE_TAGS = (
    "python:3.11-slim",
    "python:3.11",
    "python:3.11-slim-bookworm",
    "python:3.11-bookworm",
    "python:3.10-slim",
    "python:3.12-slim",
)
BASE_LABEL = "org.mlfix.tests.base"
TEST_LABEL = "org.mlfix.tests"
ROOTFS_REPO = "mlfix-tests/rootfs"

PIP_CONF = """\
[global]
no-index = true
find-links = /wheels
disable-pip-version-check = true
"""

_BASE_DOCKERFILE = """\
FROM {rootfs}
COPY wheels/ /wheels/
COPY pip.conf /etc/pip.conf
LABEL {label}={digest}
"""

_IMPORT_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
)


class DockerError(RuntimeError):
    """A docker command failed."""


class BaseImageUnavailable(RuntimeError):
    """The base image cannot be built on this machine (e.g. no debootstrap)."""


# --------------------------------------------------------------------------- engine


def docker_bin() -> str:
    """The Docker CLI to use: Debian's ``docker.io`` client (not /usr/local/bin/docker)."""
    return DOCKER


def docker_env() -> dict[str, str]:
    env = dict(os.environ)
    env["DOCKER_BUILDKIT"] = "1"
    return env


def run_docker(
    *args: str,
    check: bool = True,
    timeout: float | None = 600,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``/usr/bin/docker ARGS`` and capture its text output."""
    cmd = [docker_bin(), *args]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=docker_env(), timeout=timeout, input=input
    )
    if check and proc.returncode != 0:
        raise DockerError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}"
            f"{proc.stderr[-4000:]}"
        )
    return proc


def docker_available() -> bool:
    """True when the CLI exists and an engine answers ``docker info``."""
    if not os.access(docker_bin(), os.X_OK):
        return False
    try:
        proc = run_docker("info", "--format", "{{.ServerVersion}}", check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and bool(proc.stdout.strip())


def docker_required() -> bool:
    """``MLFIX_REQUIRE_DOCKER=1``: docker tests must run, never skip."""
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def image_exists(tag: str) -> bool:
    return run_docker("image", "inspect", tag, check=False, timeout=60).returncode == 0


def image_label(tag: str, label: str) -> str | None:
    proc = run_docker(
        "image", "inspect", "--format", "{{json .Config.Labels}}", tag, check=False, timeout=60
    )
    if proc.returncode != 0:
        return None
    labels = json.loads(proc.stdout or "null") or {}
    value = labels.get(label)
    return str(value) if value is not None else None


def unique_tag(name: str = "img") -> str:
    """A fresh tag ``mlfix-test/<name>:<random>`` for an image a test builds."""
    safe = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-.") or "img"
    return f"mlfix-test/{safe}:{uuid.uuid4().hex[:12]}"


def remove_images(*tags: str) -> None:
    """Remove images (ignoring ones that do not exist); their build cache stays."""
    if tags:
        run_docker("image", "rm", "--force", *tags, check=False, timeout=300)


def remove_containers(*ids: str) -> None:
    if ids:
        run_docker("rm", "--force", "--volumes", *ids, check=False, timeout=300)


# --------------------------------------------------------------------------- base image


def _rootfs_recipe() -> dict[str, object]:
    return {
        "suite": DEBIAN_SUITE,
        "variant": "minbase",
        "include": sorted(DEBOOTSTRAP_INCLUDE),
        "recipe": RECIPE_VERSION,
    }


def _digest(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def rootfs_hash() -> str:
    return _digest(_rootfs_recipe())


def base_image_hash() -> str:
    """Content hash of the base image recipe: rootfs recipe, wheel set, pip.conf, Dockerfile."""
    return _digest(
        {
            "rootfs": rootfs_hash(),
            "wheels": wheels_hash(),
            "pip.conf": PIP_CONF,
            "dockerfile": _BASE_DOCKERFILE,
            "changes": _IMPORT_CHANGES,
        }
    )


def _postprocess_rootfs(root: Path) -> None:
    """Make the debootstrap tree look like a python image, and smaller."""
    for rel in (
        "var/cache/apt",
        "var/lib/apt/lists",
        "usr/share/doc",
        "usr/share/man",
        "usr/share/info",
        "usr/share/locale",
        "var/log",
        "tmp",
        "root",
    ):
        target = root / rel
        if target.is_dir():
            for child in target.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
    (root / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
    (root / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
    for marker in root.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
        marker.unlink()
    bindir = root / "usr/local/bin"
    bindir.mkdir(parents=True, exist_ok=True)
    for name, target_name in (("python", "python3"), ("pip", "pip3")):
        link = bindir / name
        if not link.exists() and not link.is_symlink():
            link.symlink_to(f"/usr/bin/{target_name}")
    # Like the docker debian images: apt keeps no downloaded .debs in layers.
    (root / "etc/apt/apt.conf.d/docker-clean").write_text(
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";\n'
    )
    for name in ("etc/hostname", "etc/resolv.conf"):
        path = root / name
        if path.is_file() and not path.is_symlink():
            path.write_text("")


def _unmount_under(root: Path) -> None:
    mounts = Path("/proc/mounts").read_text().splitlines()
    points = [line.split()[1] for line in mounts if len(line.split()) > 1]
    for point in sorted(points, key=len, reverse=True):
        if point == str(root) or point.startswith(str(root) + "/"):
            subprocess.run(["umount", "-l", point], check=False)


def ensure_rootfs(log: IO[str] | None = None) -> Path:
    """The debootstrap rootfs tarball, built once and cached under the cache dir."""
    tarball = cache_dir() / f"rootfs-{DEBIAN_SUITE}-{rootfs_hash()}.tar"
    if tarball.exists():
        return tarball
    debootstrap = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if os.path.exists("/usr/sbin/debootstrap") else None
    )
    if debootstrap is None:
        raise BaseImageUnavailable("debootstrap is not installed (apt-get install debootstrap)")
    if os.geteuid() != 0:
        raise BaseImageUnavailable("debootstrap needs root")
    with file_lock("rootfs"):
        if tarball.exists():
            return tarball
        work = Path(tempfile.mkdtemp(prefix="rootfs-build-", dir=cache_dir()))
        root = work / "root"
        log_path = cache_dir() / "debootstrap.log"
        try:
            with open(log_path, "w") as log_file:
                proc = subprocess.run(
                    [
                        debootstrap,
                        "--variant=minbase",
                        "--include=" + ",".join(DEBOOTSTRAP_INCLUDE),
                        DEBIAN_SUITE,
                        str(root),
                        DEBIAN_MIRROR,
                    ],
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    timeout=1200,
                )
            if proc.returncode != 0:
                tail = log_path.read_text()[-3000:]
                raise DockerError(f"debootstrap failed ({proc.returncode}), {log_path}:\n{tail}")
            _unmount_under(root)
            _postprocess_rootfs(root)
            partial = work / "rootfs.tar"
            subprocess.run(
                [
                    "tar",
                    "--numeric-owner",
                    "--xattrs",
                    "-C",
                    str(root),
                    "--exclude=./dev/*",
                    "--exclude=./proc/*",
                    "--exclude=./sys/*",
                    "-cf",
                    str(partial),
                    ".",
                ],
                check=True,
            )
            partial.rename(tarball)
        finally:
            _unmount_under(root)
            shutil.rmtree(work, ignore_errors=True)
    if log is not None:
        log.write(f"built {tarball}\n")
    return tarball


def ensure_base_image(tags: Sequence[str] = BASE_TAGS) -> str:
    """Build (once) the local base image and tag it with every ``python:*`` name in ``tags``.

    Rebuilt when the recipe or ``wheels.txt`` changes (label ``org.mlfix.tests.base``).
    Returns the image id.
    """
    digest = base_image_hash()
    if all(image_label(tag, BASE_LABEL) == digest for tag in tags):
        return _image_id(tags[0])
    with file_lock("base-image"):
        if all(image_label(tag, BASE_LABEL) == digest for tag in tags):
            return _image_id(tags[0])
        wheelhouse = ensure_wheelhouse()
        rootfs_tag = f"{ROOTFS_REPO}:{rootfs_hash()}"
        if not image_exists(rootfs_tag):
            tarball = ensure_rootfs()
            changes = [arg for change in _IMPORT_CHANGES for arg in ("--change", change)]
            run_docker("import", *changes, str(tarball), rootfs_tag, timeout=900)
        with tempfile.TemporaryDirectory(prefix="base-ctx-", dir=cache_dir()) as tmp:
            context = Path(tmp)
            (context / "wheels").mkdir()
            for wheel in wheelhouse.glob("*.whl"):
                try:
                    os.link(wheel, context / "wheels" / wheel.name)
                except OSError:
                    shutil.copy2(wheel, context / "wheels" / wheel.name)
            (context / "pip.conf").write_text(PIP_CONF)
            (context / "Dockerfile").write_text(
                _BASE_DOCKERFILE.format(rootfs=rootfs_tag, label=BASE_LABEL, digest=digest)
            )
            first, *others = tags
            result = build(context, first, check=True)
            for tag in others:
                run_docker("tag", result.tag, tag)
        _prune_old_rootfs(rootfs_tag)
    return _image_id(tags[0])


def _prune_old_rootfs(keep: str) -> None:
    proc = run_docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", ROOTFS_REPO)
    old = [t for t in proc.stdout.split() if t != keep and t.startswith(ROOTFS_REPO + ":")]
    remove_images(*old)


def _image_id(tag: str) -> str:
    return run_docker("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip()


# --------------------------------------------------------------------------- builds

_LINE_RE = re.compile(r"^#(\d+) (.*)$")
_WS_RE = re.compile(r"\s+")


def _squash(text: str) -> str:
    return _WS_RE.sub(" ", text).strip()


@dataclass
class Step:
    """One vertex of a BuildKit build, from the ``--progress=plain`` log."""

    id: int
    name: str
    cached: bool = False
    done: bool = False
    error: str | None = None
    seconds: float | None = None

    @property
    def is_internal(self) -> bool:
        return self.name.startswith("[internal]") or not self.name.startswith("[")


def parse_plain_log(log: str) -> list[Step]:
    """Steps of a ``docker build --progress=plain`` log, in the order they first appear."""
    steps: dict[int, Step] = {}
    for line in log.splitlines():
        match = _LINE_RE.match(line.rstrip())
        if not match:
            continue
        number, text = int(match.group(1)), match.group(2)
        step = steps.get(number)
        if step is None:
            steps[number] = Step(number, text)
            continue
        if text == "CACHED":
            step.cached = True
        elif text.startswith("DONE"):
            step.done = True
            with contextlib.suppress(ValueError, IndexError):
                step.seconds = float(text.split()[1].rstrip("s"))
        elif text.startswith("ERROR"):
            step.error = text
    return list(steps.values())


@dataclass
class BuildResult:
    """A finished ``docker build --progress=plain``: its log, exit code and steps."""

    tag: str
    returncode: int
    log: str
    seconds: float
    cmd: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def steps(self) -> list[Step]:
        """Dockerfile steps (``[stage n/m] INSTRUCTION ...``), without BuildKit internals."""
        return [s for s in parse_plain_log(self.log) if not s.is_internal]

    def cached_steps(self) -> list[str]:
        """Names of the Dockerfile steps reported ``CACHED``."""
        return [s.name for s in self.steps() if s.cached]

    def step(self, contains: str) -> Step:
        """The one Dockerfile step whose text contains ``contains`` (whitespace-insensitive)."""
        needle = _squash(contains)
        found = [s for s in self.steps() if needle in _squash(s.name)]
        if len(found) != 1:
            names = "\n  ".join(s.name for s in self.steps())
            what = "no step" if not found else f"{len(found)} steps"
            raise LookupError(f"{what} containing {contains!r}; steps:\n  {names}")
        return found[0]

    def is_cached(self, contains: str) -> bool:
        """Whether the step whose command contains ``contains`` was reported CACHED."""
        return self.step(contains).cached

    def check(self) -> BuildResult:
        if not self.ok:
            raise DockerError(
                f"{' '.join(self.cmd)} failed ({self.returncode}) after {self.seconds:.1f}s:\n"
                f"{self.log[-6000:]}"
            )
        return self


def build(
    context_dir: str | os.PathLike[str],
    tag: str,
    *,
    dockerfile: str | os.PathLike[str] | None = None,
    network_host: bool = False,
    network: str | None = None,
    build_args: Mapping[str, str] | None = None,
    no_cache: bool = False,
    target: str | None = None,
    check: bool = True,
    timeout: float = 1800,
) -> BuildResult:
    """``DOCKER_BUILDKIT=1 docker build --progress=plain -t TAG [-f DOCKERFILE] CONTEXT``.

    ``network_host`` (same as ``network="host"``) lets ``RUN`` steps reach the host's
    loopback, where the local package index listens; ``network="none"`` proves a build is
    offline. With ``check`` (default) a failed build raises ``DockerError`` with the log tail.
    """
    if network_host:
        if network not in (None, "host"):
            raise ValueError(f"network_host=True conflicts with network={network!r}")
        network = "host"
    cmd = [docker_bin(), "build", "--progress=plain", "--label", f"{TEST_LABEL}=1", "-t", tag]
    if dockerfile is not None:
        cmd += ["-f", os.fspath(dockerfile)]
    if network is not None:
        cmd += ["--network", network]
    for key, value in (build_args or {}).items():
        cmd += ["--build-arg", f"{key}={value}"]
    if no_cache:
        cmd.append("--no-cache")
    if target:
        cmd += ["--target", target]
    cmd.append(os.fspath(context_dir))
    start = time.monotonic()
    proc = subprocess.run(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=docker_env(),
        timeout=timeout,
    )
    result = BuildResult(tag, proc.returncode, proc.stdout, time.monotonic() - start, cmd)
    return result.check() if check else result


# --------------------------------------------------------------------------- image contents


class FileInfo(NamedTuple):
    """One path of an image: ``mode`` has the file type bits (``stat.S_ISDIR(mode)``...).

    ``digest`` is the sha256 of a regular file (hard links too), the target of a symlink,
    ``"major,minor"`` of a device, ``""`` otherwise.
    """

    mode: int
    size: int
    digest: str
    uid: int = 0
    gid: int = 0


_TAR_TYPES = {
    tarfile.REGTYPE: stat.S_IFREG,
    tarfile.AREGTYPE: stat.S_IFREG,
    tarfile.CONTTYPE: stat.S_IFREG,
    tarfile.LNKTYPE: stat.S_IFREG,
    tarfile.SYMTYPE: stat.S_IFLNK,
    tarfile.DIRTYPE: stat.S_IFDIR,
    tarfile.CHRTYPE: stat.S_IFCHR,
    tarfile.BLKTYPE: stat.S_IFBLK,
    tarfile.FIFOTYPE: stat.S_IFIFO,
}


def _tar_path(name: str) -> str:
    name = name.removeprefix("./").rstrip("/")
    return "/" + name if name not in ("", ".") else "/"


def read_tree(stream: IO[bytes]) -> dict[str, FileInfo]:
    """Read a tar stream (``docker export``) into ``{"/abs/path": FileInfo}``."""
    files: dict[str, FileInfo] = {}
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for member in archive:
            path = _tar_path(member.name)
            kind = _TAR_TYPES.get(member.type, 0)
            mode = kind | stat.S_IMODE(member.mode)
            if member.type == tarfile.LNKTYPE:
                target = files.get(_tar_path(member.linkname))
                size, digest = (target.size, target.digest) if target else (0, "")
            elif member.isreg():
                digest_obj = hashlib.sha256()
                handle = archive.extractfile(member)
                assert handle is not None
                while block := handle.read(1 << 20):
                    digest_obj.update(block)
                size, digest = member.size, digest_obj.hexdigest()
            elif member.issym():
                size, digest = 0, member.linkname
            elif member.ischr() or member.isblk():
                size, digest = 0, f"{member.devmajor},{member.devminor}"
            else:
                size, digest = 0, ""
            files[path] = FileInfo(mode, size, digest, member.uid, member.gid)
    return files


def image_files(tag: str) -> dict[str, FileInfo]:
    """Every path in the image's filesystem (``docker create`` + ``docker export``).

    Nothing is excluded; ``compare_trees`` knows which paths differ between any two builds.
    """
    cid = run_docker("create", "--entrypoint", "/bin/true", tag).stdout.strip()
    try:
        proc = subprocess.Popen(
            [docker_bin(), "export", cid],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=docker_env(),
        )
        assert proc.stdout is not None
        try:
            files = read_tree(proc.stdout)
            # tarfile stops at the end-of-archive marker; read the padding after it, or
            # closing the pipe early fails `docker export` with EPIPE (a race).
            while proc.stdout.read(1 << 16):
                pass
        finally:
            proc.stdout.close()
            _, err = proc.communicate(timeout=600)
        if proc.returncode != 0:
            raise DockerError(f"docker export {cid} failed: {err.decode(errors='replace')}")
        return files
    finally:
        remove_containers(cid)


# Paths that differ between any two builds of the same Dockerfile, whatever it does.
VOLATILE_PATHS: tuple[str, ...] = (
    "/.dockerenv",
    "/etc/hostname",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/mtab",
    "/proc/*",
    "/sys/*",
    "/dev/*",
    "/tmp/*",
    "/root/.cache/*",
    "/var/cache/*",
    "/var/log/*",
)
# Files whose bytes embed a build-time value: compared by presence, type and mode only.
# (.pyc headers carry the source mtime, which pip sets to the install time.)
VOLATILE_CONTENT: tuple[str, ...] = ("*.pyc",)


def compare_trees(
    before: Mapping[str, FileInfo],
    after: Mapping[str, FileInfo],
    *,
    ignore: Iterable[str] = VOLATILE_PATHS,
    content_ignore: Iterable[str] = VOLATILE_CONTENT,
    under: str | None = None,
) -> list[str]:
    """Differences between two ``image_files`` trees, one readable line each (empty: same).

    ``ignore``: glob patterns of paths to leave out; ``content_ignore``: globs of paths
    compared without size/digest; ``under``: only compare that subtree (e.g. ``"/app"``).
    """
    ignore = tuple(ignore)
    content_ignore = tuple(content_ignore)

    def keep(path: str) -> bool:
        if under is not None and not (path == under or path.startswith(under.rstrip("/") + "/")):
            return False
        return not any(fnmatch.fnmatchcase(path, pattern) for pattern in ignore)

    diffs: list[str] = []
    for path in sorted(set(before) | set(after)):
        if not keep(path):
            continue
        a, b = before.get(path), after.get(path)
        if a is None:
            diffs.append(f"only after: {path}")
        elif b is None:
            diffs.append(f"only before: {path}")
        elif a != b:
            if any(fnmatch.fnmatchcase(path, p) for p in content_ignore) and (
                a.mode,
                a.uid,
                a.gid,
            ) == (b.mode, b.uid, b.gid):
                continue
            diffs.append(f"changed: {path}: {_describe(a)} -> {_describe(b)}")
    return diffs


def _describe(info: FileInfo) -> str:
    digest = info.digest[:12] if stat.S_ISREG(info.mode) else info.digest
    return f"mode={oct(info.mode)} size={info.size} {digest} owner={info.uid}:{info.gid}"


def run_in_image(
    tag: str,
    *cmd: str,
    network: str = "none",
    user: str | None = None,
    check: bool = True,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``docker run --rm --network none --entrypoint CMD[0] TAG CMD[1:]``."""
    args = ["run", "--rm", "--network", network, "--entrypoint", cmd[0]]
    if user is not None:
        args += ["--user", user]
    return run_docker(*args, tag, *cmd[1:], check=check, timeout=timeout)


_FREEZE_SCRIPT = (
    "import importlib.metadata as m\n"
    "seen = set()\n"
    "for d in m.distributions():\n"
    "    n = d.metadata['Name']\n"
    "    if n and n.lower() not in seen:\n"
    "        seen.add(n.lower()); print(f'{n}=={d.version}')\n"
)


def pip_freeze(tag: str, *, python: str | None = None, all_packages: bool = True) -> list[str]:
    """Installed distributions in the image, sorted, one ``name==version`` per line.

    Default: ``pip freeze --all`` on the image's ``pip``. With ``python`` (e.g. the
    ``/app/.venv/bin/python`` of a uv project, which has no pip) the list comes from that
    interpreter's ``importlib.metadata`` instead.
    """
    if python is None:
        cmd = ["pip", "freeze", *(["--all"] if all_packages else [])]
    else:
        cmd = [python, "-c", _FREEZE_SCRIPT]
    lines = run_in_image(tag, *cmd).stdout.splitlines()
    return sorted((line.strip() for line in lines if line.strip()), key=str.lower)


# --------------------------------------------------------------------------- test helpers


def copy_tree(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> Path:
    """Copy a fixture directory (symlinks kept) to ``dst`` and return ``dst``."""
    shutil.copytree(src, dst, symlinks=True)
    return Path(dst)


def run_mlfix(
    *args: str, cwd: str | os.PathLike[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m mlfix ARGS`` with this interpreter (e.g. ``run_mlfix("--write", dir)``)."""
    return subprocess.run(
        [sys.executable, "-m", "mlfix", *args], capture_output=True, text=True, cwd=cwd
    )


def append_line(path: str | os.PathLike[str], line: str | None = None) -> str:
    """A one-line code edit: append ``line`` (default: a comment unique to this call).

    The BuildKit cache outlives test runs, so an edit must be new to really change a layer:
    the default line is unique. Returns the line written.
    """
    if line is None:
        line = f"# mlfix-test edit {uuid.uuid4().hex}"
    with open(path, "rb+") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell():
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) not in (b"\n", b"\r"):
                handle.write(b"\n")
        handle.write((line.rstrip("\n") + "\n").encode())
    return line


_SYNTAX_RE = re.compile(rb"\A((?:#[ \t]*[a-zA-Z]+[ \t]*=.*\r?\n)*?)#[ \t]*syntax[ \t]*=.*\r?\n")


def drop_syntax_directive(dockerfile: str | os.PathLike[str]) -> bool:
    """Remove a ``# syntax=`` parser directive (True if there was one).

    It names a frontend image that no registry here can serve, so such a build fails at
    once. Docker 20.10's built-in frontend already knows ``RUN --mount=type=cache|secret``
    and ``COPY --chmod``; heredocs and ``COPY --link`` need the newer frontend and cannot be
    built here. Apply it to both sides of a before/after comparison.
    """
    path = Path(dockerfile)
    data = path.read_bytes()
    new = _SYNTAX_RE.sub(lambda m: m.group(1), data, count=1)
    if new == data:
        return False
    path.write_bytes(new)
    return True


class Docker:
    """What the ``docker`` fixture yields: the helpers above, plus cleanup of what it built.

    Images built through ``build`` are removed when the test ends (by tag, and superseded
    images of a reused tag when nothing else tags them); the BuildKit cache is kept.
    """

    def __init__(self) -> None:
        self.tags: list[str] = []
        self.image_ids: list[str] = []

    def new_tag(self, name: str = "img") -> str:
        """A fresh ``mlfix-test/<name>:<random>`` tag, removed at cleanup."""
        tag = unique_tag(name)
        self.tags.append(tag)
        return tag

    def build(
        self,
        context_dir: str | os.PathLike[str],
        tag: str | None = None,
        *,
        dockerfile: str | os.PathLike[str] | None = None,
        network_host: bool = False,
        network: str | None = None,
        build_args: Mapping[str, str] | None = None,
        no_cache: bool = False,
        target: str | None = None,
        check: bool = True,
        timeout: float = 1800,
    ) -> BuildResult:
        """``build()``; ``tag`` defaults to a new one named after the context folder."""
        if tag is None:
            tag = self.new_tag(Path(context_dir).name)
        elif tag not in self.tags:
            self.tags.append(tag)
        result = build(
            context_dir,
            tag,
            dockerfile=dockerfile,
            network_host=network_host,
            network=network,
            build_args=build_args,
            no_cache=no_cache,
            target=target,
            check=check,
            timeout=timeout,
        )
        if result.ok:
            proc = run_docker("image", "inspect", "--format", "{{.Id}}", tag, check=False)
            if proc.returncode == 0:
                self.image_ids.append(proc.stdout.strip())
        return result

    image_files = staticmethod(image_files)
    pip_freeze = staticmethod(pip_freeze)
    run = staticmethod(run_in_image)
    compare_trees = staticmethod(compare_trees)

    def cleanup(self) -> None:
        remove_images(*self.tags)
        for image_id in dict.fromkeys(self.image_ids):
            proc = run_docker(
                "image", "inspect", "--format", "{{json .RepoTags}}", image_id, check=False
            )
            if proc.returncode == 0 and json.loads(proc.stdout or "null") in (None, []):
                run_docker("image", "rm", image_id, check=False)
        self.tags.clear()
        self.image_ids.clear()


@contextlib.contextmanager
def docker_session() -> Iterator[Docker]:
    """A ``Docker`` helper outside pytest; cleans up on exit."""
    helper = Docker()
    try:
        yield helper
    finally:
        helper.cleanup()


__all__ = [
    "BASE_TAGS",
    "DOCKER",
    "BaseImageUnavailable",
    "BuildResult",
    "Docker",
    "DockerError",
    "FileInfo",
    "Step",
    "append_line",
    "build",
    "compare_trees",
    "copy_tree",
    "docker_available",
    "docker_bin",
    "docker_required",
    "docker_session",
    "drop_syntax_directive",
    "ensure_base_image",
    "ensure_rootfs",
    "image_files",
    "parse_plain_log",
    "pip_freeze",
    "read_tree",
    "remove_images",
    "run_docker",
    "run_in_image",
    "run_mlfix",
    "unique_tag",
]
