"""A parsed Python file and its scopes, built lazily so unused parts cost nothing.

The scan needs to answer "what value does this name have here?" for a handful of names
per file, and parsing is most of its cost. So a file is cut into its top-level statements
first (a byte-level pass that knows strings, comments, brackets and line continuations),
and only some are parsed, with libcst: those holding a needle line, and the imports and
assignments that names resolve through. Function and class definitions without a needle
are parsed only if a lookup reaches them, and a class with one is parsed without the
methods nothing needs yet (`SourceFile._segments`). The statements wanted at one time are parsed
in one libcst call (`syntax.parse_pieces`). If the cut ever yields a piece that does not
parse, the whole file is parsed instead, so the cut can cost speed but never correctness.

Positions (lines, columns, source segments) are the `ast` ones, computed from the libcst
tree on first use (`syntax.Unit`). Scopes index their bindings only when first asked, and
only at the statement level (expressions are never walked to build them).
"""

from __future__ import annotations

import bisect
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import libcst as cst

from mlfix.scan.syntax import (
    WORD_BYTES,
    NoPosition,
    ParseFailure,
    Statement,
    Unit,
    decode,
    diagnose,
    dotted,
    else_body,
    flat,
    parameters,
    parse_module,
    parse_pieces,
    star_parameters,
    suite,
    try_parts,
)


class ModuleTree:
    """The top-level statements parsed so far, in source order: what the module scope reads."""

    __slots__ = ("body",)

    def __init__(self, body: list[cst.BaseStatement] | None = None) -> None:
        self.body: list[cst.BaseStatement] = body if body is not None else []


FunctionNode = cst.FunctionDef
ScopeNode = ModuleTree | cst.ClassDef | cst.FunctionDef | cst.Lambda
BindingKind = Literal["assign", "import", "from", "def", "class", "param", "field", "other"]


def parse_python(data: bytes, filename: str) -> Unit:
    """Parse a whole file with libcst (a PEP 263 coding cookie is honoured).

    Raises SyntaxError (ValueError for NUL bytes) worded as CPython words it.
    """
    try:
        module = parse_module(decode(data))
    except ParseFailure as failure:
        raise diagnose(data, filename, failure) from None
    return Unit(module, [1], [1])


@dataclass(frozen=True)
class Binding:
    """One way a name gets a value in a scope.

    `value` is the expression assigned (an assignment's right side, a parameter's default,
    a field's default); None when the statement gives no static value (`for x in ...`,
    a field without default), in which case `reason` says why.
    """

    kind: BindingKind
    name: str
    node: cst.CSTNode | None
    line: int
    value: cst.BaseExpression | None = None
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
_STAR_IMPORT = re.compile(rb"import[\s\\]*\*")


def inert_spans(data: bytes, spans: list[tuple[int, int]] | None = None) -> list[tuple[int, int]]:
    """The comments and plain string literals of the bytes, as sorted (start, end) ranges.

    Text there is never code, so a loader name inside it (a docstring saying "the data
    pipeline", a commented-out call) cannot be a call. An f-string is left out: its
    replacement fields are code. A string prefix counts as an f-string when an `f` stands
    within the two bytes before the quote, which may take a plain string for one (it then
    counts as code): that can only cost a parse, never a model.
    """
    inert: list[tuple[int, int]] = []
    for start, end in token_spans(data) if spans is None else spans:
        if data[start] != 0x23 and b"f" in data[max(0, start - 2) : start].lower():  # not "#"
            continue
        inert.append((start, end))
    return inert


def word_offsets(data: bytes, word: bytes) -> Iterator[int]:
    """Where `word` occurs in the bytes as a whole word (not inside a longer ASCII name).

    A plain `find` loop: a regex with a look-behind first cannot use the fast literal
    search. A non-ASCII neighbour counts as a word boundary, which can only add matches.
    """
    if not word:
        return
    find = data.find
    size = len(word)
    position = find(word)
    while position >= 0:
        end = position + size
        if (position == 0 or data[position - 1] not in WORD_BYTES) and (
            end >= len(data) or data[end] not in WORD_BYTES
        ):
            yield position
        position = find(word, end)


@dataclass
class Chunk:
    """One top-level statement (with its decorators), as a byte and line range."""

    start: int
    end: int
    line: int
    kind: Literal["def", "class"] | None = None
    name: str | None = None
    body: list[cst.BaseStatement] | None = field(default=None, repr=False)
    owner: Chunk | None = field(default=None, repr=False)  # a method's class chunk
    omitted: list[Chunk] = field(default_factory=list, repr=False)  # methods left unparsed
    whole: bool = False  # parse the class with all its methods (a line asked is in one)


def split_top_level(
    data: bytes, *, merge: bool = True, spans: list[tuple[int, int]] | None = None
) -> list[Chunk]:
    """Cut source bytes into top-level statements without parsing them.

    A statement starts at a line whose first byte is a letter, `_` or `@`, outside any
    string or backslash continuation; `else`/`elif`/`except`/`finally` and the `def`/`class`
    under decorators continue the statement before them. Bytes before the first statement
    (docstring, comments) form a chunk of their own. With `merge`, consecutive plain
    (not `def`/`class`) statements form one chunk; without, each is a chunk of its own, so
    that a name lookup parses only the statements that spell the name.

    Brackets are not tracked (that costs more than the parse it saves): a line at column 0
    inside brackets cuts a statement in two, the piece after it cannot parse on its own,
    and the caller falls back to parsing the whole file.
    """
    if spans is None:
        spans = token_spans(data)
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
        if continues_line(data, offset):
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
            merge
            and plain
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


_CLASS_LINE = re.compile(rb"(?m)^class[ \t]")
_COLUMN_ZERO_CODE = re.compile(rb"\n(?=[^\s#])")
# An attribute assignment (`self.name = ...`, `cls.x: str = ...`): a method holding one is
# always parsed, since the evaluator indexes every `self.attr = value` of a class. Loose on
# purpose (non-ASCII names, a `\` line break before `=`, an annotation over several lines,
# anything between a `:` and a later `=`): a method kept for nothing costs a parse only.
_ATTRIBUTE_ASSIGNMENT = re.compile(
    rb"\.[ \t]*[A-Za-z_\x80-\xff][\w\x80-\xff]*(?:[ \t]|\\\r?\n)*(?::[^=]*)?=(?!=)"
)
_ALWAYS_PARSED = (b"add_argument",)  # read by `statements_with`, not through bindings


def token_spans(data: bytes) -> list[tuple[int, int]]:
    """Comments and string literals (f-strings too), as sorted (start, end) ranges."""
    return [(m.start(), m.end()) for m in _TOKEN.finditer(data)]


def continues_line(data: bytes, offset: int) -> bool:
    """Whether the line starting at offset continues the one before (a `\\` ending it)."""
    return data[max(0, offset - 3) : offset].rstrip(b"\r\n").endswith(b"\\")


def inside(spans: list[tuple[int, int]], offset: int) -> tuple[int, int] | None:
    """The span (of sorted, disjoint spans) holding the offset, if any."""
    index = bisect.bisect_right(spans, (offset, sys.maxsize)) - 1
    if index >= 0 and spans[index][0] <= offset < spans[index][1]:
        return spans[index]
    return None


def split_members(data: bytes, chunk: Chunk, spans: list[tuple[int, int]]) -> list[Chunk] | None:
    """Cut a top-level class into its members (statements of its body), without parsing.

    The header (decorators, `class X(...):`) is the bytes before the first member. Members
    start at lines indented exactly like the class body's first statement, outside strings
    and continuations; decorators go with their `def`. The last member ends where the body
    does (a line with code at column 0); what follows in the chunk is not a member and is
    always parsed (`SourceFile._segments`). None when the class cannot be cut
    this way (a body on the header's line, no indented body). Brackets inside the body are
    not tracked: a cut inside them leaves text that does not parse, and the caller then
    parses the class whole.
    """
    head = _CLASS_LINE.search(data, chunk.start, chunk.end)
    if head is None:
        return None
    depth = 0
    position = head.end()
    colon = -1
    while position < chunk.end:
        byte = data[position]
        if byte in b"#'\"":
            span = inside(spans, position)
            if span is not None:
                position = span[1]
                continue
        if byte in b"([{":
            depth += 1
        elif byte in b")]}":
            depth -= 1
        elif byte == 0x3A and depth == 0:  # ":"
            colon = position
            break
        position += 1
    if colon < 0:
        return None
    newline = data.find(b"\n", colon)
    if newline < 0 or data[colon + 1 : newline].split(b"#")[0].strip():
        return None  # `class X: pass`
    indent = b""
    line_start = newline + 1
    while line_start < chunk.end:
        line_end = data.find(b"\n", line_start)
        line_end = chunk.end if line_end < 0 else line_end
        text = data[line_start:line_end]
        stripped = text.lstrip(b" \t")
        if stripped.strip() and not stripped.startswith(b"#"):
            indent = text[: len(text) - len(stripped)]
            break
        line_start = line_end + 1
    if not indent:
        return None
    # The body ends at the first line that starts at column 0 with code: the chunk may
    # go on with a statement the cut does not start a chunk at (`(a, b) = ...`).
    body_end = chunk.end
    for match in _COLUMN_ZERO_CODE.finditer(data, newline, chunk.end):
        offset = match.start() + 1
        if inside(spans, offset) is None and not continues_line(data, offset):
            body_end = offset
            break
    starts = re.compile(rb"\n" + re.escape(indent) + rb"(?=[^\s#])")
    members: list[Chunk] = []
    line = chunk.line + data.count(b"\n", chunk.start, newline)
    previous = newline
    decorated = False
    for match in starts.finditer(data, newline, body_end):
        offset = match.start() + 1
        if inside(spans, offset) is not None:
            continue
        if continues_line(data, offset):
            continue
        line += data.count(b"\n", previous, offset)
        previous = offset
        body = data[offset + len(indent) : offset + len(indent) + 64]
        definition = _DEFINITION.match(body)
        if members and (_CONTINUES.match(body) or (decorated and (definition or body[:1] == b"@"))):
            if decorated and definition:
                members[-1].kind = "class" if definition.group(1) == b"class" else "def"
                members[-1].name = definition.group(2).decode()
                decorated = False
            continue
        decorated = body[:1] == b"@"
        member = Chunk(offset, offset, line, owner=chunk)
        if definition:
            member.kind = "class" if definition.group(1) == b"class" else "def"
            member.name = definition.group(2).decode()
        members.append(member)
    if not members:
        return None
    for i, member in enumerate(members):
        member.end = members[i + 1].start if i + 1 < len(members) else body_end
    return members


class SourceFile:
    """One Python file: bytes, the statements parsed so far, and the path used in reports.

    `tree` holds the parsed top-level statements in source order. With `chunks`, the rest
    of the file is parsed on demand: the statements holding some lines (`ensure_lines`), a
    definition a lookup reached (`definition`), the statements that can bind a name
    (`ensure_name`). Without, `tree` is the whole module. `units` are the libcst parses
    the statements came from: they know the positions.

    A plain statement that does not parse when it is reached makes the whole file parse
    at once, as if the cut had failed up front: if that works (the cut was inside
    brackets) the file continues whole; if not, `error` holds the syntax error, and the
    scan reports it for the file instead of its refs.
    """

    def __init__(
        self,
        path: Path,
        display: Path,
        data: bytes,
        tree: ModuleTree,
        chunks: list[Chunk] | None = None,
        units: list[Unit] | None = None,
    ) -> None:
        self.path = path
        self.display = display
        self.data = data
        self.tree = tree
        self.chunks = chunks
        self.units: list[Unit] = units if units is not None else []
        self.error: SyntaxError | ValueError | None = None
        self._chunk_lines = [chunk.line for chunk in chunks] if chunks else []
        self._chunk_starts = [chunk.start for chunk in chunks] if chunks else []
        self._visible: set[int] = set()
        self._broken: set[int] = set()
        self._names: set[str] = set()
        self._known_lines: dict[int, int] = {}
        self._wanted: list[int] = []  # lines the scan looks at: their methods are parsed
        self._spans: list[tuple[int, int]] | None = None
        self._omitted: dict[int, list[Chunk]] = {}  # class node id -> methods not parsed
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
    def parse(
        cls,
        path: Path,
        display: Path,
        data: bytes,
        lines: Iterable[int] = (),
        spans: list[tuple[int, int]] | None = None,
    ) -> SourceFile:
        """Parse what a scan needs first: the chunks holding `lines`, and star imports.

        Everything else is parsed when a lookup reaches it. Raises SyntaxError (or
        ValueError for NUL bytes) when what is parsed first does not parse.
        """
        lone_cr = b"\r" in data and data.count(b"\r") != data.count(b"\r\n")
        if not lone_cr:
            spans = token_spans(data) if spans is None else spans
            chunks = split_top_level(data, merge=False, spans=spans)
            source = cls(path, display, data, ModuleTree(), chunks)
            source._spans = spans
            source._wanted = sorted(set(lines))
            wanted = source._chunks_of(lines) | source._chunks_matching(_STAR_IMPORT)
            try:
                source._parse_chunks(wanted)
            except ParseFailure:
                pass  # the cut or the code is wrong; the whole-file parse below tells which
            else:
                source._show(wanted)
                return source
        unit = parse_python(data, str(display))
        return cls(path, display, data, ModuleTree(list(unit.module.body)), None, [unit])

    def _chunks_of(self, lines: Iterable[int]) -> set[int]:
        return {bisect.bisect_right(self._chunk_lines, line) - 1 for line in lines if line >= 1}

    def _chunks_at(self, offsets: Iterable[int]) -> set[int]:
        """The plain chunks holding these byte offsets."""
        if self.chunks is None:
            return set()
        found: set[int] = set()
        for offset in offsets:
            index = bisect.bisect_right(self._chunk_starts, offset) - 1
            if index >= 0 and self.chunks[index].kind is None:
                found.add(index)
        return found

    def _chunks_matching(self, pattern: re.Pattern[bytes]) -> set[int]:
        """The plain chunks whose bytes match the pattern."""
        return self._chunks_at(match.start() for match in pattern.finditer(self.data))

    def _parse_chunks(self, indexes: Iterable[int]) -> None:
        """Parse these chunks (those not parsed yet) in one libcst call."""
        assert self.chunks is not None
        todo = sorted(
            i
            for i in set(indexes)
            if 0 <= i < len(self.chunks) and self.chunks[i].body is None and i not in self._broken
        )
        if not todo:
            return
        chunks = [self.chunks[i] for i in todo]
        segments = [self._segments(chunk) for chunk in chunks]
        try:
            pieces = [
                "".join(self.data[a:b].decode("utf-8-sig") for a, b, _ in parts)
                for parts in segments
            ]
        except UnicodeDecodeError as exc:  # another coding: the whole-file parse reads it
            raise ParseFailure(str(exc)) from exc
        try:
            module, bodies, starts = parse_pieces(pieces)
        except ParseFailure:
            if not any(chunk.omitted for chunk in chunks):
                raise
            for chunk in chunks:  # a member cut inside brackets: parse the classes whole
                chunk.omitted = []
                chunk.whole = True
            self._parse_chunks(todo)
            return
        synthetic: list[int] = []
        origin: list[int] = []
        for parts, start in zip(segments, starts, strict=True):
            for a, b, line in parts:
                synthetic.append(start)
                origin.append(line)
                start += self.data.count(b"\n", a, b)
        self.units.append(Unit(module, synthetic, origin))
        for chunk, body in zip(chunks, bodies, strict=True):
            chunk.body = body
            head = self.data[chunk.start : chunk.start + 1]
            if body and (head.isalpha() or head == b"_"):  # the chunk starts at a statement
                self._note_line(body[0], chunk.line)
            if chunk.omitted and body and isinstance(body[0], cst.ClassDef):
                self._omitted[id(body[0])] = chunk.omitted

    def _last_line(self, chunk: Chunk) -> int:
        """The chunk's last line, or the one after it when its bytes end with a newline:
        an upper bound, which is what the checks against wanted lines need."""
        return chunk.line + self.data.count(b"\n", chunk.start, chunk.end)

    def _segments(self, chunk: Chunk) -> list[tuple[int, int, int]]:
        """The byte ranges to parse for a chunk, with the file line each starts at.

        A whole chunk, except for a class: there, methods nothing needs yet are left out
        (`omitted`, parsed alone if a lookup reaches them, `member`). A method is needed
        when it holds a line the scan looks at, assigns an attribute (`self.x = ...`), or
        holds what `statements_with` searches. Parsing costs by the character, and a
        service class is mostly methods that load nothing.
        """
        whole = [(chunk.start, chunk.end, chunk.line)]
        if chunk.kind != "class" or chunk.whole:
            return whole
        try:  # a method parsed alone later is decoded alone: only UTF-8 allows that
            self.data[chunk.start : chunk.end].decode("utf-8")
        except UnicodeDecodeError:
            return whole
        if self._spans is None:
            self._spans = token_spans(self.data)
        members = split_members(self.data, chunk, self._spans)
        if members is None:
            return whole
        kept: list[Chunk] = []
        omitted: list[Chunk] = []
        for member in members:
            last = self._last_line(member)
            holds_line = bisect.bisect_left(self._wanted, member.line) < bisect.bisect_right(
                self._wanted, last
            )
            text = self.data[member.start : member.end]
            if (
                member.kind != "def"
                or holds_line
                or _ATTRIBUTE_ASSIGNMENT.search(text)
                or any(needle in text for needle in _ALWAYS_PARSED)
            ):
                kept.append(member)
            else:
                omitted.append(member)
        if not omitted:
            return whole
        chunk.omitted = omitted
        header = (chunk.start, members[0].start, chunk.line)
        if not kept:  # an empty body does not parse: the first method keeps it
            kept.append(omitted.pop(0))
        parts = [header, *((m.start, m.end, m.line) for m in kept)]
        tail = members[-1].end
        if tail < chunk.end:  # statements after the class in the same chunk
            parts.append((tail, chunk.end, chunk.line + self.data.count(b"\n", chunk.start, tail)))
        return parts

    def _note_line(self, statement: cst.BaseStatement, line: int) -> None:
        """Remember the line of a statement that starts its chunk, which the cut knows, so
        that binding lines need no positions pass (`line`)."""
        if isinstance(statement, cst.SimpleStatementLine):
            if not statement.leading_lines and statement.body:
                self._known_lines[id(statement.body[0])] = line
        elif (
            isinstance(statement, cst.BaseCompoundStatement)
            and not statement.leading_lines
            and not (
                isinstance(statement, (cst.FunctionDef, cst.ClassDef))
                and (statement.decorators or statement.lines_after_decorators)
            )
        ):
            self._known_lines[id(statement)] = line

    def _load(self, indexes: set[int]) -> set[int]:
        """Parse chunks later on; returns those that parsed.

        When some do not parse together, each is tried alone; a plain one that fails
        makes the whole file parse (`_fall_back`).
        """
        try:
            self._parse_chunks(indexes)
            return indexes
        except ParseFailure:
            pass
        assert self.chunks is not None
        loaded: set[int] = set()
        plain_failed = False
        for index in sorted(indexes):
            try:
                self._parse_chunks([index])
            except ParseFailure:
                self._broken.add(index)
                plain_failed = plain_failed or self.chunks[index].kind is None
            else:
                loaded.add(index)
        if plain_failed:
            self._fall_back()
        return loaded

    def _fall_back(self) -> None:
        """Parse the whole file: a plain statement did not parse on its own."""
        try:
            unit = parse_python(self.data, str(self.display))
        except (SyntaxError, ValueError) as exc:
            if self.error is None:
                self.error = exc
            return
        self.units.append(unit)
        self.chunks = None
        self._omitted.clear()
        self.tree.body = list(unit.module.body)
        if self._module_scope is not None:
            self._module_scope.reset()

    def _show(self, indexes: Iterable[int]) -> None:
        """Put parsed chunks into `tree`, in source order, and let the module re-index."""
        assert self.chunks is not None
        self._visible.update(i for i in indexes if self.chunks[i].body is not None)
        self.tree.body = [stmt for i in sorted(self._visible) for stmt in self.chunks[i].body or []]
        if self._module_scope is not None:
            self._module_scope.reset()

    def ensure_lines(self, lines: Iterable[int]) -> bool:
        """Parse the top-level statements holding these lines into `tree`.

        Returns False when one of them does not parse (a syntax error in that statement).
        """
        if self.chunks is None:
            return True
        lines = list(lines)
        self._wanted = sorted(set(self._wanted) | set(lines))
        reparsed: set[int] = set()
        for index in self._chunks_of(lines) & self._visible:
            chunk = self.chunks[index]
            if chunk.omitted and any(
                member.line <= line <= self._last_line(member)
                for member in chunk.omitted
                for line in lines
            ):
                # A method left out holds a line now asked for: parse the class whole.
                if chunk.body:
                    self._omitted.pop(id(chunk.body[0]), None)
                chunk.body, chunk.omitted, chunk.whole = None, [], True
                self._visible.discard(index)
                reparsed.add(index)
        indexes = self._chunks_of(lines) - self._visible
        if not indexes:
            return True
        loaded = self._load(indexes)
        if self.chunks is not None and reparsed - loaded:
            # The class parsed without that method, but not whole: the file is parsed
            # whole, as it was before the method was left out, and reports its error.
            self._fall_back()
        if self.chunks is not None:
            self._show(loaded)
        return loaded == indexes or self.chunks is None

    def ensure_name(self, name: str) -> None:
        """Parse into `tree` the plain top-level statements that can bind `name`.

        A statement that binds a name spells it, so the chunks whose bytes hold the name
        as a word are all that can (definitions are known by name without parsing).
        """
        if self.chunks is None or name in self._names:
            return
        self._names.add(name)
        self.ensure_offsets(word_offsets(self.data, name.encode("utf-8")))

    def ensure_offsets(self, offsets: Iterable[int]) -> None:
        """Parse into `tree` the plain top-level statements holding these byte offsets."""
        indexes = self._chunks_at(offsets) - self._visible
        if indexes:
            loaded = self._load(indexes)
            if self.chunks is not None:
                self._show(loaded)

    def omitted_members(self, node: cst.ClassDef) -> list[Chunk]:
        """The methods of a parsed class that were left out (see `_segments`)."""
        return self._omitted.get(id(node), [])

    def _member(self, chunk: Chunk) -> cst.BaseStatement | None:
        """Parse one method of a class alone, inside a stand-in class header.

        The method keeps its bytes (indentation included), so columns and text are the
        file's; its lines map back through the unit like any piece.
        """
        header = "class __mlfix_member__:\n"
        try:
            text = self.data[chunk.start : chunk.end].decode("utf-8-sig")
            module = parse_module(header + text)
        except (UnicodeDecodeError, ParseFailure):
            return None
        if len(module.body) != 1 or not isinstance(module.body[0], cst.ClassDef):
            return None
        body = suite(module.body[0].body)
        if len(body) != 1 or not isinstance(body[0], cst.FunctionDef):
            return None
        self.units.append(Unit(module, [1, 2], [chunk.line - 1, chunk.line]))
        self._note_line(body[0], chunk.line)
        chunk.body = [body[0]]
        return body[0]

    def definition(self, chunk: Chunk) -> cst.BaseStatement | None:
        """Parse a top-level `def`/`class` (or a method left out of its class) that a lookup
        reached; None if it does not parse."""
        if chunk.owner is not None:
            return chunk.body[0] if chunk.body else self._member(chunk)
        if chunk.body is None:
            if self.chunks is None:  # the file was parsed whole since the chunk was named
                for stmt in self.tree.body:
                    if (
                        isinstance(stmt, (cst.FunctionDef, cst.ClassDef))
                        and stmt.name.value == chunk.name
                        and self.first_line(stmt) == chunk.line
                    ):
                        return stmt
                return None
            if not self._load({self.chunks.index(chunk)}):
                return None
        body = chunk.body or []
        return body[0] if body else None

    def lazy_definitions(self) -> Iterator[Chunk]:
        """Top-level definitions not in `tree` (named by the cut, parsed when looked up)."""
        for i, chunk in enumerate(self.chunks or []):
            if chunk.kind is not None and i not in self._visible and chunk.name:
                yield chunk

    def statements_with(self, needle: bytes) -> Iterator[cst.BaseStatement]:
        """Every top-level statement whose bytes contain `needle`, parsing as needed."""
        if self.chunks is None:
            yield from self.tree.body
            return
        chunks = self.chunks
        for index, chunk in enumerate(chunks):
            if needle in self.data[chunk.start : chunk.end]:
                if chunk.kind:
                    statement = self.definition(chunk)
                    if statement is not None:
                        yield statement
                    continue
                if chunk.body is None:
                    self._load({index})
                yield from chunk.body or []

    # -- positions, as `ast` gives them ----------------------------------------------------

    def _span(self, node: cst.CSTNode) -> tuple[Unit, int, int]:
        for unit in self.units:
            found = unit.span(node)
            if found is not None:
                return unit, found[0], found[1]
        raise NoPosition(f"no position for a {type(node).__name__} in {self.display}")

    def start(self, node: cst.CSTNode) -> tuple[int, int]:
        """(line, 0-based column in characters) where the node's code starts."""
        unit, start, _ = self._span(node)
        return unit.position(start)

    def line(self, node: cst.CSTNode) -> int:
        """The line `ast` gives the node (a `def` is on its keyword's line, not a decorator's)."""
        known = self._known_lines.get(id(node))
        return known if known is not None else self.start(node)[0]

    def end_line(self, node: cst.CSTNode) -> int:
        unit, _, end = self._span(node)
        return unit.position(end)[0]

    def column(self, node: cst.CSTNode) -> int:
        """The 1-based column, in characters, where the node's code starts."""
        return self.start(node)[1] + 1

    def segment(self, node: cst.CSTNode) -> str:
        """The exact source text of a node (without parentheses around it, like `ast`)."""
        unit, start, end = self._span(node)
        return unit.text(start, end)

    def first_line(self, stmt: Statement) -> int:
        """A statement's first line, its decorators included."""
        line = self.line(stmt)
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)) and stmt.decorators:
            return min(line, *(self.line(d.decorator) for d in stmt.decorators))
        return line

    def scope(
        self, node: cst.ClassDef | cst.FunctionDef | cst.Lambda, parent: Scope | None
    ) -> Scope:
        """The (cached) scope of a class, function or lambda node."""
        cached = self._scopes.get(id(node))
        if cached is None:
            kind: Literal["class", "function"] = (
                "class" if isinstance(node, cst.ClassDef) else "function"
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
            if isinstance(node, cst.Lambda):
                _bind_arguments(node.params, table, self.file)
            elif isinstance(node, cst.FunctionDef):
                _bind_arguments(node.params, table, self.file)
                _bind_block(suite(node.body), table, self)
            elif isinstance(node, cst.ClassDef):
                _bind_block(suite(node.body), table, self)
                for member in self.file.omitted_members(node):
                    assert member.name is not None
                    _add(table, Binding("def", member.name, None, member.line, chunk=member))
                    table[member.name].sort(key=lambda binding: binding.line)
            else:
                _bind_block(flat(node.body), table, self)
            if self.kind == "module":
                for chunk in self.file.lazy_definitions():
                    assert chunk.name is not None and chunk.kind is not None
                    _add(table, Binding(chunk.kind, chunk.name, None, chunk.line, chunk=chunk))
            self._bindings = table
        return self._bindings

    def reset(self) -> None:
        # New containers rather than cleared ones: a caller may be iterating the old.
        self._bindings = None
        self.globals = set()
        self.star_imports = []

    def lookup_local(self, name: str) -> list[Binding] | None:
        if self.kind == "module":
            self.file.ensure_name(name)
        return self.bindings().get(name)

    def function_name(self) -> str:
        node = self.node
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            return node.name.value
        return "<lambda>" if isinstance(node, cst.Lambda) else "<module>"


def _add(table: dict[str, list[Binding]], binding: Binding) -> None:
    table.setdefault(binding.name, []).append(binding)


def _bind_arguments(
    params: cst.Parameters, table: dict[str, list[Binding]], file: SourceFile
) -> None:
    for param in [*parameters(params), *params.kwonly_params]:
        name = param.name
        _add(table, Binding("param", name.value, param, file.line(name), param.default))
    for star in star_parameters(params):
        name = star.name
        _add(
            table,
            Binding("param", name.value, star, file.line(name), None, reason="*args/**kwargs"),
        )


def _bind_target(
    target: cst.BaseExpression,
    value: cst.BaseExpression | None,
    stmt: Statement,
    table: dict[str, list[Binding]],
    why: str,
    file: SourceFile,
) -> None:
    if isinstance(target, cst.Name):
        if value is None:
            _add(table, Binding("other", target.value, stmt, file.line(stmt), reason=why))
        else:
            _add(table, Binding("assign", target.value, stmt, file.line(stmt), value))
    elif isinstance(target, (cst.Tuple, cst.List)):
        elements: list[cst.BaseExpression] | None = None
        if (
            isinstance(value, (cst.Tuple, cst.List))
            and len(value.elements) == len(target.elements)
            and not any(
                isinstance(e, cst.StarredElement) for e in (*value.elements, *target.elements)
            )
        ):
            elements = [e.value for e in value.elements]
        for index, element in enumerate(target.elements):
            if isinstance(element, cst.StarredElement):
                _bind_target(element.value, None, stmt, table, "starred assignment", file)
            else:
                item = elements[index] if elements is not None else None
                _bind_target(element.value, item, stmt, table, why, file)


def _asname(alias: cst.ImportAlias) -> str | None:
    if alias.asname is None:
        return None
    return dotted(alias.asname.name)


def _bind_block(body: list[Statement], table: dict[str, list[Binding]], scope: Scope) -> None:
    """Index the bindings of a statement list, not entering nested functions or classes.

    Flow-insensitive on purpose: a name bound in both branches of an `if` has two bindings,
    and the evaluator decides whether they agree.
    """
    file = scope.file
    for stmt in body:
        if isinstance(stmt, cst.Assign):
            for target in stmt.targets:
                _bind_target(
                    target.target,
                    stmt.value,
                    stmt,
                    table,
                    "unpacked from a value mlfix cannot split",
                    file,
                )
        elif isinstance(stmt, cst.AnnAssign):
            if isinstance(stmt.target, cst.Name):
                kind: BindingKind = "assign" if stmt.value is not None else "field"
                _add(
                    table,
                    Binding(
                        kind,
                        stmt.target.value,
                        stmt,
                        file.line(stmt),
                        stmt.value,
                        reason=None if stmt.value is not None else "declared without a value",
                        annotated=True,
                    ),
                )
        elif isinstance(stmt, cst.AugAssign):
            if isinstance(stmt.target, cst.Name):
                _add(
                    table,
                    Binding(
                        "other",
                        stmt.target.value,
                        stmt,
                        file.line(stmt),
                        reason="changed in place (+= ...)",
                    ),
                )
        elif isinstance(stmt, cst.Import):
            for alias in stmt.names:
                name = dotted(alias.name) or ""
                asname = _asname(alias)
                if asname:
                    _add(table, Binding("import", asname, stmt, file.line(stmt), module=name))
                else:
                    top = name.split(".")[0]
                    _add(table, Binding("import", top, stmt, file.line(stmt), module=top))
        elif isinstance(stmt, cst.ImportFrom):
            module = dotted(stmt.module) or ""
            level = len(stmt.relative)
            if isinstance(stmt.names, cst.ImportStar):
                scope.star_imports.append((module, level))
                continue
            for alias in stmt.names:
                attr = dotted(alias.name) or ""
                _add(
                    table,
                    Binding(
                        "from",
                        _asname(alias) or attr,
                        stmt,
                        file.line(stmt),
                        module=module,
                        attr=attr,
                        level=level,
                    ),
                )
        elif isinstance(stmt, cst.FunctionDef):
            _add(table, Binding("def", stmt.name.value, stmt, file.line(stmt)))
        elif isinstance(stmt, cst.ClassDef):
            _add(table, Binding("class", stmt.name.value, stmt, file.line(stmt)))
        elif isinstance(stmt, cst.Global):
            scope.globals.update(item.name.value for item in stmt.names)
        elif isinstance(stmt, cst.For):
            _bind_target(stmt.target, None, stmt, table, "a loop variable", file)
            _bind_block(suite(stmt.body), table, scope)
            _bind_block(else_body(stmt.orelse), table, scope)
        elif isinstance(stmt, cst.With):
            for item in stmt.items:
                if item.asname is not None:
                    _bind_target(
                        item.asname.name, None, stmt, table, "bound by a with statement", file
                    )
            _bind_block(suite(stmt.body), table, scope)
        elif isinstance(stmt, (cst.If, cst.While)):
            _bind_block(suite(stmt.body), table, scope)
            _bind_block(else_body(stmt.orelse), table, scope)
        elif isinstance(stmt, (cst.Try, cst.TryStar)):
            body, orelse, finalbody = try_parts(stmt)
            _bind_block(body, table, scope)
            for handler in stmt.handlers:
                if handler.name is not None:
                    caught = dotted(handler.name.name)
                    if caught:
                        _add(
                            table,
                            Binding(
                                "other", caught, handler, file.line(handler), reason="an exception"
                            ),
                        )
                _bind_block(suite(handler.body), table, scope)
            _bind_block(orelse, table, scope)
            _bind_block(finalbody, table, scope)
        elif isinstance(stmt, cst.Match):
            for case in stmt.cases:
                _bind_block(suite(case.body), table, scope)
