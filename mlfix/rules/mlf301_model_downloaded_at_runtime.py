"""## What it does
Finds models the code loads from the Hugging Face Hub (`from_pretrained`,
`SentenceTransformer`, `pipeline`, `hf_hub_download`, `snapshot_download`, diffusers,
timm/open_clip `hf-hub:` names, peft adapters, faster-whisper sizes, fastembed models) that
the image does not already contain, so every new container downloads them when it starts.
The same for an `hf download` / `huggingface-cli download` or a `python -c` download in the
start command or a shell script it runs (`CMD ["./start.sh"]`, `ENTRYPOINT ["bash",
"entrypoint.sh"]`): the script is found through WORKDIR and the COPY that put it there.

## Why is this bad?
A container that downloads its weights at start needs minutes and the network before it
can serve: autoscaling is slow, an outage of the hub is an outage of the app, and every
replica pays for the same bytes again. Baked at build time, the weights are one cached
layer that a code edit (or, in a separate stage, a `requirements.txt` edit) never rebuilds.

## Example
```dockerfile
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
CMD ["python", "serve.py"]   # serve.py: AutoTokenizer.from_pretrained("org/tiny-model")
```

## Use instead
```dockerfile
FROM python:3.11-slim AS weights
RUN pip install --no-cache-dir "huggingface_hub>=1.0"
ARG HF_ENDPOINT=https://huggingface.co
ENV HF_HOME=/opt/hf
RUN hf download org/tiny-model --include config.json --include tokenizer.json ...

FROM python:3.11-slim
ENV HF_HOME=/opt/hf
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY --from=weights /opt/hf/hub /opt/hf/hub
COPY . .
ENV HF_HUB_OFFLINE=1
CMD ["python", "serve.py"]
```
The files land in the Hugging Face cache (`HF_HOME`, fixed and outside any home
directory, so root at build time and the app's USER at runtime agree), where
`from_pretrained("org/tiny-model")` finds them with no code change. Only the files the
loader reads are downloaded (a tokenizer's files, safetensors weights rather than every
format the repo carries). A pinned `revision=` is downloaded at that revision, so the
offline lookup of the same revision finds it. When the project already names a cache
(`HF_HOME`, `HF_HUB_CACHE`, `SENTENCE_TRANSFORMERS_HOME`, `TRANSFORMERS_CACHE`,
`cache_dir=`), the weights go there; a loader's `local_dir=` (or `--local-dir`) gets them
in that folder. fastembed keeps its own cache (`cache_dir=`, `FASTEMBED_CACHE_PATH`, else the
temp dir, which runtimes often mount empty): its models are baked there, the temp-dir
default as `/opt/fastembed` with `FASTEMBED_CACHE_PATH` set. A start script is left as it
is: with the files baked, its download finds them (and keeps them when the hub cannot be
reached). `HF_HUB_OFFLINE=1` is set only when every model the
code loads was resolved and is baked, the scan read every file it meant to (a FIFO, a
file over its size cap or one that does not parse may load a model too), and the project
installs no library that downloads from the hub in ways mlfix does not follow
(`datasets`, `evaluate`). With
`weights = "volume"` the compose service mounts the host's cache instead.

The weights go to the stage that runs the app: the last one, or the stage a compose
service builds (`build: {target: app}`), since `docker build --target` stops there. The
`weights` stage starts from a small Python image of its own (setting `weights-base`,
default `python:3.11-slim`), never from the app's base: a CUDA runtime, busybox or node
image has no `pip` to install the hub CLI with. A project's own `weights` stage is kept,
and new downloads join it.

When the Dockerfile passes a Hugging Face token (see MLF303), the downloads read it from
the BuildKit secret `hf_token`, so gated and private repos can be baked.

Not every name the code spells is baked. An image that starts none of the project's code
(its CMD is an interactive shell or `sleep`, its ENTRYPOINT a wrapper that only runs
`exec "$@"` with no CMD, the project's own console script given no arguments when its
argparse requires one, or the Dockerfile sets no start command on a base that does not
run the app itself) gets nothing from the scanned code. A name that is the path a RUN step
creates below the WORKDIR (`unzip -d`, `git clone`, a `cp`/`mv` target) is a local folder.
In `if size == "small": ... elif size == "large": ...` only the branch the value selects
is baked; when the value cannot be read, the alternatives are MLF304s, not all baked.

A start command that runs a model server names the model itself: `infinity_emb` serves
its `--model-id` values, else `INFINITY_MODEL_ID`, else its own default model.

Loaders that reach the network even with the files cached (llama-cpp's
`Llama.from_pretrained`, `pipeline(model=...)` without a task) are MLF305's: MLF301 still
bakes their files, and leaves `HF_HUB_OFFLINE` unset while they are in the code.

## Fix safety
Unsafe: the fix changes what the image holds and how the app behaves. The build now
downloads from the hub (it needs the network, and a token for gated repos: see MLF303),
the image grows by the weights, the app gets the snapshot of build time instead of the
newest `main` at each start, and with `HF_HUB_OFFLINE=1` it no longer reaches the hub at
all. The include patterns take safetensors weights; a repo that has only `.bin` weights
needs its `--include` edited, or the offline load fails. Display-only when the project pins
a huggingface_hub too old to have a download command.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from mlfix.dockerfile import edit
from mlfix.dockerfile.model import DockerfileModel, Stage
from mlfix.facts import Facts
from mlfix.model import Applicability, Edit, Finding, Fix, Location
from mlfix.scan.refs import ModelRef
from mlfix.weights import render
from mlfix.weights.compose import HOST_CACHE, add_volume
from mlfix.weights.facts import Download, WeightFacts
from mlfix.weights.fastembed import link_note as fastembed_link_note

CODE = "MLF301"
NAME = "model-downloaded-at-runtime"
SUMMARY = "A model the code loads is downloaded when the container starts"


def check(facts: Facts) -> Iterator[Finding]:
    weights = facts.weights
    if weights is None:
        return
    model = facts.dockerfile
    stage = model.stages[weights.app_stage]
    where = Location(model.path, stage.from_instruction.first_line)
    if not weights.missing and not weights.set_hf_home:
        return
    if facts.settings.weights == "volume":
        yield from _volume(facts, weights, where)
        return
    fix = _fix(model, stage, weights, facts.settings.weights_base)
    if not weights.missing:
        yield Finding(
            CODE,
            "models baked at build time land in a cache the app does not read at runtime",
            where,
            fix,
            notes=tuple(f"{why}" for _r, _b, why in weights.misplaced) + _offline_note(weights),
        )
        return
    for download in weights.missing:
        yield Finding(
            CODE,
            _message(facts, download),
            where,
            fix,
            notes=_notes(facts, weights, download),
        )


def _display(facts: Facts, ref: ModelRef) -> str:
    try:
        path = ref.path.relative_to(facts.target.context)
    except ValueError:
        path = ref.path
    return f"{path.as_posix()}:{ref.line}"


def _message(facts: Facts, download: Download) -> str:
    first = download.refs[0]
    more = len(download.refs) - 1
    also = f" (and {more} more)" if more else ""
    revision = f" at {download.revision}" if download.revision else ""
    return (
        f"`{download.repo_id}`{revision} is downloaded when the container starts:"
        f" {first.loader} at {_display(facts, first)}{also}; bake it in at build time"
    )


def _notes(facts: Facts, weights: WeightFacts, download: Download) -> tuple[str, ...]:
    notes: list[str] = []
    if download.filenames:
        notes.append(f"bakes only {', '.join(download.filenames)}")
    elif download.include is not None:
        notes.append(f"bakes only what the loader reads: {' '.join(download.include)}")
    else:
        notes.append("the code reads the whole repo, so the whole repo is baked")
    fastembed = any(r.library == "fastembed" for r in download.refs)
    if download.local:
        notes.append(f"into --local-dir {download.cache_dir}, the folder the loader reads")
    else:
        notes.append(f"into {'fastembed' if fastembed else 'the hub'} cache {download.cache_dir}")
    link = fastembed_link_note(download.include, weights.runtime_user, weights.chown)
    if fastembed and link:
        notes.append(link)
    for ref, _bake, why in weights.misplaced:
        if ref in download.refs:
            notes.append(f"already downloaded at build time, but {why}")
    for ref in download.refs:
        notes.extend(n for n in ref.notes if n not in notes)
    notes.extend(why for where, why in weights.warnings if where == download.cache_dir)
    notes.extend(_offline_note(weights))
    if weights.cli is None:
        notes.append(
            f"huggingface_hub {weights.hub_version} has no download command; pin 0.34 or newer"
        )
    return tuple(notes)


def _offline_note(weights: WeightFacts) -> tuple[str, ...]:
    if weights.offline_set:
        return ()
    if weights.offline:
        return ("every model the code loads is baked, so the app runs with HF_HUB_OFFLINE=1",)
    if weights.offline_blockers:
        return (f"HF_HUB_OFFLINE stays unset: {weights.offline_blockers[0]}",)
    return ()


def _insert(model: DockerfileModel, at: int, text: str) -> Edit:
    return edit.insert_lines(model, at, text)


def _fix(model: DockerfileModel, stage: Stage, weights: WeightFacts, base: str) -> Fix:
    inserts: dict[int, list[str]] = {}

    def add(at: int, text: str) -> None:
        inserts.setdefault(at, []).append(text)

    if weights.missing:
        if weights.weights_stage is None:
            # Its own Python base, on the build's platform: it only downloads files.
            add(stage.from_instruction.lead_start, render.weights_stage(base, None, weights))
        else:
            # Downloads added to the project's own weights stage land in its cache: name
            # the one the app reads when it differs, or they are baked where none looks.
            there = replace(weights, hub_dir=weights.weights_stage_hub or weights.hub_dir)
            last = model.stages[weights.weights_stage].instructions[-1]
            body = model.text[last.start : last.end]
            if last.keyword == "RUN" and " download " in body and body.endswith("\n"):
                # One RUN of downloads (hadolint DL3059): the new ones chain onto it.
                at = last.end - (2 if body.endswith("\r\n") else 1)
                add(at, render.chained(weights.missing, there))
            else:
                add(last.end, render.download_run(weights.missing, there))
    if weights.set_hf_home:
        add(stage.from_instruction.end, f"ENV HF_HOME={render.path(weights.cache_var[1])}\n")
    for name, value in weights.app_env if weights.missing else ():
        add(stage.from_instruction.end, f"ENV {name}={render.path(value)}\n")
    end = stage.instructions[-1].end
    if weights.copy_dirs:
        at = model.instructions[weights.anchor].lead_start if weights.anchor is not None else end
        add(at, render.copy_lines(weights))
    if weights.offline and not weights.offline_set:
        anchor = weights.offline_anchor
        add(model.instructions[anchor].lead_start if anchor is not None else end,
            "ENV HF_HUB_OFFLINE=1\n")  # fmt: skip
    edits = tuple(_insert(model, at, "".join(texts)) for at, texts in sorted(inserts.items()))
    how = Applicability.DISPLAY_ONLY if weights.cli is None else Applicability.UNSAFE
    title = "bake the models into the image at build time"
    return Fix(title, edits, how)


def _volume(facts: Facts, weights: WeightFacts, where: Location) -> Iterator[Finding]:
    name, value = weights.cache_var
    container = value
    source = HOST_CACHE if name == "HF_HOME" else HOST_CACHE + "/hub"
    environment = {name: container}
    if weights.offline and not weights.offline_set:
        environment["HF_HUB_OFFLINE"] = "1"
    fill = tuple(
        "fill the host cache: "
        + " ".join(render.download_command(d, weights, "hf").replace("\\\n", " ").split())
        for d in weights.missing
    )
    service = weights.compose
    fix: Fix | None = None
    notes: tuple[str, ...]
    if service is None:
        notes = (
            "no compose service builds this Dockerfile: run the container with"
            f" -v ~/.cache/huggingface:{container} -e {name}={container}",
            *fill,
        )
    else:
        old = facts.texts.get(service.path)
        new = (
            add_volume(old, service.name, container, environment, weights.offline)
            if old is not None
            else None
        )
        mount = f"{source}:{container}"
        notes = (f"mounts {mount} in service {service.name} of {service.path.name}", *fill)
        if new is None or old is None:
            fix = Fix("mount the host's Hugging Face cache", (), Applicability.DISPLAY_ONLY)
            notes = (*notes, "the compose file cannot be rewritten keeping its layout")
        elif new != old:
            fix = Fix(
                "mount the host's Hugging Face cache",
                (edit.file_edit(service.path, old, new),),
                Applicability.UNSAFE,
            )
        else:
            return  # the service already mounts the cache and sets the variables
    for download in weights.missing:
        message = _message(facts, download).replace(
            "bake it in at build time", "mount it from the host"
        )
        yield Finding(CODE, message, where, fix, notes=notes)


# MLF305 bakes the file its rewrite downloads with the same plan.
bake_fix = _fix
