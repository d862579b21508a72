"""Discovery: which Dockerfiles a path yields, with which build context and compose service."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fixture_cases import FIXTURES
from mlfix.cli import app
from mlfix.discover import Discovery, discover, is_compose_name, is_dockerfile_name

FIRES = FIXTURES / "MLF201" / "fires-copy-dot-requirements" / "input"
DOCKERFILE = FIRES / "Dockerfile"


@pytest.mark.parametrize(
    "name",
    [
        "Dockerfile", "dockerfile", "Containerfile", "Dockerfile.gpu", "Dockerfile.dev.cuda",
        "api.Dockerfile", "worker.dockerfile", "Containerfile.arm64",
    ],
)  # fmt: skip
def test_dockerfile_names(name: str) -> None:
    assert is_dockerfile_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "Dockerfile.dockerignore", "api.Dockerfile.dockerignore", "Dockerfile.j2",
        "Dockerfile.template", "Dockerfile.md", "Dockerfile.bak", "Dockerfile~", "DockerfileX",
        "dockerfiles", "notes.txt", "docker-compose.yml",
    ],
)  # fmt: skip
def test_not_dockerfile_names(name: str) -> None:
    assert not is_dockerfile_name(name)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("compose.yaml", True), ("compose.yml", True), ("docker-compose.yml", True),
        ("docker-compose.override.yaml", True), ("docker-compose.prod.yml", True),
        ("compose.txt", False), ("my-compose.yml", False),
    ],
)  # fmt: skip
def test_compose_names(name: str, expected: bool) -> None:
    assert is_compose_name(name) is expected


def found(result: Discovery, root: Path) -> list[tuple[str, str, str | None]]:
    assert not result.errors, result.errors
    return [
        (
            t.dockerfile.relative_to(root).as_posix(),
            t.context.relative_to(root).as_posix(),
            t.compose_service,
        )
        for t in result.targets
    ]


def put(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_walk_finds_every_kind_and_skips_junk(tmp_path: Path) -> None:
    for name in [
        "Dockerfile", "docker/Dockerfile.gpu", "svc/api.Dockerfile", "podman/Containerfile",
        "lower/dockerfile", "Dockerfile.dockerignore", "templates/Dockerfile.j2",
        "node_modules/pkg/Dockerfile", ".git/Dockerfile", "env/lib/Dockerfile",
    ]:  # fmt: skip
        put(tmp_path / name, "FROM x\n")
    put(tmp_path / "env" / "pyvenv.cfg")  # a virtualenv, whatever its name
    assert found(discover([tmp_path]), tmp_path) == [
        ("Dockerfile", ".", None),
        ("docker/Dockerfile.gpu", "docker", None),
        ("lower/dockerfile", "lower", None),
        ("podman/Containerfile", "podman", None),
        ("svc/api.Dockerfile", "svc", None),
    ]


def test_gitignore_is_respected(tmp_path: Path) -> None:
    put(tmp_path / ".git" / "HEAD")
    put(tmp_path / ".gitignore", "build/\n*.gen.Dockerfile\n!keep.gen.Dockerfile\n")
    put(tmp_path / "sub" / ".gitignore", "local/\n")
    for name in [
        "build/Dockerfile", "a.gen.Dockerfile", "keep.gen.Dockerfile", "sub/local/Dockerfile",
        "sub/Dockerfile", "Dockerfile",
    ]:  # fmt: skip
        put(tmp_path / name, "FROM x\n")
    assert [t[0] for t in found(discover([tmp_path]), tmp_path)] == [
        "Dockerfile", "keep.gen.Dockerfile", "sub/Dockerfile",
    ]  # fmt: skip
    everything = discover([tmp_path], respect_gitignore=False)
    assert len(found(everything, tmp_path)) == 6
    named = discover([tmp_path / "build" / "Dockerfile"])  # named files are always checked
    assert [t[0] for t in found(named, tmp_path)] == ["build/Dockerfile"]


def test_compose_two_services_with_different_contexts(tmp_path: Path) -> None:
    put(
        tmp_path / "deploy" / "docker-compose.yml",
        "# the stack\n"
        "services:\n"
        "  api:\n"
        "    build:\n"
        "      context: ..  # the repository root\n"
        "      dockerfile: docker/api.Dockerfile\n"
        "  worker:\n"
        "    build: ../worker\n"
        "  db:\n"
        "    image: postgres:16\n",
    )
    put(tmp_path / "docker" / "api.Dockerfile", "FROM x\n")
    put(tmp_path / "worker" / "Dockerfile", "FROM x\n")
    assert found(discover([tmp_path]), tmp_path) == [
        ("docker/api.Dockerfile", ".", "api"),  # not its own directory: the service's context
        ("worker/Dockerfile", "worker", "worker"),
    ]
    # The compose file alone yields its services.
    assert len(discover([tmp_path / "deploy" / "docker-compose.yml"]).targets) == 2
    # Named on its own, a Dockerfile gets the context of a service that a compose file
    # in its directory or above (up to the repository root) builds it with.
    alone = discover([tmp_path / "docker" / "api.Dockerfile"])
    assert found(alone, tmp_path) == [("docker/api.Dockerfile", "docker", None)]
    (tmp_path / ".git").mkdir()
    (tmp_path / "deploy" / "docker-compose.yml").rename(tmp_path / "compose.yaml")
    put(
        tmp_path / "compose.yaml",
        "services:\n  api: {build: {dockerfile: docker/api.Dockerfile}}\n",
    )
    alone = discover([tmp_path / "docker" / "api.Dockerfile"])
    assert found(alone, tmp_path) == [("docker/api.Dockerfile", ".", "api")]


def test_one_dockerfile_built_by_two_services_with_two_contexts(tmp_path: Path) -> None:
    put(
        tmp_path / "compose.yaml",
        "services:\n"
        "  a: {build: {context: ., dockerfile: shared/Dockerfile}}\n"
        "  b: {build: {context: shared}}\n"
        "  c: {build: {context: ., dockerfile: shared/Dockerfile}}\n",
    )
    put(tmp_path / "shared" / "Dockerfile", "FROM x\n")
    assert found(discover([tmp_path]), tmp_path) == [
        ("shared/Dockerfile", ".", "a"),  # c builds the same pair: once
        ("shared/Dockerfile", "shared", "b"),
    ]


def test_compose_build_target_names_the_stage_the_service_runs(tmp_path: Path) -> None:
    put(
        tmp_path / "compose.yaml",
        "services:\n"
        "  api: {build: {context: ., target: app}}\n"
        "  other: {build: {context: ., dockerfile: other/Dockerfile, target: prod}}\n"
        "  again: {build: {context: ., dockerfile: other/Dockerfile, target: test}}\n",
    )
    put(tmp_path / "Dockerfile", "FROM x AS app\nFROM app AS test\n")
    put(tmp_path / "other" / "Dockerfile", "FROM x AS prod\nFROM prod AS test\n")
    found_targets = discover([tmp_path]).targets
    targets = {t.dockerfile.relative_to(tmp_path).as_posix(): t for t in found_targets}
    assert targets["Dockerfile"].build_target == "app"
    # Two services build two stages of one Dockerfile: no single stage runs the app.
    assert targets["other/Dockerfile"].build_target is None
    assert targets["other/Dockerfile"].compose_service == "other"
    alone = discover([tmp_path / "Dockerfile"]).targets
    assert [t.build_target for t in alone] == ["app"]


def test_compose_services_that_cannot_be_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_DIR", "app")
    monkeypatch.delenv("UNSET_DIR", raising=False)
    put(
        tmp_path / "compose.yml",
        "services:\n"
        "  remote: {build: 'https://github.com/org/repo.git#main'}\n"
        "  inline: {build: {context: ., dockerfile_inline: 'FROM x'}}\n"
        "  env: {build: {context: '${APP_DIR}', dockerfile: '${DOCKERFILE:-Dockerfile}'}}\n"
        "  unset: {build: '${UNSET_DIR}'}\n"
        "  missing: {build: ./nope}\n",
    )
    put(tmp_path / "app" / "Dockerfile", "FROM x\n")
    result = discover([tmp_path])
    assert [(t.context.name, t.compose_service) for t in result.targets] == [("app", "env")]
    assert len(result.warnings) == 4
    assert result.errors == []  # found by the walk: a missing context is a warning
    assert result.warnings[-1].endswith(
        "service missing: build context ./nope is not a directory; service skipped"
    )
    named = discover([tmp_path / "compose.yml"])
    assert [e.message for e in named.errors] == [
        "service missing: build context ./nope is not a directory"
    ]


def test_broken_compose_file_is_an_error(tmp_path: Path) -> None:
    put(tmp_path / "compose.yaml", "services: [unclosed\n")
    put(tmp_path / "Dockerfile", "FROM x\n")
    result = discover([tmp_path])
    assert [e.path.name for e in result.errors] == ["compose.yaml"]
    assert len(result.targets) == 1  # the rest is still checked


def test_exclude_callback_prunes_and_counts_named_paths(tmp_path: Path) -> None:
    for name in ["a/Dockerfile", "legacy/Dockerfile", "legacy/deep/Dockerfile"]:
        put(tmp_path / name, "FROM x\n")

    def excluded(path: Path, is_dir: bool) -> bool:
        return path.name == "legacy" and is_dir

    result = discover([tmp_path, tmp_path / "legacy"], excluded=excluded)
    assert [t[0] for t in found(result, tmp_path)] == ["a/Dockerfile"]
    assert result.skipped == [tmp_path / "legacy", tmp_path / "legacy"]


def test_symlinked_dockerfile_and_its_target_are_one(tmp_path: Path) -> None:
    put(tmp_path / "docker" / "Dockerfile.real", "FROM x\n")
    (tmp_path / "Dockerfile").symlink_to("docker/Dockerfile.real")
    assert found(discover([tmp_path]), tmp_path) == [("Dockerfile", ".", None)]


def test_missing_path_and_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = discover([tmp_path / "nope", tmp_path / "empty"])
    assert [e.message for e in result.errors] == [
        "does not exist",
        "no Dockerfile found under this directory",
    ]


def test_cli_checks_a_containerfile_repo_and_compose_contexts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    podman = tmp_path / "podman"
    shutil.copytree(FIRES, podman)
    (podman / "Dockerfile").rename(podman / "Containerfile")
    stack = tmp_path / "stack"
    shutil.copytree(FIRES, stack)  # requirements.txt at the root of the context
    (stack / "docker").mkdir()
    (stack / "Dockerfile").rename(stack / "docker" / "Dockerfile")
    put(
        stack / "compose.yaml",
        "services:\n  app:\n    build: {context: ., dockerfile: docker/Dockerfile}\n",
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["--write", "--select", "MLF201"], catch_exceptions=False)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "2 files changed, 0 unchanged, 0 skipped, 0 failed." in result.stderr
    for path in (podman / "Containerfile", stack / "docker" / "Dockerfile"):
        assert "COPY requirements.txt ." in path.read_text()
    result = CliRunner().invoke(
        app, ["--select", "MLF201", "--exclude", "stack/", "."], catch_exceptions=False
    )
    assert result.exit_code == 0 and "1 skipped" in result.stderr


def test_library_target_for_knows_the_compose_build_target() -> None:
    from mlfix.engine import target_for

    case = FIXTURES / "MLF301" / "fires-compose-build-target" / "input"
    target = target_for(case)
    assert (target.compose_service, target.build_target) == ("api", "app")
    assert target_for(case / "Dockerfile").build_target == "app"


def test_a_build_target_from_an_unset_variable_keeps_the_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BUILD_TARGET", raising=False)
    compose = "services:\n  app:\n    build:\n      context: .\n      target: ${BUILD_TARGET}\n"
    put(tmp_path / "compose.yaml", compose)
    put(tmp_path / "Dockerfile", "FROM x AS app\n")
    found_targets = discover([tmp_path]).targets
    assert [(t.compose_service, t.build_target) for t in found_targets] == [("app", None)]


def test_stale_compose_context_holding_no_copy_source_is_skipped(tmp_path: Path) -> None:
    """A compose `build.context` that holds none of the COPY sources is a build nobody
    can run (the corpus had one): skipped with a note, not checked against that folder."""
    put(tmp_path / "docker" / "compose.yaml", "services:\n  app: {build: {context: .}}\n")
    put(
        tmp_path / "docker" / "Dockerfile",
        "FROM python:3.11-slim\nCOPY requirements/* ./\nRUN pip install -r requirements.txt\n",
    )
    put(tmp_path / "requirements" / "requirements.txt", "flask\n")
    discovery = discover([tmp_path / "docker"])
    assert discovery.targets == []
    assert any("holds none of its COPY sources" in note for note in discovery.notes)


def test_compose_context_holding_some_copy_source_is_kept(tmp_path: Path) -> None:
    put(tmp_path / "compose.yaml", "services:\n  app: {build: {context: .}}\n")
    put(tmp_path / "Dockerfile", "FROM python:3.11-slim\nCOPY app.py models/ ./\n")
    put(tmp_path / "app.py", "print(1)\n")
    assert [t.context for t in discover([tmp_path]).targets] == [tmp_path]
