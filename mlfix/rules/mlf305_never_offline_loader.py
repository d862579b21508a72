"""## What it does
Finds model loaders that reach the Hugging Face Hub at every start even when the files
are already in the image: llama-cpp's `Llama.from_pretrained(repo_id, filename)`, and a
transformers `pipeline(model=...)` that names no task.

## Why is this bad?
Baking the weights (MLF301) is meant to make the container start without the network.
These calls defeat it. `Llama.from_pretrained` lists the repository's files on the hub to
match `filename` (a glob) before it looks at the cache, so under `--network none`, behind
a firewall or during a hub outage the app does not start, although the file is in the
image. `pipeline(model=...)` without a task asks the hub API for the model's
`pipeline_tag`, and raises in offline mode (`HF_HUB_OFFLINE=1`).

## Example
```python
from llama_cpp import Llama

llm = Llama.from_pretrained(repo_id="acme/tiny-GGUF", filename="tiny.Q4_K_M.gguf", n_ctx=2048)
classify = pipeline(model="acme/sentiment")
```

## Use instead
```python
from llama_cpp import Llama
from huggingface_hub import hf_hub_download

llm = Llama(
    model_path=hf_hub_download(repo_id="acme/tiny-GGUF", filename="tiny.Q4_K_M.gguf"),
    n_ctx=2048,
)
classify = pipeline("text-classification", model="acme/sentiment")
```
`hf_hub_download` returns the cached file without listing the repo, and falls back to the
cache when the hub cannot be reached. The fix rewrites the call with libcst (the rest of
the file keeps its bytes), keeps every other keyword for `Llama`, passes `cache_dir=` and
`local_dir=` to `hf_hub_download`, adds the import after the file's imports, and bakes
exactly that file in the `weights` stage, as MLF301 does. When that call was the only
thing keeping the app from running offline, the fix also sets `HF_HUB_OFFLINE=1`.

For a pipeline, the finding names the task when the project carries the repo's model
card (a hub cache in the build context whose `README.md` sets `pipeline_tag:`); mlfix never
asks the hub, so otherwise it says to pass the model's task.

## Fix safety
Unsafe: the app's source changes. A `filename` glob is not rewritten, since only the hub
knows which file it matches: name the file and the fix applies. Calls with
`additional_files=`, `local_dir_use_symlinks=`, `*args`/`**kwargs` are reported without a
fix. The import needs `huggingface_hub`, which `from_pretrained` needed too. A pipeline
gets no fix: the task is the author's to choose.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from mlfix.facts import Facts
from mlfix.model import Applicability, Edit, Finding, Fix
from mlfix.rules import mlf301_model_downloaded_at_runtime as mlf301
from mlfix.scan.refs import ModelRef
from mlfix.weights.facts import Download, WeightFacts
from mlfix.weights.includes import is_glob

CODE = "MLF305"
NAME = "loader-never-offline"
SUMMARY = "A model loader that reaches the hub at every start, even with the files baked"


def check(facts: Facts) -> Iterator[Finding]:
    weights = facts.weights
    if weights is None:
        return
    for ref in weights.never_offline:
        if ref.library == "llama-cpp":
            yield _llama(facts, weights, ref)
        elif ref.library == "transformers" and ref.task is None:
            yield _pipeline(facts, weights, ref)
        else:
            yield Finding(
                CODE,
                f"{ref.loader} at {_display(facts, ref.path, ref.line)} reaches the hub at every"
                " start, even with the files baked",
                ref.location,
                None,
                notes=ref.notes,
            )


def _display(facts: Facts, path: Path, line: int) -> str:
    try:
        shown = path.relative_to(facts.target.context)
    except ValueError:
        shown = path
    return f"{shown.as_posix()}:{line}"


def _llama(facts: Facts, weights: WeightFacts, ref: ModelRef) -> Finding:
    where = _display(facts, ref.path, ref.line)
    message = (
        f"{ref.loader} at {where} lists `{ref.repo_id}` on the hub at every start, so the app"
        " cannot start offline even with the file baked; load the file with"
        " Llama(model_path=hf_hub_download(repo_id=..., filename=...))"
    )
    fix, why = _llama_fix(facts, weights, ref)
    notes = (why,) if why else ()
    return Finding(CODE, message, ref.location, fix, notes=notes)


def _llama_fix(facts: Facts, weights: WeightFacts, ref: ModelRef) -> tuple[Fix | None, str | None]:
    if ref.filename is None:
        return None, "no fix: the filename is not known before runtime"
    if is_glob(ref.filename):
        return None, (
            f"no fix: filename {ref.filename!r} is a glob that only the hub's file list"
            " resolves; name the file exactly to get one"
        )
    text = facts.texts.get(ref.path)
    if text is None:
        return None, "no fix: the file cannot be read"
    from mlfix.weights import llama_rewrite  # libcst: only when this fix is built

    result = llama_rewrite.rewrite(text, ref.line, ref.column)
    if result.text is None:
        return None, f"no fix: {result.reason}"
    edits: list[Edit] = [Edit(ref.path, 0, len(text), result.text)]
    edits.extend(_bake(facts, weights, ref))
    title = "load the cached file with Llama(model_path=hf_hub_download(...))"
    return Fix(title, tuple(edits), Applicability.UNSAFE), None


def _bake(facts: Facts, weights: WeightFacts, ref: ModelRef) -> tuple[Edit, ...]:
    """MLF301's bake of the file (when MLF301 has not baked it yet, or is not selected), and
    `HF_HUB_OFFLINE=1` when this call was all that kept the image from running offline."""
    download: Download | None = next((d for d in weights.missing if ref in d.refs), None)
    if weights.cli is None or facts.settings.weights == "volume":
        return ()
    if any(d is not download for d in weights.missing):
        offline = False  # other models still download at start; MLF301 bakes them first
    else:
        mine = f"{_display(facts, ref.path, ref.line)}: "
        offline = not weights.offline_set and not any(
            not b.startswith(mine) for b in weights.offline_blockers
        )
    only = replace(
        weights,
        missing=(download,) if download else (),
        copy_dirs=tuple(d for d in weights.copy_dirs if download and d == download.cache_dir),
        set_hf_home=weights.set_hf_home and download is not None,
        offline=offline,
    )
    if not only.missing and not only.offline:
        return ()
    model = facts.dockerfile
    stage = model.stages[weights.app_stage]
    return mlf301.bake_fix(model, stage, only, facts.settings.weights_base).edits


def _pipeline(facts: Facts, weights: WeightFacts, ref: ModelRef) -> Finding:
    where = _display(facts, ref.path, ref.line)
    known = weights.pipeline_tags.get(ref.repo_id or "")
    if known is not None:
        tag, card = known
        advice = f'pass task="{tag}" (the pipeline_tag of its model card, {card})'
    else:
        advice = "pass its task (the model's pipeline_tag on the hub) as the first argument"
    message = (
        f"{ref.loader} at {where} names no task, so transformers asks the hub for the task of"
        f" `{ref.repo_id}` at every start and fails offline; {advice}"
    )
    return Finding(CODE, message, ref.location, None)
