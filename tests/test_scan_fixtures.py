"""Snapshot tests: every source tree under fixtures/scan/<case>/ against its expected refs.

A case may hold `env` (KEY=VALUE lines: the Dockerfile's ENV/ARG values), `exclude`
(relative paths to skip, as a `.dockerignore` would) and `argv` (`script arg...`: what the
image's start command runs). `expected.txt` is one line per ref,
then one per problem. `MLFIX_UPDATE=1` rewrites the snapshots.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlfix.scan import ModelRef, RefKind, ScanResult, scan_repo

ROOT = Path(__file__).resolve().parent.parent / "fixtures" / "scan"
CASES = sorted(path.name for path in ROOT.iterdir() if path.is_dir())

_FIELDS = (
    "role",
    "revision",
    "subfolder",
    "filename",
    "allow_patterns",
    "ignore_patterns",
    "cache_dir",
    "local_dir",
    "repo_type",
    "variant",
    "backend",
    "task",
    "base_model",
    "env_vars",
    "from_dockerfile_env",
    "exact",
    "offline_safe",
)
_DEFAULTS: dict[str, object] = {
    "role": "model",
    "repo_type": "model",
    "env_vars": (),
    "from_dockerfile_env": False,
    "exact": True,
    "offline_safe": True,
}


def render_ref(ref: ModelRef) -> str:
    if ref.kind is RefKind.HUB:
        what = f"repo={ref.repo_id}"
    elif ref.kind is RefKind.LOCAL:
        what = f"path={ref.local_path}"
    else:
        what = f"reason={ref.unresolved_reason}"
    parts = [
        f"{ref.path.as_posix()}:{ref.line}:{ref.column}",
        ref.kind.value,
        ref.library,
        ref.loader,
        what,
    ]
    for name in _FIELDS:
        value = getattr(ref, name)
        if value is None or value == _DEFAULTS.get(name):
            continue
        parts.append(f"{name}={','.join(value) if isinstance(value, tuple) else value}")
    return " ".join(parts)


def render(result: ScanResult) -> str:
    lines = [f"# files scanned: {result.files_scanned}, parsed: {result.files_parsed}"]
    lines.extend(render_ref(ref) for ref in result.refs)
    lines.extend(f"problem {p.path.as_posix()}:{p.line} {p.message}" for p in result.problems)
    return "\n".join(lines) + "\n"


def scan_case(case: Path) -> ScanResult:
    env: dict[str, str] = {}
    if (case / "env").exists():
        for line in (case / "env").read_text().splitlines():
            key, _, value = line.partition("=")
            env[key] = value
    excluded = set((case / "exclude").read_text().split()) if (case / "exclude").exists() else set()
    argv: dict[str, tuple[str, ...]] = {}
    if (case / "argv").exists():  # `script arg...`: what the image's start command runs
        for line in (case / "argv").read_text().splitlines():
            script, *args = line.split()
            argv[script] = tuple(args)
    return scan_repo(
        case,
        env=env,
        exclude=(lambda rel, is_dir: rel in excluded) if excluded else None,
        argv=argv,
    )


@pytest.mark.parametrize("name", CASES)
def test_fixture_snapshot(name: str) -> None:
    case = ROOT / name
    actual = render(scan_case(case))
    expected_path = case / "expected.txt"
    if os.environ.get("MLFIX_UPDATE") == "1" or not expected_path.exists():
        expected_path.write_text(actual)
    assert actual == expected_path.read_text()


def test_scanned_code_is_never_imported() -> None:
    case = ROOT / "never-import"
    marker = case / "IMPORTED"
    marker.unlink(missing_ok=True)
    result = scan_case(case)
    assert {ref.repo_id for ref in result.refs} == {"acme/boom", "acme/safe"}
    assert not marker.exists(), "scanning executed the scanned module"


def test_the_never_import_fixture_would_leave_a_marker_if_run(tmp_path: Path) -> None:
    """Proves the fixture is a real tripwire: executing its module does create the file."""
    source = (ROOT / "never-import" / "boom.py").read_text()
    target = tmp_path / "boom.py"
    target.write_text(source.split("from transformers")[0])
    code = compile(target.read_text(), str(target), "exec")
    exec(code, {"__file__": str(target)})
    assert (tmp_path / "IMPORTED").exists()
