"""## What it does
Finds junk in the build context that the existing ignore file lets through: `.git`,
virtualenvs (recognised by `pyvenv.cfg` or `conda-meta/`), caches (`__pycache__`,
`.pytest_cache`, `.mypy_cache`, `.ruff_cache`, `.ipynb_checkpoints`), model weights
(`*.pt *.pth *.bin *.safetensors *.ckpt *.onnx *.gguf *.h5`), datasets (`data/`,
`datasets/`), experiment output (`wandb/`, `mlruns/`, `lightning_logs/`, `outputs/`),
`node_modules` and secrets (`.env`, `*.pem`, `id_rsa`). The ignore file is the one
Docker reads for this build: `<Dockerfile>.dockerignore` when BuildKit finds one,
else `.dockerignore` at the context root.

## Why is this bad?
Whatever the ignore file lets through is sent to the daemon on every build and, with
`COPY . .`, copied into the image. A line that looks right often is not: Docker
anchors every line at the context root, so `__pycache__` or `*.pyc` only matches at
the top, and a cache three directories down still travels. A secret that gets through
ends up in an image layer: a leak.

## Example
```text
# .dockerignore
.git
__pycache__
```
with `.venv/`, `app/__pycache__/` and `checkpoints/last.ckpt` in the context.

## Use instead
```text
# .dockerignore
.git
__pycache__

# Added by mlfix (MLF102): junk this build context was sending to the daemon.
# Virtual environments (they hold a pyvenv.cfg or conda-meta/)
.venv
# Caches
**/__pycache__
# Model weights
**/*.ckpt
```
The file is kept byte for byte, line endings included (a CRLF file gets CRLF lines,
a missing final newline is added before the block), and the new lines come as one
commented block at the end. Lines the file already has are respected: junk a `!`
line of its own keeps in, or whose inside the file already sorts out line by line,
stays.

## Fix safety
Safe when nothing the build or the app needs leaves the context: a path a
`COPY`/`ADD` names is never excluded (a checked `!` line keeps it when a line would
catch it). A line is unsafe when the Python sources (a string literal such as
`"data/labels.json"`, found by a plain text search) or the Dockerfile's commands name
a path it removes and a `COPY` puts that path in the image. Unsafe lines form a
second block, written after the safe one with `--unsafe-fixes`.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlfix.context.plan import append_edit_text, propose, render, size
from mlfix.context.wording import (
    candidate_bytes,
    chosen,
    dockerfile_name,
    ignore_facts,
    in_words,
    junk_summary,
    lines_of,
    proposal_notes,
    shown,
    totals,
)
from mlfix.facts import Facts
from mlfix.model import Applicability, Edit, Finding, Fix, Location, Savings
from mlfix.textio import newline_of

CODE = "MLF102"
NAME = "junk-not-ignored"
SUMMARY = "Junk in the build context is not in the ignore file"

HEADER = ("Added by mlfix (MLF102): junk this build context was sending to the daemon.",)
UNSAFE_HEADER = (
    "Added by mlfix (MLF102) with --unsafe-fixes: the code or the Dockerfile names",
    "these paths, and the image no longer has them.",
)


def check(facts: Facts) -> Iterator[Finding]:
    ignore = ignore_facts(facts)
    if ignore is None or ignore.text is None or ignore.tree is None:
        return
    proposal = propose(ignore, dockerfile_name(ignore))
    blocks = chosen(proposal, facts.settings.unsafe_fixes)
    if not blocks:
        return
    existing = ignore.text
    newline = newline_of(existing)
    if blocks[0] is proposal.unsafe:
        block_text = render(blocks[0].lines, UNSAFE_HEADER, newline)
    else:
        block_text = render(blocks[0].lines, HEADER, newline)
        if len(blocks) > 1:
            block_text += newline + render(blocks[1].lines, UNSAFE_HEADER, newline)
    unsafe = any(block is proposal.unsafe for block in blocks)
    before_bytes, before_files, after_bytes, after_files = totals(ignore, blocks)
    junk_bytes, junk_files = candidate_bytes(proposal)
    name = shown(ignore.ignore_path, ignore)
    message = (
        f"`{name}` lets junk through: {in_words(junk_bytes, junk_files)} of the "
        f"{size(before_bytes)} sent to the daemon ({junk_summary(proposal)})"
    )
    notes = proposal_notes(ignore, proposal, blocks)
    count = len(lines_of(blocks))
    edit = Edit.insert(ignore.ignore_path, len(existing), append_edit_text(existing, block_text))
    fix = Fix(
        f"Append {count} line{'s' if count != 1 else ''} to `{name}`",
        (edit,),
        Applicability.UNSAFE if unsafe else Applicability.SAFE,
    )
    last_line = existing.count("\n") + (0 if existing.endswith("\n") or not existing else 1)
    location = Location(ignore.ignore_path, max(last_line, 1))
    saves = Savings(bytes=before_bytes - after_bytes, files=before_files - after_files)
    yield Finding(CODE, message, location, fix, tuple(notes), saves)
