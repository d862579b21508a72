"""File-system faults (issue #13): what mlfix does when the disk does not cooperate.

The contract for every fault: no traceback, no hang, bounded memory; the original files
intact; one `error: <file>: ...` line and exit 2, or, where the issue says "say what was
skipped" (FIFOs, oversized files), a message naming what was skipped.

Faults that need them run mlfix in a subprocess: with a timeout (a FIFO blocks a reader
forever), with an address-space limit (a link to /dev/zero reads without end), as the
`nobody` user (root ignores file modes), or on a tiny tmpfs (a real ENOSPC). The rest run
in-process.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import resource
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hostile import assert_one_error, invoke, lone_surrogates, snapshot

ROOT = Path(__file__).resolve().parent.parent
IS_ROOT = os.geteuid() == 0
# Root keeps its uid (its interpreter lives under /root) but loses the capabilities that
# let it ignore file modes, so a 0444 file or a 0000 directory means what it says.
NO_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]

DOCKERFILE = b"""FROM python:3.11-slim
WORKDIR /app
COPY . .
RUN pip install -r requirements.txt
CMD ["python", "app.py"]
"""
APP = b'from transformers import AutoModel\nmodel = AutoModel.from_pretrained("gpt2")\n'


def make_project(root: Path, dockerfile: bytes = DOCKERFILE) -> Path:
    """A context every safe fix touches: MLF201 edits the Dockerfile, MLF101 adds an ignore file."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_bytes(dockerfile)
    (root / "requirements.txt").write_bytes(b"transformers\n")
    (root / "app.py").write_bytes(APP)
    return root


@dataclass(frozen=True)
class Run:
    code: int
    stdout: bytes
    stderr: str

    @property
    def errors(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]

    def describe(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout[:2000]!r}\n--- stderr\n{self.stderr}"


def mlfix(
    *args: str | Path,
    cwd: Path | None = None,
    as_user: bool = False,
    timeout: float = 60,
    memory: int | None = None,
) -> Run:
    """`python -m mlfix ARGS` in a child process; a hang or a crash fails the test."""
    command = [sys.executable, "-m", "mlfix", *map(os.fspath, args)]
    if as_user and IS_ROOT:
        command = [*NO_OVERRIDE, *command]

    def limit() -> None:
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "200"}
    try:
        proc = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, timeout=timeout, preexec_fn=limit
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"mlfix {' '.join(map(str, args))} hung (no answer in {timeout}s)")
    return Run(proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace"))


def assert_one_error_run(run: Run, *, mentions: str | None = None) -> None:
    assert "Traceback" not in run.stderr, run.describe()
    assert run.code == 2, run.describe()
    assert len(run.errors) == 1, run.describe()
    if mentions is not None:
        assert mentions in run.errors[0], run.describe()


def assert_clean_run(run: Run) -> None:
    assert "Traceback" not in run.stderr, run.describe()
    assert "Error" not in run.stderr.replace("error:", ""), run.describe()
    assert run.code in (0, 1, 2), run.describe()
    if run.code == 2:
        assert run.errors, run.describe()


@pytest.fixture(autouse=True)
def restore_modes(tmp_path: Path) -> Iterator[None]:
    """Modes the tests take away are given back, so pytest can clean tmp_path up."""
    yield
    for path in [tmp_path, *tmp_path.rglob("*")]:
        if not path.is_symlink() and path.is_dir():
            path.chmod(0o755)


needs_root = pytest.mark.skipif(not IS_ROOT, reason="mounts a tmpfs (needs root)")


@contextlib.contextmanager
def tmpfs(where: Path, size: str, *, options: str = "") -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}{options}", "tmpfs", str(where)], check=True
    )
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


# ---------------------------------------------------------------- read-only


def test_read_only_dockerfile_is_not_replaced(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    (root / "Dockerfile").chmod(0o444)
    before = snapshot(root)
    run = mlfix("--write", root, as_user=True)
    assert snapshot(root) == before, "a file the user cannot write was replaced"
    assert_one_error_run(run, mentions="Dockerfile")


def test_read_only_directory_writes_nothing(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    root.chmod(0o555)
    before = snapshot(root)
    run = mlfix("--write", root, as_user=True)
    assert snapshot(root) == before
    assert_one_error_run(run)


@needs_root
def test_read_only_mount_writes_nothing(tmp_path: Path) -> None:
    """Root ignores modes, not a read-only mount."""
    with tmpfs(tmp_path / "mnt", "4m") as mnt:
        root = make_project(mnt / "p")
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        before = snapshot(root)
        run = mlfix("--write", root)
        assert snapshot(root) == before
        assert_one_error_run(run)


def test_unwritable_context_with_writable_dockerfile_folder_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    context = make_project(root / "ctx")
    docker = root / "docker"
    docker.mkdir()
    (context / "Dockerfile").rename(docker / "Dockerfile")
    (root / "compose.yaml").write_text(
        "services:\n  app:\n    build:\n"
        "      context: ctx\n      dockerfile: ../docker/Dockerfile\n"
    )
    context.chmod(0o555)
    before = snapshot(root)
    run = mlfix("--write", root / "compose.yaml", as_user=True)
    assert snapshot(root) == before, "part of the target was written"
    assert_one_error_run(run)


# ---------------------------------------------------------------- disk full


def _fill(directory: Path) -> None:
    """Use up every byte of the file system `directory` lives on."""
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        for size in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size):
                    pass
    finally:
        os.close(fd)


@needs_root
def test_disk_full_on_tmpfs_keeps_originals(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "mnt", "256k") as mnt:
        root = make_project(mnt / "p")
        _fill(mnt)
        before = snapshot(root)
        run = mlfix("--write", root)
        assert snapshot(root) == before
        assert_one_error_run(run)
        assert not [p for p in root.iterdir() if p.name.startswith(".Dockerfile.")]


def test_disk_full_injected_keeps_originals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(tmp_path / "p")

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    monkeypatch.setattr(os, "fdatasync", full)
    before = snapshot(root)
    outcome = invoke("--write", root)
    assert snapshot(root) == before
    assert_one_error(outcome)
    assert "no space left" in outcome.errors[0].lower()


# ---------------------------------------------------------------- links


def test_dockerfile_link_out_of_the_tree_is_not_written_through(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "Dockerfile").write_bytes(DOCKERFILE)
    root = make_project(tmp_path / "repo")
    (root / ".git").mkdir()
    (root / "Dockerfile").unlink()
    (root / "Dockerfile").symlink_to(outside / "Dockerfile")
    outcome = invoke("--write", root)
    assert (outside / "Dockerfile").read_bytes() == DOCKERFILE
    # Reported, not applied: the fix is shown with why (no exit 2 for a repository that builds).
    assert outcome.code == 1, outcome.describe()
    assert not outcome.errors, outcome.describe()
    assert b"is a symbolic link to" in outcome.stdout, outcome.describe()


def test_dockerignore_link_out_of_the_tree_is_not_written_through(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "ignore").write_bytes(b"# someone else's file\n")
    root = make_project(tmp_path / "repo")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_bytes(b"ref: refs/heads/main\n")
    (root / ".dockerignore").symlink_to(outside / "ignore")
    invoke("--write", root)
    assert (outside / "ignore").read_bytes() == b"# someone else's file\n"


def test_directory_link_out_of_the_context_is_not_followed(tmp_path: Path) -> None:
    """A link to / in the context: the walk must not list (or size) the whole disk."""
    root = make_project(tmp_path / "p")
    (root / "everything").symlink_to("/")
    (root / "loop").symlink_to(root)
    run = mlfix("--output-format", "json", root, timeout=60)
    assert_clean_run(run)
    assert run.code != 2, run.describe()
    assert b"/proc" not in run.stdout and b"/etc" not in run.stdout


# ---------------------------------------------------------------- FIFOs


def _fifo(path: Path) -> Path:
    if path.exists():
        path.unlink()
    os.mkfifo(path)
    return path


def test_fifo_requirements_does_not_hang(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    _fifo(root / "requirements.txt")
    run = mlfix("--write", root, timeout=15)
    assert_clean_run(run)
    assert "requirements.txt" in run.stderr, "say what was skipped"


def test_fifo_python_source_does_not_hang(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    _fifo(root / "app.py")
    run = mlfix(root, timeout=15)
    assert_clean_run(run)
    assert "app.py" in run.stderr, "say what was skipped"


def test_fifo_script_a_run_names_does_not_hang(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", DOCKERFILE.replace(b"RUN pip", b"RUN ./setup.sh && pip"))
    _fifo(root / "setup.sh")
    run = mlfix("--write", root, timeout=15)
    assert_clean_run(run)


def test_fifo_dockerfile_named_on_the_command_line_does_not_hang(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    fifo = _fifo(root / "Dockerfile")
    run = mlfix(fifo, timeout=15)
    assert_one_error_run(run, mentions="Dockerfile")


def test_fifo_dockerfile_found_by_discovery_does_not_hang(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    (root / "sub").mkdir()
    _fifo(root / "sub" / "Dockerfile")
    run = mlfix(root, timeout=15)
    assert_clean_run(run)
    assert "sub/Dockerfile" in run.stderr, "say what was skipped"


def test_fifo_compose_file_does_not_hang(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    _fifo(root / "compose.yaml")
    run = mlfix(root, timeout=15)
    assert_clean_run(run)
    assert "compose.yaml" in run.stderr, "say what was skipped"


def test_fifo_gitignore_does_not_hang(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    (root / ".git").mkdir()
    _fifo(root / ".gitignore")
    run = mlfix(root, timeout=15)
    assert_clean_run(run)


def test_fifo_dockerignore_does_not_hang(tmp_path: Path) -> None:
    """BuildKit cannot read it either: one error naming it, not a silent 'no .dockerignore'."""
    root = make_project(tmp_path / "p")
    _fifo(root / ".dockerignore")
    run = mlfix(root, timeout=15)
    assert_clean_run(run)
    assert run.code == 2
    assert any(".dockerignore: is a FIFO, not a regular file" in e for e in run.errors)


# ---------------------------------------------------------------- sparse / endless files

GIB = 1 << 30
MEMORY = 1536 * (1 << 20)  # far below what reading 2 GB into memory takes


def _sparse(path: Path, size: int = 2 * GIB) -> None:
    with open(path, "wb") as handle:
        handle.truncate(size)


def test_sparse_weights_file_is_sized_not_read(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    (root / "models").mkdir()
    _sparse(root / "models" / "model.bin")
    run = mlfix("--output-format", "json", root, timeout=60, memory=MEMORY)
    assert_clean_run(run)
    assert b"MLF10" in run.stdout  # reported as junk the context sends


def test_sparse_python_file_is_capped(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    _sparse(root / "big.py")
    run = mlfix("--output-format", "json", root, timeout=60, memory=MEMORY)
    assert_clean_run(run)
    assert "big.py" in run.stderr, "say what was skipped"


def test_sparse_requirements_is_capped(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    _sparse(root / "requirements.txt")
    run = mlfix("--output-format", "json", root, timeout=60, memory=MEMORY)
    assert_clean_run(run)
    assert "requirements.txt" in run.stderr


def test_sparse_dockerfile_is_one_error(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    _sparse(root / "Dockerfile")
    run = mlfix(root, timeout=60, memory=MEMORY)
    assert_one_error_run(run, mentions="Dockerfile")


@pytest.mark.parametrize("named", [False, True], ids=["found", "named"])
def test_dockerfile_link_to_dev_zero_is_one_error(tmp_path: Path, named: bool) -> None:
    root = make_project(tmp_path / "p")
    (root / "Dockerfile").unlink()
    (root / "Dockerfile").symlink_to("/dev/zero")
    run = mlfix(root / "Dockerfile" if named else root, timeout=60, memory=MEMORY)
    assert_one_error_run(run, mentions="Dockerfile")
    assert "device" in run.errors[0]


def test_requirements_link_to_dev_zero_does_not_crash(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    (root / "requirements.txt").unlink()
    (root / "requirements.txt").symlink_to("/dev/zero")
    run = mlfix(root, timeout=60, memory=MEMORY)
    assert_clean_run(run)


# ---------------------------------------------------------------- unreadable directories


def test_unreadable_directory_during_discovery_is_one_error(tmp_path: Path) -> None:
    root = make_project(tmp_path / "repo")
    secret = root / "secret"
    secret.mkdir()
    (secret / "Dockerfile").write_bytes(DOCKERFILE)
    secret.chmod(0o000)
    before = snapshot(root)
    run = mlfix("--write", root, as_user=True)
    assert_one_error_run(run, mentions="secret")
    assert (root / "Dockerfile").read_bytes() != DOCKERFILE, "the readable target is still fixed"
    after = snapshot(root)
    assert after["secret"] == before["secret"]


@pytest.mark.parametrize("mode", [0o000, 0o300], ids=["no-access", "no-read"])
def test_unreadable_directory_inside_the_context_does_not_crash(tmp_path: Path, mode: int) -> None:
    root = make_project(tmp_path / "p")
    data = root / "data"
    data.mkdir()
    (data / "train.csv").write_bytes(b"a,b\n")
    data.chmod(mode)
    run = mlfix("--output-format", "json", root / "Dockerfile", as_user=True)
    assert_clean_run(run)


def test_unreadable_dockerfile_is_one_error(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    (root / "Dockerfile").chmod(0o000)
    run = mlfix(root, as_user=True)
    assert_one_error_run(run, mentions="Dockerfile")


# ---------------------------------------------------------------- non-UTF-8 names and bytes


def _odd_project(tmp_path: Path) -> Path:
    """A project in a directory whose name is not UTF-8, with a junk file named so too."""
    parent = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9"))
    root = make_project(parent)
    (root / os.fsdecode(b"w\xffeights.bin")).write_bytes(b"\0" * 2048)
    return root


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_non_utf8_directory_name_in_sarif(tmp_path: Path) -> None:
    root = _odd_project(tmp_path)
    outcome = invoke("--output-format", "sarif", root)
    assert outcome.exception is None, f"{type(outcome.exception).__name__}: {outcome.exception}"
    assert outcome.code == 1, outcome.describe()
    log = json.loads(outcome.stdout.decode("utf-8"))
    assert not lone_surrogates(log)
    uris = [
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for result in log["runs"][0]["results"]
        for loc in result["locations"]
    ]
    assert uris and all("caf%E9" in uri for uri in uris), uris  # the exact bytes, %-encoded


def test_non_utf8_directory_name_in_json(tmp_path: Path) -> None:
    root = _odd_project(tmp_path)
    outcome = invoke("--output-format", "json", root)
    assert outcome.exception is None, f"{type(outcome.exception).__name__}: {outcome.exception}"
    assert outcome.code == 1, outcome.describe()
    findings = json.loads(outcome.stdout.decode("utf-8"))  # strict UTF-8: no raw bytes
    assert findings
    assert not lone_surrogates(findings), "json must be valid Unicode"
    assert all("caf\ufffd" in f["filename"] for f in findings)


@pytest.mark.parametrize("fmt", ["concise", "full", "github"])
def test_non_utf8_directory_name_in_text_formats(tmp_path: Path, fmt: str) -> None:
    root = _odd_project(tmp_path)
    outcome = invoke("--output-format", fmt, root)
    assert outcome.exception is None, f"{type(outcome.exception).__name__}: {outcome.exception}"
    assert outcome.code == 1, outcome.describe()


def test_non_utf8_directory_name_with_write_and_diff(tmp_path: Path) -> None:
    root = _odd_project(tmp_path)
    diff = invoke("--diff", root)
    assert diff.exception is None and diff.code == 1, diff.describe()
    fixed = invoke("--write", root)
    assert fixed.exception is None and fixed.code in (0, 1), fixed.describe()
    assert invoke("--diff", root).stdout == b""


def test_non_utf8_byte_in_an_instruction(tmp_path: Path) -> None:
    data = DOCKERFILE.replace(b"WORKDIR /app", b"LABEL note=caf\xe9")
    root = make_project(tmp_path / "p", data)
    outcome = invoke("--output-format", "json", root)
    assert outcome.exception is None, f"{type(outcome.exception).__name__}: {outcome.exception}"
    fixed = invoke("--write", root)
    assert fixed.exception is None
    assert b"LABEL note=caf\xe9\n" in (root / "Dockerfile").read_bytes()  # bytes kept


# ---------------------------------------------------------------- parser tracebacks, quadratic scan

DOCKERFILE_PARSE_SHAPES = ["ENV", "LABEL", "ARG", 'ARG a="1 2" b', "LABEL a=1 $VAR"]


@pytest.mark.parametrize("line", DOCKERFILE_PARSE_SHAPES)
def test_dockerfile_parse_errors_never_escape(tmp_path: Path, line: str) -> None:
    data = DOCKERFILE.replace(b"WORKDIR /app\n", b"WORKDIR /app\n" + line.encode() + b"\n")
    root = make_project(tmp_path / "p", data)
    before = snapshot(root)
    for args in (("--output-format", "json"), ("--write",)):
        outcome = invoke(*args, root)
        assert outcome.exception is None, f"{type(outcome.exception).__name__}: {outcome.exception}"
        assert outcome.code in (0, 1, 2)
        if outcome.code == 2:
            assert len(outcome.errors) == 1, outcome.describe()
            assert snapshot(root) == before


def test_chained_conditional_in_a_loader_call_is_bounded(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    arms = " ".join(f'"org/m{n}" if flag == {n} else' for n in range(3000))
    source = 'import os\nfrom transformers import AutoModel\nflag = int(os.getenv("F", "0"))\n'
    source += f'model = AutoModel.from_pretrained({arms} "gpt2")\n'
    (root / "app.py").write_text(source)
    assert len(source) > 80_000
    run = mlfix("--output-format", "json", root, timeout=20, memory=MEMORY)
    assert_clean_run(run)
