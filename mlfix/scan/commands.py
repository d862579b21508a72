"""Read a Dockerfile `RUN` command for the models it already bakes.

mlfix must not download a model twice, so it recognises the downloads a Dockerfile already
runs: `hf download` / `huggingface-cli download` command lines, `python -c "..."` snippets
(scanned with the same visitor as project code), and `python script.py` (reported so the
caller scans the script). The shell is read, never run, by `mlfix.dockerfile.shell`, with
`$VAR` expanded from the stage's ENV/ARG values.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from mlfix.dockerfile import shell
from mlfix.scan.known import pinned
from mlfix.scan.models import EMPTY_ENV, scan_source
from mlfix.scan.refs import HubDownload, ModelRef, RunFacts, ScanProblem

_PYTHON = re.compile(r"python(?:\d+(?:\.\d+)*)?$")
_WRAPPERS = frozenset({"env", "sudo", "exec", "time", "nohup", "command"})
_RUNNERS = {("uv", "run"), ("poetry", "run"), ("pipenv", "run"), ("pdm", "run"), ("hatch", "run")}

# `hf download` options that take a value (huggingface_hub 2.4.0) plus the removed ones of
# the 0.x `huggingface-cli download`, so their values are not mistaken for file names.
_VALUE_FLAGS = frozenset(
    {
        "--type",
        "--repo-type",
        "--revision",
        "--include",
        "--exclude",
        "--cache-dir",
        "--local-dir",
        "--token",
        "--max-workers",
        "--format",
        "--local-dir-use-symlinks",
        "--etag-timeout",
    }
)
# Python's own options that take a value, so `python -W ignore x.py` finds x.py.
_PYTHON_VALUE_FLAGS = frozenset({"-W", "-X", "--check-hash-based-pycs"})


@dataclass(frozen=True)
class Word:
    """A shell word after quote removal; `missing` names variables with no value here."""

    text: str
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class SimpleCommand:
    words: tuple[Word, ...]
    raw: str


def split_commands(script: str, env: Mapping[str, str] = EMPTY_ENV) -> list[SimpleCommand]:
    """The simple commands of a shell command line, quotes removed and $VARs expanded.

    Words come from `mlfix.dockerfile.shell`; redirections are dropped with their targets.
    Nothing here is executed.
    """
    found: list[SimpleCommand] = []
    for command in shell.commands(script):
        plain = [w for w in command.words if w.redirect is None]
        if plain:
            words = tuple(Word(*word.expand(env)) for word in plain)
            found.append(SimpleCommand(words, script[command.start : command.end].strip()))
    return found


def _program(words: Sequence[Word]) -> list[Word]:
    """The command proper, without leading `VAR=value`, `env`, `sudo`, `uv run` and the like."""
    rest = list(words)
    while rest:
        head = rest[0].text
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", head):
            rest = rest[1:]
        elif os.path.basename(head) in _WRAPPERS:
            rest = rest[1:]
            while rest and rest[0].text.startswith("-"):
                rest = rest[1:]
        elif len(rest) > 1 and (os.path.basename(head), rest[1].text) in _RUNNERS:
            rest = rest[2:]
            while rest and rest[0].text.startswith("-"):
                rest = rest[1:]
        elif os.path.basename(head) in ("uvx", "pipx") and len(rest) > 1:
            rest = rest[2:] if rest[1].text == "run" else rest[1:]
        else:
            break
    return rest


def _parse_repo(text: str) -> tuple[str, str | None, str | None]:
    """(repo_id, repo_type, revision) from `org/name`, `datasets/org/name` or an hf:// URI."""
    repo_type: str | None = None
    revision: str | None = None
    if text.startswith("hf://"):
        text = text[len("hf://") :]
    for prefix, kind in (("datasets/", "dataset"), ("spaces/", "space"), ("models/", "model")):
        if text.startswith(prefix) and text.count("/") >= 2:
            text, repo_type = text[len(prefix) :], kind
    if "@" in text:
        text, revision = text.split("@", 1)
        if "/" in revision:
            revision = revision.split("/", 1)[0]
    parts = text.split("/")
    if len(parts) > 2:
        text = "/".join(parts[:2])
    return text, repo_type, revision


def parse_download_command(
    words: Sequence[Word] | Sequence[str], *, raw: str = "", hub_version: str | None = None
) -> HubDownload | None:
    """A `hf download` / `huggingface-cli download` argv, or None if it is not one.

    huggingface_hub 1.x takes one value per `--include`/`--exclude`; the 0.x argparse CLIs
    took several (`--include a b`). The values a flag swallows depend on that, so callers
    pass the project's hub version when they know it.
    """
    items = [w if isinstance(w, Word) else Word(w) for w in words]
    argv = _program(items)
    if len(argv) < 2 or argv[1].text != "download":
        return None
    tool = os.path.basename(argv[0].text)
    if tool not in ("hf", "huggingface-cli"):
        return None
    greedy = tool == "huggingface-cli"
    if hub_version is not None:
        major = re.match(r"\s*(\d+)", hub_version)
        greedy = bool(major) and int(major.group(1)) < 1 if major else greedy
    values: dict[str, list[str]] = {}
    positional: list[Word] = []
    args = argv[2:]
    i = 0
    while i < len(args):
        text = args[i].text
        if text == "--":
            positional.extend(args[i + 1 :])
            break
        if text.startswith("--") and "=" in text:
            flag, value = text.split("=", 1)
            values.setdefault(flag, []).append(value)
            i += 1
            continue
        if text in _VALUE_FLAGS:
            i += 1
            flag_values = values.setdefault(text, [])
            if i < len(args):
                flag_values.append(args[i].text)
                i += 1
            if greedy and text in ("--include", "--exclude"):
                while i < len(args) and not args[i].text.startswith("-"):
                    flag_values.append(args[i].text)
                    i += 1
            continue
        if text.startswith("-"):
            i += 1
            continue
        positional.append(args[i])
        i += 1
    if not positional:
        return HubDownload(tool, None, raw, unresolved_reason="the command names no repo")
    repo_word = positional[0]
    repo_id, uri_type, uri_revision = _parse_repo(repo_word.text)

    def last(*flags: str) -> str | None:
        found = [v for f in flags for v in values.get(f, [])]
        return found[-1] if found else None

    reason = None
    if repo_word.missing:
        names = ", ".join("$" + name for name in repo_word.missing)
        reason = f"the repo id reads {names}, which has no value here"
    return HubDownload(
        tool=tool,
        repo_id=None if reason else repo_id,
        raw=raw,
        revision=last("--revision") or uri_revision,
        repo_type=last("--repo-type", "--type") or uri_type or "model",
        filenames=tuple(w.text for w in positional[1:]),
        include=tuple(values.get("--include", [])),
        exclude=tuple(values.get("--exclude", [])),
        local_dir=last("--local-dir"),
        cache_dir=last("--cache-dir"),
        unresolved_reason=reason,
    )


def _python_target(argv: Sequence[Word]) -> tuple[str, str] | None:
    """("-c", code) / ("-m", module) / ("script", path) for a python command line."""
    if not argv or not _PYTHON.match(os.path.basename(argv[0].text)):
        return None
    i = 1
    while i < len(argv):
        text = argv[i].text
        if text == "-c" and i + 1 < len(argv):
            return "-c", argv[i + 1].text
        if text.startswith("-c") and len(text) > 2:
            return "-c", text[2:]
        if text == "-m" and i + 1 < len(argv):
            return "-m", argv[i + 1].text
        if text in _PYTHON_VALUE_FLAGS:
            i += 2
            continue
        if text.startswith("-"):
            i += 1
            continue
        return "script", text
    return None


def _snippet_imports(code: str) -> list[str]:
    """The files a `python -c` snippet's absolute imports would run if they are the
    project's (`from app.model import load; load()` runs app/model.py), relative to the
    WORKDIR, which is on `sys.path` for `-c`. The caller keeps those in the context."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    found: list[str] = []
    for name in dict.fromkeys(names):
        path = name.replace(".", "/")
        found += [f"{path}.py", f"{path}/__init__.py"]
    return found


def scan_run_command(
    command: str | Sequence[str],
    *,
    path: Path,
    line: int = 1,
    env: Mapping[str, str] = EMPTY_ENV,
    root: Path | None = None,
    versions: Mapping[str, str] = EMPTY_ENV,
) -> RunFacts:
    """What one `RUN` (shell form as a string, exec form as a list) downloads or loads.

    `path`/`line` locate the RUN instruction, for the refs found in `python -c` snippets.
    `env` holds the ENV/ARG values in scope, used for `$VAR` and for the snippets' lookups.
    `versions` are the project's pinned package versions, as for `scan_repo`; the
    huggingface_hub one decides how many values `--include` takes.
    """
    if isinstance(command, str):
        commands = split_commands(command, env)
    elif (
        len(command) >= 3
        and os.path.basename(command[0]) in ("sh", "bash", "dash")
        and command[1] == "-c"
    ):
        commands = split_commands(command[2], env)
    else:
        commands = [SimpleCommand(tuple(Word(word) for word in command), " ".join(command))]
    downloads: list[HubDownload] = []
    refs: list[ModelRef] = []
    scripts: list[str] = []
    modules: list[str] = []
    problems: list[ScanProblem] = []
    for simple in commands:
        hub_version = pinned(versions, "huggingface_hub")
        download = parse_download_command(simple.words, raw=simple.raw, hub_version=hub_version)
        if download is not None:
            downloads.append(download)
            continue
        target = _python_target(_program(simple.words))
        if target is None:
            continue
        kind, value = target
        if kind == "-c":
            result = scan_source(
                value,
                path,
                env=env,
                root=root,
                versions=versions,
                line_offset=line - 1,
            )
            refs.extend(replace(ref, path=path) for ref in result.refs)
            problems.extend(replace(problem, path=path) for problem in result.problems)
            scripts.extend(_snippet_imports(value))
        elif kind == "-m":
            modules.append(value)
        else:
            scripts.append(value)
    return RunFacts(tuple(downloads), tuple(refs), tuple(scripts), tuple(modules), tuple(problems))


def start_script(
    words: Sequence[str], env: Mapping[str, str] = EMPTY_ENV
) -> tuple[str, tuple[str, ...]] | None:
    """(script, arguments) when an image's start command (ENTRYPOINT + CMD words, a
    compose `command:`) runs a Python script; None otherwise.

    A shell form (`sh -c "..."`, or a single string) is split as a shell would; the last
    simple command that runs Python wins (`cd /app && exec python serve.py --model x`).
    """
    argv = list(words)
    if len(argv) >= 3 and os.path.basename(argv[0]) in ("sh", "bash") and argv[1] == "-c":
        commands = split_commands(argv[2], env)
    elif len(argv) == 1:
        commands = split_commands(argv[0], env)
    else:
        commands = [SimpleCommand(tuple(Word(word) for word in argv), " ".join(argv))]
    found: tuple[str, tuple[str, ...]] | None = None
    for command in commands:
        program = _program(command.words)
        if program and program[0].text == "exec":
            program = program[1:]
        target = _python_target(program)
        if target is None or target[0] != "script":
            continue
        texts = [word.text for word in program]
        index = texts.index(target[1], 1)
        found = (target[1], tuple(texts[index + 1 :]))
    return found
