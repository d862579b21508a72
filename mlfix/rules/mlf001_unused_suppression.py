"""## What it does
Finds a `# mlfix: ignore[...]` or `# mlfix: ignore-file[...]` comment that suppresses
nothing: its codes match no finding, name no known rule, or the comment is not in the
comment block directly above an instruction.

## Why is this bad?
A stale suppression hides the next real problem on that line: once the Dockerfile
changes, a finding that should be seen is silently dropped. A misspelled code or a
comment separated from its instruction by a blank line looks like a suppression but
does nothing, which misleads the reader.

## Example
```dockerfile
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
# mlfix: ignore[MLF201]
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
```

## Use instead
```dockerfile
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
```

## Fix safety
Safe: the fix removes the comment line (or only the unused codes from its list) and
changes nothing Docker reads. A suppression counts as used when the rule it names
would report the instruction below it, even when that rule is not selected, so
narrowing `--select` never removes a suppression that is still needed. The engine
computes this rule after all others (it needs their findings); suppress it for a
whole file with `# mlfix: ignore-file[MLF001]`.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlfix.dockerfile.model import DockerfileModel
from mlfix.facts import Facts
from mlfix.model import Applicability, Edit, Finding, Fix, Location
from mlfix.suppress import Unused

CODE = "MLF001"
NAME = "unused-suppression"
SUMMARY = "Suppression comment suppresses nothing"


def check(facts: Facts) -> Iterator[Finding]:
    """Nothing on its own: the engine calls `report` once it has every other finding."""
    del facts
    return iter(())


def _message(item: Unused) -> str:
    if item.reason is not None:
        return f"Unused suppression `{item.suppression.text}`: {item.reason}"
    parts = []
    if item.unused:
        parts.append(f"unused: {', '.join(item.unused)}")
    if item.unknown:
        parts.append(f"unknown: {', '.join(item.unknown)}")
    return f"Unused suppression ({'; '.join(parts)})"


def _edit(model: DockerfileModel, item: Unused) -> tuple[str, Edit]:
    suppression = item.suppression
    line = suppression.line
    text = model.text
    if item.keep:
        directive = suppression.text
        head = directive.split("[", 1)[0]
        content = f"{head}[{', '.join(item.keep)}]"
        return "Remove unused codes", Edit(model.path, suppression.start, suppression.end, content)
    before = text[line.start : suppression.start]
    if before.strip() in ("", "#"):
        start, end = line.start, line.end
        if end == len(text) and not text.endswith("\n") and start > 0:
            start -= 2 if text[start - 2 : start] == "\r\n" else 1  # keep "no final newline"
        return "Remove unused suppression", Edit.delete(model.path, start, end)
    start = line.start + len(before.rstrip())
    return "Remove unused suppression", Edit.delete(model.path, start, line.start + len(line.body))


def report(model: DockerfileModel, item: Unused) -> Finding:
    suppression = item.suppression
    title, edit = _edit(model, item)
    column = suppression.column
    location = Location(
        model.path, suppression.line.number, column, suppression.line.number,
        column + len(suppression.text),
    )  # fmt: skip
    return Finding(CODE, _message(item), location, Fix(title, (edit,), Applicability.SAFE))
