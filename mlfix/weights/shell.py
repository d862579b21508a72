"""Shell words of a `RUN` with their exact offsets, so fixes can rewrite single words.

`mlfix.scan.commands` reads what a command means; this module only finds where each word
stands in the Dockerfile text (continuation lines and comment lines inside them included),
so MLF302 and MLF303 can replace a word, insert one, or delete one and leave every other
byte alone. It is not a shell: quotes, backslashes, `$VAR`/`${VAR}`/`$(...)`, operators and
redirections are enough for the command lines that download models.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OPERATORS = ("&&", "||", ";;", ";", "|", "&", "(", ")")
VAR_RE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


@dataclass(frozen=True)
class Word:
    """One shell word: `start`/`end` index the text it was read from; `value` is unquoted."""

    start: int
    end: int
    value: str
    source: str  # the word exactly as written


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


def commands(text: str, start: int, end: int, escape: str = "\\") -> list[Command]:
    """The simple commands of `text[start:end]` (a shell-form RUN's command part)."""
    found: list[Command] = []
    words: list[Word] = []
    i = start
    line_start = True

    def close(operator: str) -> None:
        if words:
            found.append(Command(tuple(words), operator))
        words.clear()

    while i < end:
        char = text[i]
        if char == escape and text.startswith("\r\n", i + 1):
            i += 3
            line_start = True
            continue
        if char == escape and i + 1 < end and text[i + 1] == "\n":
            i += 2
            line_start = True
            continue
        if char == "\n":
            i += 1
            line_start = True
            continue
        if char in " \t\r":
            i += 1
            continue
        if line_start and char == "#":  # a comment line inside a continuation
            newline = text.find("\n", i, end)
            i = end if newline < 0 else newline + 1
            continue
        line_start = False
        operator = next((op for op in _OPERATORS if text.startswith(op, i)), None)
        if operator is not None:
            close(operator)
            i += len(operator)
            continue
        if char == "#":
            newline = text.find("\n", i, end)
            i = end if newline < 0 else newline
            continue
        word_end, value = _word(text, i, end, escape)
        words.append(Word(i, word_end, value, text[i:word_end]))
        i = word_end
    close("")
    return found


def _word(text: str, i: int, end: int, escape: str) -> tuple[int, str]:
    value: list[str] = []
    depth = 0
    while i < end:
        char = text[i]
        if depth == 0 and (char in " \t\r\n" or any(text.startswith(op, i) for op in _OPERATORS)):
            break
        if char == escape and i + 1 < end:
            if text[i + 1] == "\n":
                break
            value.append(text[i + 1])
            i += 2
        elif char == "'":
            close = text.find("'", i + 1, end)
            close = end if close < 0 else close
            value.append(text[i + 1 : close])
            i = close + 1
        elif char == '"':
            j = i + 1
            while j < end and text[j] != '"':
                if text[j] == "\\" and j + 1 < end:
                    value.append(text[j + 1] if text[j + 1] in '"\\$`' else text[j : j + 2])
                    j += 2
                else:
                    value.append(text[j])
                    j += 1
            i = j + 1
        elif text.startswith("$(", i):
            depth += 1
            value.append("$(")
            i += 2
        elif char == ")" and depth:
            depth -= 1
            value.append(")")
            i += 1
        else:
            value.append(char)
            i += 1
    return i, "".join(value)


def program(command: Command) -> list[Word]:
    """The words from the program name on, without leading `VAR=value` assignments."""
    words = list(command.words)
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0].value):
        words = words[1:]
    return words
