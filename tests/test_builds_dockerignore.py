"""MLF101-MLF103 against a real engine: what the daemon receives is what mlfix says.

For every `fixtures/MLF10*` case, before and after the fix:

* `FROM scratch` + `COPY . /ctx/` is built (the case's Dockerfile replaced, so its own
  per-Dockerfile ignore file still applies) and the entries that arrive under `/ctx` are
  compared with the walk's prediction, under the rules of the docker client in use and
  under the other engine's rules too (the lines mlfix writes mean the same to both);
* the bytes and files that stop arriving equal the finding's `Savings`, minus what the
  ignore file itself grew by;
* the case's own COPY/ADD/WORKDIR lines are built on `FROM scratch` (and a few cases as
  written, on the local python:3.11-slim): the build still succeeds (or now succeeds,
  for MLF103), nothing outside the `COPY . .` destination changes, and every file that
  leaves the `COPY . .` destination lies under a path the finding lists.

A generated tree adds what git cannot store: `.git` directories and a symlink loop.
No engine: skipped, or failed when MLFIX_REQUIRE_DOCKER=1.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest

from fixture_cases import Case, cases, run
from mlfix.config import Settings
from mlfix.context import baseline
from mlfix.context.dockerignore import DockerIgnore, Engine, find_ignore_file
from mlfix.context.tree import EntryKind, walk
from mlfix.dockerfile.model import parse
from mlfix.engine import TargetResult, run_target
from mlfix.facts import Target
from mlfix.model import Applicability
from mlfix.patch import write_atomic
from tests.support.docker import Docker, FileInfo, run_docker

CASES = cases("MLF10")
# Cases also built as written, FROM the local python:3.11-slim (slower: a whole image).
REAL_BASE = (
    "MLF101/fires-copied-models-stay",
    "MLF103/fires-copied-models-ignored",
    "MLF103/fires-allowlist-forgot-requirements",
)
VOLATILE = ("/proc", "/sys", "/dev", "/etc/host", "/etc/resolv", "/etc/mtab", "/.dockerenv")
SCRATCH = "FROM scratch\nCOPY . /ctx/\n"
WORKDIR = "/app"  # where the fixtures' `COPY . .` lands


@pytest.fixture(scope="module")
def client_engine() -> Engine:
    proc = run_docker("version", "--format", "{{.Client.Version}}", check=False, timeout=60)
    return Engine.for_docker_client(proc.stdout.strip() or "0")


def _copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, symlinks=True)
    return dest


def _apply(result: TargetResult) -> None:
    assert result.error is None, result.error
    for path, (_old, new) in result.changes.items():
        write_atomic(path, new)


@dataclass(frozen=True)
class Sent:
    entries: frozenset[str]  # "f:path", "l:path", "d:path"
    bytes: int
    files: int


def _arrived(docker: Docker, context: Path) -> Sent:
    """Build `FROM scratch` + `COPY . /ctx/` from a copy of the context; list /ctx."""
    copy = _copy(context, context.parent / (context.name + "-scratch"))
    try:
        (copy / "Dockerfile").write_text(SCRATCH)
        tree = docker.image_files(docker.build(copy).tag)
    finally:
        shutil.rmtree(copy)
    entries: set[str] = set()
    size = count = 0
    for path, info in tree.items():
        if not path.startswith("/ctx/"):
            continue
        rel = path[len("/ctx/") :]
        if stat.S_ISDIR(info.mode):
            entries.add(f"d:{rel}")
            continue
        entries.add(("l:" if stat.S_ISLNK(info.mode) else "f:") + rel)
        if rel != "Dockerfile":
            size += info.size
            count += 1
    return Sent(frozenset(entries), size, count)


def _predicted(context: Path, engine: Engine) -> frozenset[str]:
    """What the walk says Docker sends, with the parents a sent entry brings along."""
    found = find_ignore_file(context, context / "Dockerfile")
    ignore = None if found is None else DockerIgnore.load(found.path, engine=engine)
    entries: set[str] = set()
    for node in walk(context, ignore=ignore):
        if not node.sent:
            continue
        if node.kind is EntryKind.DIR:
            entries.add(f"d:{node.path}")
        else:
            entries.add(("l:" if node.kind is EntryKind.SYMLINK else "f:") + node.path)
        head = node.path.rpartition("/")[0]
        while head:
            entries.add(f"d:{head}")
            head = head.rpartition("/")[0]
    return frozenset(entries)


def _check_prediction(docker: Docker, context: Path, engine: Engine) -> Sent:
    arrived = _arrived(docker, context)
    for rules in (engine, Engine.LEGACY if engine is Engine.MODERN else Engine.MODERN):
        expected = _predicted(context, rules)
        assert sorted(arrived.entries - expected) == [], f"sent, not predicted ({rules})"
        assert sorted(expected - arrived.entries) == [], f"predicted, not sent ({rules})"
    return arrived


def _ignore_size(context: Path) -> tuple[int, int]:
    """Bytes and files the ignore file adds to the transfer (none when it excludes itself)."""
    found = find_ignore_file(context, context / "Dockerfile")
    if found is None:
        return 0, 0
    rel = found.path.relative_to(context).as_posix()
    if not DockerIgnore.load(found.path).sends_file(rel):
        return 0, 0
    return found.path.stat().st_size, 1


def _applied(result: TargetResult, unsafe: bool) -> list[tuple[int, int]]:
    out = []
    for finding in result.findings:
        fix = finding.fix
        if fix is None or not fix.edits or finding.saves is None:
            continue
        if fix.applicability is Applicability.SAFE or (
            fix.applicability is Applicability.UNSAFE and unsafe
        ):
            out.append((finding.saves.bytes or 0, finding.saves.files or 0))
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_daemon_receives_the_predicted_context(
    case: Case, docker: Docker, client_engine: Engine, tmp_path: Path
) -> None:
    before = _copy(case.input, tmp_path / "before")
    after = _copy(case.input, tmp_path / "after")
    result = run(case, after)
    _apply(result)

    sent_before = _check_prediction(docker, before, client_engine)
    sent_after = _check_prediction(docker, after, client_engine)

    # The savings the findings report are what stops arriving (the ignore file itself
    # travels too, and grew).
    saves = _applied(result, "--unsafe-fixes" in case.args)
    if saves:
        (old_bytes, old_files), (new_bytes, new_files) = _ignore_size(before), _ignore_size(after)
        saved_bytes = sum(b for b, _ in saves) - (new_bytes - old_bytes)
        saved_files = sum(f for _, f in saves) - (new_files - old_files)
        assert sent_before.bytes - sent_after.bytes == saved_bytes
        assert sent_before.files - sent_after.files == saved_files


def _scratch_variant(text: str) -> str:
    """The case's Dockerfile with `FROM scratch` and only the instructions that place files."""
    model = parse(text, Path("Dockerfile"))
    rows = []
    for instruction in model.instructions:
        if instruction.keyword == "FROM":
            rows.append("FROM scratch")
        elif instruction.keyword in ("COPY", "ADD", "WORKDIR", "ENV", "ARG"):
            rows.append(text[instruction.start : instruction.end].rstrip("\n"))
    return "\n".join(rows) + "\n"


def _image(docker: Docker, context: Path, *, scratch: bool) -> dict[str, FileInfo] | None:
    """Build the context with its own Dockerfile (or its scratch variant); None: it failed."""
    build_dir = context
    if scratch:
        build_dir = _copy(context, context.parent / (context.name + "-own"))
        dockerfile = build_dir / "Dockerfile"
        dockerfile.write_text(_scratch_variant(dockerfile.read_text()))
    try:
        built = docker.build(build_dir, check=False)
        return docker.image_files(built.tag) if built.ok else None
    finally:
        if scratch:
            shutil.rmtree(build_dir)


def _volatile(path: str) -> bool:
    return path.startswith(VOLATILE) or path.endswith(".dockerignore")


def _check_copies(
    case: Case,
    result: TargetResult,
    before: dict[str, FileInfo] | None,
    after: dict[str, FileInfo] | None,
) -> None:
    """Nothing a COPY names is lost; what leaves the `COPY . .` destination is listed."""
    says_fails = any("the build fails" in f.message for f in result.findings if f.code == "MLF103")
    assert (before is None) == says_fails, "a finding says the build fails: it must, and only then"
    fixed = any(
        f.code == "MLF103" and f.fix is not None and f.fix.edits
        for f in result.findings
        if f.applicability is Applicability.SAFE or "--unsafe-fixes" in case.args
    )
    if after is None:
        assert before is None, "the fix broke a build that worked"
        assert not fixed, "the fix should have made the build pass"
        return
    if before is None:
        return
    listed = " ".join(note for f in result.findings for note in (f.message, *f.notes))
    for path in sorted(set(before) - set(after)):
        assert path.startswith(WORKDIR + "/"), f"{path} left the image outside {WORKDIR}"
        parts = path[len(WORKDIR) + 1 :].split("/")
        assert any("/".join(parts[:i]) in listed for i in range(1, len(parts) + 1)), path
    for path in sorted(set(after) - set(before)):
        assert _volatile(path) or case.code == "MLF103", f"{path} arrived only after the fix"
    changed = [p for p in set(before) & set(after) if before[p] != after[p] and not _volatile(p)]
    assert changed == []


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_copies_keep_their_files(case: Case, docker: Docker, tmp_path: Path) -> None:
    """The case's own COPY/ADD/WORKDIR lines on `FROM scratch`, before and after the fix."""
    before = _copy(case.input, tmp_path / "before")
    after = _copy(case.input, tmp_path / "after")
    result = run(case, after)
    _apply(result)
    _check_copies(
        case, result, _image(docker, before, scratch=True), _image(docker, after, scratch=True)
    )


@pytest.mark.parametrize("name", REAL_BASE)
def test_real_builds_still_succeed(name: str, docker: Docker, tmp_path: Path) -> None:
    """The Dockerfile as written, on the local python:3.11-slim: pip install included."""
    (case,) = [c for c in CASES if c.id == name]
    before = _copy(case.input, tmp_path / "before")
    after = _copy(case.input, tmp_path / "after")
    result = run(case, after)
    _apply(result)
    _check_copies(
        case, result, _image(docker, before, scratch=False), _image(docker, after, scratch=False)
    )


def test_git_directories_and_symlink_loops(
    docker: Docker, client_engine: Engine, tmp_path: Path
) -> None:
    """What git cannot store in a fixture: `.git` trees, a worktree `.git` file, a loop."""
    root = tmp_path / "project"
    files = {
        "Dockerfile": 'FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nCMD ["python", "a.py"]\n',
        "a.py": "print('hi')\n",
        ".git/HEAD": "ref: refs/heads/main\n",
        ".git/objects/pack/pack-1.pack": "p" * 4000,
        "vendor/lib/.git": "gitdir: ../../.git/modules/lib\n",
        "vendor/lib/lib.py": "X = 1\n",
        "tools/venv/pyvenv.cfg": "home = /usr/bin\n",
        "tools/venv/lib/six.py": "s" * 3000,
    }
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    os.symlink("loop", root / "loop")
    before = _copy(root, tmp_path / "before")
    target = Target(root / "Dockerfile", root, "Dockerfile")
    result = run_target(target, Settings(select=("MLF101",)), fix=True)
    _apply(result)
    text = (root / ".dockerignore").read_text()
    held = text.split(f"# {baseline.TITLE}", 1)[0]  # the baseline names nothing here
    assert [r for r in held.splitlines() if r and not r.startswith("#")] == [
        "**/.git",
        "tools/venv",
    ]
    (finding,) = result.findings
    assert any("`loop`: symbolic link loop" in note for note in finding.notes)
    sent_before = _check_prediction(docker, before, client_engine)
    sent_after = _check_prediction(docker, root, client_engine)
    assert "l:loop" in sent_after.entries and "f:vendor/lib/lib.py" in sent_after.entries
    assert not any(".git" in e for e in sent_after.entries)
    assert finding.saves is not None
    growth = len(text.encode())
    assert sent_before.bytes - sent_after.bytes == (finding.saves.bytes or 0) - growth
    assert _image(docker, root, scratch=True) is not None
