"""## What it does
Finds lines of the ignore file that leave out a path a `COPY` or `ADD` (or a
`RUN --mount=type=bind`) takes from the build context: the whole path (`models/`
ignored, then `COPY ./models /models`), or files under it that a general line catches
(`**/*.safetensors` and `COPY ./models /models`). The fix adds a `!` line right after
the line that leaves them out, proven with Docker's matching rules. Also reports an
ignore file Docker rejects (a malformed pattern fails every build).

## Why is this bad?
Docker applies the ignore file before any instruction runs, so a `COPY` cannot copy
what it left out. When nothing of the path is sent, the build fails
(`"/models": not found`); when only part of it is, the build succeeds and the image
silently lacks the files, and the app fails later, at run time. Lines that exclude by
name at any depth (`**/*.pt`) catch the files a specific `COPY` was written for.
Files under a copied directory that are junk anyway (caches, virtualenvs, `.git`,
`node_modules`, secrets) are not reported, and neither are lines written for the
directory's own insides (`models/*.ckpt` for `COPY ./models`), which are taken as
deliberate.

## Example
```text
# .dockerignore
.venv
models/
```
```dockerfile
FROM python:3.11-slim
COPY ./models /models
COPY ./app /app
```

## Use instead
```text
# .dockerignore
.venv
models/
# Re-included by mlfix (MLF103): `COPY ./models /models` needs it
!models
```
The `!` line goes right after the line that leaves the path out, so later lines of
the file keep their effect. Every file the `COPY` lost is checked against the new
file under the current rules and the ones before Docker 23.0 (where a `!` line cannot
reach below an excluded directory unless it spells out that directory); a path the
old rules would still lose is named in the finding, and a fix that the current rules
would not honour is shown but not applied.

## Fix safety
Safe when the build fails today (nothing of the path is sent): the fix only lets the
`COPY` find its files. Unsafe when the build works and the image lacks part of the
path: the fix adds files to the image, and the line may have been meant to keep them
out. Shown but never applied when the path is a secret (`COPY .env .`: a secret in an
image layer is a leak; use a secret mount) or when no `!` line can bring it back.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mlfix.context.dockerignore import DockerIgnore, Engine
from mlfix.context.facts import IgnoreFacts, Lost
from mlfix.context.junk import JunkKind, classify_file
from mlfix.context.plan import amount, literal
from mlfix.context.wording import ignore_facts, shown
from mlfix.facts import Facts
from mlfix.model import Applicability, Edit, Finding, Fix, Location
from mlfix.textio import newline_of

CODE = "MLF103"
NAME = "dockerignore-drops-copied-path"
SUMMARY = "The ignore file leaves out a path a COPY or ADD needs"

MAX_REINCLUDES = 20


def check(facts: Facts) -> Iterator[Finding]:
    ignore = ignore_facts(facts)
    if ignore is None or ignore.text is None:
        return
    if ignore.error is not None:
        yield _rejected(ignore)
        return
    if ignore.ignore is None or not ignore.lost:
        return
    groups: dict[int, list[Lost]] = {}
    for lost in ignore.lost:
        groups.setdefault(lost.last_line, []).append(lost)
    for line, items in sorted(groups.items()):
        yield _finding(facts, ignore, ignore.ignore, line, items)


def _rejected(ignore: IgnoreFacts) -> Finding:
    error = ignore.error or ""
    match = re.match(r"line (\d+):", error)
    line = int(match.group(1)) if match else 1
    name = shown(ignore.ignore_path, ignore)
    message = f"Docker rejects `{name}` ({error}): every build with this context fails"
    return Finding(CODE, message, Location(ignore.ignore_path, line))


def _paths(lost: Lost) -> list[str]:
    if len(lost.roots) == 1 and lost.roots[0].path == lost.path:
        return [lost.path]
    return [root.path for root in lost.roots]


def _insert_at(text: str, line: int) -> tuple[int, str]:
    """Offset just after `line` (1-based), and the newline it lacks if it is the last."""
    offset = 0
    for number, row in enumerate(text.splitlines(keepends=True), start=1):
        offset += len(row)
        if number == line:
            return offset, "" if row.endswith("\n") else newline_of(text)
    return len(text), "" if not text or text.endswith("\n") else newline_of(text)


def _sent(ignore: DockerIgnore, lost: Lost) -> list[str]:
    """The lost files (and roots) `ignore` still does not send."""
    checks = list(dict.fromkeys([*lost.files, *(r.path for r in lost.roots)]))
    return [path for path in checks if not ignore.sends_file(path)]


def _finding(
    facts: Facts, ignore: IgnoreFacts, parsed: DockerIgnore, line: int, items: list[Lost]
) -> Finding:
    name = shown(ignore.ignore_path, ignore)
    pattern = next((p for p in parsed.patterns if p.line == line), None)
    quoted = f" (`{pattern.text.strip()}`)" if pattern is not None else ""
    first = items[0]
    copies = list(dict.fromkeys(f"`{lost.copy.written}`" for lost in items))
    needs = " and ".join(copies)
    paths = sorted({path for lost in items for path in _paths(lost)})
    lost_bytes = sum(lost.total_bytes for lost in items)
    lost_files = sum(lost.total_files for lost in items)
    failing = all(lost.nothing_sent for lost in items)
    if failing:
        message = (
            f"`{name}` line {line}{quoted} leaves out `{first.path}`, which "
            f"`{first.copy.written}` copies: the build fails, as Docker does not send it"
        )
    else:
        message = (
            f"`{name}` line {line}{quoted} drops {amount(lost_bytes, lost_files)} under "
            f"`{first.path}` that `{first.copy.written}` copies: the image silently lacks them"
        )
    notes: list[str] = []
    for lost in items:
        for root in lost.roots:
            shown_path = root.path + ("/" if root.is_dir else "")
            notes.append(
                f"`{shown_path}`  {amount(root.bytes, root.files)} left out by line {root.line}"
            )
    if len(items) > 1:
        notes.append(f"needed by {needs}")
    text = ignore.text or ""
    newline = newline_of(text)
    offset, lead = _insert_at(text, line)
    comment = f"# Re-included by mlfix (MLF103): {needs} need{'s' if len(copies) == 1 else ''} it"
    rows = [comment, *(f"!{literal(path)}" for path in paths)]
    insert = lead + "".join(row + newline for row in rows)
    new_text = text[:offset] + insert + text[offset:]
    how = Applicability.SAFE if failing else Applicability.UNSAFE
    title = f"Re-include {', '.join(f'`{p}`' for p in paths[:3])}" + (
        f" and {len(paths) - 3} more" if len(paths) > 3 else ""
    )
    secrets = [p for p in paths if classify_file(p.rpartition("/")[2]) is JunkKind.SECRET]
    if secrets:
        notes.append(
            f"`{secrets[0]}` is a secret: copied into an image layer it is a leak; pass it "
            "at run time or with `RUN --mount=type=secret` and drop the COPY"
        )
        fix = Fix(title, (), Applicability.DISPLAY_ONLY)
        return Finding(CODE, message, _where(facts, first), fix, tuple(notes))
    if len(paths) > MAX_REINCLUDES:
        notes.append(f"{len(paths)} paths to re-include: too many to list line by line")
        fix = Fix(title, (), Applicability.DISPLAY_ONLY)
        return Finding(CODE, message, _where(facts, first), fix, tuple(notes))
    modern = DockerIgnore.parse(new_text, engine=ignore.engine)
    other = Engine.LEGACY if ignore.engine is Engine.MODERN else Engine.MODERN
    legacy = DockerIgnore.parse(new_text, engine=other)
    still = [p for lost in items for p in _sent(modern, lost)]
    if still:
        notes.append(
            f"no `!` line placed here brings `{still[0]}` back under Docker's rules; "
            "move or change the line that leaves it out"
        )
        fix = Fix(title, (), Applicability.DISPLAY_ONLY)
        return Finding(CODE, message, _where(facts, first), fix, tuple(notes))
    old = [p for lost in items for p in _sent(legacy, lost)]
    if old:
        notes.append(
            f"Docker before 23.0 (its older context transfer) would still leave out `{old[0]}`"
        )
    edit = Edit.insert(ignore.ignore_path, offset, insert)
    return Finding(CODE, message, _where(facts, first), Fix(title, (edit,), how), tuple(notes))


def _where(facts: Facts, lost: Lost) -> Location:
    return Location(facts.dockerfile.path, lost.copy.line, 1, lost.copy.end_line)
