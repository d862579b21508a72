"""The library pieces the `.dockerignore` rules added: a walk that starts below the root,
`sends_file` (a `!` line proven, not assumed), the walk's visitor hook, and savings that
stay right when a block mixes exclusions and `!` lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlfix.context.dockerignore import DirAction, DockerIgnore, Engine
from mlfix.context.inventory import ContextFacts
from mlfix.context.tree import EntryKind, Node, walk
from mlfix.errors import MlfixError


def make(root: Path, files: dict[str, str]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def test_walk_from_a_subdirectory_keeps_root_relative_paths(tmp_path: Path) -> None:
    make(tmp_path, {"a/b/c.txt": "1", "a/b/d/e.txt": "22", "a/other.txt": "333", "z.txt": ""})
    nodes = {n.path: n for n in walk(tmp_path, start="a/b")}
    assert set(nodes) == {"a/b", "a/b/c.txt", "a/b/d", "a/b/d/e.txt"}
    assert nodes["a/b/d/e.txt"].bytes == 2


def test_walk_from_below_an_excluded_parent_marks_everything_unsent(tmp_path: Path) -> None:
    make(tmp_path, {"models/x/a.bin": "1", "models/x/b.json": "2"})
    ignore = DockerIgnore.parse("models\n")
    nodes = list(walk(tmp_path, ignore=ignore, start="models/x", measure_ignored=True))
    files = [n for n in nodes if n.kind is EntryKind.FILE]
    assert [n.path for n in files] == ["models/x/a.bin", "models/x/b.json"] or len(files) == 2
    assert not any(n.sent for n in nodes)
    assert nodes[0].action is DirAction.SKIP
    keep = DockerIgnore.parse("models\n!models/x/b.json\n")
    sent = {n.path for n in walk(tmp_path, ignore=keep, start="models/x") if n.sent}
    assert sent == {"models/x/b.json"}


@pytest.mark.parametrize("start", ["missing", "file.txt", "../outside", "link"])
def test_walk_start_must_be_a_real_directory_inside(tmp_path: Path, start: str) -> None:
    make(tmp_path, {"file.txt": "", "dir/x": ""})
    (tmp_path / "link").symlink_to("dir")
    with pytest.raises(MlfixError):
        list(walk(tmp_path, start=start))


def test_sends_file_proves_a_reinclude_under_each_engine() -> None:
    text = "data\n!data/labels.json\n"
    for engine in Engine:
        ignore = DockerIgnore.parse(text, engine=engine)
        assert ignore.sends_file("data/labels.json")
        assert not ignore.sends_file("data/train.csv")
    # Docker 20.10 walks into an excluded directory only for a `!` line that spells it out.
    text = "**/cache\n!**/cache/keep\n"
    assert DockerIgnore.parse(text).sends_file("a/cache/keep")
    assert not DockerIgnore.parse(text, engine=Engine.LEGACY).sends_file("a/cache/keep")


def test_collect_visits_every_read_node_once(tmp_path: Path) -> None:
    make(tmp_path, {"a.py": "x", "pkg/b.py": "y", ".venv/pyvenv.cfg": "", ".venv/lib/c.py": ""})
    seen: list[Node] = []
    ContextFacts.collect(tmp_path, visit=seen.append)
    paths = [n.path for n in seen]
    assert sorted(paths) == [".venv", "a.py", "pkg", "pkg/b.py"]  # the venv is summarised


def test_savings_give_back_what_a_reinclude_restores(tmp_path: Path) -> None:
    make(tmp_path, {"ckpt/a.pt": "1" * 10, "models/b.pt": "2" * 20, "app.py": "3"})
    facts = ContextFacts.collect(tmp_path)
    first, second = facts.savings(["**/*.pt", "!models/b.pt"])
    assert sorted(j.path for j in first.removed) == ["ckpt/a.pt", "models/b.pt"]
    assert first.saved_bytes == 30
    assert [j.path for j in second.restored] == ["models/b.pt"]
    assert second.saved_bytes == -20
    assert second.sent_bytes_after == facts.sent_bytes - 10
    after = ContextFacts.collect(tmp_path, DockerIgnore.parse("**/*.pt\n!models/b.pt\n"))
    assert after.sent_bytes == second.sent_bytes_after
