"""A parsed Python file and its scopes.

Each candidate file is parsed whole with `ast` (the C parser: about twenty times faster than
libcst, and exact). Nothing is cut: a partial parse answers wrong when a statement it
skipped rebinds a name. What is bounded is the work per file: its size (`MAX_FILE_BYTES`),
how deep the walk nests (`MAX_NESTING`); the evaluator bounds the values it computes. What a
bound skips is reported, never silently dropped.

Scopes index their bindings only when first asked, and only at the statement level
(expressions are never walked to build them).
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mlfix.scan.prefilter import MAX_FILE_BYTES
from mlfix.textio import ERRORS

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
ScopeNode = ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
BindingKind = Literal["assign", "import", "from", "def", "class", "param", "field", "loop", "other"]

MAX_NESTING = 64  # statement blocks deeper than this are not walked (and reported)


def parse_python(data: bytes, filename: str) -> ast.Module:
    """Parse bytes (so a PEP 263 coding cookie is honoured) without printing warnings.

    SyntaxWarnings (invalid escapes in old code) would go to the user's terminal, and they
    are the scanned project's business, not mlfix's.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(data, filename=filename)


@dataclass(frozen=True)
class Binding:
    """One way a name gets a value in a scope.

    `value` is the expression assigned (an assignment's right side, a parameter's default,
    a field's default); None when the statement gives no static value (`for x in ...`,
    a field without default), in which case `reason` says why.
    """

    kind: BindingKind
    name: str
    node: ast.AST | None
    line: int
    value: ast.expr | None = None
    module: str | None = None
    attr: str | None = None
    level: int = 0
    reason: str | None = None
    annotated: bool = False


class SourceFile:
    """One Python file: its bytes, its whole syntax tree, and the path used in reports.

    `skipped` collects what a bound left out of this file (nesting, evaluation budget), so
    the scan can report it once per file.
    """

    def __init__(self, path: Path, display: Path, data: bytes, tree: ast.Module) -> None:
        self.path = path
        self.display = display
        self.data = data
        self.tree = tree
        self._lines: list[bytes] | None = None
        self._scopes: dict[int, Scope] = {}
        self._module_scope: Scope | None = None
        self.cache: dict[tuple[str, int], object] = {}  # per-node indexes the evaluator builds
        self.skipped: dict[str, int] = {}  # reason -> first line

    @classmethod
    def parse(cls, path: Path, display: Path, data: bytes) -> SourceFile:
        """Parse the whole file.

        Raises SyntaxError (ValueError for NUL bytes, MemoryError or RecursionError for
        code nested past the parser's own limits) when it does not parse.
        """
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(f"larger than {MAX_FILE_BYTES >> 20} MB")
        return cls(path, display, data, parse_python(data, str(display)))

    def skip(self, reason: str, line: int) -> None:
        self.skipped.setdefault(reason, line)

    @property
    def module_scope(self) -> Scope:
        if self._module_scope is None:
            self._module_scope = Scope("module", self.tree, self, None)
            self._scopes[id(self.tree)] = self._module_scope
        return self._module_scope

    def close(self) -> None:
        """Drop the scopes, which point back at this file, so the file is freed at once.

        Without this, file and scopes form a reference cycle that only the cyclic garbage
        collector frees, and it runs rarely for long-lived objects: memory would grow with
        the repository. A closed file still works; its scopes are rebuilt if asked for.
        """
        self._scopes.clear()
        self._module_scope = None
        self.cache.clear()

    def line_bytes(self, line: int) -> bytes:
        if self._lines is None:
            self._lines = self.data.splitlines(keepends=True)
        if 1 <= line <= len(self._lines):
            return self._lines[line - 1]
        return b""

    def char_column(self, line: int, byte_offset: int) -> int:
        """ast columns count UTF-8 bytes; reports count characters, 1-based."""
        prefix = self.line_bytes(line)[:byte_offset]
        return len(prefix.decode("utf-8", ERRORS)) + 1

    def segment(self, node: ast.AST) -> str:
        """The exact source text of a node (like `ast.get_source_segment`, without re-splitting)."""
        start = getattr(node, "lineno", None)
        end = getattr(node, "end_lineno", None)
        start_col = getattr(node, "col_offset", None)
        end_col = getattr(node, "end_col_offset", None)
        if start is None or end is None or start_col is None or end_col is None:
            return ""
        if start == end:
            text = self.line_bytes(start)[start_col:end_col]
        else:
            parts = [self.line_bytes(start)[start_col:]]
            parts.extend(self.line_bytes(line) for line in range(start + 1, end))
            parts.append(self.line_bytes(end)[:end_col])
            text = b"".join(parts)
        return text.decode("utf-8", ERRORS)

    def scope(self, node: ScopeNode, parent: Scope | None) -> Scope:
        """The (cached) scope of a class, function or lambda node."""
        cached = self._scopes.get(id(node))
        if cached is None:
            kind: Literal["class", "function"] = (
                "class" if isinstance(node, ast.ClassDef) else "function"
            )
            cached = Scope(kind, node, self, parent)
            self._scopes[id(node)] = cached
        return cached


class Scope:
    """A module, class or function scope with its bindings, indexed on first use."""

    def __init__(
        self,
        kind: Literal["module", "class", "function"],
        node: ScopeNode,
        file: SourceFile,
        parent: Scope | None,
    ) -> None:
        self.kind = kind
        self.node = node
        self.file = file
        self.parent = parent
        self._bindings: dict[str, list[Binding]] | None = None
        self.globals: set[str] = set()
        self.star_imports: list[tuple[str, int]] = []

    @property
    def module(self) -> Scope:
        scope = self
        while scope.parent is not None:
            scope = scope.parent
        return scope

    def bindings(self) -> dict[str, list[Binding]]:
        if self._bindings is None:
            table: dict[str, list[Binding]] = {}
            node = self.node
            if isinstance(node, ast.Lambda):
                _bind_arguments(node.args, table)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                _bind_arguments(node.args, table)
                _bind_block(node.body, table, self)
            else:
                _bind_block(node.body, table, self)
            self._bindings = table
        return self._bindings

    def lookup_local(self, name: str) -> list[Binding] | None:
        return self.bindings().get(name)

    def function_name(self) -> str:
        node = self.node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return node.name
        return "<lambda>" if isinstance(node, ast.Lambda) else "<module>"


def _add(table: dict[str, list[Binding]], binding: Binding) -> None:
    table.setdefault(binding.name, []).append(binding)


def _bind_arguments(args: ast.arguments, table: dict[str, list[Binding]]) -> None:
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults.extend(args.defaults)
    for arg, default in zip(positional, defaults, strict=True):
        _add(table, Binding("param", arg.arg, arg, arg.lineno, default))
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        _add(table, Binding("param", arg.arg, arg, arg.lineno, kw_default))
    for star in (args.vararg, args.kwarg):
        if star is not None:
            _add(
                table, Binding("param", star.arg, star, star.lineno, None, reason="*args/**kwargs")
            )


def _is_split(value: ast.expr | None) -> bool:
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr in ("split", "rsplit")
    )


def _bind_target(
    target: ast.expr,
    value: ast.expr | None,
    stmt: ast.stmt,
    table: dict[str, list[Binding]],
    why: str,
) -> None:
    if isinstance(target, ast.Name):
        if value is None:
            _add(table, Binding("other", target.id, stmt, stmt.lineno, reason=why))
        else:
            _add(table, Binding("assign", target.id, stmt, stmt.lineno, value))
    elif isinstance(target, (ast.Tuple, ast.List)):
        elements: list[ast.expr] | None = None
        if (
            isinstance(value, (ast.Tuple, ast.List))
            and len(value.elts) == len(target.elts)
            and not any(isinstance(e, ast.Starred) for e in (*value.elts, *target.elts))
        ):
            elements = list(value.elts)
        elif _is_split(value) and not any(isinstance(e, ast.Starred) for e in target.elts):
            assert value is not None
            elements = [  # `org, repo, name = model_id.split("/")`: one part each
                ast.copy_location(ast.Subscript(value, ast.Constant(i), ast.Load()), value)
                for i in range(len(target.elts))
            ]
        for index, element in enumerate(target.elts):
            item = elements[index] if elements is not None else None
            _bind_target(element, item, stmt, table, why)
    elif isinstance(target, ast.Starred):
        _bind_target(target.value, None, stmt, table, "starred assignment")


def _bind_block(
    body: list[ast.stmt], table: dict[str, list[Binding]], scope: Scope, depth: int = 0
) -> None:
    """Index the bindings of a statement list, not entering nested functions or classes.

    Flow-insensitive on purpose: a name bound in both branches of an `if` has two bindings,
    and the evaluator decides whether they agree. Blocks nested past MAX_NESTING bind
    their names as unknown, so a value is never taken from the shallow half of a chain.
    """
    if depth > MAX_NESTING:
        for stmt in body:
            scope.file.skip(f"blocks nested deeper than {MAX_NESTING} levels", stmt.lineno)
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    _add(
                        table,
                        Binding("other", node.id, stmt, stmt.lineno, reason="nested too deeply"),
                    )
        return
    for stmt in body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                _bind_target(
                    target, stmt.value, stmt, table, "unpacked from a value mlfix cannot split"
                )
        elif isinstance(stmt, ast.AnnAssign):
            if isinstance(stmt.target, ast.Name):
                kind: BindingKind = "assign" if stmt.value is not None else "field"
                _add(
                    table,
                    Binding(
                        kind,
                        stmt.target.id,
                        stmt,
                        stmt.lineno,
                        stmt.value,
                        reason=None if stmt.value is not None else "declared without a value",
                        annotated=True,
                    ),
                )
        elif isinstance(stmt, ast.AugAssign):
            if isinstance(stmt.target, ast.Name):
                _add(
                    table,
                    Binding(
                        "other",
                        stmt.target.id,
                        stmt,
                        stmt.lineno,
                        reason="changed in place (+= ...)",
                    ),
                )
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    _add(
                        table, Binding("import", alias.asname, stmt, stmt.lineno, module=alias.name)
                    )
                else:
                    top = alias.name.split(".")[0]
                    _add(table, Binding("import", top, stmt, stmt.lineno, module=top))
        elif isinstance(stmt, ast.ImportFrom):
            module = stmt.module or ""
            for alias in stmt.names:
                if alias.name == "*":
                    scope.star_imports.append((module, stmt.level))
                    continue
                _add(
                    table,
                    Binding(
                        "from",
                        alias.asname or alias.name,
                        stmt,
                        stmt.lineno,
                        module=module,
                        attr=alias.name,
                        level=stmt.level,
                    ),
                )
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _add(table, Binding("def", stmt.name, stmt, stmt.lineno))
        elif isinstance(stmt, ast.ClassDef):
            _add(table, Binding("class", stmt.name, stmt, stmt.lineno))
        elif isinstance(stmt, ast.Global):
            scope.globals.update(stmt.names)
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            if isinstance(stmt.target, ast.Name):
                loop = Binding("loop", stmt.target.id, stmt, stmt.lineno, stmt.iter)
                _add(table, loop)
            else:
                _bind_target(stmt.target, None, stmt, table, "a loop variable")
            _bind_block(stmt.body, table, scope, depth + 1)
            _bind_block(stmt.orelse, table, scope, depth + 1)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                bound = item.optional_vars
                opened = item.context_expr
                if (
                    isinstance(bound, ast.Name)
                    and isinstance(opened, ast.Call)
                    and isinstance(opened.func, ast.Name)
                    and opened.func.id == "open"
                ):  # `with open(path) as f`: f stands for the file at path
                    _add(table, Binding("assign", bound.id, stmt, stmt.lineno, opened))
                elif bound is not None:
                    _bind_target(bound, None, stmt, table, "bound by a with statement")
            _bind_block(stmt.body, table, scope, depth + 1)
        elif isinstance(stmt, (ast.If, ast.While)):
            _bind_block(stmt.body, table, scope, depth + 1)
            _bind_block(stmt.orelse, table, scope, depth + 1)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            try_stmt: ast.Try = stmt  # type: ignore[assignment]
            _bind_block(try_stmt.body, table, scope, depth + 1)
            for handler in try_stmt.handlers:
                if handler.name:
                    _add(
                        table,
                        Binding(
                            "other", handler.name, handler, handler.lineno, reason="an exception"
                        ),
                    )
                _bind_block(handler.body, table, scope, depth + 1)
            _bind_block(try_stmt.orelse, table, scope, depth + 1)
            _bind_block(try_stmt.finalbody, table, scope, depth + 1)
        elif isinstance(stmt, ast.Match):
            for case in stmt.cases:
                _bind_block(case.body, table, scope, depth + 1)
