"""The context a Dockerfile is built with when no compose file says: declared, or inferred.

Each case is a small repository laid out the way a real project had it: a Dockerfile in
a subfolder built from the root, declared in a workflow, a Makefile, a script or a bake
file, or declared nowhere. The CLI must find the root context (and say how it knew),
never exit 2 for a COPY source that is only missing from the wrong folder.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlfix.build_context import choose
from mlfix.declared import declarations, parse_build
from mlfix.discover import discover

SUBFOLDER_DOCKERFILE = (
    "FROM python:3.11-slim\nWORKDIR /app\nCOPY requirements.txt .\n"
    "RUN pip install --no-cache-dir -r requirements.txt\nCOPY src ./src\n"
)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / ".git").mkdir(exist_ok=True)
    return root


def repo(tmp_path: Path, extra: dict[str, str], dockerfile: str = SUBFOLDER_DOCKERFILE) -> Path:
    files = {
        "infra/api/Dockerfile": dockerfile,
        "requirements.txt": "flask\n",
        "src/app.py": "print('hi')\n",
    }
    files.update(extra)
    return write(tmp_path, files)


def mlfix(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlfix", *args, "."],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )


def contexts(root: Path) -> list[str]:
    found = discover([root])
    return [t.context.resolve().relative_to(root.resolve()).as_posix() for t in found.targets]


WORKFLOW_ACTION = """\
jobs:
  image:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: docker/build-push-action@v6
        with:
          context: .
          file: infra/api/Dockerfile
"""
WORKFLOW_RUN = """\
jobs:
  image:
    runs-on: ubuntu-latest
    steps:
      - run: |
          docker build \\
            -t api:latest \\
            -f infra/api/Dockerfile .
"""
MAKEFILE = "image:\n\tdocker build --pull -f infra/api/Dockerfile -t api $(CURDIR)\n"
SCRIPT = '#!/bin/sh\nset -e\ndocker buildx build --file=infra/api/Dockerfile --load "$PWD"\n'
BAKE = 'target "api" {\n  context = "."\n  dockerfile = "infra/api/Dockerfile"\n}\n'


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        (".github/workflows/ci.yml", WORKFLOW_ACTION, ".github/workflows/ci.yml:6"),
        (".github/workflows/ci.yml", WORKFLOW_RUN, ".github/workflows/ci.yml:5"),
        ("Makefile", MAKEFILE, "Makefile:2"),
        ("scripts/build.sh", SCRIPT, "scripts/build.sh:3"),
        ("docker-bake.hcl", BAKE, "docker-bake.hcl:1"),
    ],
)
def test_a_declared_root_context_is_used_and_named(
    tmp_path: Path, name: str, text: str, where: str
) -> None:
    root = repo(tmp_path, {name: text})
    (found,) = declarations(root.resolve())
    assert found.dockerfile == (root / "infra/api/Dockerfile").resolve()
    assert found.context == root.resolve()
    assert found.where(root.resolve()) == where
    assert contexts(root) == ["."]
    result = mlfix(root)  # the Dockerfile is already right: from the root, nothing is missing
    assert result.returncode == 0, result.stderr
    assert f"note: infra/api/Dockerfile: built with context . (as {where} says)" in result.stderr
    assert "error:" not in result.stderr


def test_nothing_declared_and_sources_only_at_the_root_uses_the_root(tmp_path: Path) -> None:
    root = repo(tmp_path, {})
    assert contexts(root) == ["."]
    result = mlfix(root)
    assert result.returncode == 0, result.stderr
    assert "error:" not in result.stderr
    assert "its COPY sources are there, not beside it" in result.stderr


def test_a_whole_context_copy_counts_the_manifests_its_install_names(tmp_path: Path) -> None:
    dockerfile = (
        "FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\n"
    )
    root = repo(tmp_path, {}, dockerfile)
    assert contexts(root) == ["."]
    result = mlfix(root, "--select", "MLF201")
    assert result.returncode == 1, result.stderr
    assert "MLF201" in result.stdout


def test_sources_beside_the_dockerfile_keep_its_folder(tmp_path: Path) -> None:
    root = repo(
        tmp_path,
        {"infra/api/requirements.txt": "flask\n", "infra/api/src/app.py": "x = 1\n"},
    )
    assert contexts(root) == ["infra/api"]
    choice = choose(root / "infra/api/Dockerfile", root)
    assert choice.note is None


def test_sources_split_between_folders_are_skipped_with_a_note_not_an_error(
    tmp_path: Path,
) -> None:
    root = repo(tmp_path, {"infra/api/only-here.txt": "x\n"})
    (root / "requirements.txt").unlink()
    dockerfile = "FROM python:3.11-slim\nCOPY only-here.txt /\nCOPY src /src\n"
    (root / "infra/api/Dockerfile").write_text(dockerfile)
    choice = choose(root / "infra/api/Dockerfile", root)
    assert choice.contexts == (root / "infra/api",)  # partly here: a missing file, reported


def test_sources_nowhere_beside_or_above_skip_the_dockerfile(tmp_path: Path) -> None:
    root = repo(tmp_path, {})
    (root / "infra/api/Dockerfile").write_text("FROM python:3.11-slim\nCOPY generated/ /g\n")
    choice = choose(root / "infra/api/Dockerfile", root)
    assert choice.contexts == ()
    assert choice.note is not None and "declare the context" in choice.note
    result = mlfix(root)
    assert result.returncode == 0, result.stderr
    assert "note: infra/api/Dockerfile: skipped" in result.stderr


def test_two_declared_contexts_give_a_target_each(tmp_path: Path) -> None:
    root = repo(
        tmp_path,
        {
            "infra/api/requirements.txt": "flask\n",
            "infra/api/src/app.py": "x = 1\n",
            "Makefile": MAKEFILE + "local:\n\tdocker build infra/api\n",
        },
    )
    assert sorted(contexts(root)) == [".", "infra/api"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("docker build .", (".", None)),
        ("docker build -t x -f a/Dockerfile ctx", ("ctx", "a/Dockerfile")),
        ("docker build --file=a/D --build-arg X=1 ..", ("..", "a/D")),
        ("docker image build -fa/D .", (".", "a/D")),
        ("podman build --target app . && docker push x", (".", None)),
        ("docker build - < Dockerfile", None),
        ("docker build https://github.com/o/r.git", ("https://github.com/o/r.git", None)),
        ("docker run --rm image", None),
        ("docker build", None),
        ("docker build -t 'unterminated", None),
    ],
)
def test_parse_build_reads_the_context_and_file(
    line: str, expected: tuple[str, str | None] | None
) -> None:
    assert parse_build(line) == expected


def test_variables_urls_and_stdin_declare_nothing(tmp_path: Path) -> None:
    lines = [
        "docker build -f $DOCKERFILE .",
        "docker build - < infra/api/Dockerfile",
        "docker build https://github.com/o/r.git",
        "docker build -f infra/api/Dockerfile ${CONTEXT}",
    ]
    root = repo(tmp_path, {"build.sh": "\n".join(lines) + "\n"})
    assert declarations(root.resolve()) == ()


@pytest.mark.parametrize(
    ("name", "text", "found"),
    [
        ("DockerfileTextEmbedding", "FROM python:3.11-slim\n", True),
        ("Dockerfile_gpu", "# a comment\n\nARG BASE=python:3.11\nFROM $BASE\n", True),
        ("Dockerfile-cpu", "\ufefffrom python:3.11-slim\n", True),
        ("Dockerfile-notes", "How to build the image {{ name }}\n", False),
        ("Dockerfile_template", "{% if gpu %}FROM cuda{% endif %}\n", False),
        ("Dockerfile.j2", "FROM python:3.11-slim\n", False),
    ],
)
def test_suffixed_names_are_dockerfiles_by_content(
    tmp_path: Path, name: str, text: str, found: bool
) -> None:
    write(tmp_path, {name: text})
    names = [t.dockerfile.name for t in discover([tmp_path]).targets]
    assert (name in names) is found


WORKFLOW_MATRIX = """\
jobs:
  images:
    strategy:
      matrix:
        image: [api, worker]
        include:
          - image: gpu
    runs-on: ubuntu-latest
    steps:
      - uses: docker/build-push-action@v6
        with:
          context: .
          file: ./docker/${{ matrix.image }}/Dockerfile
      - run: docker build -f docker/${{ matrix.unknown }}/Dockerfile .
"""


def test_a_workflow_matrix_expands_into_each_dockerfile_it_builds(tmp_path: Path) -> None:
    files = {".github/workflows/images.yml": WORKFLOW_MATRIX, "requirements.txt": "x\n"}
    for name in ("api", "worker", "gpu"):
        files[f"docker/{name}/Dockerfile"] = "FROM python:3.11-slim\nCOPY requirements.txt .\n"
    root = write(tmp_path, files)
    found = declarations(root.resolve())
    assert sorted(d.dockerfile.parent.name for d in found) == ["api", "gpu", "worker"]
    assert {d.context for d in found} == {root.resolve()}
    assert contexts(root) == [".", ".", "."]


def test_a_relative_dockerfile_below_the_root_whose_sources_are_nowhere_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mlfix .` inside a subfolder of a repository: the walk up from `.` must reach the
    root (the parent of a relative `.` is `.`), and a RUN that reads an image path the
    context never had keeps the Dockerfile's own folder."""
    root = write(tmp_path, {"sub/app/requirements.txt": "x\n"})
    dockerfile = "FROM python:3.11-slim\nCOPY . /app\nRUN pip install -r tmp/requirements.txt\n"
    (root / "sub/app/Dockerfile").write_text(dockerfile)
    monkeypatch.chdir(root / "sub/app")
    choice = choose(Path("Dockerfile"), root)
    assert choice.contexts == (Path("."),)
