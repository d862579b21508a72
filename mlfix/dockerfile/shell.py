"""The one shell tokenizer: how the text of a `RUN` reads to `/bin/sh`, with exact offsets.

Every rule reads commands through this module so that they all agree on where a word, a
command and a comment start and end. BuildKit first joins continuation lines (the file's
escape character before a line ending) and drops the blank and comment lines inside them;
the shell then splits words, honouring quotes, backslashes, `$VAR`, `${...}`, `$(...)`,
backticks, operators, redirections, `#` comments and heredocs. Both steps happen in one
pass over the raw Dockerfile text, so every word keeps its offsets there and a fix can
insert, replace or delete one word and leave every other byte alone.

It is not a shell: nothing runs and nothing is expanded but the variables a caller passes
to `Word.expand`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

OPERATORS = ("&&", "||", ";;", ";", "|", "&", "(", ")")
SEPARATORS = frozenset({"&&", "||", ";", "|", "\n"})  # where `segments` cuts a command line
REDIRECT_RE = re.compile(r"\d*(?:<<<|<<-|<<|&>>|&>|>>|>&|<&|>\||<>|<|>)")
VAR_RE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?::?-(?P<default>[^}]*))?\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)
ASSIGNMENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
EMPTY: Mapping[str, str] = {}


@dataclass(frozen=True)
class Piece:
    """Part of a word's value; `literal` parts (quoted, escaped, substitutions) never expand."""

    text: str
    literal: bool
    command: bool = False  # a `$(...)` or backtick substitution: its value is unknown here


@dataclass(frozen=True)
class Word:
    """One shell word: `source` as written (`start`/`end` index the lexed text), `value`
    with quotes, escapes and continuations removed; `redirect` is the operator (`>`, `<<`...)
    when the word is a redirection target."""

    source: str
    start: int
    end: int
    value: str
    redirect: str | None = None
    pieces: tuple[Piece, ...] = ()

    def expand(self, env: Mapping[str, str] = EMPTY) -> tuple[str, tuple[str, ...]]:
        """The value with `$VAR`/`${VAR}`/`${VAR:-default}` from `env`; names with no value
        stay as written and are returned apart."""
        missing: list[str] = []

        def substitute(match: re.Match[str]) -> str:
            name = match.group("braced") or match.group("plain")
            if name in env:
                return env[name]
            if match.group("default") is not None:
                return match.group("default")
            missing.append(name)
            return match.group(0)

        text = "".join(p.text if p.literal else VAR_RE.sub(substitute, p.text) for p in self.pieces)
        # A command substitution's value is whatever the command prints: unknown here.
        missing.extend(p.text for p in self.pieces if p.command)
        return text, tuple(missing)


@dataclass(frozen=True)
class Operator:
    text: str  # one of OPERATORS, or "\n" for a line ending that ends a command
    start: int
    end: int


@dataclass(frozen=True)
class Heredoc:
    """A heredoc body read after the line that opened it; offsets cover the body and terminator."""

    delimiter: str
    body: str
    start: int
    end: int


Token = Word | Operator


@dataclass(frozen=True)
class Lexed:
    tokens: tuple[Token, ...]
    heredocs: tuple[Heredoc, ...]


class _Lexer:
    def __init__(self, text: str, start: int, end: int, escape: str) -> None:
        self.text, self.end, self.escape = text, end, escape
        self.i = start
        self.tokens: list[Token] = []
        self.heredocs: list[Heredoc] = []
        self.pending: list[tuple[str, bool]] = []

    def continuation(self, i: int) -> int | None:
        """End of the escape + line ending at `i` and the blank/comment lines BuildKit drops."""
        text, end = self.text, self.end
        if not text.startswith(self.escape, i) or i + len(self.escape) > end:
            return None
        j = i + len(self.escape)
        while j < end and text[j] in " \t":
            j += 1
        if text.startswith("\r\n", j) and j + 2 <= end:
            j += 2
        elif j < end and text[j] == "\n":
            j += 1
        elif j < end:
            return None
        while j < end:
            newline = text.find("\n", j, end)
            line_end = end if newline < 0 else newline + 1
            body = text[j:line_end].strip()
            if body and not body.startswith("#"):
                break
            j = line_end
        return j

    def run(self) -> Lexed:
        text = self.text
        while self.i < self.end:
            i = self.i
            joined = self.continuation(i)
            if joined is not None:
                self.i = joined
                continue
            char = text[i]
            if char == "\n":
                self.tokens.append(Operator("\n", i, i + 1))
                self.i = self._heredoc_bodies(i + 1)
            elif char in " \t\r":
                self.i = i + 1
            elif char == "#":
                self.i = self._comment_end(i)
            elif match := REDIRECT_RE.match(text, i, self.end):
                self._redirect(match.group(0), match.end())
            elif op := next((o for o in OPERATORS if text.startswith(o, i)), None):
                self.tokens.append(Operator(op, i, i + len(op)))
                self.i = i + len(op)
            else:
                self.tokens.append(self._word(i))
        while (
            self.tokens and isinstance(self.tokens[-1], Operator) and self.tokens[-1].text == "\n"
        ):
            self.tokens.pop()  # the line ending that closes the instruction ends no command
        return Lexed(tuple(self.tokens), tuple(self.heredocs))

    def _comment_end(self, i: int) -> int:
        """A comment runs to the end of the logical line: continuations do not end it."""
        while True:
            newline = self.text.find("\n", i, self.end)
            if newline < 0:
                return self.end
            line = self.text[i:newline].rstrip("\r").rstrip(" \t")
            if not line.endswith(self.escape):
                return newline
            i = newline + 1

    def _redirect(self, op: str, i: int) -> None:
        text = self.text
        while i < self.end:
            joined = self.continuation(i)
            if joined is not None:
                i = joined
            elif text[i] in " \t":
                i += 1
            else:
                break
        self.i = i
        if i >= self.end or text[i] in "\r\n;&|()<>":
            return
        word = self._word(i, redirect=op.lstrip("0123456789"))
        self.tokens.append(word)
        if word.redirect in ("<<", "<<-"):
            self.pending.append((word.value, word.redirect == "<<-"))

    def _heredoc_bodies(self, i: int) -> int:
        text = self.text
        for delimiter, strip_tabs in self.pending:
            start = i
            body: list[str] = []
            while i < self.end:
                newline = text.find("\n", i, self.end)
                line_end = self.end if newline < 0 else newline + 1
                line = text[i:line_end]
                i = line_end
                check = line.rstrip("\n").rstrip("\r")
                if (check.lstrip("\t") if strip_tabs else check) == delimiter:
                    break
                body.append(line)
            self.heredocs.append(Heredoc(delimiter, "".join(body), start, i))
        self.pending.clear()
        return i

    def _word(self, i: int, redirect: str | None = None) -> Word:
        text, end = self.text, self.end
        start = last = i
        pieces: list[Piece] = []

        def add(chunk: str, literal: bool, command: bool = False) -> None:
            if not command and pieces and pieces[-1].literal == literal and not pieces[-1].command:
                pieces[-1] = Piece(pieces[-1].text + chunk, literal)
            elif chunk:
                pieces.append(Piece(chunk, literal, command))

        while i < end:
            joined = self.continuation(i)
            if joined is not None:
                i = joined
                continue
            char = text[i]
            if char in " \t\r\n;&|()<>":
                break
            if char == "\\":
                add(text[i + 1 : min(i + 2, end)].replace("\n", ""), True)
                i = min(i + 2, end)
            elif char == "'":
                i = self._quoted(i + 1, "'", add)
            elif char == '"':
                i = self._quoted(i + 1, '"', add)
            elif text.startswith("$(", i) or char == "`":
                close = _skip_balanced(text, i + 1, end) if char == "$" else _backtick(text, i, end)
                add(self._joined(i, close), True, True)
                i = close
            elif text.startswith("${", i):
                close = text.find("}", i, end)
                close = end if close < 0 else close + 1
                add(text[i:close], False)
                i = close
            else:
                add(char, False)
                i += 1
            last = i
        self.i = i
        source = text[start:last]
        return Word(source, start, last, "".join(p.text for p in pieces), redirect, tuple(pieces))

    def _quoted(self, i: int, quote: str, add: Callable[[str, bool, bool], None]) -> int:
        text, end = self.text, self.end
        while i < end:
            joined = self.continuation(i)
            if joined is not None:
                i = joined
                continue
            char = text[i]
            if char == quote:
                return i + 1
            if quote == '"' and char == "\\" and i + 1 < end and text[i + 1] in '"\\$`\n':
                add(text[i + 1].replace("\n", ""), True, False)
                i += 2
            elif quote == '"' and (text.startswith("$(", i) or char == "`"):
                close = _skip_balanced(text, i + 1, end) if char == "$" else _backtick(text, i, end)
                add(self._joined(i, close), True, True)
                i = close
            else:
                add(char, quote == "'", False)
                i += 1
        return end

    def _joined(self, start: int, end: int) -> str:
        """`text[start:end]` with the Dockerfile's continuations taken out."""
        return re.sub(re.escape(self.escape) + r"[ \t]*\r?\n", "", self.text[start:end])


def _backtick(text: str, i: int, end: int) -> int:
    close = text.find("`", i + 1, end)
    return end if close < 0 else close + 1


def _skip_balanced(text: str, index: int, end: int) -> int:
    """Index just past the `)` that balances the `(` at `index`."""
    depth = 0
    quote: str | None = None
    while index < end:
        char = text[index]
        if quote:
            if char == "\\" and quote == '"':
                index += 2
                continue
            if char == quote:
                quote = None
        elif char == "\\":
            index += 2
            continue
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return end


def lex(text: str, start: int = 0, end: int | None = None, escape: str = "\\") -> Lexed:
    """Tokens of `text[start:end]`; offsets index `text`. `escape` is the Dockerfile's."""
    return _Lexer(text, start, len(text) if end is None else end, escape).run()


def words(text: str, escape: str = "\\") -> list[Word]:
    """Every word of `text`, redirection targets included (their `redirect` says so)."""
    return [t for t in lex(text, escape=escape).tokens if isinstance(t, Word)]


def end_of_text(text: str, escape: str = "\\") -> int:
    """Offset just past the last word or operator: trailing blanks, continuations and
    comments excluded, so text appended there is still part of the command."""
    tokens = list(lex(text, escape=escape).tokens)
    while tokens and isinstance(tokens[-1], Word) and tokens[-1].source == "\\":
        tokens.pop()  # a lone backslash at the end: text after it would be escaped by it
    return tokens[-1].end if tokens else 0


@dataclass(frozen=True)
class Segment:
    """One command of a command line cut at top-level `&&`, `||`, `;`, `|` and line ends.

    Segments tile the text: `text` runs from just after the operator before it (None for
    the first) to the next operator, blanks and comments included; `start`/`end` index the
    text that was split.
    """

    text: str
    start: int
    end: int
    operator_before: str | None


def segments(text: str, escape: str = "\\") -> list[Segment]:
    """`text` cut into commands; a `( ... )` subshell stays one command."""
    found: list[Segment] = []
    depth = 0
    start = 0
    operator: str | None = None
    for token in lex(text, escape=escape).tokens:
        if not isinstance(token, Operator):
            continue
        if token.text == "(":
            depth += 1
        elif token.text == ")":
            depth = max(depth - 1, 0)
        elif depth == 0 and token.text in SEPARATORS:
            found.append(Segment(text[start : token.start], start, token.start, operator))
            operator, start = token.text, token.end
    found.append(Segment(text[start:], start, len(text), operator))
    return [s for s in found if s.text.strip() or s.operator_before is not None]


@dataclass(frozen=True)
class Command:
    """A simple command: its words, and the operator that ends it (`""` at the end)."""

    words: tuple[Word, ...]
    operator: str

    @property
    def start(self) -> int:
        return self.words[0].start

    @property
    def end(self) -> int:
        return self.words[-1].end


def commands(
    text: str, start: int = 0, end: int | None = None, escape: str = "\\"
) -> list[Command]:
    """The simple commands of `text[start:end]`, cut at every operator."""
    found: list[Command] = []
    current: list[Word] = []
    for token in lex(text, start, end, escape).tokens:
        if isinstance(token, Word):
            current.append(token)
            continue
        if current:
            found.append(Command(tuple(current), token.text))
        current = []
    if current:
        found.append(Command(tuple(current), ""))
    return found


def command_words(ws: Sequence[Word]) -> tuple[list[Word], list[Word]]:
    """(prefix assignments and wrappers, the command and its arguments), redirections apart."""
    plain = [w for w in ws if w.redirect is None]
    position = 0
    while position < len(plain):
        value = plain[position].value
        if ASSIGNMENT_RE.match(value) or value in ("sudo", "exec", "env"):
            position += 1
            continue
        break
    return plain[:position], plain[position:]


def program(command: Command) -> list[Word]:
    """The words from the program name on: no leading `VAR=value`, no redirections."""
    plain = [w for w in command.words if w.redirect is None]
    while plain and ASSIGNMENT_RE.match(plain[0].value):
        plain = plain[1:]
    return plain


def substitutions(text: str) -> list[tuple[str, int]]:
    """Commands inside `$(...)` and backticks, with their offsets in `text`."""
    found: list[tuple[str, int]] = []
    for word in words(text):
        index = 0
        source = word.source
        while True:
            match = re.compile(r"\$\(|`").search(source, index)
            if not match:
                break
            if match.group(0) == "`":
                close = source.find("`", match.end())
                if close < 0:
                    break
                found.append((source[match.end() : close], word.start + match.end()))
                index = close + 1
            else:
                close = _skip_balanced(source, match.start() + 1, len(source))
                found.append((source[match.end() : close - 1], word.start + match.end()))
                index = close
    return found
