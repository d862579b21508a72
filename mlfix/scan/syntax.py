"""libcst, and what the scan needs from its trees: parsing, positions, and node helpers.

libcst parses the scanned sources (its native parser; `LIBCST_PARSER_TYPE=pure` selects
the slower pure-Python one). Three things keep it affordable:

- Only pieces of a file are parsed (see `source`): `parse_unit` parses several top-level
  statements in one call, joined by a marker statement so each can be told apart again.
- No `MetadataWrapper`/`PositionProvider`. Positions come from one codegen pass over the
  parsed piece (`Unit`), run only when a position is first asked for, which records the
  token index where each node's syntactic range starts and ends: the same hook
  PositionProvider uses, without its per-token line/column bookkeeping. A token index
  becomes a line and column by a bisect over the piece's line starts.
- No `node.visit()` where a plain walk does (`walk`, `children`): libcst's visit rebuilds
  every node it passes, which costs about as much as the parse.

A file libcst rejects gets its diagnostic (message and line) from CPython's compiler in
`PyCF_ONLY_AST` mode, which only parses: CPython words syntax errors the way users know
them ("'(' was never closed"). The scan never reads a tree from it.

libcst's native parser crashes the process on very deep nesting (about 1,000 brackets,
or chains of thousands of binary operators), where CPython raises a SyntaxError or
RecursionError. `check_depth` refuses such text before libcst sees it.
"""

from __future__ import annotations

import bisect
import codecs
import dataclasses
import io
import itertools
import re
import sys
import tokenize
import warnings
from ast import PyCF_ONLY_AST
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import libcst as cst
from libcst._nodes.internal import CodegenState

Statement = cst.BaseSmallStatement | cst.BaseCompoundStatement
"""A statement as `ast` counts them: `a = 1; b = 2` is two."""

MARKER = "__mlfix_statement_boundary__"
WORD_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
"""Bytes that continue an ASCII identifier."""
_MAX_BRACKETS = 200  # CPython's own limit (tokenizer MAXLEVEL): deeper is a syntax error
_MAX_CHAIN = 3000  # binary operators in one piece; CPython gives up near 3,000 levels too


# libcst's codegen and visitors recurse about 2-3 Python frames per level of the tree, so a
# tree `check_depth` lets through can need more than the default limit of 1,000.
_RECURSION_LIMIT = 4 * _MAX_CHAIN + 2000


@contextmanager
def deep_recursion() -> Iterator[None]:
    """Run libcst's recursive passes (codegen, visit) with room for deep trees."""
    limit = sys.getrecursionlimit()
    if limit >= _RECURSION_LIMIT:
        yield
        return
    sys.setrecursionlimit(_RECURSION_LIMIT)
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


class ParseFailure(Exception):
    """libcst could not parse a piece (or refused it, see `check_depth`)."""

    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


# -- parsing ---------------------------------------------------------------------------------

_STRINGS_AND_COMMENTS = re.compile(
    r"#[^\r\n]*"
    r'|"""(?:[^"\\]|\\.|"(?!""))*"""'
    r"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"(?:[^"\\\r\n]|\\.)*"'
    r"|'(?:[^'\\\r\n]|\\.)*'",
    re.S,
)
_DEPTH_TOKENS = re.compile(r"[()\[\]{}]|\r\n|\r|\n|(?<=[\w)\]])[ \t]*(?:[-+*/%|&^@]|<<|>>)")
_OPERATOR_CHARACTERS = "+-*/%|&^@"


def check_depth(text: str) -> None:
    """Refuse text whose tree would be deep enough to crash libcst's native parser.

    Cheap in the common case: the counts bound the depth from above. Only when they are
    high is the code (strings and comments masked) read bracket by bracket, counting the
    binary operators of each logical line.
    """
    openers = text.count("(") + text.count("[") + text.count("{")
    operators = sum(text.count(character) for character in _OPERATOR_CHARACTERS)
    if openers <= _MAX_BRACKETS and operators <= _MAX_CHAIN:
        return
    code = _STRINGS_AND_COMMENTS.sub(lambda m: "x" * len(m.group()), text)
    depth = 0
    chain = 0
    for match in _DEPTH_TOKENS.finditer(code):
        token = match.group()
        if token in ("(", "[", "{"):
            depth += 1
            if depth > _MAX_BRACKETS:
                line = len(_NEWLINE.findall(code, 0, match.start())) + 1
                raise ParseFailure("too many nested parentheses", line)
        elif token in (")", "]", "}"):
            depth = max(0, depth - 1)
        elif token in ("\n", "\r", "\r\n"):
            if depth == 0:
                chain = 0
        else:
            chain += 1
            if chain > _MAX_CHAIN:
                line = len(_NEWLINE.findall(code, 0, match.start())) + 1
                raise ParseFailure("too many operators in one statement for libcst", line)


def decode(data: bytes) -> str:
    """Source bytes as text, by the file's coding cookie or BOM (PEP 263), like CPython."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        raise ParseFailure(str(exc)) from exc


def parse_module(source: str) -> cst.Module:
    """libcst's parse, with its errors (and refusals) as ParseFailure."""
    check_depth(source)
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        raise ParseFailure(exc.message, exc.raw_line) from exc
    except (ValueError, RecursionError, MemoryError) as exc:  # decoding, very deep trees
        raise ParseFailure(str(exc) or type(exc).__name__) from exc


def parse_pieces(
    pieces: Sequence[str],
) -> tuple[cst.Module, list[list[cst.BaseStatement]], list[int]]:
    """Parse several top-level statements (each a piece of a file) in one libcst call.

    The pieces are joined by a marker statement, then the module body is split at the
    markers again. A piece that is not whole statements (a cut inside brackets) either
    fails to parse or swallows a marker, and then this raises ParseFailure. Returns the
    module, each piece's statements, and the line where each piece starts in the text
    parsed (lines count "\n": the caller does not cut files with a lone "\r").
    """
    parts: list[str] = []
    starts: list[int] = []
    line = 1
    for index, piece in enumerate(pieces):
        if index:
            parts.append(MARKER + "\n")
            line += 1
        if index + 1 < len(pieces) and not piece.endswith("\n"):
            piece += "\n"
        starts.append(line)
        parts.append(piece)
        line += piece.count("\n")
    module = parse_module("".join(parts))
    bodies: list[list[cst.BaseStatement]] = [[]]
    for statement in module.body:
        if _is_marker(statement):
            bodies.append([])
        else:
            bodies[-1].append(statement)
    if len(bodies) != len(pieces):
        raise ParseFailure("a piece of the file is not a whole statement")
    return module, bodies, starts


def _is_marker(statement: cst.BaseStatement) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    return (
        isinstance(small, cst.Expr)
        and isinstance(small.value, cst.Name)
        and small.value.value == MARKER
    )


def diagnose(data: bytes, filename: str, failure: ParseFailure) -> SyntaxError | ValueError:
    """The error to report for a file libcst rejected: CPython's wording when it agrees.

    `compile(..., PyCF_ONLY_AST)` parses and nothing else: no code object, nothing runs.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(data, filename, "exec", PyCF_ONLY_AST, dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            return exc
        except (RecursionError, MemoryError) as exc:
            return ValueError(str(exc) or type(exc).__name__)
    message = failure.message.strip().splitlines()[0] if failure.message.strip() else ""
    error = SyntaxError(f"libcst cannot parse this file ({message})" if message else None)
    error.lineno = failure.line
    return error


# -- positions -------------------------------------------------------------------------------


class NoPosition(Exception):
    """A node has no known position (its tree was too deep for the codegen pass)."""


_NEWLINE = re.compile(r"\r\n|\r|\n")


class _Recorder(CodegenState):
    """Codegen that notes the token index where each node's syntactic range starts and ends.

    libcst calls `record_syntactic_position` around the part of a node that `ast` would
    cover (inside its parentheses; a statement without its leading comment lines; a
    `def` from the keyword, after its decorators), hoisting start and end from child nodes
    where it says so. PositionProvider hooks the same method.
    """

    def __init__(self, module: cst.Module) -> None:
        super().__init__(
            default_indent=module.default_indent, default_newline=module.default_newline
        )
        self.starts: dict[int, int] = {}
        self.ends: dict[int, int] = {}
        self._open: list[tuple[cst.CSTNode, cst.CSTNode | None, cst.CSTNode | None, int]] = []
        self._context = _Record(self)

    def record_syntactic_position(  # type: ignore[override]
        self,
        node: cst.CSTNode,
        *,
        start_node: cst.CSTNode | None = None,
        end_node: cst.CSTNode | None = None,
    ) -> _Record:
        # A plain context object instead of a generator-based one: this runs for every
        # expression and statement, and contextlib's machinery was a third of the pass.
        self._open.append((node, start_node, end_node, len(self.tokens)))
        return self._context

    def close_record(self) -> None:
        node, start_node, end_node, start = self._open.pop()
        end = len(self.tokens)
        # A hoisting node without a range of its own (an import's last name, a closing
        # parenthesis) ends where the statement's code ends anyway.
        if start_node is not None:
            start = self.starts.get(id(start_node), start)
        if end_node is not None:
            end = self.ends.get(id(end_node), end)
        self.starts[id(node)] = start
        self.ends[id(node)] = end


class _Record:
    """The context `_Recorder.record_syntactic_position` returns (one, reused)."""

    __slots__ = ("_recorder",)

    def __init__(self, recorder: _Recorder) -> None:
        self._recorder = recorder

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        if kind is None:
            self._recorder.close_record()


class Unit:
    """One libcst parse of (part of) a file, and the file lines its pieces came from.

    `lines` maps the parsed text back: piece i starts at line `synthetic[i]` of the parsed
    text and at line `origin[i]` of the file (columns are unchanged: every piece starts at
    column 0). Positions are computed on first use.
    """

    __slots__ = ("_ends", "_lines", "_offsets", "_starts", "_text", "module", "origin", "synthetic")

    def __init__(self, module: cst.Module, synthetic: list[int], origin: list[int]) -> None:
        self.module = module
        self.synthetic = synthetic
        self.origin = origin
        self._starts: dict[int, int] | None = None
        self._ends: dict[int, int] = {}
        self._offsets: list[int] = []
        self._lines: list[int] = []
        self._text = ""

    @property
    def computed(self) -> bool:
        return self._starts is not None

    def compute(self) -> None:
        recorder = _Recorder(self.module)
        try:
            with deep_recursion():
                self.module._codegen(recorder)
        except RecursionError:  # a tree too deep for Python: no positions, see `span`
            self._starts = {}
            return
        self._offsets = [0, *itertools.accumulate(map(len, recorder.tokens))]
        self._text = "".join(recorder.tokens)
        self._lines = [0, *(match.end() for match in _NEWLINE.finditer(self._text))]
        self._starts = recorder.starts
        self._ends = recorder.ends

    def span(self, node: cst.CSTNode) -> tuple[int, int] | None:
        """Character offsets of the node's syntactic range in the parsed text, if here."""
        if self._starts is None:
            self.compute()
        assert self._starts is not None
        start = self._starts.get(id(node))
        if start is None:
            return None
        return self._offsets[start], self._offsets[self._ends[id(node)]]

    def position(self, offset: int) -> tuple[int, int]:
        """(line in the file, 0-based column in characters) of an offset in the parsed text."""
        index = bisect.bisect_right(self._lines, offset) - 1
        column = offset - self._lines[index]
        line = index + 1
        piece = bisect.bisect_right(self.synthetic, line) - 1
        return self.origin[piece] + line - self.synthetic[piece], column

    def text(self, start: int, end: int) -> str:
        return self._text[start:end]


# -- node helpers ----------------------------------------------------------------------------


def flat(body: Sequence[cst.BaseStatement | cst.BaseSmallStatement]) -> list[Statement]:
    """A statement list as `ast` has it: the small statements of each line, in order."""
    result: list[Statement] = []
    for statement in body:
        if isinstance(statement, cst.SimpleStatementLine):
            result.extend(statement.body)
        else:
            assert isinstance(statement, (cst.BaseSmallStatement, cst.BaseCompoundStatement))
            result.append(statement)
    return result


def suite(block: cst.BaseSuite | None) -> list[Statement]:
    """The statements of an indented block or of a one-line body (`if x: a; b`)."""
    if block is None:
        return []
    if isinstance(block, cst.SimpleStatementSuite):
        return list(block.body)
    assert isinstance(block, cst.IndentedBlock)
    return flat(block.body)


def else_body(orelse: cst.If | cst.Else | None) -> list[Statement]:
    """An `if`'s else part as `ast` has it: `elif` is an `if` statement of its own."""
    if orelse is None:
        return []
    if isinstance(orelse, cst.If):
        return [orelse]
    return suite(orelse.body)


def try_parts(
    statement: cst.Try | cst.TryStar,
) -> tuple[list[Statement], list[Statement], list[Statement]]:
    """(body, orelse, finalbody) of a try statement."""
    return (
        suite(statement.body),
        suite(statement.orelse.body) if statement.orelse is not None else [],
        suite(statement.finalbody.body) if statement.finalbody is not None else [],
    )


def dotted(node: cst.CSTNode | None) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


def last_name(node: cst.CSTNode | None) -> str | None:
    """The last name of a callee or receiver: `b` for `a.b`, `f(...)`, `x[...]`."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    if isinstance(node, cst.Call):
        return last_name(node.func)
    if isinstance(node, cst.Subscript):
        return last_name(node.value)
    return None


def positional(call: cst.Call) -> list[cst.Arg]:
    """The positional arguments, `*args` included (what `ast.Call.args` holds)."""
    return [arg for arg in call.args if arg.keyword is None and arg.star != "**"]


def keywords(call: cst.Call) -> list[cst.Arg]:
    """The keyword arguments, `**kwargs` included (what `ast.Call.keywords` holds)."""
    return [arg for arg in call.args if arg.keyword is not None or arg.star == "**"]


def keyword_map(call: cst.Call) -> dict[str, cst.BaseExpression]:
    return {arg.keyword.value: arg.value for arg in call.args if arg.keyword is not None}


def has_starred(args: Sequence[cst.Arg]) -> bool:
    return any(arg.star == "*" for arg in args)


def has_double_star(call: cst.Call) -> bool:
    return any(arg.star == "**" for arg in call.args)


def argument(call: cst.Call, index: int | None, *names: str) -> cst.BaseExpression | None:
    """The argument given by keyword (any of `names`) or at a position (not after `*args`)."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value in names:
            return arg.value
    if index is not None:
        args = positional(call)
        if index < len(args) and not has_starred(args[: index + 1]):
            return args[index].value
    return None


def parameters(params: cst.Parameters) -> list[cst.Param]:
    """Positional parameters, positional-only first (`ast.arguments` posonlyargs + args)."""
    return [*params.posonly_params, *params.params]


def star_parameters(params: cst.Parameters) -> list[cst.Param]:
    """`*args` and `**kwargs`, when present."""
    found: list[cst.Param] = []
    if isinstance(params.star_arg, cst.Param):
        found.append(params.star_arg)
    if params.star_kwarg is not None:
        found.append(params.star_kwarg)
    return found


def decorated_by(node: cst.FunctionDef | cst.ClassDef, name: str) -> bool:
    return any(
        isinstance(d.decorator, cst.Name) and d.decorator.value == name for d in node.decorators
    )


# -- literals --------------------------------------------------------------------------------

_PREFIX = re.compile(r"[A-Za-z]*")
_NOT_CONSTANT = object()


def _split_literal(token: str) -> tuple[str, str]:
    """(lower-case prefix, body) of a string token such as `rb'''...'''`."""
    match = _PREFIX.match(token)
    prefix = match.group() if match else ""
    rest = token[len(prefix) :]
    quote = rest[:3] if rest[:3] in ('"""', "'''") else rest[:1]
    return prefix.lower(), rest[len(quote) : len(rest) - len(quote)]


def _decode(body: str, prefix: str) -> str | bytes | None:
    """The value of a string literal's body, as CPython's tokenizer and parser make it."""
    if "\r" in body:  # source newlines inside a literal read as "\n"
        body = body.replace("\r\n", "\n").replace("\r", "\n")
    raw = "r" in prefix
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes stay as written, as in CPython
        try:
            if "b" in prefix:
                data = body.encode("ascii")
                return data if raw else codecs.escape_decode(data)[0]
            if raw or "\\" not in body:
                return body
            return codecs.decode(body.encode("latin-1", "backslashreplace"), "unicode_escape")
        except (UnicodeError, ValueError):
            return None


def string_pieces(node: cst.CSTNode) -> list[str | cst.FormattedStringExpression] | None:
    """A string expression as literal text and f-string fields, in order (None: not str).

    Implicitly concatenated parts are flattened, the way `ast` merges them into one
    constant or one JoinedStr.
    """
    if isinstance(node, cst.SimpleString):
        prefix, body = _split_literal(node.value)
        value = _decode(body, prefix)
        return [value] if isinstance(value, str) else None
    if isinstance(node, cst.ConcatenatedString):
        left = string_pieces(node.left)
        right = string_pieces(node.right)
        return None if left is None or right is None else [*left, *right]
    if isinstance(node, cst.FormattedString):
        prefix = node.start.rstrip("'\"").lower().replace("f", "")
        pieces: list[str | cst.FormattedStringExpression] = []
        for part in node.parts:
            if isinstance(part, cst.FormattedStringText):
                text = _decode(part.value.replace("{{", "{").replace("}}", "}"), prefix)
                if not isinstance(text, str):
                    return None
                pieces.append(text)
            else:
                assert isinstance(part, cst.FormattedStringExpression)
                pieces.append(part)
        return pieces
    return None


def is_string(node: cst.CSTNode) -> bool:
    return isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString))


def has_fields(node: cst.CSTNode) -> bool:
    """An f-string (or a concatenation with one): `ast` makes it a JoinedStr."""
    if isinstance(node, cst.FormattedString):
        return True
    if isinstance(node, cst.ConcatenatedString):
        return has_fields(node.left) or has_fields(node.right)
    return False


def constant(node: cst.CSTNode) -> tuple[bool, object]:
    """(True, value) for what `ast` makes a Constant: strings, bytes, numbers, True/False/None,
    `...`; (False, None) otherwise."""
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)) and not has_fields(node):
        value = _string_or_bytes(node)
        return (True, value) if value is not None else (False, None)
    if isinstance(node, cst.Name) and node.value in ("True", "False", "None"):
        return True, {"True": True, "False": False, "None": None}[node.value]
    if isinstance(node, cst.Ellipsis):
        return True, Ellipsis
    if isinstance(node, (cst.Integer, cst.Float, cst.Imaginary)):
        number = _number(node)
        return (True, number) if number is not _NOT_CONSTANT else (False, None)
    return False, None


def str_constant(node: cst.CSTNode | None) -> str | None:
    """The value of a plain (not f-) string literal, else None."""
    if node is None:
        return None
    found, value = constant(node)
    return value if found and isinstance(value, str) else None


def _string_or_bytes(node: cst.CSTNode) -> str | bytes | None:
    if isinstance(node, cst.SimpleString):
        prefix, body = _split_literal(node.value)
        return _decode(body, prefix)
    if isinstance(node, cst.ConcatenatedString):
        left = _string_or_bytes(node.left)
        right = _string_or_bytes(node.right)
        if isinstance(left, str) and isinstance(right, str):
            return left + right
        if isinstance(left, bytes) and isinstance(right, bytes):
            return left + right
    return None


def _number(node: cst.Integer | cst.Float | cst.Imaginary) -> object:
    text = node.value.replace("_", "")
    try:
        if isinstance(node, cst.Integer):
            return int(text, 0)
        if isinstance(node, cst.Float):
            return float(text)
        return complex(text)
    except ValueError:
        return _NOT_CONSTANT


# -- walking ---------------------------------------------------------------------------------

_SKIPPED_FIELDS = frozenset(
    {
        "lpar",
        "rpar",
        "leading_lines",
        "lines_after_decorators",
        "header",
        "footer",
        "comma",
        "semicolon",
        "trailing_whitespace",
        "operator",
        "equal",
        "dot",
        "asynchronous",
        "lbracket",
        "rbracket",
        "lbrace",
        "rbrace",
        "colon",
    }
)
_FIELDS: dict[type[cst.CSTNode], tuple[str, ...]] = {}


class _FieldOrder(cst.CSTVisitor):
    """Notes the order in which libcst visits a node's fields (its source order)."""

    def __init__(self, parent: cst.CSTNode) -> None:
        super().__init__()
        self.parent = parent
        self.names: list[str] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        return False

    def on_leave(self, original_node: cst.CSTNode) -> None:
        pass

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        if node is self.parent and attribute not in self.names:
            self.names.append(attribute)

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        pass


def _child_fields(node: cst.CSTNode) -> tuple[str, ...]:
    """The fields of the node's type that can hold code, in the order libcst visits them.

    That order is the source order (an `IfExp`'s body before its test, a `def`'s
    decorators before its name), which the dataclass field order is not. libcst states it
    only in each type's `_visit_and_replace_children`, so it is read from there once per
    type, on the first node of that type, children not entered.
    """
    kind = type(node)
    found = _FIELDS.get(kind)
    if found is None:
        names = [f.name for f in dataclasses.fields(kind)]
        order = _FieldOrder(node)
        node._visit_and_replace_children(order)
        ordered = [name for name in order.names if name in names]
        ordered += [name for name in names if name not in ordered]
        found = _FIELDS[kind] = tuple(
            name
            for name in ordered
            if name not in _SKIPPED_FIELDS and not name.startswith("whitespace")
        )
    return found


def children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The child nodes that can hold code (not whitespace, commas or parentheses).

    libcst's own `children` rebuilds the node through its visitor machinery; this reads
    the fields.
    """
    for name in _child_fields(node):
        value = getattr(node, name)
        if _is_node(type(value)):
            yield value
        elif isinstance(value, (tuple, list)):
            for item in value:
                if _is_node(type(item)):
                    yield item


_NODE_TYPES: dict[type, bool] = {}


def _is_node(kind: type) -> bool:
    """`isinstance(x, cst.CSTNode)` by type, cached: libcst's node classes are ABCs, whose
    instance checks cost several times a dictionary lookup, and walks make millions."""
    found = _NODE_TYPES.get(kind)
    if found is None:
        found = _NODE_TYPES[kind] = issubclass(kind, cst.CSTNode)
    return found


def walk(*roots: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every node under the roots, breadth first (the order of `ast.walk`)."""
    todo: deque[cst.CSTNode] = deque(roots)
    while todo:
        node = todo.popleft()
        todo.extend(children(node))
        yield node


def visit(root: cst.CSTNode, visitor: cst.CSTVisitor) -> None:
    """Run a libcst visitor's generic hooks over the code nodes under root.

    The order is libcst's (depth first, children in source order; `on_leave` after a
    node's children, also when `on_visit` declined them), but the nodes are read, not
    rebuilt: `root.visit(visitor)` reconstructs every node it passes, which costs about
    as much as parsing them did. Whitespace and punctuation nodes are not visited, nor
    are the per-field hooks called. Iterative, so deep trees need no recursion limit.
    """
    todo: list[tuple[cst.CSTNode, bool]] = [(root, False)]
    while todo:
        node, leaving = todo.pop()
        if leaving:
            visitor.on_leave(node)
        elif visitor.on_visit(node):
            todo.append((node, True))
            todo.extend((child, False) for child in reversed(list(children(node))))
        else:
            visitor.on_leave(node)


class CallCollector(cst.CSTVisitor):
    """The libcst visitor that finds the calls in the statements holding a loader needle.

    It overrides the generic hooks rather than defining `visit_Call`: libcst's default
    hooks look up a `visit_<Node>` and `visit_<Node>_<field>` method for every node and
    field, which cost more than the rest of the visit. `visit` drives it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[cst.Call] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if type(node) is cst.Call:
            self.calls.append(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        pass

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        pass

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        pass


# The names `ast` gives the expression kinds the evaluator reports as not evaluated.
_AST_NAMES = {
    "UnaryOperation": "UnaryOp",
    "Comparison": "Compare",
    "BinaryOperation": "BinOp",
    "BooleanOperation": "BoolOp",
    "Integer": "Constant",
    "Float": "Constant",
    "Imaginary": "Constant",
    "SimpleString": "Constant",
    "ConcatenatedString": "Constant",
    "FormattedString": "JoinedStr",
    "StarredElement": "Starred",
    "Index": "Index",
}


def ast_name(node: cst.CSTNode) -> str:
    """What `ast` calls this kind of expression (for messages that name it)."""
    if isinstance(node, cst.Yield):
        return "YieldFrom" if isinstance(node.value, cst.From) else "Yield"
    name = type(node).__name__
    return _AST_NAMES.get(name, name)
