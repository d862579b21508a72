"""The stub-build oracle: is a fix safe, by a real build of both files in the stub world?

Per Dockerfile, with every image mapped to the stub image the same way on both sides
(``mapping.py``), real BuildKit (``docker build --network none``) builds the original and
the fixed tree, and the result says:

(a) the fixed file builds whenever the original does;
(b) the final images hold the same files, apart from what the fix changes on purpose
    (files it edits, what a new ``.dockerignore`` line keeps out, baked hub weights);
(c) the installs read the same files with the same content (the stub tools' reads logs);
(d) after a comment is appended to a source file the build copies, the first dependency
    install of each stage the edit reaches is ``CACHED`` (``steps.py``).

Builds reuse the BuildKit cache; an original and each distinct fixed tree are built once
per ``Oracle`` (safe and unsafe fixes often give the same tree).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.support.docker import (
    _TAR_TYPES,
    FileInfo,
    build,
    docker_bin,
    docker_env,
    remove_containers,
    remove_images,
    run_docker,
    unique_tag,
)
from tests.support.stubworld.compare import (
    Allowed,
    cache_mounts,
    file_differences,
    ignore_lines,
    parse_reads,
    read_differences,
)
from tests.support.stubworld.image import ensure_stub_image
from tests.support.stubworld.mapping import needs_newer_frontend, stub_dockerfile
from tests.support.stubworld.steps import install_cached, install_steps

MANIFEST_RE = re.compile(
    r"(^|/)(requirements[^/]*\.(txt|in)|constraints[^/]*\.txt|[^/]*\.lock|pyproject\.toml|"
    r"setup\.py|setup\.cfg|Pipfile|environment[^/]*\.ya?ml|conda[^/]*\.ya?ml|Dockerfile[^/]*)$"
)
EDITABLE_SUFFIXES = (".py", ".sh", ".md", ".ini", ".cfg", ".yaml", ".yml", ".toml", ".txt")
# MLF301's notes say where the weights go: "into the hub cache X", "into fastembed cache X",
# "into --local-dir X, the folder the loader reads".
_HUB_CACHE_NOTE_RE = re.compile(r"into (?:the \w+ cache|\w+ cache|--local-dir) (/[^\s,]+)")


@dataclass
class Built:
    """One build of one side in the stub world."""

    tag: str
    ok: bool
    seconds: float
    log: str
    context: Path
    dockerfile: Path
    files: dict[str, FileInfo] = field(default_factory=dict)
    reads: set[tuple[str, str, str]] = field(default_factory=set)

    def error(self) -> str:
        lines = [ln for ln in self.log.splitlines() if "ERROR" in ln or "error" in ln.lower()]
        return "\n".join(lines[-6:]) or self.log[-1500:]


@dataclass
class OracleResult:
    """What the oracle found for one Dockerfile, original against fixed."""

    dockerfile: str
    skipped: str | None = None
    original_builds: bool | None = None
    fixed_builds: bool | None = None
    unchanged: bool = False
    original_error: str = ""
    fixed_error: str = ""
    file_diffs: list[str] = field(default_factory=list)
    allowed_file_diffs: list[str] = field(default_factory=list)
    read_diffs: list[str] = field(default_factory=list)
    edited_file: str | None = None
    install_steps: list[tuple[str, bool]] = field(default_factory=list)
    install_cached: bool | None = None
    seconds: float = 0.0

    @property
    def broken(self) -> bool:
        """(a) fails: the original builds and the fixed file does not."""
        return bool(self.original_builds) and self.fixed_builds is False

    def problems(self) -> list[str]:
        out = [f"fix breaks the build: {self.fixed_error}"] if self.broken else []
        out += [f"file: {d}" for d in self.file_diffs] + [f"reads: {d}" for d in self.read_diffs]
        return out

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["broken"] = self.broken
        return data


def changed_files(original: Path, fixed: Path) -> dict[str, str]:
    """Context-relative paths whose bytes differ (or that exist only in ``fixed``) -> sha256."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(fixed):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            path = Path(dirpath, name)
            rel = path.relative_to(fixed).as_posix()
            other = original / rel
            if path.is_symlink() or not path.is_file():
                continue
            data = path.read_bytes()
            if not other.is_file() or other.is_symlink() or other.read_bytes() != data:
                out[rel] = hashlib.sha256(data).hexdigest()
    return out


def allowed_from_findings(
    findings: Iterable[Mapping[str, Any]],
    edited: Iterable[str],
    applied: Sequence[str],
    texts: tuple[str, str] = ("", ""),
) -> Allowed:
    """What mlfix's JSON says its applied fixes change on purpose (``texts``: the original
    and the fixed Dockerfile, for the cache mounts the fix added)."""
    ignored: list[str] = []
    caches: list[str] = []
    for finding in findings:
        fix = finding.get("fix") or {}
        if fix.get("applicability") not in applied:
            continue
        for edit in fix.get("edits", []):
            if str(edit.get("filename", "")).endswith(".dockerignore"):
                ignored += ignore_lines(edit.get("content", ""))
        if finding.get("code") == "MLF301":
            for note in finding.get("notes", []):
                caches += _HUB_CACHE_NOTE_RE.findall(note)
    mounts = tuple(m for m in cache_mounts(texts[1]) if m not in cache_mounts(texts[0]))
    return Allowed(frozenset(edited), tuple(ignored), tuple(caches), mounts)


def _copy_tree(src: Path, dst: Path) -> None:
    """A real copy, never hard links: a linked fixture file has two names while the run
    lasts, and mlfix shows (does not apply) a fix to a file with more than one name."""
    shutil.copytree(src, dst, symlinks=True)


def _rewrite(path: Path, data: bytes) -> None:
    """Write a copy's file (replaced, so nothing else that shares it changes)."""
    path.unlink(missing_ok=True)
    path.write_bytes(data)


def export_image(tag: str) -> tuple[dict[str, FileInfo], str]:
    """Every path of the image (as ``image_files``) and the text of its reads logs."""
    cid = run_docker("create", "--entrypoint", "/bin/true", tag).stdout.strip()
    files: dict[str, FileInfo] = {}
    logs: list[str] = []
    try:
        proc = subprocess.Popen(
            [docker_bin(), "export", cid],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=docker_env(),
        )
        assert proc.stdout is not None
        with tarfile.open(fileobj=proc.stdout, mode="r|") as archive:
            for member in archive:
                path = "/" + member.name.removeprefix("./").rstrip("/")
                mode = _TAR_TYPES.get(member.type, 0) | stat.S_IMODE(member.mode)
                size, digest = 0, ""
                if member.type == tarfile.LNKTYPE:
                    target = files.get("/" + member.linkname.removeprefix("./"))
                    size, digest = (target.size, target.digest) if target else (0, "")
                elif member.isreg():
                    handle = archive.extractfile(member)
                    assert handle is not None
                    data = handle.read()
                    size, digest = member.size, hashlib.sha256(data).hexdigest()
                    if path.startswith("/.stubworld/") and path.endswith(".log"):
                        logs.append(data.decode("utf-8", "replace"))
                elif member.issym():
                    digest = member.linkname
                files[path] = FileInfo(mode, size, digest, member.uid, member.gid)
        while proc.stdout.read(1 << 16):
            pass
        proc.stdout.close()
        proc.wait(timeout=600)
    finally:
        remove_containers(cid)
    return files, "\n".join(logs)


class Oracle:
    """Builds and compares; thread-safe, so several Dockerfiles can be checked at once."""

    def __init__(self, workdir: Path | None = None, keep_images: bool = False) -> None:
        self.stub = ensure_stub_image()
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="stubworld-"))
        self.keep_images = keep_images
        self._lock = threading.Lock()
        self._builds: dict[tuple[str, ...], tuple[threading.Lock, list[Built]]] = {}
        self.tags: list[str] = []

    def _memo(self, key: tuple[str, ...], make: Any) -> Built:
        with self._lock:
            entry = self._builds.setdefault(key, (threading.Lock(), []))
        with entry[0]:
            if not entry[1]:
                entry[1].append(make())
            return entry[1][0]

    def _build(
        self, root: Path, dockerfile: str, context: str, target: str | None, name: str
    ) -> Built:
        copy = self.workdir / f"{name}-{uuid.uuid4().hex[:8]}"
        _copy_tree(root, copy)
        path = copy / dockerfile
        text = path.read_bytes().decode("utf-8", "surrogateescape")
        _rewrite(path, stub_dockerfile(text, self.stub, target).encode("utf-8", "surrogateescape"))
        tag = unique_tag(f"stubworld-{name}")
        with self._lock:
            self.tags.append(tag)
        result = build(
            copy / context,
            tag,
            dockerfile=path,
            network="none",
            target=target,
            check=False,
            timeout=1800,
        )
        built = Built(tag, result.ok, result.seconds, result.log, copy / context, path)
        if built.ok:
            built.files, logs = export_image(tag)
            built.reads = parse_reads(logs)
        return built

    def check(
        self,
        original: Path,
        fixed: Path,
        dockerfile: str = "Dockerfile",
        context: str = ".",
        *,
        findings: Iterable[Mapping[str, Any]] = (),
        applied: Sequence[str] = ("safe",),
        target: str | None = None,
    ) -> OracleResult:
        """Compare the build of ``original`` with that of ``fixed`` (two trees, same layout)."""
        start = time.monotonic()
        result = OracleResult(dockerfile)
        texts = [
            (root / dockerfile).read_bytes().decode("utf-8", "replace")
            for root in (original, fixed)
        ]
        for text in texts:
            reason = needs_newer_frontend(text)
            if reason:
                result.skipped = f"engine 20.10 cannot build it: {reason}"
                return result
        key = (str(original), dockerfile, context, target or "")
        before = self._memo(key, lambda: self._build(original, dockerfile, context, target, "a"))
        changed = changed_files(original / context, fixed / context)
        old_text, new_text = ((root / dockerfile).read_bytes() for root in (original, fixed))
        dockerfile_changed = old_text != new_text
        if dockerfile_changed:
            changed.setdefault(os.path.relpath(original / dockerfile, original / context), "")
        result.unchanged = not changed and not dockerfile_changed
        fixed_key = (*key, *sorted(f"{k}={v}" for k, v in changed.items()))
        after = self._memo(fixed_key, lambda: self._build(fixed, dockerfile, context, target, "b"))
        result.original_builds, result.fixed_builds = before.ok, after.ok
        if not before.ok:
            result.original_error = before.error()
        if not after.ok:
            result.fixed_error = after.error()
        if before.ok and after.ok:
            allowed = allowed_from_findings(findings, changed, applied, (texts[0], texts[1]))
            result.file_diffs, result.allowed_file_diffs = file_differences(
                before.files, after.files, allowed
            )
            result.read_diffs = read_differences(before.reads, after.reads)
        if after.ok:
            self._edit_rebuild(after, target, result, fixed_key)
        result.seconds = time.monotonic() - start
        return result

    def _edit_rebuild(
        self, after: Built, target: str | None, result: OracleResult, key: tuple[str, ...]
    ) -> None:
        """(d): append a comment to a copied source file, rebuild, read which steps ran."""
        edit = self._memo(("edit", *key), lambda: self._rebuild_after_edit(after, target))
        if not edit.log:  # the image holds no source file of the context to edit
            return
        result.edited_file = str(edit.context)
        if not edit.ok:
            return
        result.install_steps = [(s.text, s.cached) for s in install_steps(edit.log)]
        result.install_cached = install_cached(edit.log)

    def _rebuild_after_edit(self, after: Built, target: str | None) -> Built:
        rel = _copied_source(after.context, after.files)
        if rel is None:
            return Built("", False, 0.0, "", Path(""), after.dockerfile)
        path = after.context / rel
        data = path.read_bytes()
        ending = b"" if data.endswith((b"\n", b"\r")) or not data else b"\n"
        _rewrite(path, data + ending + f"# stubworld edit {uuid.uuid4().hex}\n".encode())
        tag = unique_tag("stubworld-edit")
        with self._lock:
            self.tags.append(tag)
        res = build(
            after.context,
            tag,
            dockerfile=after.dockerfile,
            network="none",
            target=target,
            check=False,
        )
        return Built(tag, res.ok, res.seconds, res.log, Path(rel), after.dockerfile)

    def cleanup(self) -> None:
        if not self.keep_images:
            remove_images(*self.tags)
        self.tags.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _copied_source(context: Path, files: Mapping[str, FileInfo]) -> str | None:
    """A non-manifest text file of the context that the image holds byte for byte."""
    by_digest: dict[str, list[str]] = {}
    for path, info in files.items():
        if stat.S_ISREG(info.mode):
            by_digest.setdefault(info.digest, []).append(path)
    candidates = []
    for dirpath, dirnames, filenames in os.walk(context):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            path = Path(dirpath, name)
            rel = path.relative_to(context).as_posix()
            if path.is_symlink() or not name.endswith(EDITABLE_SUFFIXES) or MANIFEST_RE.search(rel):
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            held = by_digest.get(digest, [])
            # `COPY src /app` drops the folder's own name: the file's name is what is left.
            if any(p.endswith("/" + rel) for p in held):
                candidates.append((not name.endswith(".py"), 0, rel.count("/"), rel))
            elif any(p.endswith("/" + name) for p in held):
                candidates.append((not name.endswith(".py"), 1, rel.count("/"), rel))
    return min(candidates)[-1] if candidates else None
