"""## What it does
Finds a Hugging Face token passed to the build as an `ARG` or set with `ENV`
(`HF_TOKEN`, `HUGGING_FACE_HUB_TOKEN`, `HUGGINGFACE_TOKEN`, ...), and `login` commands that
write a token into a layer.

## Why is this bad?
Build arguments and ENV values are stored in the image: `docker history` and
`docker inspect` show them to anyone who can pull the image, and an `ENV` also hands the
token to every process of the container. `hf auth login` / `huggingface-cli login` writes
it to `$HF_HOME/token`, inside the layer. A BuildKit secret is mounted for one `RUN` only
and never stored.

## Example
```dockerfile
FROM python:3.11-slim
ARG HF_TOKEN
RUN pip install --no-cache-dir "huggingface_hub>=1.0"
RUN hf download org/gated-model --token $HF_TOKEN
```

## Use instead
```dockerfile
FROM python:3.11-slim
RUN pip install --no-cache-dir "huggingface_hub>=1.0"
RUN --mount=type=secret,id=hf_token \
    hf download org/gated-model --token "$(cat /run/secrets/hf_token 2>/dev/null)"
```
built with `docker build --secret id=hf_token,env=HF_TOKEN .` (BuildKit, the default
builder since Docker 23; `DOCKER_BUILDKIT=1` before). The secret is read from the file
BuildKit mounts at `/run/secrets/hf_token`: the `env=` mount option needs the Dockerfile
frontend 1.10, which Docker 20.10's built-in frontend rejects. Commands that read the token
from the environment get it as `HF_TOKEN="$(cat /run/secrets/hf_token 2>/dev/null)"` in
front of them. With no secret given, the file is absent and the download runs anonymously.

## Fix safety
Unsafe: the build command changes (`--secret` instead of `--build-arg`), the build needs
BuildKit, and an `ENV` token is no longer there at runtime (an app that downloads gated
models at start needs them baked, see MLF301). Display-only when a `RUN` that uses the
token is in exec (JSON) or heredoc form. A token written in the Dockerfile itself is
already public: revoke it.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from mlfix.dockerfile import edit
from mlfix.dockerfile.model import DockerfileModel, Instruction
from mlfix.facts import Facts
from mlfix.model import Applicability, Edit, Finding, Fix, Location
from mlfix.weights import shell
from mlfix.weights.facts import TokenDef, WeightFacts

CODE = "MLF303"
NAME = "hf-token-in-image"
SUMMARY = "A Hugging Face token is stored in the image"

SECRET_ID = "hf_token"
SECRET = "$(cat /run/secrets/hf_token 2>/dev/null)"
MOUNT = f"--mount=type=secret,id={SECRET_ID}"
HUB_PROGRAMS = re.compile(r"^(?:hf|huggingface-cli|python(?:\d+(?:\.\d+)*)?)$")
LOGIN = ("login", "auth")


def check(facts: Facts) -> Iterator[Finding]:
    weights: WeightFacts | None = facts.extra.get("weights")
    if weights is None:
        return
    model = facts.dockerfile
    for token in weights.tokens:
        yield _finding(model, token)


def _finding(model: DockerfileModel, token: TokenDef) -> Finding:
    definition = model.instructions[token.instruction]
    kind = "build argument" if token.keyword == "ARG" else "ENV value"
    message = (
        f"{token.keyword} {token.name} keeps a Hugging Face token in the image"
        f" ({kind}s show in `docker history`); pass it as a BuildKit secret"
    )
    notes = [
        f"build with: docker build --secret id={SECRET_ID},env={token.name} ... (compose:"
        f" `build: secrets: [{SECRET_ID}]` and `secrets: {SECRET_ID}: environment: {token.name}`)"
    ]
    literal = token.has_value and "$" not in definition.value
    if literal and token.keyword == "ENV":
        notes.append("the token is written in the Dockerfile itself: revoke it")
    if token.keyword == "ENV":
        notes.append(f"the app no longer gets {token.name} at runtime")
    how = Applicability.UNSAFE
    edits: list[Edit] = [_remove_definition(model, definition, token)]
    for index in token.runs:
        run = model.instructions[index]
        if run.is_json or run.heredocs:
            how = Applicability.DISPLAY_ONLY
            notes.append(f"the RUN at line {run.first_line} must be rewritten by hand")
            continue
        edits.extend(_rewrite_run(model, run, token, notes))
    fix = Fix("read the token from a BuildKit secret", tuple(edits), how)
    return Finding(CODE, message, Location(model.path, definition.first_line), fix, tuple(notes))


def _remove_definition(model: DockerfileModel, definition: Instruction, token: TokenDef) -> Edit:
    if token.pairs <= 1:
        return edit.take_block(model, definition.start, definition.end)[0]
    words = _words(model, definition)[1:]
    for i, word in enumerate(words):
        if word.value.split("=", 1)[0] == token.name:
            if i + 1 < len(words):
                return Edit.delete(model.path, word.start, words[i + 1].start)
            return Edit.delete(model.path, words[i - 1].end, word.end)
    raise AssertionError("the token variable is not in its instruction")


def _words(model: DockerfileModel, instruction: Instruction) -> list[shell.Word]:
    commands = shell.commands(model.text, instruction.start, instruction.end, model.escape)
    return [w for c in commands for w in c.words]


def _command_start(model: DockerfileModel, run: Instruction) -> shell.Word | None:
    words = _words(model, run)
    rest = words[1:]
    while rest and rest[0].value.startswith("--"):
        rest = rest[1:]
    return rest[0] if rest else None


def _rewrite_run(
    model: DockerfileModel, run: Instruction, token: TokenDef, notes: list[str]
) -> list[Edit]:
    edits: list[Edit] = []
    first = _command_start(model, run)
    if first is None:
        return edits
    mounted = any(f.name == "mount" and f"id={SECRET_ID}" in (f.value or "") for f in run.flags)
    mount = [] if mounted else [Edit.insert(model.path, first.start, f"{MOUNT} ")]
    text = model.text
    pattern = re.compile(
        rf"\$(?:\{{{re.escape(token.name)}(?:[:?+-][^}}]*)?\}}|{re.escape(token.name)}\b)"
    )
    commands = shell.commands(text, first.start, run.end, model.escape)
    logins: list[tuple[int, int]] = []
    for position, command in enumerate(commands):
        words = shell.program(command)
        if not words:
            continue
        program = posixpath.basename(words[0].value)
        is_login = (
            program in ("hf", "huggingface-cli")
            and len(words) > 1
            and words[1].value in LOGIN
            and any(w.value == "login" for w in words[1:3])
        )
        if is_login and command.operator == "&&" and position + 1 < len(commands):
            logins.append((command.start, commands[position + 1].start))
            notes.append(
                f"drops the login at line {model.line_of(command.start)}: it writes the token"
                " into the image, and the commands after it read the secret"
            )
            continue
        named = False
        for word in command.words:
            for match in pattern.finditer(text, word.start, word.end):
                named = True
                quoted = _in_double_quotes(text, word.start, match.start())
                replacement = SECRET if quoted else f'"{SECRET}"'
                edits.append(Edit(model.path, match.start(), match.end(), replacement))
        if not named and HUB_PROGRAMS.match(program):
            edits.append(Edit.insert(model.path, command.start, f'{token.name}="{SECRET}" '))
    for start, end in logins:
        edits = [e for e in edits if not (start <= e.start < end)]
        edits.append(Edit.delete(model.path, start, end))
    return mount + edits


def _in_double_quotes(text: str, start: int, at: int) -> bool:
    quote: str | None = None
    i = start
    while i < at:
        char = text[i]
        if char == "\\" and quote != "'":
            i += 2
            continue
        if quote is None and char in "'\"":
            quote = char
        elif char == quote:
            quote = None
        i += 1
    return quote == '"'
