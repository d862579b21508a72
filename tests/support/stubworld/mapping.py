"""A Dockerfile as the stub world builds it: every image it starts from or copies from is
the stub image, the same way on both sides of a comparison, and the reads logs of every
stage the target needs are copied into the target.

Only copies made for a build are rewritten, never the user's file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import dockerfile

STAGE_LOGS = "/.stubworld/stages"
_SYNTAX_RE = re.compile(r"\A((?:#[ \t]*[a-zA-Z]+[ \t]*=.*\r?\n)*?)#[ \t]*syntax[ \t]*=.*\r?\n")
_VAR_RE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}?")
# What BuildKit's built-in frontend in engine 20.10 cannot parse or run (it needs the
# `# syntax=` frontend image, which no registry here serves).
_NEW_FLAGS = (
    "--link",
    "--parents",
    "--exclude",
    "--checksum",
    "--keep-git-dir",
    "--network",
    "--security",
)


@dataclass
class Stage:
    index: int
    name: str | None
    first_line: int
    last_line: int
    base_stage: int | None = None
    scratch: bool = False
    deps: set[int] = field(default_factory=set)


def drop_syntax(text: str) -> str:
    """Remove a ``# syntax=`` parser directive (both sides of a comparison)."""
    return _SYNTAX_RE.sub(lambda m: m.group(1), text, count=1)


def needs_newer_frontend(text: str) -> str | None:
    """Why engine 20.10 cannot build this Dockerfile (heredocs, ``COPY --link``...), or None."""
    for command in dockerfile.parse_string(drop_syntax(text)):
        if command.heredocs:
            return f"line {command.start_line}: heredoc (`{command.cmd} <<`)"
        for flag in command.flags:
            name = flag.split("=", 1)[0]
            if name in _NEW_FLAGS and command.cmd.upper() in ("COPY", "ADD", "RUN"):
                return f"line {command.start_line}: `{command.cmd} {name}`"
    return None


def _substitute(value: str, args: dict[str, str]) -> str:
    return _VAR_RE.sub(lambda m: args.get(m.group(1)) or (m.group(2) or ""), value)


def _stage_ref(value: str, stages: list[Stage]) -> int | None:
    if value.isdigit() and int(value) < len(stages):
        return int(value)
    for stage in stages:
        if stage.name is not None and stage.name == value.lower():
            return stage.index
    return None


def stub_dockerfile(text: str, stub: str, target: str | None = None) -> str:
    """The Dockerfile the stub world builds (see module docstring)."""
    text = drop_syntax(text)
    lines = text.splitlines(keepends=True)
    commands = dockerfile.parse_string(text)
    stages: list[Stage] = []
    global_args: dict[str, str] = {}
    replace: dict[int, str] = {}  # 0-based line -> new text of the whole line

    def edit(line_no: int, old: str, new: str) -> None:
        current = replace.get(line_no, lines[line_no])
        replace[line_no] = current.replace(old, new, 1)

    for command in commands:
        cmd = command.cmd.upper()
        if cmd == "ARG" and not stages:
            for word in command.value:
                key, _, default = word.partition("=")
                global_args[key] = default.strip("\"'")
        elif cmd == "FROM":
            words = list(command.value)
            image = _substitute(words[0], global_args)
            name = words[2].lower() if len(words) >= 3 and words[1].upper() == "AS" else None
            stage = Stage(len(stages), name, command.start_line, command.end_line)
            stage.base_stage = _stage_ref(image, stages)
            if stage.base_stage is not None:
                stage.deps.add(stage.base_stage)
                stage.scratch = stages[stage.base_stage].scratch
            elif image.lower() == "scratch":
                stage.scratch = True
            else:
                flags = " ".join(command.flags)
                alias = f" AS {words[2]}" if name else ""
                new = f"FROM {flags + ' ' if flags else ''}{stub}{alias}"
                ending = "\r\n" if lines[command.start_line - 1].endswith("\r\n") else "\n"
                replace[command.start_line - 1] = new + ending
                for extra in range(command.start_line, command.end_line):
                    replace[extra] = ending
            stages.append(stage)
        elif stages:
            stage = stages[-1]
            stage.last_line = command.end_line
            for flag in command.flags:
                for ref in _from_refs(flag):
                    dep = _stage_ref(ref, stages[:-1])
                    if dep is not None:
                        stage.deps.add(dep)
                    else:
                        for line_no in range(command.start_line - 1, command.end_line):
                            if ref in replace.get(line_no, lines[line_no]):
                                edit(line_no, f"from={ref}", f"from={stub}")
                                break
    out = [replace.get(i, line) for i, line in enumerate(lines)]
    if not stages:
        return "".join(out)
    chosen = _stage_ref(target, stages) if target else len(stages) - 1
    if chosen is None:
        raise ValueError(f"no stage named {target!r}")
    copies = [
        f"COPY --from={stages[i].name or i} /.stubworld/reads.log {STAGE_LOGS}/{i}.log\n"
        for i in sorted(_needed(stages, chosen) - {chosen})
        if not stages[i].scratch
    ]
    if copies:
        at = stages[chosen].last_line
        if out[at - 1] and not out[at - 1].endswith("\n"):
            out[at - 1] += "\n"
        out[at:at] = copies
    return "".join(out)


def _from_refs(flag: str) -> list[str]:
    """Stage or image names a flag reads from: ``--from=X``, ``--mount=...,from=X``."""
    if flag.startswith("--from="):
        return [flag.split("=", 1)[1].strip("\"'")]
    if flag.startswith("--mount="):
        parts = [p.split("=", 1) for p in flag.split("=", 1)[1].split(",")]
        return [p[1] for p in parts if len(p) == 2 and p[0] == "from"]
    return []


def _needed(stages: list[Stage], target: int) -> set[int]:
    seen: set[int] = set()
    todo = [target]
    while todo:
        index = todo.pop()
        if index not in seen:
            seen.add(index)
            todo.extend(stages[index].deps)
    return seen
