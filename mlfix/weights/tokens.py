"""Hugging Face tokens written into the Dockerfile, and `login` commands that store one.

Facts for MLF303, read from the Dockerfile model only. A literal token (`hf_` and 30 or
more letters and digits) is found wherever it stands, with the shell word or LABEL pair
that holds it, so the rule can replace or remove exactly that. A login is found with the
span to cut: the command and the one operator that joins it to its neighbour, so the rest
of the RUN stays as written.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mlfix.dockerfile import shell
from mlfix.dockerfile.model import DockerfileModel, Instruction
from mlfix.redact import TOKEN

HUB_CLIS = ("hf", "huggingface-cli")
SECRET_ID = "hf_token"


@dataclass(frozen=True)
class Literal:
    """A literal token in instruction `instruction`, at `start:end` of the text.

    `kind` is `run` (a word of a shell-form RUN: `word_start:word_end` is that word, and
    `name` the variable when the word is `NAME=hf_...`), `label` (the `key=value` pair at
    `word_start:word_end`, `pairs` of them in the LABEL), `definition` (an ARG/ENV value:
    the variable is then a token variable, fixed as one) or `other` (report only).
    """

    instruction: int
    start: int
    end: int
    kind: str
    word_start: int = 0
    word_end: int = 0
    name: str | None = None
    pairs: int = 1


@dataclass(frozen=True)
class Login:
    """`hf auth login` / `huggingface-cli login` in a RUN: it writes `$HF_HOME/token`.

    `start:end` is what to cut (the whole instruction when `alone`); `fixable` is False
    when a pipe or background operator joins it, where cutting would change the rest.
    `after` are the commands of the same RUN that ran with the stored token (their start
    offsets); `later` the RUNs of the stage after it that read the hub.
    """

    instruction: int
    start: int
    end: int
    alone: bool
    fixable: bool
    after: tuple[int, ...]
    later: tuple[int, ...]
    mounted: bool  # the RUN already mounts the hf_token secret


def has_secret_mount(instruction: Instruction) -> bool:
    return any(
        f.name == "mount" and f"id={SECRET_ID}" in (f.value or "") for f in instruction.flags
    )


def run_commands(model: DockerfileModel, instruction: Instruction) -> list[shell.Command]:
    """The commands of a shell-form RUN, without the `RUN` keyword and its flags."""
    if instruction.keyword != "RUN" or instruction.heredocs or instruction.is_json:
        return []
    found = shell.commands(model.text, instruction.start, instruction.end, model.escape)
    if not found:
        return []
    words = list(found[0].words)[1:]
    while words and words[0].value.startswith("--"):
        words = words[1:]
    head = [shell.Command(tuple(words), found[0].operator)] if words else []
    return head + found[1:]


def is_login(command: shell.Command) -> bool:
    words = [w.value for w in shell.program(command)]
    if not words or posixpath.basename(words[0]) not in HUB_CLIS:
        return False
    return words[1:2] == ["login"] or words[1:3] == ["auth", "login"]


def is_hub_command(command: shell.Command) -> bool:
    words = shell.program(command)
    return bool(words) and posixpath.basename(words[0].value) in HUB_CLIS


def literals(model: DockerfileModel) -> tuple[Literal, ...]:
    found: list[Literal] = []
    for instruction in model.instructions:
        text = model.text
        for match in TOKEN.finditer(text, instruction.start, instruction.end):
            found.append(_literal(model, instruction, match.start(), match.end()))
    return tuple(found)


def _literal(model: DockerfileModel, instruction: Instruction, start: int, end: int) -> Literal:
    keyword = instruction.keyword
    if keyword in ("ARG", "ENV"):
        return Literal(instruction.index, start, end, "definition")
    if keyword == "LABEL":
        words = shell.commands(model.text, instruction.start, instruction.end, model.escape)
        pairs = [w for c in words for w in c.words][1:]
        for word in pairs:
            if word.start <= start < word.end and "=" in word.value:
                return Literal(
                    instruction.index, start, end, "label", word.start, word.end, None, len(pairs)
                )
    for command in run_commands(model, instruction):
        for word in command.words:
            if word.start <= start < word.end:
                name, sep, _value = word.value.partition("=")
                variable = name if sep and name.isidentifier() else None
                return Literal(instruction.index, start, end, "run", word.start, word.end, variable)
    return Literal(instruction.index, start, end, "other")


def logins(model: DockerfileModel, reads_hub: Callable[[Instruction], bool]) -> tuple[Login, ...]:
    """Every login of every stage; `reads_hub` says whether a RUN downloads from the hub."""
    found: list[Login] = []
    for stage in model.stages:
        runs = [i for i in stage.instructions if i.keyword == "RUN"]
        for position, instruction in enumerate(runs):
            commands = run_commands(model, instruction)
            for i, command in enumerate(commands):
                if not is_login(command):
                    continue
                later = tuple(r.index for r in runs[position + 1 :] if reads_hub(r))
                found.append(_login(model, instruction, commands, i, later))
    return tuple(found)


def _login(
    model: DockerfileModel,
    instruction: Instruction,
    commands: list[shell.Command],
    i: int,
    later: tuple[int, ...],
) -> Login:
    command = commands[i]
    after = tuple(c.start for c in commands[i + 1 :] if _reads_hub(c))
    mounted = has_secret_mount(instruction)
    if len(commands) == 1:
        return Login(instruction.index, instruction.start, instruction.end, True, True,
                     after, later, mounted)  # fmt: skip
    if i + 1 < len(commands):
        fixable = command.operator in ("&&", ";") and (i == 0 or _joins(commands[i - 1]))
        return Login(instruction.index, command.start, commands[i + 1].start, False, fixable,
                     after, later, mounted)  # fmt: skip
    fixable = _joins(commands[i - 1])
    return Login(instruction.index, commands[i - 1].end, command.end, False, fixable,
                 after, later, mounted)  # fmt: skip


def _joins(command: shell.Command) -> bool:
    return command.operator in ("&&", ";")


def _reads_hub(command: shell.Command) -> bool:
    words = shell.program(command)
    if not words:
        return False
    program = posixpath.basename(words[0].value)
    return program in HUB_CLIS or program.startswith("python")


def literal_names(instruction: Instruction) -> set[str]:
    """The variables an ARG/ENV sets to a value holding a literal token."""
    text = instruction.value.strip()
    words = [w.value for c in shell.commands(text, 0, len(text)) for w in c.words] if text else []
    if instruction.keyword == "ENV" and words and "=" not in words[0]:
        return {words[0]} if TOKEN.search(text) else set()
    return {n for n, _, v in (w.partition("=") for w in words) if TOKEN.search(v)}


def covered(spans: Iterable[tuple[int, int]], start: int) -> bool:
    return any(a <= start < b for a, b in spans)
