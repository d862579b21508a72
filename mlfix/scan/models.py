"""Find the models a project loads: which loader, which repo, which arguments.

Each candidate file (see `prefilter`) is parsed whole; the visitor walks every statement,
keeping track of the scope, and hands each call to `classify` (the loader table) and the
recognised ones to `build`, which resolves the name with `resolve.Evaluator`. Scanned code
is read as a syntax tree and never imported or executed.
"""

from __future__ import annotations

import ast
import bisect
import re
from collections.abc import Iterable, Iterator
from collections.abc import Mapping as MappingABC
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from mlfix.scan import guards
from mlfix.scan.build import RefBuilder
from mlfix.scan.classify import classify
from mlfix.scan.loaders import CANDIDATE_NAMES
from mlfix.scan.prefilter import may_load_models, needle_lines, read_bytes, read_problem
from mlfix.scan.refs import ModelRef, ScanProblem, ScanResult
from mlfix.scan.resolve import MAX_EVALS, Evaluator, Project
from mlfix.scan.source import MAX_NESTING, Scope, SourceFile
from mlfix.scan.values import Value
from mlfix.textio import ERRORS

EMPTY_ENV: MappingABC[str, str] = MappingProxyType({})


class ModelVisitor:
    """Walks one file's statements and records its model refs.

    The tree is whole, but only statements whose lines hold a needle (or a call of a loader
    imported under another name) are walked for calls: a loader call always spells one of
    them within its own lines. Scopes and bindings still see the whole file. The reference
    walk test (tests/test_scan_reference.py) checks that this finds every call a walk of
    every node finds.
    """

    def __init__(self, source: SourceFile, evaluator: Evaluator) -> None:
        self.source = source
        self.evaluator = evaluator
        self.project = evaluator.project
        self.refs: list[ModelRef] = []
        self.aliases = self._loader_aliases()
        self.builder = RefBuilder(source, evaluator)
        self.lines = sorted({*needle_lines(source.data), *self._alias_lines()})
        self.guards: list[tuple[guards.Guard, Scope]] = []  # the `if x == "v"` branches around
        self.guard_values: dict[int, Value] = {}

    def _alias_lines(self) -> Iterator[int]:
        if not self.aliases:
            return
        names = b"|".join(re.escape(alias.encode()) for alias in self.aliases)
        data = self.source.data
        line, pos = 1, 0
        for match in re.finditer(rb"\b(?:" + names + rb")\b", data):
            line += data.count(b"\n", pos, match.start())
            pos = match.start()
            yield line

    def _touches(self, stmt: ast.stmt) -> bool:
        decorators = getattr(stmt, "decorator_list", None)
        start = min(stmt.lineno, *(d.lineno for d in decorators)) if decorators else stmt.lineno
        index = bisect.bisect_left(self.lines, start)
        return index < len(self.lines) and self.lines[index] <= (stmt.end_lineno or stmt.lineno)

    def _loader_aliases(self) -> dict[str, str]:
        """Loader functions imported under another name (`... import pipeline as hf_pipeline`)."""
        aliases: dict[str, str] = {}
        for stmt in self.source.tree.body:
            if isinstance(stmt, ast.ImportFrom):
                for alias in stmt.names:
                    if alias.asname and alias.name in CANDIDATE_NAMES:
                        aliases[alias.asname] = alias.name
        return aliases

    def run(self) -> list[ModelRef]:
        self._block(self.source.tree.body, self.source.module_scope)
        return self.refs

    def _block(self, body: list[ast.stmt], scope: Scope, depth: int = 0) -> None:
        if depth > MAX_NESTING:
            if body:
                self.source.skip(f"blocks nested deeper than {MAX_NESTING} levels", body[0].lineno)
            return
        for stmt in body:
            if not self._touches(stmt):
                continue
            decorators = getattr(stmt, "decorator_list", None) or []
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = stmt.args
                self._expressions(
                    [*decorators, *args.defaults, *(d for d in args.kw_defaults if d)], scope
                )
                self._block(stmt.body, self.source.scope(stmt, scope), depth + 1)
            elif isinstance(stmt, ast.ClassDef):
                self._expressions(
                    [*decorators, *stmt.bases, *(k.value for k in stmt.keywords)], scope
                )
                self._block(stmt.body, self.source.scope(stmt, scope), depth + 1)
            elif isinstance(stmt, ast.If):
                self._expressions([stmt.test], scope)
                top = self.guards[-1][0] if self.guards else None
                inherited = (
                    top is not None
                    and not top.positive
                    and top.chained
                    and (found := guards.equality(stmt.test)) is not None
                    and ast.dump(found[0]) == ast.dump(top.subject)
                )
                pair = guards.branch_guards(stmt, bool(inherited))
                for guard, body in zip(pair or (None, None), (stmt.body, stmt.orelse), strict=True):
                    if guard is not None:
                        self.guards.append((guard, scope))
                    self._block(body, scope, depth + 1)
                    if guard is not None:
                        self.guards.pop()
            elif isinstance(stmt, ast.While):
                self._expressions([stmt.test], scope)
                self._block(stmt.body, scope, depth + 1)
                self._block(stmt.orelse, scope, depth + 1)
            elif isinstance(stmt, (ast.For, ast.AsyncFor)):
                self._expressions([stmt.iter], scope)
                self._block(stmt.body, scope, depth + 1)
                self._block(stmt.orelse, scope, depth + 1)
            elif isinstance(stmt, (ast.With, ast.AsyncWith)):
                self._expressions([item.context_expr for item in stmt.items], scope)
                self._block(stmt.body, scope, depth + 1)
            elif isinstance(stmt, ast.Match):
                self._expressions([stmt.subject], scope)
                for case in stmt.cases:
                    self._block(case.body, scope, depth + 1)
            elif hasattr(stmt, "handlers"):  # try / try*
                self._block(getattr(stmt, "body", []), scope, depth + 1)
                for handler in getattr(stmt, "handlers", []):
                    self._block(handler.body, scope, depth + 1)
                self._block(getattr(stmt, "orelse", []), scope, depth + 1)
                self._block(getattr(stmt, "finalbody", []), scope, depth + 1)
            else:
                self._expressions([stmt], scope)

    def _expressions(self, nodes: Iterable[ast.AST], scope: Scope) -> None:
        calls = [node for root in nodes for node in ast.walk(root) if isinstance(node, ast.Call)]
        calls.sort(key=lambda c: (c.lineno, c.col_offset))
        for call in calls:
            match = classify(call, scope, self.evaluator, self.aliases)
            if match is not None:
                self.refs.extend(self._guarded(self.builder.refs(call, match, scope)))

    def _guarded(self, refs: list[ModelRef]) -> Iterator[ModelRef]:
        """The refs of a call inside `if x == "v":` branches, as the branches decide."""
        for ref in refs:
            kept: ModelRef | None = ref
            for guard, scope in reversed(self.guards):  # innermost first: its test is named
                if id(guard) not in self.guard_values:
                    self.guard_values[id(guard)] = self.evaluator.eval(guard.subject, scope)
                kept = guards.apply(ref, guard, self.guard_values[id(guard)])
                if kept is None:
                    break
                ref = kept
            if kept is not None:
                yield kept

    # -- recognising loaders ----------------------------------------------------------


# -- entry points -------------------------------------------------------------------------


def scan_data(
    data: bytes,
    path: Path,
    display: Path,
    evaluator: Evaluator,
    *,
    line_offset: int = 0,
) -> tuple[list[ModelRef], list[ScanProblem]]:
    try:
        source = SourceFile.parse(path, display, data)
    except SyntaxError as exc:
        message = f"cannot parse: {exc.msg}" if exc.msg else "cannot parse"
        return [], [ScanProblem(display, (exc.lineno or 1) + line_offset, message)]
    except (RecursionError, MemoryError):
        return [], [
            ScanProblem(display, 1 + line_offset, "not scanned: nested too deeply to parse")
        ]
    except ValueError as exc:
        return [], [ScanProblem(display, 1 + line_offset, f"not scanned: {exc}")]
    evaluator.project.remember(source)
    evaluator.start_file()
    refs = ModelVisitor(source, evaluator).run()
    problems = [
        ScanProblem(display, line + line_offset, f"not fully scanned: {reason}")
        for reason, line in source.skipped.items()
    ]
    if evaluator.exhausted:
        message = f"not fully scanned: more than {MAX_EVALS} values to evaluate"
        problems.append(ScanProblem(display, 1 + line_offset, message))
    if line_offset:
        refs = [replace(ref, line=ref.line + line_offset) for ref in refs]
    return refs, problems


def scan_source(
    text: str,
    path: str | Path = "<string>",
    *,
    env: MappingABC[str, str] = EMPTY_ENV,
    root: Path | None = None,
    versions: MappingABC[str, str] = EMPTY_ENV,
    line_offset: int = 0,
) -> ScanResult:
    """Scan one piece of Python source (a test, a `python -c` snippet, a named script).

    With `root`, names imported from other project modules and local model directories are
    resolved against it. `line_offset` shifts reported lines (a snippet inside a Dockerfile).
    """
    project = Project(root, env, versions=versions)
    data = text.encode("utf-8", ERRORS)
    file_path = Path(path)
    display = project.display(file_path) if root is not None else file_path
    if not may_load_models(data):
        return ScanResult(files_scanned=1)
    refs, problems = scan_data(
        data, file_path, display, Evaluator(project), line_offset=line_offset
    )
    project.close()
    return ScanResult(tuple(refs), 1, 1, tuple(problems))


def scan_file(
    path: Path,
    *,
    root: Path | None = None,
    env: MappingABC[str, str] = EMPTY_ENV,
    versions: MappingABC[str, str] = EMPTY_ENV,
) -> ScanResult:
    """Scan one Python file, e.g. the script a Dockerfile runs (`RUN python download.py`)."""
    project = Project(root, env, versions=versions)
    display = project.display(path)
    try:
        data = read_bytes(str(path))
    except OSError as exc:
        return ScanResult(
            files_scanned=1,
            problems=(ScanProblem(display, 1, read_problem(exc)),),
        )
    if not may_load_models(data):
        return ScanResult(files_scanned=1)
    refs, problems = scan_data(data, path, display, Evaluator(project))
    project.close()
    return ScanResult(tuple(refs), 1, 1, tuple(problems))
