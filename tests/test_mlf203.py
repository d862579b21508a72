"""MLF203 on small Dockerfiles, and the hadolint codes its (and MLF202's) fixes remove."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fixture_cases import Case, cases, hadolint, run
from mlfix.config import Settings
from mlfix.deps.system import layers
from mlfix.dockerfile.model import parse
from mlfix.engine import run_target
from mlfix.facts import Target

HEAD = "FROM python:3.11-slim\nWORKDIR /app\n"
APT = (
    "RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 "
    "&& rm -rf /var/lib/apt/lists/*\n"
)


def _run(tmp_path: Path, body: str, unsafe: bool = False, **files: str) -> tuple[list[str], str]:
    text = textwrap.dedent(body)
    (tmp_path / "Dockerfile").write_text(text)
    for name, content in {"requirements.txt": "six\n", "app.py": "", **files}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    target = Target(tmp_path / "Dockerfile", tmp_path, "Dockerfile")
    result = run_target(target, Settings(select=("MLF203",), unsafe_fixes=unsafe), fix=True)
    assert result.error is None, result.error
    return [f.message for f in result.findings], result.changes.get(
        tmp_path / "Dockerfile", (text, text)
    )[1]


@pytest.mark.parametrize(
    ("command", "read"),
    [
        ("apt-get install -y $(cat packages.txt)", "/app/packages.txt"),
        ('apt-get install -y $(grep -v "^#" apt.txt)', "/app/apt.txt"),
        ("xargs -a /tmp/apt.txt apt-get install -y", "/tmp/apt.txt"),
        ("xargs apt-get install -y < list", "/app/list"),
        ("cat pkgs | xargs apt-get install -y", "/app/pkgs"),
        ("apt-get install -y ./debs/*.deb", "/app/debs/*.deb"),
        ("dpkg -i vendor/tool.deb && apt-get install -f -y", "/app/vendor/tool.deb"),
        ("cd /opt && apt-get install -y ./x.deb", "/opt/x.deb"),
        ("bash scripts/apt.sh && apt-get install -y curl", "/app/scripts/apt.sh"),
    ],
)
def test_files_a_layer_reads(command: str, read: str) -> None:
    model = parse(f"{HEAD}RUN apt-get update && {command}\n", Path("Dockerfile"))
    (layer,) = layers(model).values()
    assert read in {r.image_path for r in layer.reads}


def test_package_names_are_not_files() -> None:
    model = parse(f"{HEAD}RUN apt-get update && apt-get install -y gcc libpq-dev\n", Path("D"))
    (layer,) = layers(model).values()
    assert layer.reads == ()
    assert layer.packages == ["gcc", "libpq-dev"]


@pytest.mark.parametrize(
    ("between", "why"),
    [
        ("SHELL [\"/bin/bash\", \"-c\"]\n", "SHELL changes how the RUN runs"),
        ("VOLUME /var/lib/apt\n", "a VOLUME"),
        ("COPY sources.list /etc/apt/sources.list\n", "a COPY into a system directory"),
        ("RUN echo 'deb http://x y main' > /etc/apt/sources.list.d/x.list\n", "apt setup"),
        ("RUN apt-get update && apt-get install -y --no-install-recommends ./debs/*.deb "
         "&& rm -rf /var/lib/apt/lists/*\n", "a system layer that stays"),
        ("RUN pip install -r requirements.txt\nENV https_proxy=http://proxy:3128\n",
         "a proxy setting would move above a RUN"),
        ("USER nobody\n", "another user"),
    ],
)  # fmt: skip
def test_stops_below(tmp_path: Path, between: str, why: str) -> None:
    body = f"{HEAD}COPY . .\n{between}{APT}"
    _messages, new = _run(tmp_path, body, **{"sources.list": "", "debs/a.deb": ""})
    assert new.endswith(APT), why


def test_moves_above_the_topmost_python_install_and_code_copy(tmp_path: Path) -> None:
    body = f"{HEAD}RUN pip install --no-cache-dir uv\nCOPY requirements.txt .\n"
    body += "RUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\n" + APT
    _messages, new = _run(tmp_path, body)
    assert new == HEAD + APT + body[len(HEAD) :].replace(APT, "")


def test_a_needed_arg_moves_along_but_not_across_a_run(tmp_path: Path) -> None:
    apt = "RUN apt-get update && apt-get install -y --no-install-recommends libpq-$V\n"
    body = f"{HEAD}COPY . .\nARG V=15\n{apt}"
    _messages, new = _run(tmp_path, body)
    assert new.startswith(f"{HEAD}ARG V=15\nRUN apt-get update")
    body = f"{HEAD}COPY requirements.txt .\nRUN pip install -r requirements.txt\nARG V=15\n{apt}"
    messages, new = _run(tmp_path, body)
    assert "cannot move up on their own" in messages[0]
    assert new.startswith(body[: body.index("RUN apt-get")])


def test_lone_update_goes_and_every_install_updates_for_itself(tmp_path: Path) -> None:
    body = f"""\
    {HEAD.replace(chr(10), chr(10) + "    ")}RUN apt-get update
    RUN apt-get install -y --no-install-recommends curl
    RUN apt-get install -y --no-install-recommends git
    """
    _messages, new = _run(tmp_path, body)
    assert "RUN apt-get update\n" not in new
    assert new.count("apt-get update && apt-get install") == 2
    assert new.count("rm -rf /var/lib/apt/lists/*") == 2


def test_lone_update_stays_when_a_later_stage_builds_on_it(tmp_path: Path) -> None:
    body = """\
    FROM python:3.11-slim AS base
    RUN apt-get update
    RUN apt-get install -y --no-install-recommends curl
    FROM base
    RUN apt-get install -y --no-install-recommends git
    """
    _messages, new = _run(tmp_path, body)
    assert "RUN apt-get update\n" in new


@pytest.mark.parametrize(
    "cleanup",
    [
        "rm -rf /var/lib/apt/lists/*",
        "rm -rf /var/lib/apt/lists",
        "rm -fr /var/lib/apt/lists/*",
        "rm -r -f '/var/lib/apt/lists/'*",
        "apt-get clean && rm -rf /var/lib/apt/lists/*",
    ],
)
def test_cleanup_is_recognised(tmp_path: Path, cleanup: str) -> None:
    install = "apt-get install -y --no-install-recommends gcc"
    body = f"{HEAD}RUN apt-get update && {install} && {cleanup}\n"
    assert _run(tmp_path, body)[0] == []


@pytest.mark.parametrize(
    "install",
    [
        "apt-get -o APT::Install-Recommends=false install -y gcc",
        "apt-get install -y --no-install-recommends gcc",
    ],
)
def test_recommends_already_off(tmp_path: Path, install: str) -> None:
    body = f"{HEAD}RUN apt-get update && {install} && rm -rf /var/lib/apt/lists/*\n"
    assert _run(tmp_path, body, unsafe=True)[0] == []


def test_recommends_off_in_apt_config(tmp_path: Path) -> None:
    body = (
        f"{HEAD}RUN echo 'APT::Install-Recommends \"false\";' > /etc/apt/apt.conf.d/90norec\n"
        "RUN apt-get update && apt-get install -y gcc && rm -rf /var/lib/apt/lists/*\n"
    )
    assert _run(tmp_path, body, unsafe=True)[0] == []


def test_buildkit_syntax_gets_apt_cache_mounts(tmp_path: Path) -> None:
    body = f"# syntax=docker/dockerfile:1\n{HEAD}RUN apt-get update && apt-get install -y gcc\n"
    _messages, new = _run(tmp_path, body)
    assert (
        "RUN --mount=type=cache,target=/var/cache/apt,sharing=locked "
        "--mount=type=cache,target=/var/lib/apt/lists,sharing=locked apt-get update" in new
    )
    assert "rm -rf /var/lib/apt/lists" not in new


def test_continuation_style_is_kept(tmp_path: Path) -> None:
    body = f"{HEAD}RUN apt-get update \\\n    && apt-get install -y --no-install-recommends gcc\n"
    _messages, new = _run(tmp_path, body)
    assert new.endswith("gcc \\\n    && rm -rf /var/lib/apt/lists/*\n")


def test_crlf_file_stays_crlf(tmp_path: Path) -> None:
    body = f"{HEAD}COPY . .\n{APT}".replace("\n", "\r\n")
    (tmp_path / "Dockerfile").write_bytes(body.encode())
    target = Target(tmp_path / "Dockerfile", tmp_path, "Dockerfile")
    result = run_target(target, Settings(select=("MLF203",)), fix=True)
    new = result.changes[tmp_path / "Dockerfile"][1]
    assert new.count("\r\n") == new.count("\n")
    assert new.index("apt-get") < new.index("COPY . .")


# Codes each family's fix is there to remove, and fixtures where hadolint stays wrong.
REMOVED = ("DL3009", "DL3015", "DL3042", "DL3019", "DL3040")
HADOLINT_WRONG = {
    # The mount is at PIP_CACHE_DIR (/var/cache/pip), where pip caches; hadolint only
    # accepts a cache mount whose target contains `.cache/pip`.
    "MLF202/fires-buildkit-pip-cache-dir": {"DL3042"},
}
FIXTURES = [c for c in cases("MLF202") + cases("MLF203") if not c.name.startswith("ok-")]


@pytest.mark.parametrize("case", FIXTURES, ids=[c.id for c in FIXTURES])
def test_fixes_remove_the_hadolint_findings_they_address(case: Case) -> None:
    result = run(case)
    before = (case.input / "Dockerfile").read_text()
    after = result.changes.get(case.input / "Dockerfile", (before, before))[1]
    left = {code for code in hadolint(after) if code in REMOVED}
    assert left <= HADOLINT_WRONG.get(case.id, set()), f"{left} still reported"
