"""The GitHub Action and the example workflows: valid, consistent with mlfix, and in the README.

Validation is offline: GitHub's workflow and action schemas (SchemaStore's, as vendored
by check-jsonschema) through `jsonschema`, then what a schema cannot see: every
`inputs.X` the action reads is declared, every `with:` given to the action is one of its
inputs, and the shell the action runs builds the `mlfix` command line it should.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import check_jsonschema
import jsonschema
import pytest
from ruamel.yaml import YAML

from fixture_cases import ROOT

ACTION = ROOT / "action.yml"
WORKFLOWS = sorted((ROOT / "examples" / "workflows").glob("*.yml"))
VENDOR = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor"


def _load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())  # YAML 1.2: `on:` stays a string


def _errors(schema_name: str, document: Any) -> list[str]:
    schema = json.loads((VENDOR / schema_name).read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_the_action_is_a_valid_composite_action() -> None:
    action = _load(ACTION)
    assert _errors("github-actions.json", action) == []
    assert action["runs"]["using"] == "composite"
    assert {"token", "base", "branch", "unsafe-fixes", "paths", "mode"} <= set(action["inputs"])


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_each_example_workflow_is_valid(path: Path) -> None:
    assert _errors("github-workflows.json", _load(path)) == []


def test_the_schemas_do_reject_a_broken_workflow() -> None:
    broken = {
        "on": "push",
        "permissions": {"contents": "writ"},
        "jobs": {"x": {"runs-on": "ubuntu-latest", "steps": [{"uses": "a/b@v1", "run": "x"}]}},
    }
    assert len(_errors("github-workflows.json", broken)) >= 2


def test_the_action_reads_only_declared_inputs() -> None:
    text = ACTION.read_text()
    used = set(re.findall(r"inputs\.([A-Za-z0-9_-]+)", text))
    assert used <= set(_load(ACTION)["inputs"])
    for step in _load(ACTION)["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), "inputs reach scripts through env: only"


def _action_steps(document: Any) -> list[dict[str, Any]]:
    jobs = document["jobs"].values()
    return [s for job in jobs for s in job["steps"] if str(s.get("uses", "")).startswith("mlfix/")]


def test_workflows_give_the_action_only_its_inputs_and_the_permissions_it_needs() -> None:
    inputs = set(_load(ACTION)["inputs"])
    for path in WORKFLOWS:
        document = _load(path)
        steps = _action_steps(document)
        assert steps, path.name
        for step in steps:
            assert set(step.get("with") or {}) <= inputs, path.name
        permissions = document.get("permissions", {})
        modes = {(s.get("with") or {}).get("mode", "pr") for s in steps}
        if "sarif" in modes:
            assert permissions.get("security-events") == "write"
        elif not any(
            "create-github-app-token" in str(s.get("uses"))
            for j in document["jobs"].values()
            for s in j["steps"]
        ):
            assert permissions == {"contents": "write", "pull-requests": "write"}
        for job in document["jobs"].values():
            for step in job["steps"]:
                if str(step.get("uses", "")).startswith("actions/checkout"):
                    assert step["with"]["persist-credentials"] is False


def test_the_readme_holds_each_workflow_file_complete() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Run it as a bot") : readme.index("## As a library")]
    for path in WORKFLOWS:
        marker = f"<!-- file: examples/workflows/{path.name} -->\n```yaml\n"
        assert marker + path.read_text() + "```" in section, path.name
    for words in (
        "contents: write",
        "pull-requests: write",
        "security-events: write",
        "do not trigger other workflows",
        "create-github-app-token",
        "Allow GitHub Actions to create and approve pull requests",
    ):
        assert words in section


def _run_step(
    name: str, env: dict[str, str], tmp_path: Path, status: int = 0
) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    """Run one of the action's scripts as the runner does (`bash -e`), with a stub mlfix."""
    step = next(s for s in _load(ACTION)["runs"]["steps"] if s.get("name") == name)
    stub = tmp_path / "bin"
    stub.mkdir(exist_ok=True)
    log = tmp_path / "argv.jsonl"
    (stub / "mlfix").write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        f"sys.exit({status})\n"
    )
    (stub / "mlfix").chmod(0o755)
    declared = _load(ACTION)["inputs"]
    full = {k: v for k, v in os.environ.items() if not k.startswith("MLFIX_")}
    for key, value in step.get("env", {}).items():
        match = re.fullmatch(r"\$\{\{ inputs\.([a-z-]+) \}\}", value)
        assert match, value
        full[key] = env.get(match.group(1), str(declared[match.group(1)].get("default", "")))
    full.update(
        PATH=f"{stub}{os.pathsep}{full['PATH']}",
        RUNNER_TEMP=str(tmp_path),
        GITHUB_OUTPUT=str(tmp_path / "output"),
    )
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", step["run"]],
        env=full,
        capture_output=True,
        text=True,
        check=False,
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return done, calls


def test_the_pr_step_builds_the_mlfix_pr_command_line(tmp_path: Path) -> None:
    done, calls = _run_step("Open or update the fix pull request", {}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert calls == [["pr", "--branch", "mlfix/docker-build", "--"]]
    given = {
        "base": "develop",
        "branch": "bot/x",
        "unsafe-fixes": "true",
        "dry-run": "true",
        "labels": "performance, docker build",
        "paths": "svc/api svc/worker",
        "repository": "acme/demo",
        "token": "t",
    }
    done, calls = _run_step("Open or update the fix pull request", given, tmp_path)
    assert done.returncode == 0, done.stderr
    assert calls[-1] == [
        "pr",
        "--branch",
        "bot/x",
        "--base",
        "develop",
        "--unsafe-fixes",
        "--dry-run",
        "--repo",
        "acme/demo",
        "--label",
        "performance",
        "--label",
        "docker build",
        "--",
        "svc/api",
        "svc/worker",
    ]


def test_every_flag_the_action_passes_is_an_mlfix_pr_option() -> None:
    help_text = subprocess.run(
        [sys.executable, "-m", "mlfix", "pr", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "200"},
    ).stdout
    run = next(s["run"] for s in _load(ACTION)["runs"]["steps"] if "args=(pr" in s.get("run", ""))
    for flag in set(re.findall(r"(--[a-z-]+)", run)):
        assert flag in help_text, flag


@pytest.mark.parametrize(("status", "ok"), [(0, True), (1, True), (2, False)])
def test_the_sarif_step_treats_findings_as_success_and_errors_as_failure(
    tmp_path: Path, status: int, ok: bool
) -> None:
    done, calls = _run_step("Check for code scanning", {}, tmp_path, status)
    assert (done.returncode == 0) is ok, done.stderr
    assert calls == [["--output-format", "sarif", "--", "."]]
    output = (tmp_path / "output").read_text() if (tmp_path / "output").exists() else ""
    assert (f"file={tmp_path / 'mlfix.sarif'}" in output) is ok
