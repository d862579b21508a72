"""Every output format, snapshotted on small projects; SARIF checked against its schema.

Snapshots live in `fixtures/report/<case>/<variant>.out` (stdout, stderr and the exit
code of one `mlfix` run in the case's directory); refresh them with MLFIX_UPDATE=1
and review the `git diff`. The SARIF 2.1.0 schema in `tests/data/` is the one the
SARIF SDK ships (npm `@microsoft/sarif-multitool-linux`, `sarif-2.1.0.json`, MIT).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from fixture_cases import FIXTURES
from mlfix.cli import app

REPORT = FIXTURES / "report"
SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
SELECT = ["--select", "MLF201,MLF001"]  # snapshots stay put when other rules land
CASES = ["mixed", "compose", "clean"]
VARIANTS: dict[str, list[str]] = {
    "concise": [],
    "full": ["--output-format", "full"],
    "json": ["--output-format", "json"],
    "sarif": ["--output-format", "sarif"],
    "github": ["--output-format", "github"],
    "statistics": ["--statistics"],
    "statistics-json": ["--statistics", "--format", "json"],
    "show-fixes": ["--show-fixes"],
    "diff": ["--diff", "--show-fixes"],
    "write": ["--write", "--show-fixes"],
    "write-unsafe-json": ["--write", "--unsafe-fixes", "--output-format", "json"],
}


def invoke(
    root: Path, args: list[str], monkeypatch: pytest.MonkeyPatch, env: dict[str, str] | None = None
) -> tuple[str, str, int]:
    monkeypatch.chdir(root)
    result = CliRunner().invoke(app, [*SELECT, *args], env=env, catch_exceptions=False)
    return result.stdout, result.stderr, result.exit_code


def snapshot(path: Path, actual: str) -> None:
    if os.environ.get("MLFIX_UPDATE") == "1":
        path.write_text(actual)
    assert path.exists(), f"{path} is missing; MLFIX_UPDATE=1 writes it"
    assert actual == path.read_text(), f"{path} differs; MLFIX_UPDATE=1 refreshes it"


def project(case: str, tmp_path: Path) -> Path:
    root = tmp_path / case
    shutil.copytree(REPORT / case / "input", root)
    return root


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("case", CASES)
def test_output_snapshot(
    case: str, variant: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(case, tmp_path)
    summary = tmp_path / "summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(summary)} if variant == "github" else {}
    out, err, code = invoke(
        root, VARIANTS[variant], monkeypatch, {"GITHUB_STEP_SUMMARY": "", **env}
    )
    text = f"{out}----- stderr -----\n{err}----- exit {code} -----\n"
    if variant == "github":
        text += "----- $GITHUB_STEP_SUMMARY -----\n" + summary.read_text()
    if variant.startswith("write"):
        changed = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        text += "----- files -----\n" + "\n".join(changed) + "\n"
    snapshot(REPORT / case / f"{variant}.out", text)


def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _apply(text: str, replacements: list[dict[str, Any]]) -> str:
    """Apply SARIF replacements (line/column regions, code-point columns) to a text."""
    rows = text.splitlines(keepends=True)
    starts = [0]
    for row in rows:
        starts.append(starts[-1] + len(row))

    def offset(line: int, column: int) -> int:
        return starts[line - 1] + column - 1 if line <= len(rows) else len(text)

    spans = []
    for item in replacements:
        region = item["deletedRegion"]
        start = offset(region["startLine"], region["startColumn"])
        end = offset(region["endLine"], region["endColumn"])
        spans.append((start, end, item.get("insertedContent", {}).get("text", "")))
    for start, end, content in sorted(spans, reverse=True):
        text = text[:start] + content + text[end:]
    return text


@pytest.mark.parametrize("case", CASES)
def test_sarif_is_valid_and_its_fixes_apply(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(case, tmp_path)
    out, _err, _code = invoke(root, ["--output-format", "sarif"], monkeypatch)
    log = json.loads(out)
    errors = sorted(_validator().iter_errors(log), key=str)
    assert not errors, "\n".join(e.message for e in errors[:5])
    run = log["runs"][0]
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    for result in run["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        for fix in result.get("fixes", []):
            for change in fix["artifactChanges"]:
                path = root / change["artifactLocation"]["uri"]
                fixed = _apply(path.read_text(), change["replacements"])
                assert fixed != path.read_text()
    # Each safe fix in the SARIF log, applied alone, is what the JSON edits give too.
    data = json.loads(invoke(root, ["--output-format", "json"], monkeypatch)[0])
    for finding, result in zip(data, run["results"], strict=True):
        assert finding["code"] == result["ruleId"]
        assert (finding["fix"] is None) == ("fixes" not in result)
        if finding["fix"]:
            text = (root / finding["filename"]).read_text()
            edits = sorted(finding["fix"]["edits"], key=lambda e: e["start"], reverse=True)
            expected = text
            for e in edits:
                expected = expected[: e["start"]] + e["content"] + expected[e["end"] :]
            change = result["fixes"][0]["artifactChanges"][0]
            assert _apply(text, change["replacements"]) == expected


def test_sarif_schema_rejects_a_broken_log() -> None:
    """The shipped schema is really enforced (a guard against an always-passing check)."""
    broken = {"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": []}]}
    assert list(_validator().iter_errors(broken))


def test_github_annotations_escape_newlines_and_commas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project("mixed", tmp_path)
    (root / "Dockerfile").rename(root / "odd,name:Dockerfile")
    out, _err, code = invoke(
        root, ["--output-format", "github", "odd,name:Dockerfile"], monkeypatch
    )
    assert code == 1
    lines = out.splitlines()
    assert lines and all(line.startswith("::warning title=mlfix (MLF") for line in lines)
    assert "file=odd%2Cname%3ADockerfile," in lines[0]
    assert "%0Anote: it moves above" in out  # notes stay in the one-line annotation


def test_step_summary_lists_every_finding_beyond_ten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "many"
    for n in range(12):
        shutil.copytree(REPORT / "compose" / "input", root / f"svc{n:02}")
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    out, _err, _code = invoke(
        root, ["--output-format", "github"], monkeypatch, {"GITHUB_STEP_SUMMARY": str(summary)}
    )
    assert out.count("::warning") == 12
    text = summary.read_text()
    assert text.startswith("earlier step\n## mlfix")  # appended, never overwritten
    assert text.count("| `svc") == 12
