"""## What it does
Finds Hugging Face CLI commands in `RUN` lines that the huggingface_hub the image installs
does not run as written: `huggingface-cli` where the hub is 1.0 or newer (it was removed;
later releases keep a stub that exits 1), or deprecated since 0.34; `hf` where the project
pins a hub older than 0.34 (no `hf` command yet); several values after one `--include` or
`--exclude` under hub 1.x, which takes one value per flag; and options 1.x dropped
(`--local-dir-use-symlinks`, `--resume-download`).

## Why is this bad?
The build fails at that line, or worse, succeeds with the wrong files: under hub 1.x,
`--include "*.json" "*.safetensors"` reads the second pattern as a file name to download.
The version that counts is the one the stage installs (`pip install huggingface_hub==X`) or
the project pins; with no pin, pip installs the newest release.

## Example
```dockerfile
RUN pip install --no-cache-dir huggingface_hub
RUN huggingface-cli download org/tiny-model --include "*.json" "*.safetensors"
```

## Use instead
```dockerfile
RUN pip install --no-cache-dir huggingface_hub
RUN hf download org/tiny-model --include "*.json" --include "*.safetensors"
```

## Fix safety
Safe when the line would fail as written (a missing command, a dropped option, a glob read
as a file name): the rewrite asks for exactly what the line meant. Safe for the rename of a
deprecated `huggingface-cli` (same command, same files). Unsafe when a second `--include`
value is a plain file name: the old line downloaded that one file, the fixed line downloads
every file the patterns match, so the image changes. Display-only for a subcommand with no
counterpart in the other CLI.
"""

from __future__ import annotations

import itertools
import posixpath
from collections.abc import Iterator

from mlfix.dockerfile import shell
from mlfix.dockerfile.model import DockerfileModel
from mlfix.facts import Facts
from mlfix.model import Applicability, Edit, Finding, Fix, Location
from mlfix.weights.facts import CliCommand
from mlfix.weights.includes import is_glob
from mlfix.weights.versions import version_tuple

CODE = "MLF302"
NAME = "hub-cli-version"
SUMMARY = "A Hugging Face CLI command the installed huggingface_hub does not run as written"

TO_HF = {"download": "download", "upload": "upload", "login": "auth login",
         "logout": "auth logout", "whoami": "auth whoami", "env": "env"}  # fmt: skip
TO_OLD = {value: key for key, value in TO_HF.items()}
PATTERN_FLAGS = ("--include", "--exclude")
VALUE_FLAGS = frozenset(
    {"--repo-type", "--type", "--revision", "--cache-dir", "--local-dir", "--token",
     "--max-workers", "--format", "--etag-timeout", "--local-dir-use-symlinks"}
)  # fmt: skip
DROPPED = {"--local-dir-use-symlinks": True, "--resume-download": False}  # flag -> takes a value


def check(facts: Facts) -> Iterator[Finding]:
    weights = facts.weights
    if weights is None:
        return
    for command in weights.commands:
        finding = _check(facts.dockerfile, command)
        if finding is not None:
            yield finding


def _describe(version: str | None) -> str:
    if version is None:
        return "the newest huggingface_hub (nothing pins it)"
    return f"huggingface_hub {version.lstrip('=')}"


def _check(model: DockerfileModel, command: CliCommand) -> Finding | None:
    parsed = version_tuple(command.hub_version)
    modern = parsed is None or parsed >= (1,)
    tool = posixpath.basename(command.tool_word.value)
    location = Location(model.path, model.line_of(command.tool_word.start))
    words = shell.program(command.command)
    edits: list[Edit] = []
    how = Applicability.SAFE
    notes: list[str] = []
    if tool == "huggingface-cli":
        if parsed is not None and parsed < (0, 34):
            return None
        new_sub = TO_HF.get(command.subcommand)
        if new_sub is None:
            return Finding(
                CODE,
                f"`huggingface-cli {command.subcommand}` has no `hf` counterpart mlfix knows",
                location,
                Fix("rewrite with the hf CLI", (), Applicability.DISPLAY_ONLY),
            )
        message = (
            f"`huggingface-cli` is gone from {_describe(command.hub_version)}; use `hf {new_sub}`"
            if modern
            else f"`huggingface-cli` is deprecated in {_describe(command.hub_version)};"
            f" use `hf {new_sub}`"
        )
        edits.append(_replace_tool(model, command.tool_word, "hf"))
        if new_sub != command.subcommand:
            edits.append(_replace(model, words[1], new_sub))
        if modern and command.subcommand == "download":
            more, unsafe = _split_greedy(model, words[2:], notes)
            edits.extend(more)
            if unsafe:
                how = Applicability.UNSAFE
            edits.extend(_drop_options(model, words[2:], notes))
    elif tool == "hf":
        if parsed is not None and parsed < (0, 34):
            old_sub = TO_OLD.get(command.subcommand)
            if old_sub is None:
                return Finding(
                    CODE,
                    f"`hf {command.subcommand}` does not exist in {_describe(command.hub_version)}",
                    location,
                    Fix("rewrite with huggingface-cli", (), Applicability.DISPLAY_ONLY),
                )
            message = (
                f"`hf` does not exist in {_describe(command.hub_version)} (it came in 0.34);"
                f" use `huggingface-cli {old_sub}`"
            )
            edits.append(_replace_tool(model, command.tool_word, "huggingface-cli"))
            sub_words = words[1:3] if command.subcommand.startswith("auth ") else words[1:2]
            if old_sub != command.subcommand:
                edits.append(_replace_span(model, sub_words[0].start, sub_words[-1].end, old_sub))
            if command.subcommand == "download":
                merged = _merge_repeated(model, words[2:])
                if merged is None:
                    how = Applicability.DISPLAY_ONLY
                    notes.append("several --include flags with other options between them")
                else:
                    edits.extend(merged)
                    if merged:
                        notes.append("before 1.0 a repeated --include keeps only its last value")
        elif modern and command.subcommand == "download":
            edits, unsafe = _split_greedy(model, words[2:], notes)
            edits.extend(_drop_options(model, words[2:], notes))
            if not edits:
                return None
            how = Applicability.UNSAFE if unsafe else Applicability.SAFE
            message = (
                f"`hf download` in {_describe(command.hub_version)} takes one value per"
                " --include/--exclude"
                if unsafe or any(n.startswith("hub 1.x") for n in notes)
                else f"`hf download` in {_describe(command.hub_version)} has no such option"
            )
        else:
            return None
    else:
        return None
    fix = Fix("rewrite the command for the installed huggingface_hub", tuple(edits), how)
    return Finding(CODE, message, location, fix, notes=tuple(notes))


def _replace_span(model: DockerfileModel, start: int, end: int, text: str) -> Edit:
    return Edit(model.path, start, end, text)


def _replace(model: DockerfileModel, word: shell.Word, text: str) -> Edit:
    return Edit(model.path, word.start, word.end, text)


def _replace_tool(model: DockerfileModel, word: shell.Word, name: str) -> Edit:
    """Rename the program, keeping a directory prefix (`/usr/local/bin/huggingface-cli`)."""
    base = posixpath.basename(word.source)
    return Edit(model.path, word.end - len(base), word.end, name)


def _positionals_seen(args: list[shell.Word], upto: int) -> int:
    count = 0
    i = 0
    while i < upto:
        text = args[i].value
        if (
            text.startswith("--")
            and "=" not in text
            and (text in VALUE_FLAGS or text in PATTERN_FLAGS)
        ):
            i += 2
            continue
        if not text.startswith("-"):
            count += 1
        i += 1
    return count


def _split_greedy(
    model: DockerfileModel, args: list[shell.Word], notes: list[str]
) -> tuple[list[Edit], bool]:
    """`--include a b` -> `--include a --include b` (hub 1.x takes one value per flag)."""
    edits: list[Edit] = []
    unsafe = False
    i = 0
    while i < len(args):
        text = args[i].value
        if text in PATTERN_FLAGS and i + 1 < len(args) and _positionals_seen(args, i) >= 1:
            # A command that repeats the flag already takes one value per flag: a plain
            # name after it is a file to download, as written.
            repeated = sum(1 for w in args if w.value == text) > 1
            j = i + 2
            while j < len(args) and not args[j].value.startswith("-"):
                if is_glob(args[j].value) or not repeated:
                    edits.append(Edit.insert(model.path, args[j].start, f"{text} "))
                    unsafe = unsafe or not is_glob(args[j].value)
                j += 1
            i = j
            continue
        if text in PATTERN_FLAGS or (text in VALUE_FLAGS and "=" not in text):
            i += 2
            continue
        i += 1
    if edits:
        notes.append("hub 1.x reads a second value after --include as a file name to download")
    return edits, unsafe


def _drop_options(model: DockerfileModel, args: list[shell.Word], notes: list[str]) -> list[Edit]:
    """Delete the options hub 1.x removed, with their values and the space before them."""
    spans: list[tuple[int, int]] = []
    for i, word in enumerate(args):
        name = word.value.split("=", 1)[0]
        if name not in DROPPED:
            continue
        last = i + 1 if DROPPED[name] and "=" not in word.value and i + 1 < len(args) else i
        before = args[i - 1].end if i > 0 else word.start
        spans.append((before, args[last].end))
        notes.append(f"{name} is gone from huggingface_hub 1.0")
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return [Edit.delete(model.path, start, end) for start, end in merged]


def _merge_repeated(model: DockerfileModel, args: list[shell.Word]) -> list[Edit] | None:
    """`--include a --include b` -> `--include a b`, when nothing stands between them."""
    edits: list[Edit] = []
    for flag in PATTERN_FLAGS:
        places = [i for i, w in enumerate(args) if w.value == flag]
        if len(places) < 2:
            continue
        for previous, current in itertools.pairwise(places):
            if current != previous + 2:
                return None
            edits.append(Edit.delete(model.path, args[current].start, args[current + 1].start))
    return edits
