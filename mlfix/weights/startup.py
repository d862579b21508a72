"""Downloads the container runs every time it starts: `hf download` in its start command.

`CMD ["./start.sh"]`, `ENTRYPOINT ["bash", "entrypoint.sh"]`, `CMD sh scripts/run.sh` or a
shell-form `CMD hf download org/x && python app.py` run a download at each start. This
module finds the command Docker runs (ENTRYPOINT + CMD, exec or shell form, inherited from a
parent stage), the shell scripts it runs (through wrappers such as `exec`, `tini --`,
`gosu user`, and scripts those scripts run), and in them the `hf download` /
`huggingface-cli download` lines and `python -c` snippets, as `ModelRef`s located at the
script's line. MLF301 then bakes them like any other model the app loads.

The script itself is left alone: once the files are baked, its download finds them. With
`--local-dir`, `hf download` checks each file's etag against the metadata it keeps in
`<dir>/.cache/huggingface/` and skips what is current; without the network it keeps the
local files. In the cache, it finds the snapshot and, offline, returns it.

Nothing is run; a script's own `NAME=value` / `export NAME=value` lines (with `${X:-d}`
defaults) are read before its downloads, so `hf download "$MODEL"` resolves.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from mlfix.dockerfile.model import Instruction, Stage
from mlfix.scan import ModelRef, RefKind, scan_run_command
from mlfix.scan.commands import split_commands
from mlfix.scan.known import is_repo_id
from mlfix.scan.refs import HubDownload
from mlfix.weights.servers import server_refs

SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh"})
WRAPPERS = frozenset({"exec", "tini", "dumb-init", "nohup", "time", "command"})
USER_WRAPPERS = frozenset({"gosu", "su-exec"})  # followed by the user to run as
SOURCE = frozenset({"source", "."})
MAX_DEPTH = 3
MAX_SCRIPT_BYTES = 256 * 1024  # a start script is small; anything larger is not read
_ASSIGNMENT = re.compile(r"^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.M)
NOTE = (
    "{where} is left as is: once the files are baked its download finds them (it checks"
    " the hub for newer files when it can reach it, and keeps the baked ones when it cannot)"
)

# image path -> context-relative path of the file a COPY put there
ContextPath = Callable[[str], str | None]
Read = Callable[[str], str | None]


@dataclass(frozen=True)
class Start:
    """The command the app stage starts with, as Docker builds it, and where it comes from."""

    instruction: Instruction  # the ENTRYPOINT (else CMD) that names the command
    argv: tuple[str, ...]
    workdir: str


def _shell_form(instruction: Instruction) -> tuple[str, ...]:
    return ("/bin/sh", "-c", instruction.value.strip())


def _last(stage: Stage, keyword: str) -> Instruction | None:
    found = [i for i in stage.instructions if i.keyword == keyword]
    return found[-1] if found else None


def start_command(
    stage: Stage, parent: Callable[[Stage], Stage | None]
) -> tuple[Instruction, tuple[str, ...]] | None:
    """ENTRYPOINT + CMD of `stage` (or the stages it builds on), as the argv Docker runs.

    The nearest CMD and ENTRYPOINT win. A shell-form ENTRYPOINT ignores CMD; an exec-form one
    gets CMD's words appended (a shell-form CMD as `/bin/sh -c`). An ENTRYPOINT resets the
    CMD of the stages below it, so only a CMD at or above the ENTRYPOINT's stage counts.
    """
    entry: Instruction | None = None
    cmd: Instruction | None = None
    current: Stage | None = stage
    while current is not None:
        cmd = cmd or _last(current, "CMD")
        entry = _last(current, "ENTRYPOINT")
        if entry is not None:
            break
        current = parent(current)
    if entry is not None:
        head = tuple(entry.words()) if entry.is_json else _shell_form(entry)
        if not entry.is_json or cmd is None:
            return entry, head
        tail = tuple(cmd.words()) if cmd.is_json else _shell_form(cmd)
        return entry, head + tail
    if cmd is None:
        return None
    return cmd, tuple(cmd.words()) if cmd.is_json else _shell_form(cmd)


def unwrap(argv: Sequence[str]) -> list[str]:
    """The command behind the wrappers (`exec`, `tini --`, `gosu user`, `env X=1`)."""
    rest = list(argv)
    while rest:
        head = posixpath.basename(rest[0])
        if head in WRAPPERS:
            rest = rest[1:]
            while rest and rest[0].startswith("-"):
                done = rest[0] == "--"
                rest = rest[1:]
                if done:
                    break
        elif head in USER_WRAPPERS:
            rest = rest[2:]
        elif head == "env":
            rest = rest[1:]
            while rest and ("=" in rest[0] or rest[0].startswith("-")):
                rest = rest[1:]
        else:
            break
    return rest


def runs(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(scripts as written, inline shell texts) that one command runs."""
    words = unwrap(argv)
    if not words:
        return [], []
    head = posixpath.basename(words[0])
    if head in SHELLS:
        i = 1
        while i < len(words) and words[i].startswith("-") and words[i] != "-c":
            i += 1
        if i < len(words) and words[i] == "-c":
            return [], words[i + 1 : i + 2]
        return (words[i : i + 1], []) if i < len(words) else ([], [])
    if head in SOURCE and len(words) > 1:
        return [words[1]], []
    if words[0].endswith(".sh") or (
        "/" in words[0] and not re.search(r"python[\d.]*$|uvicorn|gunicorn", head)
    ):
        return [words[0]], []
    return [], []


def assignments(text: str, env: Mapping[str, str]) -> dict[str, str]:
    """The script's top-level `NAME=value` lines, in order; the image's ENV wins over them
    only through `${NAME:-default}`, as in the shell."""
    scope = dict(env)
    for match in _ASSIGNMENT.finditer(text):
        name, value = match.group(1), match.group(2)
        words = split_commands(value, scope)
        if len(words) == 1 and len(words[0].words) == 1 and not words[0].words[0].missing:
            scope[name] = words[0].words[0].text
    return scope


_DOWNLOAD_LINE = re.compile(r"\b(?:hf|huggingface-cli)\s+download\b")


def _download_lines(text: str) -> list[int]:
    """Line numbers of the `hf download` commands, in order (continuations not counted)."""
    return [n for n, line in enumerate(text.splitlines(), 1) if _DOWNLOAD_LINE.search(line)]


def _refs(download: HubDownload, path: Path, line: int, note: str) -> list[ModelRef]:
    loader = f"{download.tool} download"
    if download.repo_id is None or not is_repo_id(download.repo_id):
        reason = download.unresolved_reason or f"{download.repo_id!r} is not a hub repo id"
        return [
            ModelRef(
                kind=RefKind.UNRESOLVED,
                repo_id=None,
                library="huggingface_hub",
                loader=loader,
                path=path,
                line=line,
                column=1,
                raw=download.raw,
                unresolved_reason=reason,
            )
        ]
    base = ModelRef(
        kind=RefKind.HUB,
        repo_id=download.repo_id,
        library="huggingface_hub",
        loader=loader,
        path=path,
        line=line,
        column=1,
        raw=download.raw,
        role="snapshot",
        revision=download.revision,
        repo_type=download.repo_type,
        cache_dir=download.cache_dir,
        local_dir=download.local_dir,
        allow_patterns=download.include or None,
        ignore_patterns=download.exclude or None,
        notes=(note,),
    )
    if download.filenames:
        return [
            replace(base, role="file", filename=name, allow_patterns=None)
            for name in download.filenames
        ]
    return [base]


@dataclass
class StartScan:
    """Walks the start command and the scripts it runs; collects their downloads as refs."""

    root: Path
    env: Mapping[str, str]
    versions: Mapping[str, str]
    read: Read
    context_path: ContextPath

    def refs(self, start: Start, dockerfile: Path) -> Iterator[ModelRef]:
        seen: set[str] = set()
        line = start.instruction.first_line
        yield from server_refs(unwrap(start.argv), self.env, dockerfile, line)
        scripts, inline = runs(start.argv)
        for text in inline:
            shown = f"the start command (line {line})"
            yield from self._text(text, dockerfile, line, shown, False)
            for command in split_commands(text, self.env):
                words = [w.text for w in command.words]
                yield from server_refs(unwrap(words), self.env, dockerfile, line)
                more, _inline = runs(words)
                scripts.extend(more)
        for script in scripts:
            yield from self._script(start, script, seen, 1)

    def _script(self, start: Start, script: str, seen: set[str], depth: int) -> Iterator[ModelRef]:
        image_path = posixpath.normpath(posixpath.join(start.workdir, script))
        rel = self.context_path(image_path)
        if rel is None or rel in seen or depth > MAX_DEPTH:
            return
        seen.add(rel)
        text = self.read(rel)
        if text is None:
            return
        yield from self._text(text, self.root / rel, 1, rel, True)
        scope = assignments(text, self.env)
        for command in split_commands(text, scope):
            more, _inline = runs([w.text for w in command.words])
            for nested in more:
                yield from self._script(start, nested, seen, depth + 1)

    def _text(
        self, text: str, path: Path, line: int, shown: str, is_script: bool
    ) -> Iterator[ModelRef]:
        scope = assignments(text, self.env) if is_script else dict(self.env)
        facts = scan_run_command(
            text, path=path, line=line, env=scope, root=self.root, versions=self.versions
        )
        note = NOTE.format(where=shown)
        lines = _download_lines(text)
        for n, download in enumerate(facts.downloads):
            at = (lines[n] if n < len(lines) else 1) + line - 1
            yield from _refs(download, path, at, note)
        for ref in facts.refs:
            yield replace(ref, notes=(*ref.notes, note))
