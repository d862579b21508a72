"""A Dockerfile model whose instruction boundaries agree with BuildKit's parser.

dockerfile-parse splits with line regexes and gets several shapes wrong: heredoc
bodies become fake instructions, an empty line inside a continuation cuts the
instruction short, and comment lines inside a continuation overlap it. So the
boundaries come from a scanner that follows BuildKit's rules
(`frontend/dockerfile/parser`): directives first, comments and blank lines skipped
inside continuations, heredoc bodies read to their terminator. dockerfile-parse then
reads each instruction from a one-line-per-instruction rendering where its regexes
cannot go wrong, and supplies the ENV/ARG values in scope at every instruction.

Every instruction keeps exact offsets into the original text, so edits can move
whole instructions (with the comments directly above them) without touching any
other byte.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mlfix.dockerfile import buildkit
from mlfix.dockerfile.scopes import env_in_scope
from mlfix.errors import DockerfileSyntaxError
from mlfix.textio import newline_of

DIRECTIVE_RE = re.compile(r"^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.*?)[ \t]*$")
KNOWN_DIRECTIVES = frozenset({"syntax", "escape", "check"})
HEREDOC_RE = re.compile(r"(?<![<\\])<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_.-]*)\2")
HEREDOC_KEYWORDS = frozenset({"RUN", "COPY", "ADD"})
FLAG_KEYWORDS = frozenset({"RUN", "COPY", "ADD", "FROM", "HEALTHCHECK"})
KEYWORDS = frozenset(
    {
        "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
        "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
        "WORKDIR",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Line:
    """One physical line: `start`/`end` offsets include its line ending."""

    number: int
    start: int
    end: int
    body: str  # without the line ending

    @property
    def is_blank(self) -> bool:
        return not self.body.strip()

    @property
    def is_comment(self) -> bool:
        return self.body.lstrip().startswith("#")


@dataclass(frozen=True)
class Flag:
    name: str
    value: str | None


@dataclass(frozen=True)
class Heredoc:
    name: str
    body: str
    strip_tabs: bool


@dataclass(frozen=True)
class Instruction:
    """One instruction, with spans into the text it was parsed from.

    `start`..`end` covers the instruction's own lines (continuations and heredoc
    bodies included, up to and including the last line ending); `lead_start` also
    covers the comment lines directly above it, which travel with it when it moves.
    """

    index: int
    keyword: str
    flags: tuple[Flag, ...]
    value: str
    start: int
    end: int
    lead_start: int
    first_line: int
    last_line: int
    stage: int
    heredocs: tuple[Heredoc, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)

    def flag(self, name: str) -> str | None:
        for item in self.flags:
            if item.name == name:
                return item.value if item.value is not None else ""
        return None

    def has_flag(self, name: str) -> bool:
        return any(item.name == name for item in self.flags)

    @property
    def is_json(self) -> bool:
        return self.value.lstrip().startswith("[")

    def words(self) -> list[str]:
        """Arguments as BuildKit splits them: a JSON array, or whitespace-separated."""
        text = self.value.strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            if isinstance(parsed, list) and all(isinstance(x, str) for x in parsed):
                return list(parsed)
        return text.split()


@dataclass(frozen=True)
class Stage:
    index: int
    name: str | None
    base: str
    instructions: tuple[Instruction, ...]

    @property
    def from_instruction(self) -> Instruction:
        return self.instructions[0]


@dataclass(frozen=True)
class DockerfileModel:
    path: Path
    text: str
    newline: str
    escape: str
    directives: Mapping[str, str]
    lines: tuple[Line, ...]
    instructions: tuple[Instruction, ...]
    stages: tuple[Stage, ...]

    @property
    def uses_buildkit_syntax(self) -> bool:
        """True when the file opts into a Dockerfile frontend, so `--mount` is available."""
        return "syntax" in self.directives or any(i.has_flag("mount") for i in self.instructions)

    def line_of(self, offset: int) -> int:
        for line in self.lines:
            if line.start <= offset < line.end:
                return line.number
        return self.lines[-1].number if self.lines else 1

    def stage_of(self, instruction: Instruction) -> Stage | None:
        return next((s for s in self.stages if s.index == instruction.stage), None)


def _split_lines(text: str) -> tuple[Line, ...]:
    """Physical lines; a UTF-8 byte order mark belongs to none of them.

    BuildKit skips the mark; kept outside every line, it is never moved, and text
    inserted above the first instruction goes after it.
    """
    lines: list[Line] = []
    offset = 1 if text.startswith("\ufeff") else 0
    pattern = re.compile(r"[^\n]*\n|[^\n]+$")
    for number, match in enumerate(pattern.finditer(text, offset), start=1):
        raw = match.group(0)
        body = raw[:-1] if raw.endswith("\n") else raw
        if body.endswith("\r"):
            body = body[:-1]
        lines.append(Line(number, offset, offset + len(raw), body))
        offset += len(raw)
    return tuple(lines)


def _read_directives(lines: tuple[Line, ...]) -> tuple[dict[str, str], int]:
    """Parser directives stand first, before any comment, blank line or instruction."""
    directives: dict[str, str] = {}
    for position, line in enumerate(lines):
        match = DIRECTIVE_RE.match(line.body)
        if not match or match.group(1).lower() not in KNOWN_DIRECTIVES:
            return directives, position
        name = match.group(1).lower()
        if name in directives:
            return directives, position
        directives[name] = match.group(2)
    return directives, len(lines)


def _continues(body: str, escape: str) -> bool:
    stripped = body.rstrip(" \t")
    return stripped.endswith(escape)


def _strip_continuation(body: str, escape: str) -> str:
    stripped = body.rstrip(" \t")
    return stripped[: -len(escape)]


def _split_flags(keyword: str, rest: str) -> tuple[tuple[Flag, ...], str]:
    if keyword not in FLAG_KEYWORDS:
        return (), rest
    flags: list[Flag] = []
    remaining = rest.lstrip()
    while remaining.startswith("--"):
        match = re.match(r"--([A-Za-z][A-Za-z0-9-]*)(?:=(\S*))?(?:\s+|$)", remaining)
        if not match:
            break
        flags.append(Flag(match.group(1), match.group(2)))
        remaining = remaining[match.end() :]
    return tuple(flags), remaining


def _heredoc_markers(keyword: str, logical: str) -> list[tuple[str, bool]]:
    if keyword not in HEREDOC_KEYWORDS:
        return []
    return [(m.group(3), m.group(1) == "-") for m in HEREDOC_RE.finditer(logical)]


@dataclass
class _Raw:
    keyword: str
    logical: str
    first: int  # index into lines
    last: int
    lead: int
    heredocs: list[Heredoc]


def _scan(lines: tuple[Line, ...], first: int, escape: str, path: Path) -> list[_Raw]:
    raws: list[_Raw] = []
    position = first
    lead: int | None = None
    while position < len(lines):
        line = lines[position]
        if line.is_blank:
            lead = None
            position += 1
            continue
        if line.is_comment:
            if lead is None:
                lead = position
            position += 1
            continue
        start = position
        parts: list[str] = []
        body = line.body
        while True:
            if _continues(body, escape):
                parts.append(_strip_continuation(body, escape))
                position += 1
                while position < len(lines) and (
                    lines[position].is_blank or lines[position].is_comment
                ):
                    position += 1
                if position >= len(lines):
                    break
                body = lines[position].body
                continue
            parts.append(body)
            break
        last = min(position, len(lines) - 1)
        logical = "".join(parts).strip()
        pieces = re.split(r"[ \t]+", logical, maxsplit=1)
        keyword = pieces[0].upper()
        rest = pieces[1] if len(pieces) > 1 else ""
        if not keyword:  # a lone escape: the continuation reaches the end of the file
            raise DockerfileSyntaxError(
                path, f"line {line.number}: a line continuation with no instruction after it"
            )
        if keyword not in KEYWORDS:
            raise DockerfileSyntaxError(
                path, f"line {line.number}: unknown instruction {keyword.split()[0]!r}"
            )
        heredocs: list[Heredoc] = []
        for name, strip_tabs in _heredoc_markers(keyword, rest):
            body_lines: list[str] = []
            position = last + 1
            while True:
                if position >= len(lines):
                    raise DockerfileSyntaxError(
                        path, f"line {line.number}: heredoc {name!r} is never terminated"
                    )
                candidate = lines[position].body
                check = candidate.lstrip("\t") if strip_tabs else candidate
                if check == name:
                    break
                body_lines.append(candidate)
                position += 1
            heredocs.append(Heredoc(name, "\n".join(body_lines), strip_tabs))
            last = position
        raws.append(
            _Raw(keyword, rest.strip(), start, last, start if lead is None else lead, heredocs)
        )
        lead = None
        position = last + 1
    return raws


def parse(text: str, path: Path) -> DockerfileModel:
    lines = _split_lines(text)
    directives, first = _read_directives(lines)
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise DockerfileSyntaxError(path, f"invalid escape directive {escape!r}")
    raws = _scan(lines, first, escape, path)
    refused = buildkit.file_refusal(text, bool(raws))
    if refused:
        raise DockerfileSyntaxError(path, refused)
    split = [_split_flags(raw.keyword, raw.logical) for raw in raws]
    for raw, (_flags, value) in zip(raws, split, strict=True):
        refused = buildkit.refusal(raw.keyword, value)
        if refused:
            raise DockerfileSyntaxError(path, f"line {lines[raw.first].number}: {refused}")
    scopes = env_in_scope([(r.keyword, r.logical, bool(r.heredocs)) for r in raws])
    instructions: list[Instruction] = []
    stage = -1
    for index, raw in enumerate(raws):
        if raw.keyword == "FROM":
            stage += 1
        flags, value = split[index]
        first_line, last_line = lines[raw.first], lines[raw.last]
        instructions.append(
            Instruction(
                index=index,
                keyword=raw.keyword,
                flags=flags,
                value=value,
                start=first_line.start,
                end=last_line.end,
                lead_start=lines[raw.lead].start,
                first_line=first_line.number,
                last_line=last_line.number,
                stage=stage,
                heredocs=tuple(raw.heredocs),
                env=scopes[index],
            )
        )
    if instructions and not any(i.keyword == "FROM" for i in instructions):
        raise DockerfileSyntaxError(path, "no FROM instruction")
    for instruction in instructions:
        if instruction.stage < 0 and instruction.keyword != "ARG":
            raise DockerfileSyntaxError(
                path,
                f"line {instruction.first_line}: {instruction.keyword} before the first FROM",
            )
    return DockerfileModel(
        path=path,
        text=text,
        newline=newline_of(text),
        escape=escape,
        directives=directives,
        lines=lines,
        instructions=tuple(instructions),
        stages=tuple(_stages(instructions)),
    )


def _stages(instructions: list[Instruction]) -> Iterator[Stage]:
    for index in sorted({i.stage for i in instructions if i.stage >= 0}):
        members = tuple(i for i in instructions if i.stage == index)
        words = members[0].value.split()
        name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
        yield Stage(index, name, words[0] if words else "", members)
