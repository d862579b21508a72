"""The pre-commit hooks, run by the real `pre-commit` on a throwaway git repository.

The hooks come from this checkout's `.pre-commit-hooks.yaml`, validated by
pre-commit's own manifest loader, and are installed as `repo: local` hooks with
`language: system` (the entry runs this interpreter's mlfix), so every other field
(files, pass_filenames, require_serial, the entry's flags) is exercised as shipped
without building a virtualenv. `MLFIX_TRY_REPO=1` also runs `pre-commit try-repo`
against this checkout, which installs mlfix into pre-commit's own virtualenv.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # pre-commit depends on PyYAML
from pre_commit.clientlib import load_manifest

from fixture_cases import FIXTURES, ROOT

HOOKS = ROOT / ".pre-commit-hooks.yaml"
PROJECT = FIXTURES / "MLF201" / "fires-copy-dot-requirements" / "input"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid",
        GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1",
    )  # fmt: skip
    env.pop("GITHUB_STEP_SUMMARY", None)
    return env


def _local_hooks() -> list[dict[str, Any]]:
    hooks = []
    for hook in load_manifest(str(HOOKS)):
        command = shlex.split(hook["entry"])
        assert command[0] == "mlfix"
        entry = shlex.join([sys.executable, "-m", "mlfix", *command[1:]])
        fields = ("id", "name", "files", "pass_filenames", "require_serial", "args")
        local = {key: hook[key] for key in fields}
        hooks.append({**local, "entry": entry, "language": "system"})
    return hooks


def _repo(tmp_path: Path, env: dict[str, str], hook_ids: list[str]) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(PROJECT, repo)
    hooks = [h for h in _local_hooks() if h["id"] in hook_ids]
    config = {"repos": [{"repo": "local", "hooks": hooks}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "init"], cwd=repo, check=True, env=env)
    return repo


def _pre_commit(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files", "--color", "never", *args],
        cwd=repo, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_manifest_is_valid_and_hooks_check_the_whole_repository() -> None:
    hooks = {hook["id"]: hook for hook in load_manifest(str(HOOKS))}
    assert set(hooks) == {"mlfix", "mlfix-check"}
    assert "--write" in hooks["mlfix"]["entry"]
    assert "--write" not in hooks["mlfix-check"]["entry"]
    assert "--diff" not in hooks["mlfix-check"]["entry"]
    for hook in hooks.values():
        assert hook["pass_filenames"] is False
        assert hook["require_serial"] is True


def test_fixing_hook_fixes_then_passes(tmp_path: Path) -> None:
    env = _env(tmp_path)
    repo = _repo(tmp_path, env, ["mlfix"])
    before = (repo / "Dockerfile").read_text()
    first = _pre_commit(repo, env)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "Failed" in first.stdout
    after = (repo / "Dockerfile").read_text()
    assert after != before
    assert after.index("COPY requirements.txt .") < after.index("COPY . .")
    second = _pre_commit(repo, env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Passed" in second.stdout
    assert (repo / "Dockerfile").read_text() == after


def test_check_hook_reports_and_changes_nothing(tmp_path: Path) -> None:
    env = _env(tmp_path)
    repo = _repo(tmp_path, env, ["mlfix-check"])
    before = (repo / "Dockerfile").read_text()
    result = _pre_commit(repo, env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "MLF201" in result.stdout
    assert (repo / "Dockerfile").read_text() == before
    subprocess.run(
        [sys.executable, "-m", "mlfix", "--write", "."], cwd=repo, env=env, check=True,
        capture_output=True,
    )  # fmt: skip
    assert _pre_commit(repo, env).returncode == 0


@pytest.mark.skipif(
    os.environ.get("MLFIX_TRY_REPO") != "1", reason="builds a virtualenv; MLFIX_TRY_REPO=1"
)
def test_try_repo_against_this_checkout(tmp_path: Path) -> None:
    env = _env(tmp_path)
    repo = tmp_path / "repo"
    shutil.copytree(PROJECT, repo)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "init"], cwd=repo, check=True, env=env)
    command = [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "mlfix", "--all-files"]
    first = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "- files were modified by this hook" in first.stdout, first.stdout + first.stderr
    second = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True)
    assert second.returncode == 0, second.stdout + second.stderr
