"""Docker's `.dockerignore` rules, case by case, for both engines mlfix models.

Cases marked for one engine are where Docker 20.10 (LEGACY) and current Docker (MODERN)
really differ; the LEGACY side of each is confirmed by tests/test_dockerignore_docker.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlfix.context.dockerignore import (
    DirAction,
    DockerIgnore,
    Engine,
    find_ignore_file,
    find_misnamed_ignore_files,
    go_clean,
)
from mlfix.errors import MlfixError

BOTH = list(Engine)


def excluded(text: str, path: str, engine: Engine = Engine.MODERN) -> bool:
    return DockerIgnore.parse(text, engine=engine).excludes(path)


# (ignore text, path, excluded?) that hold under both engines.
COMMON = [
    # Patterns are anchored at the context root: *.pyc is root-only.
    ("*.pyc\n", "x.pyc", True),
    ("*.pyc\n", "a/x.pyc", False),
    ("**/*.pyc\n", "x.pyc", True),
    ("**/*.pyc\n", "a/b/x.pyc", True),
    ("build\n", "src/build", False),
    ("**/build\n", "src/build/x.o", True),
    # Leading slash, ./ and trailing slash are cleaned away.
    ("/notes.txt\n", "notes.txt", True),
    ("./build\n", "build/out.o", True),
    ("logs/\n", "logs", True),
    ("logs/\n", "logs/a/b.log", True),
    ("trail//\n", "trail/z", True),
    ("./dot/./\n", "dot/y", True),
    ("a/../b\n", "b", True),
    # A pattern matching a directory excludes everything below it.
    ("data\n", "data/raw/a.csv", True),
    ("data\n", "database.py", False),
    # dir/** matches what is inside, not the directory itself.
    ("z/**\n", "z", False),
    ("z/**\n", "z/1", True),
    ("z/**\n", "z/a/b", True),
    ("**\n", "anything/at/all", True),
    ("*\n", "top", True),
    ("*\n", "top/below", True),
    ("a/**/d.txt\n", "a/d.txt", True),
    ("a/**/d.txt\n", "a/b/c/d.txt", True),
    ("a/**/d.txt\n", "b/d.txt", False),
    # ? and classes never match a slash.
    ("a?.md\n", "a1.md", True),
    ("a?.md\n", "a12.md", False),
    ("a?\n", "a/", False),
    ("[d]ocs/c.md\n", "docs/c.md", True),
    ("[a-c].txt\n", "b.txt", True),
    ("[^a-c].txt\n", "b.txt", False),
    ("[^a-c].txt\n", "d.txt", True),
    # Escapes make the next character literal.
    ("star\\*name\n", "star*name", True),
    ("star\\*name\n", "starXname", False),
    ("q\\?mark\n", "qXmark", False),
    ("\\[x\\].txt\n", "[x].txt", True),
    ("\\[x\\].txt\n", "x.txt", False),
    ("dollar$\n", "dollar$", True),
    ("a.b\n", "axb", False),
    # Comments only at the very start of a line; whitespace is trimmed around patterns.
    ("# comment\n", "# comment", False),
    ("  # hash\n", "# hash", True),
    ("\t spaced  \n", "spaced", True),
    ("#b.txt\n", "b.txt", False),
    # The last matching line wins, and ! re-includes.
    ("*.txt\n!keep.txt\n", "keep.txt", False),
    ("*.txt\n!keep.txt\n", "drop.txt", True),
    ("!keep.txt\n*.txt\n", "keep.txt", True),
    ("results/*.txt\n!results/b.txt\nresults/b.txt\n", "results/b.txt", True),
    ("models\n!models/keep.bin\n", "models/keep.bin", False),
    ("models\n!models/keep.bin\n", "models/big.bin", True),
    ("models\n!models\n", "models/x", False),
    ("*\n!src\n", "src/pkg/mod.py", False),
    ("*\n!src\nsrc/**/*.tmp\n", "src/pkg/deep/x.tmp", True),
    # The context root is never excluded.
    ("*\n", ".", False),
    ("**\n", "", False),
]


@pytest.mark.parametrize("engine", BOTH, ids=lambda e: e.value)
@pytest.mark.parametrize(("text", "path", "expected"), COMMON)
def test_common_rules(text: str, path: str, expected: bool, engine: Engine) -> None:
    assert excluded(text, path, engine) is expected


# Where the two engines disagree: (text, path, modern, legacy).
DIFFERENT = [
    # LEGACY escapes only . and $ before compiling the regex.
    ("a+b.txt\n", "a+b.txt", True, False),
    ("a+b.txt\n", "aab.txt", False, True),
    ("paren(1).txt\n", "paren(1).txt", True, False),
    ("paren(1).txt\n", "paren1.txt", False, True),
    ("brace{1}.txt\n", "brace.txt", False, True),
    # MODERN's `**x` is a plain suffix test.
    ("**.log\n", "app.log", True, False),
    ("**.log\n", "x/.log", True, True),
    ("**foo\n", "x/barfoo", True, False),
    # LEGACY's parent rule checks one prefix, as long as the pattern.
    ("**/foo\n", "a/b/foo/z", True, False),
    ("**/foo\n", "x/foo/z", True, True),
]


@pytest.mark.parametrize(("text", "path", "modern", "legacy"), DIFFERENT)
def test_engines_differ(text: str, path: str, modern: bool, legacy: bool) -> None:
    assert excluded(text, path, Engine.MODERN) is modern
    assert excluded(text, path, Engine.LEGACY) is legacy


def test_crlf_bom_and_comments_read_like_lf() -> None:
    crlf = DockerIgnore.parse("\ufeffa.txt\r\n# c.txt\r\n  b.txt  \r\nkeep\r\n!keep/two\r\n")
    lf = DockerIgnore.parse("a.txt\n# c.txt\n  b.txt  \nkeep\n!keep/two\n")
    assert [p.pattern for p in crlf.patterns] == [p.pattern for p in lf.patterns]
    assert [p.pattern for p in crlf.patterns] == ["a.txt", "b.txt", "keep", "keep/two"]
    assert crlf.excludes("a.txt")
    assert not crlf.excludes("c.txt")
    assert not crlf.excludes("keep/two")


def test_patterns_keep_line_numbers_and_text() -> None:
    ignore = DockerIgnore.parse("# header\n\n*.pyc\r\n  !/keep.pyc  \n")
    assert [(p.line, p.text, p.pattern, p.exclusion) for p in ignore.patterns] == [
        (3, "*.pyc", "*.pyc", False),
        (4, "  !/keep.pyc  ", "keep.pyc", True),
    ]
    assert ignore.matching_line("x.pyc") == 3
    assert ignore.matching_line("keep.pyc") == 4
    assert ignore.matching_line("a/x.pyc") is None
    pattern = ignore.deciding_pattern("keep.pyc")
    assert pattern is not None and pattern.exclusion


def test_matching_line_names_the_parent_pattern() -> None:
    ignore = DockerIgnore.parse("notes\ndata/\n")
    assert ignore.matching_line("data/raw/a.csv") == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("!\n", "illegal exclusion"),
        ("[abc\n", "character class"),
        ("[]\n", "character class"),
        ("[a-]\n", "character class"),
        ("trailing\\\n", "backslash"),
    ],
)
def test_patterns_docker_rejects_are_errors_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(MlfixError) as info:
        DockerIgnore.parse("ok\n" + text, path=Path("ctx/.dockerignore"))
    assert message in str(info.value)
    assert "line 2" in str(info.value)
    assert str(info.value).startswith("ctx/.dockerignore:")


def test_go_clean() -> None:
    assert go_clean("") == "."
    assert go_clean("//a//b/") == "/a/b"
    assert go_clean("/..") == "/"
    assert go_clean("../x/../../y") == "../../y"
    assert go_clean("./a/./b/..") == "a"


def test_slash_alone_matches_nothing() -> None:
    ignore = DockerIgnore.parse("/\n/..\n")
    assert [p.pattern for p in ignore.patterns] == ["/", "/"]
    assert not ignore.excludes("a")


def test_verdict_with_parent_agrees_with_verdict_from_scratch() -> None:
    ignore = DockerIgnore.parse("data\n!data/keep\n**/*.tmp\n!**/keep/*.tmp\n")
    paths = ["data", "data/keep", "data/keep/a.tmp", "data/keep/b", "data/x", "x/y.tmp"]
    for path in paths:
        head = path.rpartition("/")[0]
        parent = ignore.verdict(head) if head else None
        assert ignore.verdict(path, parent) == ignore.verdict(path), path


# -- walking decisions --------------------------------------------------------------------


@pytest.mark.parametrize("engine", BOTH, ids=lambda e: e.value)
def test_excluded_dir_without_exclusions_is_skipped(engine: Engine) -> None:
    ignore = DockerIgnore.parse(".venv\n**/__pycache__\n", engine=engine)
    assert ignore.dir_action(".venv") is DirAction.SKIP
    assert ignore.dir_action("a/__pycache__") is DirAction.SKIP
    assert ignore.dir_action("src") is DirAction.WALK
    assert ignore.can_skip_dir(".venv")


@pytest.mark.parametrize("engine", BOTH, ids=lambda e: e.value)
def test_literal_reinclude_keeps_the_dir_walked(engine: Engine) -> None:
    ignore = DockerIgnore.parse("models\n!models/keep.bin\ndata\n", engine=engine)
    assert ignore.dir_action("models") is DirAction.WALK_EXCLUDED
    assert ignore.dir_action("data") is DirAction.SKIP


def test_wildcard_reinclude_below_an_excluded_dir() -> None:
    text = "**/foo\n!**/foo/keep\n"
    assert DockerIgnore.parse(text).dir_action("a/b/foo") is DirAction.WALK_EXCLUDED
    # Docker 20.10 only descends when the ! pattern literally starts with the directory.
    legacy = DockerIgnore.parse(text, engine=Engine.LEGACY)
    assert legacy.dir_action("a/b/foo") is DirAction.SKIP


def test_reinclude_that_cannot_reach_below_does_not_force_a_walk() -> None:
    ignore = DockerIgnore.parse("data\n!src/keep\n!*.md\n")
    assert ignore.dir_action("data") is DirAction.SKIP
    ignore = DockerIgnore.parse("data\n!data/*/keep.csv\n")
    assert ignore.dir_action("data") is DirAction.WALK_EXCLUDED


def test_may_change_below() -> None:
    ignore = DockerIgnore.parse("*.pyc\ndocs/*.md\n**/__pycache__\n")
    assert ignore.may_change_below("docs")
    assert ignore.may_change_below("src")  # **/__pycache__ can match anywhere
    plain = DockerIgnore.parse(".venv\ndocs/*.md\n")
    assert not plain.may_change_below("src")
    assert not plain.may_change_below(".venv")
    assert plain.may_change_below("docs")


# -- which file -------------------------------------------------------------------------


def test_find_ignore_file_prefers_the_per_dockerfile_one(tmp_path: Path) -> None:
    (tmp_path / "docker").mkdir()
    dockerfile = tmp_path / "docker" / "Dockerfile"
    dockerfile.write_text("FROM scratch\n")
    assert find_ignore_file(tmp_path, dockerfile) is None
    (tmp_path / ".dockerignore").write_text("x\n")
    found = find_ignore_file(tmp_path, dockerfile)
    assert found is not None and found.path == tmp_path / ".dockerignore"
    assert not found.per_dockerfile
    (tmp_path / "docker" / "Dockerfile.dockerignore").write_text("y\n")
    found = find_ignore_file(tmp_path, dockerfile)
    assert found is not None and found.per_dockerfile
    assert found.path == tmp_path / "docker" / "Dockerfile.dockerignore"
    # The classic builder never reads it.
    found = find_ignore_file(tmp_path, dockerfile, buildkit=False)
    assert found is not None and found.path == tmp_path / ".dockerignore"
    # Another Dockerfile in the same folder does not pick it up.
    other = tmp_path / "docker" / "app.Dockerfile"
    found = find_ignore_file(tmp_path, other)
    assert found is not None and found.path == tmp_path / ".dockerignore"


def test_misnamed_ignore_files_are_found(tmp_path: Path) -> None:
    for name in (".Dockerignore", "dockerignore", ".dockerignore.txt", "Dockerignore"):
        (tmp_path / name).write_text("x\n")
    (tmp_path / ".dockerignore").write_text("x\n")
    names = sorted(p.name for p in find_misnamed_ignore_files(tmp_path))
    assert names == [".Dockerignore", ".dockerignore.txt", "Dockerignore", "dockerignore"]


def test_engine_for_docker_client() -> None:
    assert Engine.for_docker_client("20.10.24+dfsg1") is Engine.LEGACY
    assert Engine.for_docker_client("27.3.1") is Engine.MODERN
    assert Engine.for_docker_client("dev") is Engine.MODERN


def test_with_engine_rereads_the_same_text() -> None:
    ignore = DockerIgnore.parse("a+b.txt\n")
    assert ignore.excludes("a+b.txt")
    assert not ignore.with_engine(Engine.LEGACY).excludes("a+b.txt")
