"""MLF202 on one-line Dockerfiles: what it catches, what it leaves alone, where caches live."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mlfix.config import Settings
from mlfix.deps.facts import Context, gather
from mlfix.deps.pycache import account, cache_dir
from mlfix.dockerfile.model import parse
from mlfix.engine import run_target
from mlfix.facts import Target

HEAD = "FROM python:3.11-slim\n"


def _run(tmp_path: Path, body: str, unsafe: bool = True) -> tuple[list[str], str]:
    text = textwrap.dedent(body)
    (tmp_path / "Dockerfile").write_text(text)
    (tmp_path / "requirements.txt").write_text("six\n")
    target = Target(tmp_path / "Dockerfile", tmp_path, "Dockerfile")
    result = run_target(target, Settings(select=("MLF202",), unsafe_fixes=unsafe), fix=True)
    assert result.error is None, result.error
    new = result.changes.get(tmp_path / "Dockerfile", (text, text))[1]
    return [f.message for f in result.findings], new


@pytest.mark.parametrize(
    "command",
    [
        "pip install six",
        "pip3 install -r requirements.txt",
        "python -m pip install six",
        "python3.11 -m pip install --upgrade pip",
        "/opt/venv/bin/pip install six",
        "uv pip install --system six",
        "uv sync --frozen",
        "poetry install --no-root",
        "PIP_INDEX_URL=http://x/simple pip install six",
    ],
)
def test_catches(tmp_path: Path, command: str) -> None:
    messages, new = _run(tmp_path, f"{HEAD}RUN {command}\n")
    assert len(messages) == 1
    assert new != HEAD + f"RUN {command}\n"


@pytest.mark.parametrize(
    "body",
    [
        "RUN pip install --no-cache-dir six\n",
        "ENV PIP_NO_CACHE_DIR=1\nRUN pip install six\n",
        "ENV PIP_NO_CACHE_DIR=false\nRUN pip install six\n",  # pip: any boolean disables it
        "RUN PIP_NO_CACHE_DIR=1 pip install six\n",
        "RUN pip install six && rm -rf /root/.cache/pip\n",
        "RUN pip install six && rm -rf ~/.cache\n",
        "RUN pip install six && pip cache purge\n",
        "RUN --mount=type=cache,target=/root/.cache/pip pip install six\n",
        "RUN --mount=type=cache,target=/root/.cache pip install six\n",
        "RUN uv pip install --system --no-cache six\n",
        "ENV UV_NO_CACHE=1\nRUN uv sync\n",
        "RUN pipx install black\n",
        "RUN pipenv install --system --deploy\n",
        "RUN conda install -y numpy\n",
        "RUN pip download -d /wheels six\n",
        "RUN pip --version\n",
        'RUN ["pip", "install", "six"]\n',
        "RUN poetry install && rm -rf /root/.cache/pypoetry/cache"
        " /root/.cache/pypoetry/artifacts\n",
    ],
)
def test_leaves_alone(tmp_path: Path, body: str) -> None:
    messages, _new = _run(tmp_path, HEAD + body)
    assert messages == []


def test_env_of_a_parent_stage_counts(tmp_path: Path) -> None:
    body = """\
    FROM python:3.11-slim AS base
    ENV PIP_NO_CACHE_DIR=1
    ARG PIP_CACHE_DIR=/ignored
    FROM base
    RUN pip install six
    """
    assert _run(tmp_path, body)[0] == []


def _cache(tmp_path: Path, body: str, tool: str = "pip") -> tuple[str | None, int | None]:
    text = HEAD + textwrap.dedent(body)
    model = parse(text, tmp_path / "Dockerfile")
    deps = gather(model, Context(tmp_path))
    run = model.instructions[-1]
    who = account(model, deps, run)
    return cache_dir(tool, run.env, who).path, who.uid


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("RUN pip install six\n", ("/root/.cache/pip", 0)),
        ("RUN useradd -m -u 1000 app\nUSER app\nRUN true\n", ("/home/app/.cache/pip", 1000)),
        (
            "RUN useradd --uid 1001 --home-dir /srv/app app\nUSER app\nRUN true\n",
            ("/srv/app/.cache/pip", 1001),
        ),
        (
            "RUN groupadd -g 900 g && useradd -r -u 900 -g g -b /opt worker\nUSER worker\nRUN x\n",
            ("/opt/worker/.cache/pip", 900),
        ),
        (
            'RUN adduser --disabled-password --gecos "" --uid 1002 --home /opt/app app\n'
            "USER app\nRUN true\n",
            ("/opt/app/.cache/pip", 1002),
        ),
        (
            "RUN adduser -D -u 1003 -h /data app\nUSER app:app\nRUN true\n",
            ("/data/.cache/pip", 1003),
        ),
        ("RUN useradd -m -u 1000 app\nUSER 1000:1000\nRUN true\n", ("/home/app/.cache/pip", 1000)),
        ("ENV HOME=/work\nRUN true\n", ("/work/.cache/pip", 0)),
        ("ENV XDG_CACHE_HOME=/cache\nRUN true\n", ("/cache/pip", 0)),
        ("ENV PIP_CACHE_DIR=/pipcache\nUSER 1000\nRUN true\n", ("/pipcache", 1000)),
        ("USER nobody\nRUN true\n", (None, None)),
        ("RUN adduser --system app\nUSER app\nRUN true\n", (None, None)),
    ],
)
def test_cache_dir_follows_user_home_and_variables(
    tmp_path: Path, body: str, expected: tuple[str | None, int | None]
) -> None:
    assert _cache(tmp_path, body) == expected


def test_uv_and_poetry_cache_dirs(tmp_path: Path) -> None:
    assert _cache(tmp_path, "ENV UV_CACHE_DIR=/uv\nRUN true\n", "uv")[0] == "/uv"
    assert _cache(tmp_path, "RUN true\n", "uv")[0] == "/root/.cache/uv"
    assert _cache(tmp_path, "RUN true\n", "poetry")[0] == "/root/.cache/pypoetry"


def test_cache_dir_option_wins(tmp_path: Path) -> None:
    _messages, new = _run(
        tmp_path, "# syntax=docker/dockerfile:1\n" + HEAD + "RUN pip install --cache-dir /c six\n"
    )
    assert "--mount=type=cache,target=/c pip install --cache-dir /c six" in new


def test_mount_is_for_the_user_that_runs_pip(tmp_path: Path) -> None:
    body = f"""\
    # syntax=docker/dockerfile:1
    {HEAD.strip()}
    RUN useradd -m -u 1000 app
    USER app
    RUN pip install --user six
    USER root
    RUN pip install six
    """
    messages, new = _run(tmp_path, body)
    assert len(messages) == 2
    assert "RUN --mount=type=cache,target=/home/app/.cache/pip,uid=1000 pip install --user" in new
    assert "RUN --mount=type=cache,target=/root/.cache/pip pip install six" in new
    assert "target=/root/.cache/pip pip install --user" not in new


def test_home_mount_for_a_user_is_unsafe_and_only_applied_with_unsafe_fixes(
    tmp_path: Path,
) -> None:
    body = f"# syntax=docker/dockerfile:1\n{HEAD}RUN useradd -u 7 -m a\nUSER a\nRUN pip install x\n"
    assert _run(tmp_path, body, unsafe=False)[1] == body
    assert "target=/home/a/.cache/pip,uid=7" in _run(tmp_path, body, unsafe=True)[1]


def test_without_buildkit_syntax_the_cache_is_turned_off(tmp_path: Path) -> None:
    body = f"{HEAD}RUN pip install six && uv pip install --system idna && poetry install\n"
    _messages, new = _run(tmp_path, body)
    assert new == (
        f"{HEAD}RUN pip install six --no-cache-dir && uv pip install --system idna --no-cache"
        " && poetry install && rm -rf /root/.cache/pypoetry/cache"
        " /root/.cache/pypoetry/artifacts\n"
    )


def test_uv_link_mode_is_not_added_twice(tmp_path: Path) -> None:
    body = f"# syntax=docker/dockerfile:1\n{HEAD}ENV UV_LINK_MODE=copy\nRUN uv sync\n"
    _messages, new = _run(tmp_path, body)
    assert "RUN --mount=type=cache,target=/root/.cache/uv uv sync\n" in new
