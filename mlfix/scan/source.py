"""A parsed Python file and its scopes, built lazily so unused parts cost nothing.

The scan needs to answer "what value does this name have here?" for a handful of names
per file, and parsing is most of its cost. So a file is cut into its top-level statements
first (a byte-level pass that knows strings, comments, brackets and line continuations),
and only some are parsed: those holding a needle line, and the imports and assignments
that names resolve through. Function and class definitions without a needle are parsed
only if a lookup reaches them. If the cut ever yields a piece that does not parse, the
whole file is parsed instead, so the cut can cost speed but never correctness.

Scopes index their bindings only when first asked, and only at the statement level
(expressions are never walked to build them).
"""

from __future__ import annotations

import ast
import bisect
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mlfix.textio import ERRORS

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
ScopeNode = ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
BindingKind = Literal["assign", "import", "from", "def", "class", "param", "field", "other"]


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
    chunk: Chunk | None = None  # a definition not parsed yet: `SourceFile.definition` parses it


# Comments and string literals, so that what looks like code inside them is not taken for
# code. Triple-quoted strings come first: they are the ones that span lines.
_TOKEN = re.compile(
    rb"#[^\r\n]*"
    rb'|"""(?:[^"\\]|\\.|"(?!""))*"""'
    rb"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    rb'|"(?:[^"\\\r\n]|\\.)*"'
    rb"|'(?:[^'\\\r\n]|\\.)*'",
    re.S,
)
_LINE_START = re.compile(rb"\n[A-Za-z_@]")
_CONTINUES = re.compile(rb"(?:else|elif|except|finally)\b")
_DEFINITION = re.compile(rb"(async[ \t]+def|def|class)[ \t]+([A-Za-z_][A-Za-z0-9_]*)")


@dataclass
class Chunk:
    """One top-level statement (with its decorators), as a byte and line range."""

    start: int
    end: int
    line: int
    kind: Literal["def", "class"] | None = None
    name: str | None = None
    body: list[ast.stmt] | None = field(default=None, repr=False)


def split_top_level(data: bytes) -> list[Chunk]:
    """Cut source bytes into top-level statements without parsing them.

    A statement starts at a line whose first byte is a letter, `_` or `@`, outside any
    string or backslash continuation; `else`/`elif`/`except`/`finally` and the `def`/`class`
    under decorators continue the statement before them. Bytes before the first statement
    (docstring, comments) form a chunk of their own.

    Brackets are not tracked (that costs more than the parse it saves): a line at column 0
    inside brackets cuts a statement in two, the piece after it is not a `def`/`class` and
    so is parsed at once, and it cannot parse on its own, so the caller falls back to
    parsing the whole file.
    """
    spans = [(m.start(), m.end()) for m in _TOKEN.finditer(data)]
    starts: list[int] = [0] if data[:1].isalpha() or data[:1] in (b"_", b"@") else []
    position = 0
    index = 0
    for match in _LINE_START.finditer(data):
        offset = match.start() + 1
        while index < len(spans) and spans[index][0] < offset:
            if spans[index][0] >= position:
                position = spans[index][1]
            index += 1
        if position > offset:
            continue  # inside a string that spans lines
        before = data[max(0, offset - 3) : offset].rstrip(b"\r\n")
        if before.endswith(b"\\"):
            continue
        starts.append(offset)
    chunks: list[Chunk] = []
    if not starts or starts[0] != 0:
        chunks.append(Chunk(0, starts[0] if starts else len(data), 1))
    line = 1
    previous = 0
    decorated = False
    for offset in starts:
        line += data.count(b"\n", previous, offset)
        previous = offset
        head = data[offset : offset + 64]
        definition = _DEFINITION.match(head)
        continues = _CONTINUES.match(head) or (decorated and (definition or head.startswith(b"@")))
        if chunks and continues:
            if decorated and definition:
                chunks[-1].kind = "class" if definition.group(1) == b"class" else "def"
                chunks[-1].name = definition.group(2).decode()
                decorated = False
            continue
        decorated = head.startswith(b"@")
        plain = not definition and not decorated
        if (
            plain
            and chunks
            and chunks[-1].kind is None
            and not data.startswith(b"@", chunks[-1].start)
        ):
            continue  # consecutive plain statements are parsed together anyway
        chunk = Chunk(offset, offset, line)
        if definition:
            chunk.kind = "class" if definition.group(1) == b"class" else "def"
            chunk.name = definition.group(2).decode()
        chunks.append(chunk)
    for i, chunk in enumerate(chunks):
        chunk.end = chunks[i + 1].start if i + 1 < len(chunks) else len(data)
    return chunks


class SourceFile:
    """One Python file: bytes, the statements parsed so far, and the path used in reports.

    `tree` holds the parsed top-level statements in source order. With `chunks`, the rest
    of the file is parsed on demand (`ensure_lines`, `definition`); without, `tree` is the
    whole module.
    """

    def __init__(
        self,
        path: Path,
        display: Path,
        data: bytes,
        tree: ast.Module,
        chunks: list[Chunk] | None = None,
    ) -> None:
        self.path = path
        self.display = display
        self.data = data
        self.tree = tree
        self.chunks = chunks
        self._chunk_lines = [chunk.line for chunk in chunks] if chunks else []
        self._visible: set[int] = set()
        self._lines: list[bytes] | None = None
        self._scopes: dict[int, Scope] = {}
        self._module_scope: Scope | None = None
        self.cache: dict[tuple[str, int], object] = {}  # per-node indexes the evaluator builds

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

    @classmethod
    def parse(cls, path: Path, display: Path, data: bytes, lines: Iterable[int] = ()) -> SourceFile:
        """Parse what a scan needs first: imports, assignments and the chunks holding `lines`.

        Raises SyntaxError (or ValueError for NUL bytes) when the file does not parse.
        """
        lone_cr = b"\r" in data and data.count(b"\r") != data.count(b"\r\n")
        if not lone_cr:
            chunks = split_top_level(data)
            wanted = {i for i, chunk in enumerate(chunks) if chunk.kind is None}
            source = cls(path, display, data, ast.Module(body=[], type_ignores=[]), chunks)
            wanted.update(source._chunks_of(lines))
            try:
                source._parse_chunks(wanted)
            except (SyntaxError, ValueError):
                pass  # the cut or the code is wrong; the whole-file parse below tells which
            else:
                source._show(wanted)
                return source
        return cls(path, display, data, parse_python(data, str(display)))

    def _chunks_of(self, lines: Iterable[int]) -> set[int]:
        return {bisect.bisect_right(self._chunk_lines, line) - 1 for line in lines if line >= 1}

    def _parse_chunks(self, indexes: Iterable[int]) -> None:
        assert self.chunks is not None
        todo = sorted(
            i for i in set(indexes) if 0 <= i < len(self.chunks) and self.chunks[i].body is None
        )
        runs: list[list[int]] = []
        for i in todo:
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
        for run in runs:
            first, last = self.chunks[run[0]], self.chunks[run[-1]]
            text = b"\n" * (first.line - 1) + self.data[first.start : last.end]
            body = parse_python(text, str(self.display)).body
            for i in run:
                chunk = self.chunks[i]
                end_line = self.chunks[i + 1].line if i + 1 < len(self.chunks) else 1 << 30
                chunk.body = [stmt for stmt in body if chunk.line <= _first_line(stmt) < end_line]

    def _show(self, indexes: Iterable[int]) -> None:
        """Put parsed chunks into `tree`, in source order, and let the module re-index."""
        assert self.chunks is not None
        self._visible.update(indexes)
        self.tree.body = [
            stmt
            for i, chunk in enumerate(self.chunks)
            if i in self._visible
            for stmt in chunk.body or []
        ]
        if self._module_scope is not None:
            self._module_scope.reset()

    def ensure_lines(self, lines: Iterable[int]) -> bool:
        """Parse the top-level statements holding these lines into `tree`.

        Returns False when one of them does not parse (a syntax error in that statement).
        """
        if self.chunks is None:
            return True
        indexes = self._chunks_of(lines) - self._visible
        if not indexes:
            return True
        try:
            self._parse_chunks(indexes)
        except (SyntaxError, ValueError):
            return False
        self._show(indexes)
        return True

    def definition(self, chunk: Chunk) -> ast.stmt | None:
        """Parse a top-level `def`/`class` that a lookup reached; None if it does not parse."""
        if chunk.body is None:
            assert self.chunks is not None
            try:
                self._parse_chunks([self.chunks.index(chunk)])
            except (SyntaxError, ValueError):
                return None
        body = chunk.body or []
        return body[0] if body else None

    def lazy_definitions(self) -> Iterator[Chunk]:
        """Top-level definitions not in `tree` (named by the cut, parsed when looked up)."""
        for i, chunk in enumerate(self.chunks or []):
            if chunk.kind is not None and i not in self._visible and chunk.name:
                yield chunk

    def statements_with(self, needle: bytes) -> Iterator[ast.stmt]:
        """Every top-level statement whose bytes contain `needle`, parsing as needed."""
        if self.chunks is None:
            yield from self.tree.body
            return
        for chunk in self.chunks:
            if needle in self.data[chunk.start : chunk.end]:
                statement = self.definition(chunk) if chunk.kind else None
                if chunk.kind is None:
                    yield from chunk.body or []
                elif statement is not None:
                    yield statement

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


def _first_line(stmt: ast.stmt) -> int:
    decorators = getattr(stmt, "decorator_list", None)
    return min([stmt.lineno, *(d.lineno for d in decorators)]) if decorators else stmt.lineno


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
            if self.kind == "module":
                for chunk in self.file.lazy_definitions():
                    assert chunk.name is not None and chunk.kind is not None
                    _add(table, Binding(chunk.kind, chunk.name, None, chunk.line, chunk=chunk))
            self._bindings = table
        return self._bindings

    def reset(self) -> None:
        self._bindings = None
        self.globals.clear()
        self.star_imports.clear()

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
        for index, element in enumerate(target.elts):
            item = elements[index] if elements is not None else None
            _bind_target(element, item, stmt, table, why)
    elif isinstance(target, ast.Starred):
        _bind_target(target.value, None, stmt, table, "starred assignment")


def _bind_block(body: list[ast.stmt], table: dict[str, list[Binding]], scope: Scope) -> None:
    """Index the bindings of a statement list, not entering nested functions or classes.

    Flow-insensitive on purpose: a name bound in both branches of an `if` has two bindings,
    and the evaluator decides whether they agree.
    """
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
            _bind_target(stmt.target, None, stmt, table, "a loop variable")
            _bind_block(stmt.body, table, scope)
            _bind_block(stmt.orelse, table, scope)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                if item.optional_vars is not None:
                    _bind_target(item.optional_vars, None, stmt, table, "bound by a with statement")
            _bind_block(stmt.body, table, scope)
        elif isinstance(stmt, (ast.If, ast.While)):
            _bind_block(stmt.body, table, scope)
            _bind_block(stmt.orelse, table, scope)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            try_stmt: ast.Try = stmt  # type: ignore[assignment]
            _bind_block(try_stmt.body, table, scope)
            for handler in try_stmt.handlers:
                if handler.name:
                    _add(
                        table,
                        Binding(
                            "other", handler.name, handler, handler.lineno, reason="an exception"
                        ),
                    )
                _bind_block(handler.body, table, scope)
            _bind_block(try_stmt.orelse, table, scope)
            _bind_block(try_stmt.finalbody, table, scope)
        elif isinstance(stmt, ast.Match):
            for case in stmt.cases:
                _bind_block(case.body, table, scope)
