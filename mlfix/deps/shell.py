"""Words of one shell command, with offsets into the raw text they came from.

`commands.split_commands` cuts a RUN at `&&`, `;` and `|`; this module reads one of
those pieces as the shell will: words split at blanks (quotes, backslash escapes,
`$(...)` and backticks kept inside their word), line continuations of the
Dockerfile read as blanks, `<`/`>` redirections set apart. Every word keeps its
offsets, so a fix can insert a flag right after a given word without re-rendering
the user's line.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

REDIRECTS = ("<<<", "<<", ">>", "&>", "<", ">")


@dataclass(frozen=True)
class Word:
    """One shell word: `text` as written, `value` unquoted; offsets index the raw text."""

    text: str
    start: int
    end: int
    redirect: str | None = None  # "<", ">", ">>"... when this word is a redirection target

    @property
    def value(self) -> str:
        try:
            parts = shlex.split(self.text, posix=True)
        except ValueError:
            return self.text
        return parts[0] if len(parts) == 1 else self.text


def _skip_balanced(text: str, index: int, opener: str, closer: str) -> int:
    """Index just past the `closer` that balances the `opener` at `index`."""
    depth = 0
    quote: str | None = None
    while index < len(text):
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
        elif char == opener:
            depth += 1
        elif char == closer:
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return len(text)


def words(text: str, escape: str = "\\") -> list[Word]:
    """Split `text` into words; `escape` + newline (a Dockerfile continuation) is a blank."""
    found: list[Word] = []
    index = 0
    pending: str | None = None
    continuation = re.compile(re.escape(escape) + r"[ \t]*\r?\n")
    while index < len(text):
        match = continuation.match(text, index)
        if match:
            index = match.end()
            continue
        char = text[index]
        if char in " \t\r\n":
            index += 1
            continue
        op = next((r for r in REDIRECTS if text.startswith(r, index)), None)
        if op is not None:
            pending = op
            index += len(op)
            continue
        start = index
        while index < len(text):
            if continuation.match(text, index):
                break
            char = text[index]
            if char in " \t\r\n" or (char in "<>" and index > start):
                break
            if char == "\\":
                index += 2
            elif char in "'\"":
                close = text.find(char, index + 1)
                while char == '"' and close > 0 and text[close - 1] == "\\":
                    close = text.find(char, close + 1)
                index = len(text) if close < 0 else close + 1
            elif text.startswith("$(", index):
                index = _skip_balanced(text, index + 1, "(", ")")
            elif char == "`":
                close = text.find("`", index + 1)
                index = len(text) if close < 0 else close + 1
            else:
                index += 1
        index = min(index, len(text))
        found.append(Word(text[start:index], start, index, pending))
        pending = None
    return found


SUBSTITUTION_RE = re.compile(r"\$\(|`")


def substitutions(text: str) -> list[tuple[str, int]]:
    """Commands inside `$(...)` and backticks, with their offsets in `text`."""
    found: list[tuple[str, int]] = []
    index = 0
    while True:
        match = SUBSTITUTION_RE.search(text, index)
        if not match:
            return found
        if match.group(0) == "`":
            close = text.find("`", match.end())
            if close < 0:
                return found
            found.append((text[match.end() : close], match.end()))
            index = close + 1
        else:
            end = _skip_balanced(text, match.start() + 1, "(", ")")
            found.append((text[match.end() : end - 1], match.end()))
            index = end


def command_words(ws: list[Word]) -> tuple[list[Word], list[Word]]:
    """(prefix assignments and wrappers, the command and its arguments), redirections apart."""
    plain = [w for w in ws if w.redirect is None]
    position = 0
    while position < len(plain):
        value = plain[position].value
        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", value) or value in ("sudo", "exec", "env"):
            position += 1
            continue
        break
    return plain[:position], plain[position:]


def end_of_text(text: str, escape: str = "\\") -> int:
    """Offset just past the last character that is not a blank or a continuation."""
    end = len(text)
    while True:
        stripped = text[:end].rstrip(" \t\r\n")
        if stripped.endswith(escape) and len(stripped) < end:
            end = len(stripped) - len(escape)
            continue
        return len(stripped)
