"""The facts the scan hands to the weight rules (MLF301-MLF304).

Rules never read files, so everything a rule needs to decide what to bake, or to explain
why it cannot, is carried here: which repo, which loader (the loader decides which files it
reads), the arguments that change what is fetched, and where the name came from.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

from mlfix.model import Location


class RefKind(enum.Enum):
    """What a name argument turned out to be.

    HUB refs can be baked. LOCAL refs name a path the image must already contain (COPY or a
    build step), so baking would be wrong. UNRESOLVED refs are MLF304: mlfix cannot know
    which repo runs, so it invents no download.
    """

    HUB = "hub"
    LOCAL = "local"
    UNRESOLVED = "unresolved"


@dataclass(frozen=True)
class ModelRef:
    """One place where the code loads a model (or tokenizer, adapter, file) by name.

    `loader` is the call as written (`AutoTokenizer.from_pretrained`), `loader_class` the
    class whose `from_pretrained` runs (`AutoTokenizer`): a tokenizer reads other files than
    a model, so the fix needs it to choose `--include` patterns. `raw` is the exact source of
    the name argument, for messages. `env_vars` lists the environment variables the name was
    read from; `from_dockerfile_env` says the Dockerfile's own ENV/ARG value was used rather
    than the code's default, since that is what runs in the image. `exact` is False when
    another value may reach the call at runtime (a parameter default, an argparse default):
    the fix may bake it but must not promise offline operation on its strength.

    `via` explains how the name was found, innermost step first (`default of env MODEL`,
    then `MODEL (app/config.py:3)`). `offline_safe` is False for loaders that reach the
    network even with the files cached (llama-cpp's `Llama.from_pretrained`, a `pipeline()`
    without a task); `notes` say why, and what else the rules should tell the user.
    `options` keeps keyword arguments that change which files are read
    (`use_safetensors=False`, `from_tf=True`, ...). `role` is `model`, `tokenizer`,
    `processor`, `config`, `adapter`, `adapter-base`, `lora`, `file`, `snapshot` or
    `pipeline-default` (the model transformers pins for a task, at `revision`).
    """

    kind: RefKind
    repo_id: str | None
    library: str
    loader: str
    path: Path
    line: int
    column: int
    raw: str
    loader_class: str | None = None
    role: str = "model"
    revision: str | None = None
    subfolder: str | None = None
    filename: str | None = None
    allow_patterns: tuple[str, ...] | None = None
    ignore_patterns: tuple[str, ...] | None = None
    cache_dir: str | None = None
    local_dir: str | None = None
    repo_type: str = "model"
    variant: str | None = None
    backend: str | None = None
    task: str | None = None
    local_path: str | None = None
    base_model: str | None = None
    env_vars: tuple[str, ...] = ()
    from_dockerfile_env: bool = False
    exact: bool = True
    via: tuple[str, ...] = ()
    unresolved_reason: str | None = None
    offline_safe: bool = True
    notes: tuple[str, ...] = ()
    options: tuple[tuple[str, str], ...] = ()

    @property
    def location(self) -> Location:
        return Location(self.path, self.line, self.column)

    @property
    def env_var(self) -> str | None:
        """The (first) environment variable the name came from, if any."""
        return self.env_vars[0] if self.env_vars else None


@dataclass(frozen=True)
class ScanProblem:
    """A file the scan could not read or parse; reported, never fatal."""

    path: Path
    line: int
    message: str


@dataclass(frozen=True)
class ScanResult:
    """Everything one scan found. `files_parsed` counts the files that passed the prefilter."""

    refs: tuple[ModelRef, ...] = ()
    files_scanned: int = 0
    files_parsed: int = 0
    problems: tuple[ScanProblem, ...] = ()

    @property
    def hub_refs(self) -> tuple[ModelRef, ...]:
        return tuple(ref for ref in self.refs if ref.kind is RefKind.HUB)

    @property
    def unresolved(self) -> tuple[ModelRef, ...]:
        return tuple(ref for ref in self.refs if ref.kind is RefKind.UNRESOLVED)

    @property
    def all_resolved(self) -> bool:
        """True when no ref is UNRESOLVED: the precondition for `HF_HUB_OFFLINE=1`."""
        return not self.unresolved


@dataclass(frozen=True)
class HubDownload:
    """A download the Dockerfile already runs (`hf download ...`), so nothing is baked twice.

    `filenames` are the explicit files of the command line; when given, the CLI ignores
    `include`/`exclude`. `repo_id` is None when it names a variable that has no value here.
    """

    tool: str
    repo_id: str | None
    raw: str
    revision: str | None = None
    repo_type: str = "model"
    filenames: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    local_dir: str | None = None
    cache_dir: str | None = None
    unresolved_reason: str | None = None


@dataclass(frozen=True)
class RunFacts:
    """What one `RUN` command downloads or loads at build time.

    `scripts` are the Python files the command runs (`python download_model.py`) as written,
    relative to the stage's WORKDIR; the caller maps them into the build context and scans
    them with `scan_file`; they include the files a `python -c` snippet imports (the
    project's modules among them run). `modules` are `python -m pkg.mod` targets, likewise.
    """

    downloads: tuple[HubDownload, ...] = ()
    refs: tuple[ModelRef, ...] = ()
    scripts: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()
    problems: tuple[ScanProblem, ...] = field(default=())
