"""## What it does
Finds a build context with no `.dockerignore` while junk sits in it: `.git`,
virtualenvs, caches, model weights, datasets, experiment output (`wandb/`, `mlruns/`,
`lightning_logs/`, `outputs/`), `node_modules` and secrets (`.env`, `*.pem`, `*.key`,
`*.p12`, `id_rsa`, `.netrc`, `.npmrc`, `.pypirc`, `.git-credentials`, `credentials.json`,
`kaggle.json`, `.aws/`, `.ssh/`, `.huggingface/`). The fix writes one from what the
context really holds, grouped and commented; the finding lists every path each line
removes, with its size, and the bytes and files sent to the daemon before and after.
When a `COPY`/`ADD` sends the whole context, it fires on a clean checkout too, and the
file gets a short baseline for what every Python/ML working tree grows later
(`__pycache__`, `.venv`, `.env`, `wandb/`, `mlruns/`...), listed apart in the finding.
A file Docker never reads (`.Dockerignore`, `dockerignore`, `.dockerignore.txt`: Linux
file names are case-sensitive) is reported
too, and so is a `.dockerignore` beside a Dockerfile whose build context is elsewhere
(compose `context: ..` with `dockerfile: docker/Dockerfile`).

## Why is this bad?
`docker build` sends the whole context to the daemon before it runs a single
instruction, and `COPY . .` puts every file of it into the image. A 2 GB virtualenv and
the git history travel on every build and make the `COPY` layer change whenever they
do; a `.env` or a private key ends up in an image layer, where anyone who can pull the
image can read it.

## Example
A context holding `app/`, `.venv/` (with its `pyvenv.cfg`), `.git/`, `model.pt` and
`.env`, and no `.dockerignore`:
```dockerfile
FROM python:3.11-slim
WORKDIR /app
COPY . .
CMD ["python", "app/serve.py"]
```

## Use instead
A `.dockerignore` at the root of the build context:
```text
# Git history
.git
# Virtual environments (they hold a pyvenv.cfg or conda-meta/)
.venv
# Caches
**/__pycache__
# Model weights
**/*.pt
# Secrets: in an image layer a secret is a leak
.env
```
Docker matches each line from the context root: `**/__pycache__` catches caches at
any depth, where `__pycache__` alone catches only the top one. Virtualenvs and
datasets are recognised by what they hold (`pyvenv.cfg`, `conda-meta/`; a `data/`
without `__init__.py`), never by their name, and get their exact paths, so a package
called `env/` stays in. The file goes to the context root, which is not always the
Dockerfile's folder.

## Fix safety
Safe when nothing the build or the app needs leaves the context. A folder holding the
app's own data (a vector store: `chroma.sqlite3`, an HNSW segment, `index.faiss`) is
never junk, and a `**/*.bin` line for weights elsewhere gets a `!` line that keeps it.
Baseline lines name nothing the checkout holds, so the image built from it is the same;
a name the context already has is left to what the walk finds (a `wandb/` package
stays), and a line that would take a path a `COPY` names is not written. A path a
`COPY`/`ADD` names is never excluded: `COPY ./models /models` keeps the weights in
`models/` (a `!` line brings them back from a `**/*.pt` line), and every `!` line is
checked with Docker's matching rules. A line is unsafe when the Python sources (a
string literal such as `"data/labels.json"`, found by a plain text search) or the
Dockerfile's commands name a path it removes, and a `COPY` puts that path in the
image: the app would no longer find it. Safe and unsafe lines are written as separate
blocks: `--write` writes the safe one, `--unsafe-fixes` both. For a misnamed file the
fix copies it under the right name, which is unsafe (its lines start to apply); delete
the old one by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mlfix.context import baseline
from mlfix.context.dockerignore import IGNORE_FILE, DockerIgnore
from mlfix.context.facts import IgnoreFacts
from mlfix.context.plan import propose, render, size
from mlfix.context.wording import (
    candidate_bytes,
    chosen,
    dockerfile_location,
    dockerfile_name,
    ignore_facts,
    in_words,
    junk_summary,
    lines_of,
    proposal_notes,
    shown,
    totals,
)
from mlfix.errors import MlfixError
from mlfix.facts import Facts
from mlfix.model import Applicability, Edit, Finding, Fix, Location, Savings

CODE = "MLF101"
NAME = "dockerignore-missing"
SUMMARY = "No .dockerignore, so the junk in the build context goes to the daemon"

HEADER = (
    "Written by mlfix (MLF101) from what this build context holds.",
    "Docker matches each line from the context root; **/ matches at any depth.",
)
BASELINE_HEADER = "Written by mlfix (MLF101). Docker matches each line from the context root."
UNSAFE_HEADER = (
    "Added with --unsafe-fixes: the code or the Dockerfile names these paths,",
    "and the image no longer has them.",
)


def check(facts: Facts) -> Iterator[Finding]:
    ignore = ignore_facts(facts)
    if ignore is None:
        return
    yield from _misnamed(ignore)
    if ignore.exists or ignore.tree is None:
        return
    proposal = propose(ignore, dockerfile_name(ignore))
    blocks = chosen(proposal, facts.settings.unsafe_fixes)
    grown: list[baseline.BaselineLine] = []
    if ignore.copies_whole_context and not ignore.misnamed:
        written = [line.text for line in lines_of(blocks)]
        grown = baseline.choose(ignore.present, written, ignore.copies, ignore.engine)
    if not blocks and not grown:
        return
    parts: list[str] = []
    if blocks:
        parts.append(render(blocks[0].lines, HEADER, "\n"))
        if blocks[0] is proposal.unsafe:
            parts = [render(blocks[0].lines, HEADER + UNSAFE_HEADER, "\n")]
        elif len(blocks) > 1:
            parts.append("\n" + render(blocks[1].lines, UNSAFE_HEADER, "\n"))
    else:
        parts.append(f"# {BASELINE_HEADER}\n")
    if grown:
        parts.append(("\n" if blocks else "") + baseline.render(grown, "\n"))
    text = "".join(parts)
    unsafe = any(block is proposal.unsafe for block in blocks)
    before_bytes, before_files, after_bytes, after_files = totals(ignore, blocks)
    junk_bytes, _ = candidate_bytes(proposal)
    if blocks:
        message = (
            f"no {IGNORE_FILE}: every build sends {in_words(before_bytes, before_files)} to "
            f"the daemon, {size(junk_bytes)} of it junk ({junk_summary(proposal)})"
        )
    else:
        message = (
            f"no {IGNORE_FILE}: `COPY` sends the whole context, and with it whatever a "
            "working tree grows (caches, virtualenvs, `.env` files, experiment runs)"
        )
    notes = proposal_notes(ignore, proposal, blocks) if blocks else []
    if grown:
        names = ", ".join(f"`{line.text}` ({line.what})" for line in grown)
        notes.append(f"also written, for what this checkout does not hold yet: {names}")
    where = shown(ignore.ignore_path, ignore)
    count = len(lines_of(blocks)) + len(grown)
    fix = Fix(
        f"Create `{where}` ({count} line{'s' if count != 1 else ''})",
        (Edit.insert(ignore.ignore_path, 0, text),),
        Applicability.UNSAFE if unsafe else Applicability.SAFE,
    )
    saves = Savings(bytes=before_bytes - after_bytes, files=before_files - after_files)
    yield Finding(CODE, message, dockerfile_location(facts, ignore), fix, tuple(notes), saves)


def _right_place(path: Path, ignore: IgnoreFacts) -> Path:
    dockerfile = ignore.dockerfile
    if path.parent == dockerfile.parent and path.name.startswith(dockerfile.name + "."):
        return dockerfile.with_name(dockerfile.name + IGNORE_FILE)
    return ignore.context / IGNORE_FILE


def _misnamed(ignore: IgnoreFacts) -> Iterator[Finding]:
    for path in ignore.misnamed:
        right = _right_place(path, ignore)
        name = shown(path, ignore)
        if right.name.lower() == path.name.lower():
            why = f"file names are case-sensitive, and Docker reads `{right.name}`"
        else:
            why = f"Docker reads only `{IGNORE_FILE}` or `<Dockerfile>{IGNORE_FILE}`"
        message = f"Docker never reads `{name}`: {why}"
        text = ignore.misnamed_texts.get(path)
        notes: list[str] = []
        if ignore.exists:
            target = shown(ignore.ignore_path, ignore)
            fix = Fix(
                f"Move its lines into `{target}` and delete it", (), Applicability.DISPLAY_ONLY
            )
            notes.append(f"Docker reads `{target}`; the lines of `{name}` have no effect")
        elif text is not None and _valid(text):
            fix = Fix(
                f"Copy it to `{shown(right, ignore)}`",
                (Edit.insert(right, 0, text),),
                Applicability.UNSAFE,
            )
            notes.append(
                f"its lines start to apply under the right name: check what they leave out, "
                f"then delete `{name}`"
            )
        else:
            fix = Fix(f"Rename it to `{shown(right, ignore)}`", (), Applicability.DISPLAY_ONLY)
        yield Finding(CODE, message, Location(path, 1), fix, tuple(notes))
    for path in ignore.misplaced:
        name = shown(path, ignore)
        root = shown(ignore.context / IGNORE_FILE, ignore)
        specific = shown(ignore.dockerfile.with_name(ignore.dockerfile.name + IGNORE_FILE), ignore)
        message = (
            f"Docker does not read `{name}` for this build: the build context is "
            f"`{ignore.context.name or ignore.context}`, so the file belongs at `{root}`"
        )
        fix = Fix(
            f"Move its lines to `{root}` or `{specific}` (lines match from the context root)",
            (),
            Applicability.DISPLAY_ONLY,
        )
        yield Finding(CODE, message, Location(path, 1), fix)


def _valid(text: str) -> bool:
    try:
        DockerIgnore.parse(text)
    except MlfixError:
        return False
    return True
