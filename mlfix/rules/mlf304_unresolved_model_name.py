"""## What it does
Reports each place where the code loads a model whose name mlfix cannot work out without
running the code: a command-line argument, request data, an environment variable with no
default in the code and no value in the Dockerfile, a name chosen by a condition or built
by a call. It also reports `hf download` lines in the Dockerfile whose repo is a variable
with no value there, and names that resolve to a value no build line may carry: a repo id,
revision, file name, subfolder, pattern or repo type the Hugging Face hub itself would
refuse (``main`touch x` ``, `gpt2` followed by a newline, `*` as a repo type), or a cache
directory that is not a plain absolute path.

## Why is this bad?
What cannot be named cannot be baked: the container downloads that model when it starts,
and mlfix cannot promise offline operation (`HF_HUB_OFFLINE=1`) for the image. Guessing a
name would bake the wrong files, so mlfix invents no download and says where the name comes
from instead.

## Example
```python
import os
from transformers import AutoModel

model = AutoModel.from_pretrained(os.environ["MODEL_ID"])
```

## Use instead
```python
model = AutoModel.from_pretrained(os.getenv("MODEL_ID", "org/tiny-model"))
```
or give the variable its value in the Dockerfile (`ENV MODEL_ID=org/tiny-model`), which is
what runs in the image; MLF301 then bakes that model.

## Fix safety
No fix: only the author knows which model the app should run with. A name the hub would
refuse is never written into the Dockerfile: every value MLF301 writes is checked against
the hub's rules for its kind and then single-quoted, so scanned code can never add a
command to the build.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlfix.facts import Facts
from mlfix.model import Finding, Location

CODE = "MLF304"
NAME = "unresolved-model-name"
SUMMARY = "A model name that cannot be known before runtime"


def check(facts: Facts) -> Iterator[Finding]:
    weights = facts.weights
    if weights is None:
        return
    for ref in weights.unresolved:
        reason = ref.unresolved_reason or "its value is only known at runtime"
        notes: list[str] = list(ref.via)
        if ref.env_var:
            notes.append(
                f"give {ref.env_var} a default in the code or `ENV {ref.env_var}=org/name`"
                " in the Dockerfile to let MLF301 bake it"
            )
        yield Finding(
            CODE,
            f"cannot tell which model `{ref.raw}` names ({reason}); nothing is baked for it",
            Location(ref.path, ref.line, ref.column),
            None,
            notes=tuple(notes),
        )
    for ref, why in weights.rejected:
        yield Finding(
            CODE,
            f"the model {ref.repo_id!a} is not usable in a build line: {why};"
            " nothing is baked for it",
            Location(ref.path, ref.line, ref.column),
            None,
            notes=tuple(ref.via),
        )
    model = facts.dockerfile
    for index, download in weights.unresolved_downloads:
        instruction = model.instructions[index]
        reason = download.unresolved_reason or "the repo is not known here"
        yield Finding(
            CODE,
            f"`{download.raw}` downloads a repo mlfix cannot name: {reason}",
            Location(model.path, instruction.first_line),
            None,
        )
