"""The context walk: sizes, junk recognised by content, pruning, and problems that are not fatal."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import mlfix.context.tree as tree_module
from mlfix.context.dockerignore import DirAction, DockerIgnore
from mlfix.context.inventory import ContextFacts
from mlfix.context.junk import JunkKind, classify_dir, classify_file
from mlfix.context.tree import EntryKind, Listing, ProblemKind, walk
from mlfix.errors import MlfixError


def make(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


ML_PROJECT: dict[str, str | bytes] = {
    "app/main.py": "print('hi')\n",
    "app/env/__init__.py": "",  # a package called env: not a venv
    "app/data/__init__.py": "",  # a package called data: not a dataset
    "app/data/labels.py": "LABELS = []\n",
    ".venv/pyvenv.cfg": "home = /usr/bin\n",
    ".venv/lib/python3.11/site-packages/torch/__init__.py": "x" * 1000,
    ".venv/lib/python3.11/site-packages/torch/lib.so": b"\0" * 5000,
    "conda/conda-meta/history": "h",
    "conda/lib/libpython.so": b"\0" * 300,
    ".git/HEAD": "ref: refs/heads/main\n",
    ".git/objects/pack/pack-1.pack": b"\0" * 20000,
    "app/__pycache__/main.cpython-311.pyc": b"\0" * 50,
    ".pytest_cache/v/cache/nodeids": "[]",
    "models/model.safetensors": b"\0" * 4000,
    "checkpoints/epoch=1.ckpt": b"\0" * 3000,
    "data/train.csv": "a,b\n" * 100,
    "wandb/run-1/files/output.log": "log\n",
    "web/node_modules/left-pad/index.js": "module.exports = 1\n",
    ".env": "TOKEN=secret\n",
    ".env.example": "TOKEN=\n",
    "deploy/server.pem": "-----BEGIN-----\n",
    "requirements.txt": "torch\n",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make(tmp_path, ML_PROJECT)


def junk_by_path(facts: ContextFacts) -> dict[str, JunkKind]:
    return {j.path: j.kind for j in facts.junk}


def test_junk_classes_are_recognised(project: Path) -> None:
    facts = ContextFacts.collect(project)
    assert junk_by_path(facts) == {
        ".venv": JunkKind.VENV,
        "conda": JunkKind.VENV,
        ".git": JunkKind.GIT,
        "app/__pycache__": JunkKind.CACHE,
        ".pytest_cache": JunkKind.CACHE,
        "models/model.safetensors": JunkKind.WEIGHTS,
        "checkpoints/epoch=1.ckpt": JunkKind.WEIGHTS,
        "data": JunkKind.DATASET,
        "wandb": JunkKind.EXPERIMENT,
        "web/node_modules": JunkKind.NODE_MODULES,
        ".env": JunkKind.SECRET,
        "deploy/server.pem": JunkKind.SECRET,
    }


def test_env_package_is_not_a_venv_but_a_venv_named_env_is(tmp_path: Path) -> None:
    make(tmp_path, {"env/__init__.py": "", "env/util.py": ""})
    assert ContextFacts.collect(tmp_path).junk == ()
    make(tmp_path, {"other/env/pyvenv.cfg": "home = /usr\n", "other/env/bin/python": "x"})
    assert junk_by_path(ContextFacts.collect(tmp_path)) == {"other/env": JunkKind.VENV}


def test_git_file_of_a_worktree_is_junk(tmp_path: Path) -> None:
    make(tmp_path, {".git": "gitdir: /elsewhere\n", "a.py": ""})
    assert junk_by_path(ContextFacts.collect(tmp_path)) == {".git": JunkKind.GIT}


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("model.pt", JunkKind.WEIGHTS),
        ("model.pth", JunkKind.WEIGHTS),
        ("pytorch_model.bin", JunkKind.WEIGHTS),
        ("model.onnx", JunkKind.WEIGHTS),
        ("model.gguf", JunkKind.WEIGHTS),
        ("model.h5", JunkKind.WEIGHTS),
        (".env", JunkKind.SECRET),
        (".env.production", JunkKind.SECRET),
        (".env.example", None),
        (".env.sample", None),
        ("id_rsa", JunkKind.SECRET),
        ("id_rsa.pub", None),
        ("cert.pem", JunkKind.SECRET),
        ("main.py", None),
        ("environment.yml", None),
    ],
)
def test_classify_file(name: str, kind: JunkKind | None) -> None:
    assert classify_file(name) is kind


def test_classify_dir_by_content() -> None:
    def listing(path: str, files: set[str], dirs: set[str]) -> Listing:
        return Listing(path, frozenset(files), frozenset(dirs))

    assert classify_dir(listing("venv", {"pyvenv.cfg"}, {"lib"})) is JunkKind.VENV
    assert classify_dir(listing("venv", set(), {"lib"})) is None
    assert classify_dir(listing("x/py", set(), {"conda-meta"})) is JunkKind.VENV
    assert classify_dir(listing("outputs", {"__init__.py"}, set())) is None
    assert classify_dir(listing("datasets", {"a.csv"}, set())) is JunkKind.DATASET
    assert classify_dir(listing("a/lightning_logs", set(), set())) is JunkKind.EXPERIMENT


def test_sizes_of_summarised_dirs_are_totals(project: Path) -> None:
    facts = ContextFacts.collect(project)
    junk = {j.path: j for j in facts.junk}
    venv = junk[".venv"]
    assert venv.is_dir
    assert (venv.bytes, venv.files) == (len("home = /usr/bin\n") + 1000 + 5000, 3)
    assert (venv.sent_bytes, venv.sent_files) == (venv.bytes, venv.files)
    assert junk[".git"].bytes == len("ref: refs/heads/main\n") + 20000
    expected_total = sum(len(c) for c in ML_PROJECT.values())
    assert facts.total_bytes == facts.sent_bytes == expected_total
    assert facts.total_files == facts.sent_files == len(ML_PROJECT)
    assert facts.complete


def test_summarised_dirs_yield_one_node_and_nothing_below(project: Path) -> None:
    def summarise(listing: Listing) -> bool:
        return listing.path in (".venv", ".git")

    paths = [node.path for node in walk(project, summarise=summarise)]
    assert ".venv" in paths and ".git" in paths
    assert not [p for p in paths if p.startswith((".venv/", ".git/"))]
    assert len(paths) == len(set(paths))


def test_walk_is_lazy_and_parents_come_first(project: Path) -> None:
    nodes = walk(project)
    assert isinstance(nodes, Iterator)
    seen: set[str] = set()
    for node in nodes:
        head = node.path.rpartition("/")[0]
        assert not head or head in seen, node.path
        seen.add(node.path)


def test_existing_ignore_skips_dirs_unread(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ignore = DockerIgnore.parse(".venv\n.git\n**/*.safetensors\n")
    listed: list[str] = []
    real_scandir = os.scandir

    def spy(path: str) -> object:
        listed.append(os.path.relpath(path, project))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", spy)
    facts = ContextFacts.collect(project, ignore)
    assert ".venv" not in listed and ".git" not in listed
    assert set(facts.skipped) == {".venv", ".git"}
    assert not facts.complete
    kinds = junk_by_path(facts)
    assert ".venv" not in kinds and ".git" not in kinds
    weights = {j.path: j for j in facts.junk}["models/model.safetensors"]
    assert (weights.bytes, weights.sent_bytes, weights.sent_files) == (4000, 0, 0)
    everything = sum(len(c) for c in ML_PROJECT.values())
    venv_and_git = 1000 + 5000 + len("home = /usr/bin\n") + 20000 + len("ref: refs/heads/main\n")
    assert facts.sent_bytes == everything - venv_and_git - 4000


def test_measure_ignored_reports_before_numbers(project: Path) -> None:
    ignore = DockerIgnore.parse(".venv\n")
    facts = ContextFacts.collect(project, ignore, measure_ignored=True)
    venv = {j.path: j for j in facts.junk}[".venv"]
    assert venv.bytes == 1000 + 5000 + len("home = /usr/bin\n")
    assert (venv.sent_bytes, venv.sent_files) == (0, 0)
    assert facts.complete
    assert facts.total_bytes == sum(len(c) for c in ML_PROJECT.values())
    assert facts.sent_bytes == facts.total_bytes - venv.bytes


def test_partly_ignored_junk_dir_reports_what_is_still_sent(tmp_path: Path) -> None:
    make(tmp_path, {"data/a.csv": "1" * 10, "data/b.csv": "2" * 20, "data/keep.json": "3" * 5})
    facts = ContextFacts.collect(tmp_path, DockerIgnore.parse("data/*.csv\n"))
    data = facts.junk[0]
    assert (data.path, data.bytes, data.files) == ("data", 35, 3)
    assert (data.sent_bytes, data.sent_files) == (5, 1)


def test_reinclude_inside_an_excluded_junk_dir(tmp_path: Path) -> None:
    make(tmp_path, {"data/big.csv": "1" * 100, "data/labels.json": "2" * 7})
    ignore = DockerIgnore.parse("data\n!data/labels.json\n")
    data = ContextFacts.collect(tmp_path, ignore).junk[0]
    assert (data.bytes, data.sent_bytes, data.sent_files) == (107, 7, 1)


def test_sent_flags_follow_the_ignore_file(tmp_path: Path) -> None:
    make(tmp_path, {"a/x.pyc": "", "x.pyc": "", "models/keep.bin": "", "models/drop.bin": ""})
    ignore = DockerIgnore.parse("*.pyc\nmodels\n!models/keep.bin\n")
    sent = {n.path: n.sent for n in walk(tmp_path, ignore=ignore)}
    assert sent == {
        "a": True,
        "a/x.pyc": True,
        "x.pyc": False,
        "models": False,  # MODERN: travels only as the parent of keep.bin
        "models/keep.bin": True,
        "models/drop.bin": False,
    }
    legacy = DockerIgnore.parse("*.pyc\nmodels\n!models/keep.bin\n", engine=ignore.engine.LEGACY)
    assert {n.path: n.sent for n in walk(tmp_path, ignore=legacy)}["models"] is True


def test_hard_links_count_once(tmp_path: Path) -> None:
    make(tmp_path, {"a/blob": "x" * 100})
    (tmp_path / "b").mkdir()
    os.link(tmp_path / "a" / "blob", tmp_path / "b" / "blob")
    facts = ContextFacts.collect(tmp_path)
    assert (facts.total_bytes, facts.total_files) == (100, 2)
    ignored_first = ContextFacts.collect(tmp_path, DockerIgnore.parse("a\n"))
    assert ignored_first.sent_bytes == 100  # the copy Docker sends carries the content


def test_symlinks_are_entries_not_followed(tmp_path: Path) -> None:
    make(tmp_path, {"real/file": "x" * 10})
    os.symlink("real", tmp_path / "link-to-dir")
    os.symlink("/", tmp_path / "root-link")
    os.symlink("self", tmp_path / "self")
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    problems: list[tree_module.Problem] = []
    nodes = {n.path: n for n in walk(tmp_path, problems=problems)}
    assert nodes["link-to-dir"].kind is EntryKind.SYMLINK
    assert nodes["link-to-dir"].bytes == 0
    assert not [p for p in nodes if p.startswith(("link-to-dir/", "root-link/"))]
    kinds = {(p.path, p.kind) for p in problems}
    assert kinds == {
        ("self", ProblemKind.SYMLINK_LOOP),
        ("a", ProblemKind.SYMLINK_LOOP),
        ("b", ProblemKind.SYMLINK_LOOP),
        ("root-link", ProblemKind.SYMLINK_OUTSIDE),
    }


def test_unreadable_dir_is_a_problem_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root ignores file modes, so the denial is simulated here; the next test gets a real
    # EACCES from the kernel by walking as an unprivileged user.
    make(tmp_path, {"ok/a": "1", "locked/b": "22"})
    locked = str(tmp_path / "locked")
    real_scandir = os.scandir

    def deny(path: str) -> object:
        if str(path) == locked:
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", deny)
    facts = ContextFacts.collect(tmp_path)
    assert [(p.path, p.kind) for p in facts.problems] == [("locked", ProblemKind.UNREADABLE)]
    assert facts.total_files == 1
    # Ignored and skipped, it is never read, as with Docker.
    assert ContextFacts.collect(tmp_path, DockerIgnore.parse("locked\n")).problems == ()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to an unprivileged user")
def test_unreadable_dir_for_real_as_an_unprivileged_user() -> None:
    """A forked child drops to `nobody` and walks, so the kernel itself says EACCES."""
    nobody = 65534
    top = Path(tempfile.mkdtemp(prefix="mlfix-unreadable-"))
    try:
        make(top, {"ok/a": "1", "locked/b": "22"})
        for path in (top, top / "ok"):
            path.chmod(0o755)
        (top / "ok" / "a").chmod(0o644)
        (top / "locked").chmod(0o700)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            status = 1
            try:
                os.close(read_end)
                os.setgroups([])
                os.setgid(nobody)
                os.setuid(nobody)
                facts = ContextFacts.collect(top)
                found = [[p.path, p.kind.value] for p in facts.problems]
                os.write(write_end, json.dumps([*found, facts.total_files]).encode())
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            output = pipe.read()
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert json.loads(output) == [["locked", "unreadable"], 1]
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_directory_cycle_through_a_bind_mount(tmp_path: Path) -> None:
    make(tmp_path, {"a/b/file": "x"})
    target = tmp_path / "a" / "b" / "loop"
    target.mkdir()
    mounted = subprocess.run(
        ["mount", "--bind", str(tmp_path / "a"), str(target)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip("cannot bind-mount here: " + mounted.stderr.decode(errors="replace").strip())
    try:
        problems: list[tree_module.Problem] = []
        paths = [n.path for n in walk(tmp_path, problems=problems)]
        assert [(p.path, p.kind) for p in problems] == [("a/b/loop", ProblemKind.DIRECTORY_CYCLE)]
        assert "a/b/loop" in paths and "a/b/loop/b" not in paths
    finally:
        subprocess.run(["umount", str(target)], check=False)


def test_root_must_be_a_readable_directory(tmp_path: Path) -> None:
    with pytest.raises(MlfixError, match=r"cannot be read"):
        list(walk(tmp_path / "missing"))
    (tmp_path / "file").write_text("")
    with pytest.raises(MlfixError, match="not a directory"):
        list(walk(tmp_path / "file"))


def test_for_build_uses_the_per_dockerfile_ignore_and_finds_misnamed(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "docker/Dockerfile": "FROM scratch\n",
            "docker/Dockerfile.dockerignore": "data\n",
            ".dockerignore": "nothing\n",
            ".Dockerignore": ".venv\n",
            "data/a.csv": "1",
        },
    )
    facts = ContextFacts.for_build(tmp_path, tmp_path / "docker" / "Dockerfile")
    assert facts.ignore_file is not None and facts.ignore_file.per_dockerfile
    assert facts.skipped == ("data",)
    assert [p.name for p in facts.misnamed] == [".Dockerignore"]


def test_skip_nodes_carry_the_action(tmp_path: Path) -> None:
    make(tmp_path, {".venv/pyvenv.cfg": "", "a.py": ""})
    nodes = {n.path: n for n in walk(tmp_path, ignore=DockerIgnore.parse(".venv\n"))}
    assert nodes[".venv"].action is DirAction.SKIP
    assert not nodes[".venv"].sent


def test_savings_chain_before_and_after_each_entry(project: Path) -> None:
    facts = ContextFacts.collect(project, DockerIgnore.parse("# mine\r\n.git\r\n"))
    steps = facts.savings([".venv", "**/*.safetensors", "nothing-here", "data"])
    assert [s.line for s in steps] == [".venv", "**/*.safetensors", "nothing-here", "data"]
    venv, weights, nothing, data = steps
    assert [j.path for j in venv.removed] == [".venv"]
    assert venv.saved_bytes == 1000 + 5000 + len("home = /usr/bin\n")
    assert venv.sent_bytes_before == facts.sent_bytes
    assert weights.sent_bytes_before == venv.sent_bytes_after
    assert [j.path for j in weights.removed] == ["models/model.safetensors"]
    assert (weights.saved_bytes, weights.saved_files) == (4000, 1)
    assert nothing.removed == () and nothing.saved_bytes == 0
    assert data.saved_bytes == len("a,b\n" * 100)
    # The arithmetic agrees with a real walk under the final file.
    final = DockerIgnore.parse("# mine\n.git\n.venv\n**/*.safetensors\nnothing-here\ndata\n")
    after = ContextFacts.collect(project, final)
    assert (after.sent_bytes, after.sent_files) == (data.sent_bytes_after, data.sent_files_after)
