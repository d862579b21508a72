"""Which images start none of the project's code (`weights.idle`), and which names are
folders a RUN step creates (`weights.made`): both decide that a scanned name is not baked."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlfix.dockerfile.model import DockerfileModel, Stage, parse
from mlfix.weights import console
from mlfix.weights.idle import idle_reason
from mlfix.weights.made import is_made, made_paths


def _app(text: str) -> tuple[DockerfileModel, Stage]:
    model = parse(text, Path("Dockerfile"))
    return model, model.stages[-1]


def _reason(text: str) -> str | None:
    model, stage = _app(text)

    def parent(s: Stage) -> Stage | None:
        named = [o for o in model.stages if o.index < s.index and o.name == s.base]
        return named[-1] if named else None

    return idle_reason(stage, parent)


@pytest.mark.parametrize(
    "tail",
    [
        'CMD ["bash"]',
        "CMD bash",
        'CMD ["/bin/bash", "-l"]',
        'CMD ["conda", "run", "-n", "py310", "bash"]',
        'ENTRYPOINT ["tini", "--"]\nCMD ["sleep", "infinity"]',
        'CMD ["tail", "-f", "/dev/null"]',
        "",  # no start command: the base image's own (a REPL here)
    ],
)
def test_images_that_start_no_project_code(tail: str) -> None:
    assert _reason(f"FROM python:3.11-slim\nCOPY . /app\n{tail}\n") is not None


@pytest.mark.parametrize(
    "text",
    [
        'FROM python:3.11-slim\nCOPY . /app\nCMD ["python", "app.py"]\n',
        'FROM python:3.11-slim\nCOPY . /app\nCMD ["bash", "-c", "python app.py"]\n',
        'FROM python:3.11-slim\nCOPY . /app\nCMD ["bash", "start.sh"]\n',
        'FROM python:3.11-slim\nCOPY . /app\nCMD ["tail", "-f", "app.log"]\n',
        'FROM python:3.11-slim\nCOPY . /app\nENTRYPOINT ["uvicorn", "main:app"]\n',
        # tiangolo's images run /app/main.py themselves
        "FROM tiangolo/uvicorn-gunicorn-fastapi:python3.11\nCOPY ./app /app\n",
        # the start command is inherited from the stage the image builds on
        'FROM python:3.11-slim AS base\nCMD ["python", "app.py"]\nFROM base\nCOPY . /app\n',
    ],
)
def test_images_that_start_project_code(text: str) -> None:
    assert _reason(text) is None


def test_no_start_command_but_a_script_copied_by_name() -> None:
    """`COPY finetune.py .` and no CMD: the image exists to run that script by hand."""
    _model, stage = _app("FROM python:3.11-slim\nCOPY finetune.py .\n")
    assert idle_reason(stage, lambda s: None, copies_scripts=True) is None
    assert idle_reason(stage, lambda s: None, copies_scripts=False) is not None


WRAPPER = '#!/bin/bash\nif [ -f /env.sh ]; then\n    source /env.sh\nfi\n\nexec "$@"\n'


@pytest.mark.parametrize(
    ("tail", "text", "idle"),
    [
        ("", WRAPPER, True),  # ENTRYPOINT resets the base's CMD: "$@" is empty
        ('CMD ["python", "app.py"]', WRAPPER, False),
        ("", WRAPPER.replace("fi\n", "fi\npython warm.py &\n"), False),
        ("", "#!/bin/sh\nexec python serve.py\n", False),
    ],
)
def test_an_entrypoint_that_only_passes_its_arguments(tail: str, text: str, idle: bool) -> None:
    _model, stage = _app(
        f'FROM python:3.11-slim\nCOPY . /app\nENTRYPOINT ["/app/entry.sh"]\n{tail}\n'
    )
    read = {"/app/entry.sh": text}.get
    assert (idle_reason(stage, lambda s: None, read) is not None) is idle


def test_paths_run_steps_create() -> None:
    runs = [
        ("/app", ["unzip", "m.zip", "-d", "./src/roberta-model"]),
        ("/app", ["git", "clone", "--depth", "1", "https://example.invalid/x/encoder.git"]),
        ("/app", ["git", "clone", "https://example.invalid/x/y.git", "models/y"]),
        ("/", ["wget", "-O", "/opt/w/model.bin", "https://example.invalid/m.bin"]),
        ("/app", ["cp", "-r", "vendor/enc", "weights/enc"]),
        ("/app", ["mkdir", "-p", "/app/cache"]),
        ("/app", ["hf", "download", "org/name", "--local-dir", "local/name"]),
        ("/app", ["echo", "org/other"]),  # names, creates nothing
        ("/app", ["hf", "download", "org/name"]),  # into the cache, not at a path
    ]
    assert made_paths(runs) == {
        "/app/src/roberta-model",
        "/app/encoder",
        "/app/models/y",
        "/opt/w/model.bin",
        "/app/weights/enc",
        "/app/cache",
        "/app/local/name",
    }


def test_a_name_is_made_only_when_it_is_the_created_path() -> None:
    paths = made_paths([("/app", ["unzip", "m.zip", "-d", "models"]), ("/", ["mkdir", "/srv/org"])])
    assert is_made("models", "/app", paths)
    assert is_made("./models", "/app", paths)
    assert not is_made("models/x", "/app", paths)  # inside: the archive's layout is unknown
    assert not is_made("org/name", "/srv", paths)
    assert not is_made("models", "/srv", paths)  # read from another WORKDIR


_PYPROJECT = '[project.scripts]\ntool = "pkg.cli:main"\n'
_POETRY = '[tool.poetry.scripts]\ntool = "pkg.cli:main"\n'
_CLI = """import argparse
def main():
    parser = argparse.ArgumentParser()
    parser.add_argument({argument})
    args = parser.parse_args()
"""


@pytest.mark.parametrize(
    ("pyproject", "argument", "needs"),
    [
        (_PYPROJECT, '"command"', True),
        (_POETRY, '"config", nargs="+"', True),
        (_PYPROJECT, '"command", nargs="?", default="serve"', False),
        (_PYPROJECT, '"--model", default="org/x"', False),
        ('[project.scripts]\nother = "pkg.cli:main"\n', '"command"', False),
    ],
)
def test_a_project_cli_started_bare_stops_only_when_argparse_requires_an_argument(
    pyproject: str, argument: str, needs: bool
) -> None:
    files = {"pyproject.toml": pyproject, "src/pkg/cli.py": _CLI.format(argument=argument)}
    assert (console.needs_arguments("tool", files.get) is not None) is needs


def test_a_cli_that_only_calls_into_another_module_is_not_judged() -> None:
    files = {
        "pyproject.toml": _PYPROJECT,
        "pkg/cli.py": "from pkg.serve import run\ndef main():\n    run()\n",
        "pkg/serve.py": _CLI.format(argument='"command"'),
    }
    assert console.needs_arguments("tool", files.get) is None
