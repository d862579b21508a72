"""## What it does
Finds a Hugging Face token passed to the build as an `ARG` or set with `ENV`
(`HF_TOKEN`, `HUGGING_FACE_HUB_TOKEN`, `HUGGINGFACE_TOKEN`, ..., or any variable whose value
is a literal `hf_...` token), `login` commands that write a token into a layer
(`hf auth login`, `huggingface-cli login`, whatever the token's source), and tokens written
in the Dockerfile itself: `login --token hf_...`, `RUN HF_TOKEN=hf_... cmd`,
`LABEL token=hf_...`, an ARG/ENV default.

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

A `login` is removed, never given the secret: it would store the token in
`$HF_HOME/token` inside the layer. The commands after it in the same RUN, and the later
RUNs of the stage that download from the hub, read the secret instead. A literal token is
replaced by the secret where it stands (`HF_TOKEN=hf_...` in a RUN would otherwise win
over the mounted one); a LABEL that holds one is removed.

mlfix prints no token it finds: every output format and `--diff` show `hf_****`.

## Fix safety
Unsafe: the build command changes (`--secret` instead of `--build-arg`), the build needs
BuildKit, and an `ENV` token is no longer there at runtime (an app that downloads gated
models at start needs them baked, see MLF301). Display-only when a `RUN` that uses the
token is in exec (JSON) or heredoc form, when a login is joined by a pipe, and for a
token anywhere else (a COPY, a CMD, a comment). A token written in the Dockerfile itself is
already public: revoke it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mlfix.dockerfile import edit, shell
from mlfix.dockerfile.model import DockerfileModel, Instruction
from mlfix.facts import Facts
from mlfix.model import Applicability, Edit, Finding, Fix, Location
from mlfix.redact import TOKEN
from mlfix.rules import hf_secret
from mlfix.rules.hf_secret import SECRET
from mlfix.weights import tokens
from mlfix.weights.facts import TokenDef, WeightFacts

CODE = "MLF303"
NAME = "hf-token-in-image"
SUMMARY = "A Hugging Face token is stored in the image"

REVOKE = "the token is written in the Dockerfile itself: revoke it"


def check(facts: Facts) -> Iterator[Finding]:
    weights = facts.weights
    if weights is None:
        return
    model = facts.dockerfile
    handled = {run for token in weights.tokens for run in token.runs}
    definitions = {token.instruction for token in weights.tokens}
    for token in weights.tokens:
        yield _finding(model, token, weights)
    logins = [login for login in weights.logins if login.instruction not in handled]
    for login in logins:
        yield _login_finding(model, login, weights)
    cut = [(login.start, login.end) for login in weights.logins if login.fixable]
    for literal in weights.literals:
        if literal.kind == "definition" and literal.instruction in definitions:
            continue  # the token variable's fix removes it
        if tokens.covered(cut, literal.start):
            continue  # cut with its login
        yield _literal_finding(model, literal)


def _finding(model: DockerfileModel, token: TokenDef, weights: WeightFacts) -> Finding:
    definition = model.instructions[token.instruction]
    kind = "build argument" if token.keyword == "ARG" else "ENV value"
    message = (
        f"{token.keyword} {token.name} keeps a Hugging Face token in the image"
        f" ({kind}s show in `docker history`); pass it as a BuildKit secret"
    )
    notes = [hf_secret.BUILD_WITH.format(name=token.name)]
    literal = token.has_value and "$" not in definition.value
    if (literal and token.keyword == "ENV") or TOKEN.search(definition.value):
        notes.append(REVOKE)
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
        edits.extend(_rewrite_run(model, run, token, weights, notes))
    for login in weights.logins:
        if login.instruction in token.runs and login.fixable:
            edits.extend(hf_secret.later_runs(model, login, set(token.runs)))
    if any(not login.fixable for login in weights.logins if login.instruction in token.runs):
        how = Applicability.DISPLAY_ONLY
    fix = Fix("read the token from a BuildKit secret", tuple(_unique(edits)), how)
    return Finding(CODE, message, Location(model.path, definition.first_line), fix, tuple(notes))


def _unique(edits: list[Edit]) -> list[Edit]:
    seen: list[Edit] = []
    for e in edits:
        if e not in seen:
            seen.append(e)
    return seen


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


def _rewrite_run(
    model: DockerfileModel,
    run: Instruction,
    token: TokenDef,
    weights: WeightFacts,
    notes: list[str],
) -> list[Edit]:
    commands = tokens.run_commands(model, run)
    if not commands:
        return []
    logins = [login for login in weights.logins if login.instruction == run.index]
    for login in logins:
        if login.fixable:
            notes.append(
                f"drops the login at line {model.line_of(login.start)}: it writes the token"
                " into the image, and the commands after it read the secret"
            )
        else:
            notes.append(f"the login at line {model.line_of(login.start)} must go by hand")
    if any(login.alone and login.fixable for login in logins):
        return [edit.take_block(model, run.start, run.end)[0]]
    cuts = [(login.start, login.end) for login in logins if login.fixable]
    edits: list[Edit] = hf_secret.mount(model, run)
    text = model.text
    pattern = _uses(token.name)
    for command in commands:
        if tokens.covered(cuts, command.start) or tokens.is_login(command):
            continue
        named = False
        for word in command.words:
            for match in pattern.finditer(text, word.start, word.end):
                named = True
                quoted = _in_double_quotes(text, word.start, match.start())
                replacement = SECRET if quoted else f'"{SECRET}"'
                edits.append(Edit(model.path, match.start(), match.end(), replacement))
        program = shell.program(command)
        hub = bool(program) and hf_secret.HUB_PROGRAMS.match(_base(program[0].value))
        if not named and hub and not hf_secret.sets_token(command, token.name):
            edits.append(Edit.insert(model.path, command.start, f'{token.name}="{SECRET}" '))
    edits.extend(Edit.delete(model.path, start, end) for start, end in cuts)
    return edits


def _base(program: str) -> str:
    return program.rsplit("/", 1)[-1]


def _uses(name: str) -> re.Pattern[str]:
    return re.compile(rf"\$(?:\{{{re.escape(name)}(?:[:?+-][^}}]*)?\}}|{re.escape(name)}\b)")


def _login_finding(model: DockerfileModel, login: tokens.Login, weights: WeightFacts) -> Finding:
    run = model.instructions[login.instruction]
    message = (
        f"the login in the RUN at line {run.first_line} writes the token into the image"
        " ($HF_HOME/token stays in the layer); read it from a BuildKit secret instead"
    )
    notes = [hf_secret.BUILD_WITH.format(name="HF_TOKEN")]
    if any(tokens.covered([(login.start, login.end)], lit.start) for lit in weights.literals):
        notes.append(REVOKE)
    if not login.fixable:
        notes.append("a pipe or `&` joins the login: remove it by hand")
        fix = Fix("remove the login", (), Applicability.DISPLAY_ONLY)
    else:
        edits = hf_secret.cut_login(model, login) + hf_secret.later_runs(model, login, set())
        fix = Fix("remove the login; read the token from a BuildKit secret", tuple(edits),
                  Applicability.UNSAFE)  # fmt: skip
    return Finding(CODE, message, Location(model.path, run.first_line), fix, tuple(notes))


def _literal_finding(model: DockerfileModel, literal: tokens.Literal) -> Finding:
    instruction = model.instructions[literal.instruction]
    where = Location(model.path, model.line_of(literal.start))
    message = (
        f"a Hugging Face token is written in the Dockerfile ({instruction.keyword} at line"
        f" {instruction.first_line}); it is in the image and every copy of the repository"
    )
    notes = [REVOKE]
    edits: list[Edit] = []
    if literal.kind == "run":
        edits = hf_secret.replace_literal(model, literal)
        if edits:
            edits = hf_secret.mount(model, instruction) + edits
            notes.append(hf_secret.BUILD_WITH.format(name="HF_TOKEN"))
    elif literal.kind == "label" and literal.pairs <= 1:
        edits = [edit.take_block(model, instruction.start, instruction.end)[0]]
    elif literal.kind == "label":
        edits = [hf_secret.delete_pair(model, literal.word_start, literal.word_end)]
    how = Applicability.UNSAFE if edits else Applicability.DISPLAY_ONLY
    title = "remove the label" if literal.kind == "label" else "read the token from a secret"
    return Finding(CODE, message, where, Fix(title, tuple(edits), how), tuple(notes))


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
