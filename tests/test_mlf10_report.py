"""The `.dockerignore` findings as users see them: full text, JSON, SARIF and `--write`.

Snapshots sit beside the cases, as `fixtures/<code>/<case>/<variant>.out` (stdout, stderr
and exit code of one `mlfix` run in a copy of the case's input); MLFIX_UPDATE=1 refreshes
them. The SARIF output is checked against the 2.1.0 schema as well: these findings are
the first to sit in files other than the Dockerfile and to create files.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from fixture_cases import FIXTURES
from mlfix.cli import app

SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
CASES = [
    "MLF101/fires-every-junk-class",
    "MLF101/fires-copied-models-stay",
    "MLF102/fires-crlf-keeps-reincludes",
    "MLF103/fires-copied-models-ignored",
]
VARIANTS: dict[str, list[str]] = {
    "full": ["--output-format", "full"],
    "json": ["--output-format", "json"],
    "write": ["--write", "--show-fixes"],
}


def _run(case: str, args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    root = tmp_path / case.split("/")[1]
    shutil.copytree(FIXTURES / case / "input", root, symlinks=True)
    monkeypatch.chdir(root)
    code = case.split("/")[0]
    result = CliRunner().invoke(
        app, ["--select", code, *args], env={"GITHUB_STEP_SUMMARY": ""}, catch_exceptions=False
    )
    text = f"{result.stdout}----- stderr -----\n{result.stderr}"
    text += f"----- exit {result.exit_code} -----\n"
    if "--write" in args:
        for name in (".dockerignore", "Dockerfile.dockerignore"):
            if (root / name).exists():
                text += f"----- {name} -----\n" + (root / name).read_bytes().decode()
    return text


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("case", CASES)
def test_report_snapshot(
    case: str, variant: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    actual = _run(case, VARIANTS[variant], tmp_path, monkeypatch)
    path = FIXTURES / case / f"{variant}.out"
    if os.environ.get("MLFIX_UPDATE") == "1":
        path.write_bytes(actual.encode())
    assert actual == path.read_bytes().decode(), f"{path} differs; MLFIX_UPDATE=1 refreshes it"


@pytest.mark.parametrize("case", CASES)
def test_sarif_is_valid(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _run(case, ["--output-format", "sarif"], tmp_path, monkeypatch)
    document = json.loads(out.split("----- stderr -----")[0])
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [e.message for e in validator.iter_errors(document)]
    assert errors == []
    results = document["runs"][0]["results"]
    assert results and all(r["ruleId"] == case.split("/")[0] for r in results)
