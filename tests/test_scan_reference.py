"""The scan against a whole-file reference walk: same references, file by file.

The reference reads every file (no byte prefilter), parses it whole and visits every call
with a generic `ast.iter_child_nodes` recursion (not the visitor's statement dispatch),
giving each call the scope of the function or class around it. If the prefilter dropped a
file that loads a model, or the visitor skipped a statement, the two would differ.
Files the scan reports as not fully scanned (a bound hit) are left out of the comparison.
"""

from __future__ import annotations

import ast
import random
import shutil
import site
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlfix.scan import ModelRef, guards, scan_repo
from mlfix.scan.build import RefBuilder
from mlfix.scan.classify import classify
from mlfix.scan.loaders import CANDIDATE_NAMES
from mlfix.scan.prefilter import PythonFile, iter_python_files, read_bytes
from mlfix.scan.repo import is_test_file
from mlfix.scan.resolve import Evaluator, Project
from mlfix.scan.source import Scope, SourceFile

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _aliases(tree: ast.Module) -> dict[str, str]:
    return {
        alias.asname: alias.name
        for stmt in tree.body
        if isinstance(stmt, ast.ImportFrom)
        for alias in stmt.names
        if alias.asname and alias.name in CANDIDATE_NAMES
    }


Guards = tuple[tuple[guards.Guard, Scope], ...]


def _calls(
    source: SourceFile, node: ast.AST, scope: Scope, around: Guards = ()
) -> Iterator[tuple[ast.Call, Scope, Guards]]:
    """Every call under `node` (itself included), with the scope it runs in and the
    `if x == "v"` branches around it (outermost first)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        outer: list[ast.AST] = [*node.decorator_list]
        if isinstance(node, ast.ClassDef):
            outer += [*node.bases, *(k.value for k in node.keywords)]
        else:
            outer += [*node.args.defaults, *(d for d in node.args.kw_defaults if d)]
        for item in outer:
            yield from _calls(source, item, scope, around)
        inner = source.scope(node, scope)
        for stmt in node.body:
            yield from _calls(source, stmt, inner, around)
        return
    if isinstance(node, ast.Call):
        yield node, scope, around
    if isinstance(node, ast.If):
        top = around[-1][0] if around else None
        found = guards.equality(node.test)
        inherited = bool(
            top is not None
            and not top.positive
            and top.chained
            and found is not None
            and ast.dump(found[0]) == ast.dump(top.subject)
        )
        pair = guards.branch_guards(node, inherited)
        yield from _calls(source, node.test, scope, around)
        for guard, body in zip(pair or (None, None), (node.body, node.orelse), strict=True):
            inside = (*around, (guard, scope)) if guard is not None else around
            for stmt in body:
                yield from _calls(source, stmt, scope, inside)
        return
    for child in ast.iter_child_nodes(node):
        yield from _calls(source, child, scope, around)


def _guarded(refs: list[ModelRef], around: Guards, evaluator: Evaluator) -> Iterator[ModelRef]:
    for ref in refs:
        kept: ModelRef | None = ref
        for guard, scope in reversed(around):
            kept = guards.apply(ref, guard, evaluator.eval(guard.subject, scope))
            if kept is None:
                break
            ref = kept
        if kept is not None:
            yield kept


def reference(root: Path, env: dict[str, str] | None = None) -> list[ModelRef]:
    project = Project(root, env or {})
    evaluator = Evaluator(project)
    refs: list[ModelRef] = []
    for file in iter_python_files(root):
        if is_test_file(file.rel):  # the scan's one deliberate file filter: tests never run
            continue
        display = Path(file.rel)
        try:
            source = SourceFile.parse(Path(file.path), display, read_bytes(file.path))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        project.remember(source)
        evaluator.start_file()
        builder = RefBuilder(source, evaluator)
        aliases = _aliases(source.tree)
        found = sorted(
            _calls(source, source.tree, source.module_scope),
            key=lambda item: (item[0].lineno, item[0].col_offset),
        )
        for call, scope, around in found:
            match = classify(call, scope, evaluator, aliases)
            if match is not None:
                refs.extend(_guarded(builder.refs(call, match, scope), around, evaluator))
    project.close()
    return refs


def _key(ref: ModelRef) -> tuple[object, ...]:
    return (
        ref.path.as_posix(),
        ref.line,
        ref.column,
        ref.loader,
        ref.kind.value,
        ref.repo_id or "",
        ref.role,
    )


def _compare(root: Path, env: dict[str, str] | None = None) -> None:
    scanned = scan_repo(root, env=env or {}, jobs=1)
    partial = {p.path.as_posix() for p in scanned.problems if "not fully scanned" in p.message}
    ours = sorted(_key(r) for r in scanned.refs if r.path.as_posix() not in partial)
    theirs = sorted(_key(r) for r in reference(root, env) if r.path.as_posix() not in partial)
    assert ours == theirs


CASES = sorted(case for case in FIXTURES.glob("*/*") if case.is_dir() and any(case.rglob("*.py")))


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fixture_matches_the_reference_walk(case: Path) -> None:
    env: dict[str, str] = {}
    if (case / "env").is_file():
        for line in (case / "env").read_text().splitlines():
            key, _, value = line.partition("=")
            env[key] = value
    _compare(case, env)


def test_a_sample_of_installed_python_matches_the_reference_walk(tmp_path: Path) -> None:
    """Real code: every file of the installed packages that passes the prefilter, and a
    random sample of those that do not (a loader there would be a prefilter miss)."""
    from mlfix.scan.prefilter import may_load_models

    packages = Path(site.getsitepackages()[0])
    tops = sorted(p.name for p in packages.iterdir() if p.is_dir() and "." not in p.name)
    random.Random(11).shuffle(tops)
    passing: list[PythonFile] = []
    others: list[PythonFile] = []
    for top in tops:
        for file in iter_python_files(packages / top):
            group = passing if may_load_models(read_bytes(file.path)) else others
            if len(group) < 400:
                group.append(PythonFile(file.path, f"{top}/{file.rel}"))
        if len(passing) >= 400 and len(others) >= 400:
            break
    chosen = {f.rel: f for f in [*passing, *others]}
    assert len(passing) > 100  # the sample holds code that mentions loader names
    for rel, file in chosen.items():
        target = tmp_path / "pkgs" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file.path, target)
    _compare(tmp_path / "pkgs")
