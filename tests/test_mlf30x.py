"""MLF301-MLF304 on small trees: catches, negatives, safety, and how they compose."""
# ruff: noqa: E501  (the command lines read best whole)

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mlfix.config import Settings
from mlfix.engine import TargetResult, run_target
from mlfix.facts import Target
from mlfix.model import Applicability

APP = 'from transformers import AutoModel\nmodel = AutoModel.from_pretrained("acme/m")\n'
DOCKERFILE = """\
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
CMD ["python", "app.py"]
"""


def tree(root: Path, files: dict[str, str]) -> Target:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return Target(root / "Dockerfile", root, "Dockerfile")


def run(target: Target, *codes: str, unsafe: bool = True, **settings: object) -> TargetResult:
    options = Settings(select=codes or ("MLF3",), unsafe_fixes=unsafe, **settings)  # type: ignore[arg-type]
    result = run_target(target, options, fix=True)
    assert result.error is None, result.error
    return result


def fixed(result: TargetResult, target: Target) -> str:
    return result.changes.get(target.dockerfile, ("", ""))[1]


def test_bakes_into_the_configured_hf_home(tmp_path: Path) -> None:
    target = tree(tmp_path, {"Dockerfile": DOCKERFILE, "app.py": APP, "requirements.txt": ""})
    text = fixed(run(target, "MLF301", hf_home="/srv/hf"), target)
    assert "ENV HF_HOME=/srv/hf" in text and "COPY --from=weights /srv/hf/hub /srv/hf/hub" in text
    assert 'RUN pip install --no-cache-dir "huggingface_hub>=1.0"' in text  # nothing pinned


def test_fix_is_unsafe_and_write_alone_leaves_the_file(tmp_path: Path) -> None:
    target = tree(tmp_path, {"Dockerfile": DOCKERFILE, "app.py": APP, "requirements.txt": ""})
    result = run(target, "MLF301", unsafe=False)
    assert [f.applicability for f in result.findings] == [Applicability.UNSAFE]
    assert result.changes == {}


def test_no_offline_while_a_name_is_unresolved(tmp_path: Path) -> None:
    app = APP + 'import os\nother = AutoModel.from_pretrained(os.environ["OTHER"])\n'
    target = tree(tmp_path, {"Dockerfile": DOCKERFILE, "app.py": app, "requirements.txt": ""})
    result = run(target, "MLF301", "MLF304")
    assert "HF_HUB_OFFLINE" not in fixed(result, target)
    assert "hf download acme/m" in fixed(result, target)
    codes = sorted(f.code for f in result.findings)
    assert codes == ["MLF301", "MLF304"]
    mlf304 = next(f for f in result.findings if f.code == "MLF304")
    assert mlf304.location.path == tmp_path / "app.py" and mlf304.location.line == 4


def test_code_outside_the_image_is_not_scanned(tmp_path: Path) -> None:
    dockerfile = DOCKERFILE.replace("COPY . .", "COPY src/ ./src/")
    target = tree(
        tmp_path,
        {"Dockerfile": dockerfile, "src/app.py": APP, "train.py": APP.replace("acme/m", "x/y"),
         "requirements.txt": ""},
    )  # fmt: skip
    text = fixed(run(target, "MLF301"), target)
    assert "acme/m" in text and "x/y" not in text


def test_dockerignored_code_is_not_scanned(tmp_path: Path) -> None:
    target = tree(
        tmp_path,
        {"Dockerfile": DOCKERFILE, "app.py": APP, "notebooks/explore.py":
         APP.replace("acme/m", "x/y"), ".dockerignore": "notebooks/\n", "requirements.txt": ""},
    )  # fmt: skip
    text = fixed(run(target, "MLF301"), target)
    assert "acme/m" in text and "x/y" not in text


def test_bake_in_a_builder_stage_copied_in_counts(tmp_path: Path) -> None:
    dockerfile = """\
    FROM python:3.11-slim AS models
    RUN pip install --no-cache-dir "huggingface_hub==2.4.0" && hf download acme/m

    FROM python:3.11-slim
    WORKDIR /app
    COPY --from=models /root/.cache/huggingface /root/.cache/huggingface
    COPY . .
    CMD ["python", "app.py"]
    """
    target = tree(tmp_path, {"Dockerfile": dockerfile, "app.py": APP})
    result = run(target, "MLF301")
    assert result.findings == [] and result.changes == {}


def test_bake_copied_to_another_path_does_not_count(tmp_path: Path) -> None:
    dockerfile = """\
    FROM python:3.11-slim AS models
    RUN pip install --no-cache-dir "huggingface_hub==2.4.0" && hf download acme/m

    FROM python:3.11-slim
    RUN useradd --create-home app
    WORKDIR /app
    COPY --from=models /root/.cache/huggingface /root/.cache/huggingface
    COPY . .
    USER app
    CMD ["python", "app.py"]
    """
    target = tree(tmp_path, {"Dockerfile": dockerfile, "app.py": APP})
    result = run(target, "MLF301")
    assert len(result.findings) == 1
    assert any("/root/.cache/huggingface/hub" in n for n in result.findings[0].notes)


def test_hub_pinned_below_0_17_has_no_download_command(tmp_path: Path) -> None:
    target = tree(
        tmp_path,
        {"Dockerfile": DOCKERFILE, "app.py": APP, "requirements.txt": "huggingface_hub==0.16.4\n"},
    )
    result = run(target, "MLF301")
    assert [f.applicability for f in result.findings] == [Applicability.DISPLAY_ONLY]
    assert result.changes == {}


def test_mlf201_and_mlf301_reach_one_file(tmp_path: Path) -> None:
    dockerfile = DOCKERFILE.replace(
        "COPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\n",
        "COPY . .\nRUN pip install --no-cache-dir -r requirements.txt\n",
    )
    target = tree(tmp_path, {"Dockerfile": dockerfile, "app.py": APP, "requirements.txt": ""})
    text = fixed(run(target, "MLF201", "MLF301"), target)
    lines = text.splitlines()
    assert lines.index("COPY --from=weights /opt/hf/hub /opt/hf/hub") < lines.index("COPY . .")
    assert lines.index("RUN pip install --no-cache-dir -r requirements.txt") < lines.index(
        "COPY . ."
    )
    target.dockerfile.write_text(text)
    again = run(target, "MLF201", "MLF301")
    assert again.changes == {}


# -- MLF302 ------------------------------------------------------------------------------


def cli(tmp_path: Path, pin: str | None, line: str) -> TargetResult:
    install = f'RUN pip install --no-cache-dir "huggingface_hub{pin}"\n' if pin else ""
    dockerfile = f"FROM python:3.11-slim\n{install}RUN {line}\n"
    return run(tree(tmp_path, {"Dockerfile": dockerfile}), "MLF302")


@pytest.mark.parametrize(
    ("pin", "line", "expected"),
    [
        (None, "huggingface-cli download o/m", "RUN hf download o/m"),
        ("==1.3.0", "huggingface-cli login", "RUN hf auth login"),
        ("==0.36.0", "huggingface-cli download o/m --include a b", "RUN hf download o/m --include a b"),
        ("==0.20.3", "hf download o/m --include a --include b", "RUN huggingface-cli download o/m --include a b"),
        ("==2.4.0", 'hf download o/m --include "*.json" "*.txt"', 'RUN hf download o/m --include "*.json" --include "*.txt"'),
    ],
)  # fmt: skip
def test_cli_rewrites(tmp_path: Path, pin: str | None, line: str, expected: str) -> None:
    result = cli(tmp_path, pin, line)
    text = fixed(result, Target(tmp_path / "Dockerfile", tmp_path, "Dockerfile"))
    assert expected in text.splitlines()


@pytest.mark.parametrize(
    ("pin", "line"),
    [
        ("==0.20.3", "huggingface-cli download o/m --include a b"),
        ("==2.4.0", "hf download o/m --include a --include b config.json"),
        (None, "hf download --include a o/m"),
        (None, "echo huggingface-cli"),
        ("<1.0", "hf auth whoami"),
    ],
)
def test_cli_negatives(tmp_path: Path, pin: str | None, line: str) -> None:
    result = cli(tmp_path, pin, line)
    assert result.findings == []


# -- MLF303 ------------------------------------------------------------------------------


def test_token_in_a_later_stage_arg_and_env(tmp_path: Path) -> None:
    dockerfile = """\
    FROM python:3.11-slim
    ARG HUGGINGFACE_TOKEN
    ENV HF_TOKEN=$HUGGINGFACE_TOKEN
    RUN python download.py
    """
    target = tree(tmp_path, {"Dockerfile": dockerfile, "download.py": "print()\n"})
    result = run(target, "MLF303")
    assert sorted(f.message.split()[1] for f in result.findings) == [
        "HF_TOKEN",
        "HUGGINGFACE_TOKEN",
    ]
    text = fixed(result, target)
    assert "ARG" not in text and "ENV" not in text
    assert "--mount=type=secret,id=hf_token" in text


def test_no_token_no_finding(tmp_path: Path) -> None:
    dockerfile = (
        "FROM python:3.11-slim\nARG HF_ENDPOINT=https://huggingface.co\nENV HF_HOME=/opt/hf\n"
    )
    assert run(tree(tmp_path, {"Dockerfile": dockerfile}), "MLF303").findings == []
