"""The edits MLF303 makes: a RUN reads the Hugging Face token from the `hf_token` secret.

Three fixes share them: a token variable (ARG/ENV) is replaced, a `login` that stores the
token in a layer is cut, and a token written in the Dockerfile is replaced where it stands.
In each, the commands that need the token get it for their own process only, from the file
BuildKit mounts (`env=` mounts need a newer frontend than Docker 20.10 has).
"""

from __future__ import annotations

import re

from mlfix.dockerfile import edit, shell
from mlfix.dockerfile.model import DockerfileModel, Instruction
from mlfix.model import Edit
from mlfix.weights import tokens
from mlfix.weights.tokens import Login
from mlfix.weights.validate import word

SECRET_ID = tokens.SECRET_ID
SECRET = "$(cat /run/secrets/hf_token 2>/dev/null)"
MOUNT = f"--mount=type=secret,id={SECRET_ID}"
HUB_PROGRAMS = re.compile(r"^(?:hf|huggingface-cli|python(?:\d+(?:\.\d+)*)?)$")
BUILD_WITH = (
    f"build with: docker build --secret id={SECRET_ID},env={{name}} ... (compose:"
    f" `build: secrets: [{SECRET_ID}]` and `secrets: {SECRET_ID}: environment: {{name}}`)"
)


def mount(model: DockerfileModel, run: Instruction) -> list[Edit]:
    """`--mount=type=secret,id=hf_token` in front of the RUN's command, unless it is there."""
    if tokens.has_secret_mount(run):
        return []
    commands = tokens.run_commands(model, run)
    return [Edit.insert(model.path, commands[0].start, f"{MOUNT} ")] if commands else []


def sets_token(command: shell.Command, name: str = "HF_TOKEN") -> bool:
    return any(w.value.startswith(f"{name}=") for w in command.words[:3])


def give_token(model: DockerfileModel, run: Instruction, starts: set[int] | None) -> list[Edit]:
    """`HF_TOKEN="$(cat ...)"` in front of the RUN's hub commands (or those at `starts`)."""
    edits: list[Edit] = []
    for command in tokens.run_commands(model, run):
        wanted = command.start in starts if starts is not None else tokens.is_hub_command(command)
        if wanted and not tokens.is_login(command) and not sets_token(command):
            edits.append(Edit.insert(model.path, command.start, f'HF_TOKEN="{SECRET}" '))
    return edits


def cut_login(model: DockerfileModel, login: Login) -> list[Edit]:
    """Cut the login; the commands after it in its RUN read the secret instead."""
    if login.alone:
        return [edit.take_block(model, login.start, login.end)[0]]
    run = model.instructions[login.instruction]
    edits = [Edit.delete(model.path, login.start, login.end)]
    given = give_token(model, run, set(login.after))
    if given:
        edits = mount(model, run) + edits + given
    return edits


def later_runs(model: DockerfileModel, login: Login, skip: set[int]) -> list[Edit]:
    """The stage's later RUNs that read the hub, which the stored token served."""
    edits: list[Edit] = []
    for index in login.later:
        if index in skip:
            continue
        run = model.instructions[index]
        given = give_token(model, run, None)
        if given:
            edits.extend(mount(model, run) + given)
    return edits


def replace_literal(model: DockerfileModel, literal: tokens.Literal) -> list[Edit]:
    """The shell word holding a literal token, with the secret in its place."""
    text = model.text
    value = shell.commands(text, literal.word_start, literal.word_end, model.escape)
    words = [w for c in value for w in c.words]
    if len(words) != 1:
        return []
    unquoted = words[0].value
    token = text[literal.start : literal.end]
    if unquoted.count(token) != 1:
        return []
    before, after = unquoted.split(token)
    parts = [word(before) if before else "", f'"{SECRET}"', word(after) if after else ""]
    return [Edit(model.path, literal.word_start, literal.word_end, "".join(parts))]


def delete_pair(model: DockerfileModel, start: int, end: int) -> Edit:
    """Delete one `key=value` of a LABEL with the blanks after it (or before, if last)."""
    text = model.text
    after = end
    while after < len(text) and text[after] in " \t":
        after += 1
    if after < len(text) and text[after] not in "\r\n" and text[after] != model.escape:
        return Edit.delete(model.path, start, after)
    before = start
    while before > 0 and text[before - 1] in " \t":
        before -= 1
    return Edit.delete(model.path, before, end)
