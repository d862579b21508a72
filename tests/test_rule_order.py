"""MLF201, MLF202 and MLF203 compose: one run gives the whole order, in any rule order.

The engine runs rules in registry order and repeats passes until nothing changes.
Each rule must therefore reach the same file whichever of the others ran first, and
a second run over the result must change nothing. Checked on every fixture of the
three rules (with and without unsafe fixes) and on files where all three fire.
"""

# ruff: noqa: E501  (the expected Dockerfiles have the long lines the fixes write)

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import textwrap
from collections import Counter
from pathlib import Path

import dockerfile
import pytest

import mlfix.engine as engine
from fixture_cases import Case, cases
from mlfix.config import Settings
from mlfix.dockerfile.model import parse
from mlfix.engine import run_target
from mlfix.facts import Target

CODES = ("MLF201", "MLF202", "MLF203")
ORDERS = list(itertools.permutations(CODES))
CASES = [c for code in CODES for c in cases(code)]


def _ours(text: str) -> list[tuple[str, int, int]]:
    return [(i.keyword, i.first_line, i.last_line) for i in parse(text, Path("D")).instructions]


def _boundaries(text: str) -> list[tuple[str, int, int]]:
    """Instruction boundaries by BuildKit's own parser."""
    return [(c.cmd.upper(), c.start_line, c.end_line) for c in dockerfile.parse_string(text)]


def _hadolint(text: str) -> Counter[str]:
    proc = subprocess.run(
        ["hadolint", "--no-fail", "--format", "json", "-"],
        input=text.encode(),
        capture_output=True,
        check=True,
    )
    return Counter(item["code"] for item in json.loads(proc.stdout or b"[]"))


def _final(target: Target, order: tuple[str, ...], unsafe: bool, mp: pytest.MonkeyPatch) -> str:
    registry = {code: engine.RULES[code] for code in order}
    with mp.context() as patch:
        patch.setattr(engine, "RULES", registry)
        result = run_target(target, Settings(select=CODES, unsafe_fixes=unsafe), fix=True)
    assert result.error is None, result.error
    old = target.dockerfile.read_text()
    return result.changes.get(target.dockerfile, (old, old))[1]


def _settles(target: Target, text: str, unsafe: bool, tmp: Path) -> None:
    again = tmp / "again"
    shutil.copytree(target.context, again, symlinks=True, dirs_exist_ok=True)
    (again / "Dockerfile").write_text(text)
    second = run_target(
        Target(again / "Dockerfile", again, "Dockerfile"),
        Settings(select=CODES, unsafe_fixes=unsafe),
        fix=True,
    )
    assert second.error is None
    assert second.changes == {}, "a second run changed the file"


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fixture_reaches_one_file_in_any_rule_order(
    case: Case, unsafe: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    results = {order: _final(case.target(), order, unsafe, monkeypatch) for order in ORDERS}
    texts = set(results.values())
    assert len(texts) == 1, "\n\n".join(f"{o}:\n{t}" for o, t in results.items())
    final = texts.pop()
    _settles(case.target(), final, unsafe, tmp_path)
    # What the three rules make together is still valid for BuildKit and for hadolint.
    assert _ours(final) == _boundaries(final)
    before = case.target().dockerfile.read_text()
    assert not _hadolint(final) - _hadolint(before)


FILES = {
    "requirements.txt": "six==1.17.0\n",
    "app.py": "print('hello')\n",
    "packages.txt": "libgomp1\n",
    "pyproject.toml": '[project]\nname = "app"\nversion = "0"\ndependencies = ["six"]\n',
    "uv.lock": "version = 1\n",
}

# (name, Dockerfile, what one run with the three rules makes of it, unsafe fixes on?)
FULL_ORDER = [
    (
        "one RUN with apt and pip under BuildKit: the apt mounts first, pip's last",
        """\
        # syntax=docker/dockerfile:1
        FROM python:3.11-slim
        WORKDIR /app
        COPY . .
        RUN --mount=type=secret,id=netrc,target=/root/.netrc apt-get update && apt-get install -y --no-install-recommends gcc && pip install -r requirements.txt
        CMD ["python", "app.py"]
        """,
        """\
        # syntax=docker/dockerfile:1
        FROM python:3.11-slim
        WORKDIR /app
        COPY requirements.txt .
        RUN --mount=type=cache,target=/var/cache/apt,sharing=locked --mount=type=cache,target=/var/lib/apt/lists,sharing=locked --mount=type=secret,id=netrc,target=/root/.netrc --mount=type=cache,target=/root/.cache/pip apt-get update && apt-get install -y --no-install-recommends gcc && pip install -r requirements.txt
        COPY . .
        CMD ["python", "app.py"]
        """,
        False,
    ),
    (
        "the seed's whole stack, from the wrong order",
        """\
        FROM python:3.11-slim
        WORKDIR /app
        COPY . .
        RUN pip install -r requirements.txt
        ENV APP_MODE=production
        ENV DEBIAN_FRONTEND=noninteractive
        RUN apt-get update
        RUN apt-get install -y $(cat packages.txt)
        CMD ["python", "app.py"]
        """,
        """\
        FROM python:3.11-slim
        WORKDIR /app
        ENV DEBIAN_FRONTEND=noninteractive
        COPY packages.txt .
        RUN apt-get update && apt-get install --no-install-recommends -y $(cat packages.txt) && rm -rf /var/lib/apt/lists/*
        COPY requirements.txt .
        RUN pip install -r requirements.txt --no-cache-dir
        COPY . .
        ENV APP_MODE=production
        CMD ["python", "app.py"]
        """,
        True,
    ),
    (
        "a chained install split, BuildKit cache mounts, the split part keeps no mount",
        """\
        # syntax=docker/dockerfile:1
        FROM python:3.11-slim
        WORKDIR /app
        COPY . .
        RUN pip install -r requirements.txt && python -m compileall .
        RUN apt-get update && apt-get install -y --no-install-recommends libgomp1
        CMD ["python", "app.py"]
        """,
        """\
        # syntax=docker/dockerfile:1
        FROM python:3.11-slim
        WORKDIR /app
        RUN --mount=type=cache,target=/var/cache/apt,sharing=locked --mount=type=cache,target=/var/lib/apt/lists,sharing=locked apt-get update && apt-get install -y --no-install-recommends libgomp1
        COPY requirements.txt .
        RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt
        COPY . .
        RUN python -m compileall .
        CMD ["python", "app.py"]
        """,
        True,
    ),
    (
        "uv under BuildKit: cache mount with UV_LINK_MODE=copy on both halves of the split",
        """\
        # syntax=docker/dockerfile:1
        FROM python:3.11-slim
        RUN pip install --no-cache-dir uv
        WORKDIR /app
        COPY . .
        RUN uv sync --frozen
        RUN apt-get update && apt-get install -y --no-install-recommends libpq5 \\
            && rm -rf /var/lib/apt/lists/*
        CMD [".venv/bin/python", "app.py"]
        """,
        """\
        # syntax=docker/dockerfile:1
        FROM python:3.11-slim
        RUN apt-get update && apt-get install -y --no-install-recommends libpq5 \\
            && rm -rf /var/lib/apt/lists/*
        RUN pip install --no-cache-dir uv
        WORKDIR /app
        COPY pyproject.toml uv.lock ./
        RUN --mount=type=cache,target=/root/.cache/uv UV_LINK_MODE=copy uv sync --no-install-project --frozen
        COPY . .
        RUN --mount=type=cache,target=/root/.cache/uv UV_LINK_MODE=copy uv sync --frozen
        CMD [".venv/bin/python", "app.py"]
        """,
        False,
    ),
    (
        "an apt layer that installs .debs from the code stays; the pip install passes it",
        """\
        FROM python:3.11-slim
        WORKDIR /app
        COPY . .
        RUN apt-get update && apt-get install -y --no-install-recommends ./debs/*.deb
        RUN pip install --no-cache-dir -r requirements.txt
        CMD ["python", "app.py"]
        """,
        """\
        FROM python:3.11-slim
        WORKDIR /app
        COPY requirements.txt .
        RUN pip install --no-cache-dir -r requirements.txt
        COPY . .
        RUN apt-get update && apt-get install -y --no-install-recommends ./debs/*.deb && rm -rf /var/lib/apt/lists/*
        CMD ["python", "app.py"]
        """,
        True,
    ),
]


@pytest.mark.parametrize(
    ("name", "before", "after", "unsafe"), FULL_ORDER, ids=[c[0] for c in FULL_ORDER]
)
def test_one_run_gives_the_full_order(
    name: str,
    before: str,
    after: str,
    unsafe: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    del name
    for rel, text in {**FILES, "debs/tool_1.0_amd64.deb": "x"}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    (tmp_path / "Dockerfile").write_text(textwrap.dedent(before))
    target = Target(tmp_path / "Dockerfile", tmp_path, "Dockerfile")
    for order in ORDERS:
        assert _final(target, order, unsafe, monkeypatch) == textwrap.dedent(after), order
    _settles(target, textwrap.dedent(after), unsafe, tmp_path)
