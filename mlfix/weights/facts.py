"""Facts for the weight rules (MLF301-MLF304), gathered once per pass by a fact provider.

What the project loads comes from `mlfix.scan` (the Python files the image gets, read with
the Dockerfile's ENV values); what is already baked comes from the Dockerfile's `RUN`s
(`hf download`, `python -c`, `python script.py` whose script is scanned too) and the
`COPY --from` lines that carry their caches into the stage that runs the app. Both are
compared by the directory huggingface_hub would use (`cache.hub_cache`), so a download into
`/root/.cache` does not count for an app that runs as another USER.

Rules read only `WeightFacts`: the downloads to add (grouped per repo, revision and cache,
with the include patterns of every loader that reads them), where the fix goes, the hub CLI
the project's pinned huggingface_hub has, the hub commands and token variables of the
Dockerfile, and the compose service for `weights = "volume"`.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from mlfix.config import Settings
from mlfix.context.dockerignore import DockerIgnore, find_ignore_file
from mlfix.deps.facts import Context
from mlfix.discover import display
from mlfix.dockerfile import shell
from mlfix.dockerfile.model import DockerfileModel, Instruction, Stage
from mlfix.dockerfile.state import Effective, copy_plan, effective, expand
from mlfix.errors import MlfixError
from mlfix.scan import (
    HubDownload,
    ModelRef,
    RefKind,
    RunFacts,
    ScanProblem,
    scan_file,
    scan_repo,
    scan_run_command,
    scan_source,
    start_script,
)
from mlfix.textio import read_text
from mlfix.weights import (
    cache,
    cards,
    fastembed,
    idle,
    includes,
    made,
    startup,
    tokens,
    validate,
)
from mlfix.weights.tokens import Literal as TokenLiteral
from mlfix.weights.tokens import Login
from mlfix.weights.versions import (
    declared_packages,
    from_command_words,
    project_versions,
    version_tuple,
)

CODES = ("MLF301", "MLF302", "MLF303", "MLF304", "MLF305")
# Libraries that download from the hub through calls the scan does not follow.
HUB_LIBRARIES_NOT_FOLLOWED = (("datasets", "load_dataset"), ("evaluate", "evaluate.load"))
DEFAULT_HF_HOME = "/opt/hf"
WEIGHTS_STAGE = "weights"
MANIFESTS = re.compile(
    r"(?:^|/)(?:requirements[^/]*\.(?:txt|in)|constraints[^/]*\.txt|pyproject\.toml|setup\.(?:py|cfg)"
    r"|[^/]*\.lock|Pipfile(?:\.lock)?|environment\.ya?ml|conda[^/]*\.ya?ml|package(?:-lock)?\.json"
    r"|\.python-version|MANIFEST\.in)$"
)
TOKEN_NAMES = (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HUGGINGFACE_HUB_TOKEN",
    "HUGGINGFACE_TOKEN",
    "HUGGINGFACEHUB_API_TOKEN",
    "HF_API_TOKEN",
    "HF_AUTH_TOKEN",
)
# Names huggingface_hub itself reads from the environment (the others only a script reads).
HUB_TOKEN_NAMES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


@dataclass(frozen=True)
class Bake:
    """A model the Dockerfile already downloads at build time, and where it lands."""

    repo_id: str
    repo_type: str
    revision: str | None
    cache_dir: str | None  # hub cache in the app stage; None: a --local-dir copy
    patterns: tuple[str, ...] | None  # None: the whole repo
    instruction: int
    how: str  # for messages: "hf download (line 7)"
    local_dir: str | None = None


@dataclass(frozen=True)
class Download:
    """One download the fix adds: a repo at a revision into one hub cache directory.

    `include` is the union of what every loader of the repo reads (None: the whole repo);
    `filenames` are exact files when every loader names one (`hf_hub_download`).
    """

    repo_id: str
    repo_type: str
    revision: str | None
    cache_dir: str
    include: tuple[str, ...] | None
    filenames: tuple[str, ...]
    refs: tuple[ModelRef, ...]
    local: bool = False  # cache_dir is the loaders' --local-dir, not a hub cache


@dataclass(frozen=True)
class CliCommand:
    """A huggingface_hub CLI command in a RUN, with the version the stage installs."""

    instruction: int
    command: shell.Command
    tool_word: shell.Word
    subcommand: str
    hub_version: str | None


@dataclass(frozen=True)
class TokenDef:
    """An `ARG`/`ENV` that holds a Hugging Face token, and the RUNs that use it."""

    instruction: int
    name: str
    keyword: str
    has_value: bool
    pairs: int  # how many variables the instruction sets
    runs: tuple[int, ...]
    explicit: tuple[int, ...]  # RUNs that name the variable ($HF_TOKEN) themselves
    logins: tuple[int, ...]  # RUNs that run `login` (it stores the token in the image)


@dataclass(frozen=True)
class ComposeService:
    """The compose service that builds this Dockerfile (for `weights = "volume"`)."""

    path: Path
    name: str


@dataclass(frozen=True)
class WeightFacts:
    app_stage: int
    refs: tuple[ModelRef, ...] = ()  # every model reference in the image's code
    missing: tuple[Download, ...] = ()
    baked: tuple[tuple[ModelRef, Bake], ...] = ()
    misplaced: tuple[tuple[ModelRef, Bake, str], ...] = ()  # baked where the loader won't look
    unresolved: tuple[ModelRef, ...] = ()
    rejected: tuple[tuple[ModelRef, str], ...] = ()  # names no build line may carry, and why
    unresolved_downloads: tuple[tuple[int, HubDownload], ...] = ()
    never_offline: tuple[ModelRef, ...] = ()
    # MLF305: repo -> (pipeline_tag, card) for pipelines without a task, from a card in the context
    pipeline_tags: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    cache_var: tuple[str, str] = ("HF_HOME", DEFAULT_HF_HOME)  # what the weights stage sets
    hub_dir: str = DEFAULT_HF_HOME + "/hub"  # the hub cache that cache_var gives
    set_hf_home: bool = False  # the app stage gets `ENV HF_HOME=...` too
    app_env: tuple[tuple[str, str], ...] = ()  # more ENV the app stage gets (FASTEMBED_CACHE_PATH)
    copy_dirs: tuple[str, ...] = ()  # hub caches to COPY --from the weights stage
    warnings: tuple[tuple[str, str], ...] = ()  # (hub cache dir, why it may not survive)
    offline: bool = False  # HF_HUB_OFFLINE=1 may be set once the fix is applied
    offline_blockers: tuple[str, ...] = ()
    offline_set: bool = False
    hub_version: str | None = None
    hub_requirement: str = "huggingface_hub>=1.0"
    cli: str | None = "hf"
    greedy_flags: bool = False  # hub < 1.0: `--include a b`; 1.x: one value per flag
    weights_stage: int | None = None
    weights_stage_hub: str | None = None  # where an existing weights stage's downloads land
    weights_copies: tuple[str, ...] = ()  # sources of existing COPY --from=weights
    runtime_user: str = "root"
    chown: str | None = None
    anchor: int | None = None  # instruction the COPY --from goes above; None: stage end
    offline_anchor: int | None = None  # where ENV HF_HUB_OFFLINE=1 goes; None: stage end
    commands: tuple[CliCommand, ...] = ()
    tokens: tuple[TokenDef, ...] = ()
    literals: tuple[TokenLiteral, ...] = ()  # tokens written in the Dockerfile itself
    logins: tuple[Login, ...] = ()
    compose: ComposeService | None = None
    compose_problem: str | None = None
    versions: Mapping[str, str] = field(default_factory=dict)


# -- small helpers --------------------------------------------------------------------------


def _parent_stage(model: DockerfileModel, stage: Stage) -> Stage | None:
    base = stage.base.lower()
    for other in model.stages:
        if other.index >= stage.index:
            break
        if (other.name and other.name.lower() == base) or str(other.index) == base:
            return other
    return None


def stage_env(
    model: DockerfileModel, stage: Stage, upto: Instruction | None = None
) -> dict[str, str]:
    """ENV/ARG in scope at `upto` (before it runs), or after the stage; parents included."""
    parent = _parent_stage(model, stage)
    env: dict[str, str] = dict(stage_env(model, parent)) if parent is not None else {}
    if upto is None:
        env.update(stage.instructions[-1].env)
    elif upto.keyword in ("ENV", "ARG"):
        # The model's scope at an ENV/ARG includes its own values; "in scope" means before.
        previous = [i for i in stage.instructions if i.index < upto.index]
        if previous:
            env.update(previous[-1].env)
    else:
        env.update(upto.env)
    return env


def final_state(model: DockerfileModel, stage: Stage, states: Mapping[int, Effective]) -> Effective:
    last = stage.instructions[-1]
    state = states[last.index]
    if last.keyword == "USER":
        return Effective(state.workdir, expand(last.value.strip(), last.env))
    if last.keyword == "WORKDIR":
        target = expand(last.value.strip(), last.env)
        return Effective(posixpath.normpath(posixpath.join(state.workdir, target)), state.user)
    return state


def _run_command(instruction: Instruction) -> str | list[str] | None:
    if instruction.heredocs:
        return instruction.heredocs[0].body
    words = instruction.words()
    if instruction.is_json:
        return words
    return instruction.value


# -- the provider ---------------------------------------------------------------------------


def provide(
    target: Any, documents: Any, model: DockerfileModel, settings: Settings
) -> WeightFacts | None:
    """Fact provider: the weights facts when any weight rule runs."""
    if not any(settings.enabled(code) for code in CODES) or not model.stages:
        return None
    return Gatherer(target, documents, model, settings).gather()


def app_stage(model: DockerfileModel, build_target: str | None) -> Stage:
    """The stage that runs the app: the one compose builds (`build.target`), else the last.

    `docker build --target x` stops at stage x, so weights baked into a later stage would
    never reach the image compose runs. Stage names match case-insensitively, as Docker
    matches them.
    """
    if build_target:
        for stage in model.stages:
            if stage.name is not None and stage.name.lower() == build_target.lower():
                return stage
    return model.stages[-1]


class Gatherer:
    def __init__(self, target: Any, documents: Any, model: DockerfileModel, settings: Settings):
        self.target = target
        self.documents = documents
        self.model = model
        self.settings = settings
        self.context = Context(target.context, target.dockerfile, model.text)
        self.root: Path = target.context
        self.cache: dict[str, Any] = documents.cache.setdefault("weights", {})
        self.states = effective(model)
        self.app = app_stage(model, getattr(target, "build_target", None))
        self.argv: dict[str, tuple[str, ...]] = {}  # the start command's script: its arguments
        self.idle: str | None = None  # why the image starts none of the project's code

    # -- reading the context --------------------------------------------------------------

    def read(self, rel: str) -> str | None:
        try:
            return self.context.read_text(rel) if self.context.exists(rel) else None
        except MlfixError:
            return None

    def install_words(self) -> list[str]:
        """The words of the Dockerfile's RUN lines that install something, in order."""
        return [
            word
            for instruction in self.model.instructions
            if instruction.keyword == "RUN" and "install" in instruction.value
            for word in instruction.value.split()
        ]

    def versions(self) -> dict[str, str]:
        inline = from_command_words(self.install_words())  # the first pin of a name wins
        key = "versions:" + repr(sorted(inline.items()))
        if key not in self.cache:
            self.cache[key] = project_versions(self.read, inline)
        found: dict[str, str] = self.cache[key]
        return found

    def hub_libraries_not_followed(self) -> list[str]:
        """Why offline mode would break an installed library the scan does not follow.

        `datasets.load_dataset` and `evaluate.load` fetch from the hub too; mlfix bakes
        none of that, so with either installed HF_HUB_OFFLINE=1 could break the app.
        """
        words = self.install_words()
        key = "declared:" + repr(words)
        if key not in self.cache:
            self.cache[key] = declared_packages(self.read, words)
        declared: set[str] = self.cache[key]
        return [
            f"the project installs {name}, whose hub downloads ({call}) mlfix does not bake"
            for name, call in HUB_LIBRARIES_NOT_FOLLOWED
            if name in declared
        ]

    @staticmethod
    def scan_versions(versions: Mapping[str, str]) -> dict[str, str]:
        """Upper bounds (`<5`) as the highest release below them, which the scan can read."""
        result: dict[str, str] = {}
        for name, version in versions.items():
            parsed = version_tuple(version)
            if version.startswith("<") and parsed:
                result[name] = ".".join(str(p) for p in parsed)
            else:
                result[name] = version
        return result

    def stage_hub_version(self, stage: Stage, versions: Mapping[str, str]) -> str | None:
        for instruction in stage.instructions:
            if instruction.keyword == "RUN":
                pins = from_command_words(instruction.value.split())
                if "huggingface-hub" in pins:
                    return pins["huggingface-hub"]
        return versions.get("huggingface-hub")

    def feeding_stages(self) -> list[Stage]:
        """The app stage and every stage it builds on or copies from."""
        found: list[Stage] = []
        todo = [self.app]
        while todo:
            stage = todo.pop()
            if stage in found:
                continue
            found.append(stage)
            parent = _parent_stage(self.model, stage)
            if parent is not None:
                todo.append(parent)
            for instruction in stage.instructions:
                source = instruction.flag("from") if instruction.keyword == "COPY" else None
                other = self.stage_named(source) if source else None
                if other is not None:
                    todo.append(other)
        return sorted(found, key=lambda s: s.index)

    def stage_named(self, name: str | None) -> Stage | None:
        if name is None:
            return None
        for stage in self.model.stages:
            if (stage.name and stage.name.lower() == name.lower()) or str(stage.index) == name:
                return stage
        return None

    def copied_sources(self) -> list[str]:
        sources: list[str] = []
        for stage in self.feeding_stages():
            for instruction in stage.instructions:
                plan = copy_plan(instruction, self.states[instruction.index].workdir)
                if plan is not None and plan.from_context:
                    sources.extend(plan.sources)
        return sources

    def ignore(self) -> DockerIgnore | None:
        found = find_ignore_file(self.root, self.target.dockerfile)
        if found is None:
            return None
        text = self.documents.text(found.path)
        if text is None:
            return None
        try:
            return DockerIgnore.parse(text, path=found.path)
        except MlfixError:
            return None

    def start_argv(self, env: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
        """{context path of the script: its arguments} when the app stage's ENTRYPOINT +
        CMD (exec or shell form) runs a Python script of the context, for the scan."""
        entry = cmd = None
        for instruction in self.app.instructions:
            if instruction.keyword == "ENTRYPOINT":
                entry, cmd = instruction, None  # a new ENTRYPOINT resets an inherited CMD
            elif instruction.keyword == "CMD":
                cmd = instruction
        words: list[str] = []
        for part in (entry, cmd):
            if part is None:
                continue
            if part is cmd and entry is not None and not entry.is_json:
                break  # a shell-form ENTRYPOINT ignores CMD
            words += part.words() if part.is_json else ["sh", "-c", part.value.strip()]
        last = cmd or entry
        found = start_script(words, env) if words and last is not None else None
        if found is None or last is None:
            return {}
        script, args = found
        image_path = posixpath.normpath(posixpath.join(self.states[last.index].workdir, script))
        rel = self.context_path(self.app, last, image_path)
        return {rel: args} if rel else {}

    def scan(self, env: Mapping[str, str], versions: Mapping[str, str]) -> tuple[ModelRef, ...]:
        """The refs of the image's code; `self.argv` (the start command's arguments to its
        script, set by `gather`) fills `sys.argv` and argparse options."""
        argv = self.argv
        sources = self.copied_sources()
        ignore = self.ignore()
        key = repr(("scan", sorted(env.items()), sources, ignore.text if ignore else None,
                    sorted(versions.items()), sorted(argv.items())))  # fmt: skip
        if key in self.cache:
            refs: tuple[ModelRef, ...] = self.cache[key]
            return refs
        if not sources:
            self.cache[key] = ()
            return ()

        def exclude(rel: str, is_dir: bool) -> bool:
            if ignore is not None and ignore.excludes(rel):
                return True
            return not _copied(rel, is_dir, sources)

        result = scan_repo(self.root, exclude=exclude, env=env, versions=versions, argv=dict(argv))
        self.skipped(result.problems)
        found = tuple(self.absolute(ref) for ref in result.refs)
        self.cache[key] = found
        return found

    def skipped(self, problems: Iterable[ScanProblem]) -> None:
        """What the scan could not read or parse is a warning, never silent: a model loaded
        there is not baked. Cached scans warn once, when they run."""
        unscanned: dict[str, str] = self.cache.setdefault("unscanned", {})
        for problem in problems:
            where = display(self.root / problem.path)  # a relative path is the context's
            self.documents.warn(f"{where}:{problem.line}: {problem.message}")
            unscanned.setdefault(f"{where}:{problem.line}", problem.message)

    def unscanned(self) -> list[str]:
        """Why offline mode could break the app: a model a file the scan skipped loads is
        not baked, and with HF_HUB_OFFLINE=1 it could not download at start either."""
        found: dict[str, str] = self.cache.get("unscanned", {})
        return [
            f"{where}: {message}, so a model it loads is not baked"
            for where, message in found.items()
        ]

    def edited(
        self, refs: tuple[ModelRef, ...], env: Mapping[str, str], versions: Mapping[str, str]
    ) -> tuple[ModelRef, ...]:
        """The refs, with those of a file an earlier fix of this run rewrote (MLF305) read
        again from its new text: the scan reads the disk, which changes only at the end."""
        by_path: dict[Path, list[ModelRef]] = {}
        for ref in refs:
            by_path.setdefault(ref.path, []).append(ref)
        found: list[ModelRef] = []
        for path, group in by_path.items():
            current = self.documents.text(path) if path.is_file() else None
            if current is None or current == read_text(path):
                found.extend(group)
                continue
            result = scan_source(current, path, env=env, root=self.root, versions=versions)
            found.extend(replace(ref, path=path) for ref in result.refs)
        return tuple(found)

    def absolute(self, ref: ModelRef) -> ModelRef:
        if ref.path.is_absolute():
            return ref
        return replace(ref, path=self.root / ref.path)

    # -- what is already baked ------------------------------------------------------------

    def run_facts(
        self, instruction: Instruction, env: Mapping[str, str], versions: Mapping[str, str]
    ) -> RunFacts:
        command = _run_command(instruction)
        key = repr(("run", instruction.value, sorted(env.items()), sorted(versions.items())))
        if key not in self.cache:
            if command is None:
                self.cache[key] = RunFacts()
            else:
                self.cache[key] = scan_run_command(
                    command,
                    path=self.target.dockerfile,
                    line=instruction.first_line,
                    env=env,
                    root=self.root,
                    versions=versions,
                )
                self.skipped(self.cache[key].problems)
        facts: RunFacts = self.cache[key]
        return facts

    def script_refs(
        self,
        stage: Stage,
        instruction: Instruction,
        script: str,
        env: Mapping[str, str],
        versions: Mapping[str, str],
    ) -> tuple[ModelRef, ...]:
        workdir = self.states[instruction.index].workdir
        image_path = posixpath.normpath(posixpath.join(workdir, script))
        rel = self.context_path(stage, instruction, image_path)
        if rel is None:
            return ()
        key = repr(("script", rel, sorted(env.items()), sorted(versions.items())))
        if key not in self.cache:
            result = scan_file(self.root / rel, root=self.root, env=env, versions=versions)
            self.skipped(result.problems)
            self.cache[key] = tuple(self.absolute(ref) for ref in result.refs)
        refs: tuple[ModelRef, ...] = self.cache[key]
        return refs

    def context_path(self, stage: Stage, before: Instruction, image_path: str) -> str | None:
        """The build-context file a COPY above `before` put at `image_path`."""
        for instruction in reversed([i for i in stage.instructions if i.index < before.index]):
            plan = copy_plan(instruction, self.states[instruction.index].workdir)
            if plan is None or not plan.from_context:
                continue
            for source in plan.sources:
                if self.context.is_dir(source):
                    base = plan.dest
                    if cache.is_under(image_path, base) and image_path != base:
                        rest = image_path[len(base.rstrip("/")) + 1 :]
                        rel = rest if source == "." else posixpath.join(source, rest)
                        if self.context.exists(rel):
                            return rel
                else:
                    dest = (
                        posixpath.join(plan.dest, posixpath.basename(source))
                        if plan.dest_is_dir
                        else plan.dest
                    )
                    if dest == image_path and self.context.exists(source):
                        return source
        return None

    def bakes(
        self, versions: Mapping[str, str], hf_home: str | None
    ) -> tuple[list[Bake], list[tuple[int, HubDownload]]]:
        """Downloads the Dockerfile runs, with the cache each lands in, seen from the app stage.

        `hf_home` is the HF_HOME the fix would add at the top of the app stage (None: none).
        """
        found: list[Bake] = []
        unresolved: list[tuple[int, HubDownload]] = []
        for stage in self.feeding_stages():
            for instruction in stage.instructions:
                if instruction.keyword != "RUN":
                    continue
                env = {k: v for k, v in stage_env(self.model, stage, instruction).items() if v}
                if hf_home and stage.index == self.app.index and not cache.project_sets_cache(env):
                    env = {**env, "HF_HOME": hf_home}
                state = self.states[instruction.index]
                facts = self.run_facts(instruction, env, versions)
                line = instruction.first_line
                for download in facts.downloads:
                    if download.repo_id is None:
                        unresolved.append((instruction.index, download))
                        continue
                    found.extend(
                        self._mapped(
                            stage, instruction, self._from_download(download, env, state, line)
                        )
                    )
                refs = list(facts.refs)
                for script in facts.scripts:
                    refs.extend(self.script_refs(stage, instruction, script, env, versions))
                for module in facts.modules:
                    path = module.replace(".", "/")
                    for candidate in (f"{path}.py", f"{path}/__main__.py"):
                        refs.extend(self.script_refs(stage, instruction, candidate, env, versions))
                for ref in refs:
                    if ref.kind is not RefKind.HUB or ref.repo_id is None:
                        continue
                    where = cache.hub_cache(
                        env, state.user, state.workdir, library=ref.library, cache_dir=ref.cache_dir
                    )
                    bake = Bake(
                        ref.repo_id,
                        ref.repo_type,
                        ref.revision,
                        where,
                        includes.include_patterns(ref),
                        instruction.index,
                        f"{ref.loader} in the RUN at line {line}",
                    )
                    found.extend(self._mapped(stage, instruction, bake))
        return found, unresolved

    def _from_download(
        self, download: HubDownload, env: Mapping[str, str], state: Effective, line: int
    ) -> Bake:
        assert download.repo_id is not None
        if download.filenames:
            patterns: tuple[str, ...] | None = download.filenames
        else:
            patterns = download.include or None
        local = (
            cache.absolute(download.local_dir, state.workdir, state.user, env)
            if download.local_dir
            else None
        )
        where = (
            None
            if local
            else cache.hub_cache(env, state.user, state.workdir, cache_dir=download.cache_dir)
        )
        return Bake(
            download.repo_id,
            download.repo_type,
            download.revision,
            where,
            patterns,
            -1,
            f"{download.tool} download at line {line}",
            local_dir=local,
        )

    def _mapped(self, stage: Stage, instruction: Instruction, bake: Bake) -> list[Bake]:
        """The bake as the app stage sees it: same stage, a parent stage, or COPY --from."""
        bake = replace(bake, instruction=instruction.index)
        if stage.index == self.app.index or self._is_ancestor(stage, self.app):
            return [bake]
        found: list[Bake] = []
        for copy in self.app.instructions:
            if copy.keyword != "COPY" or self.stage_named(copy.flag("from")) is not stage:
                continue
            words = [expand(w, copy.env) for w in copy.words()]
            if len(words) < 2:
                continue
            dest = posixpath.normpath(posixpath.join(self.states[copy.index].workdir, words[-1]))
            for source in words[:-1]:
                src = posixpath.normpath(posixpath.join("/", source))
                for attr in ("cache_dir", "local_dir"):
                    where = getattr(bake, attr)
                    if where and cache.is_under(where, src):
                        moved = posixpath.normpath(dest + where[len(src.rstrip("/")) :])
                        found.append(replace(bake, **{attr: moved}))
        return found

    def _is_ancestor(self, stage: Stage, of: Stage) -> bool:
        parent = _parent_stage(self.model, of)
        while parent is not None:
            if parent.index == stage.index:
                return True
            parent = _parent_stage(self.model, parent)
        return False

    # -- the plan -------------------------------------------------------------------------

    def gather(self) -> WeightFacts:
        model = self.model
        versions = self.versions()
        scan_versions = self.scan_versions(versions)
        env = stage_env(model, self.app)
        final = final_state(model, self.app, self.states)
        set_env = {k: v for k, v in env.items() if v}
        self.argv = self.start_argv(set_env)
        # An image that starts none of the project's code loads none of its models.
        by_name = any(source.endswith(".py") for source in self.copied_sources())
        self.idle = idle.idle_reason(
            self.app, lambda s: _parent_stage(model, s), self.start_script_text, by_name, self.read
        )
        refs = () if self.idle else self.scan(set_env, scan_versions)
        refs = self.edited(refs, set_env, scan_versions)
        refs = (*refs, *self.start_refs(set_env, scan_versions))
        refs = self.made_local(refs, final.workdir)
        hub_refs = [r for r in refs if r.kind is RefKind.HUB and r.repo_id]
        rejected = [(r, why) for r in hub_refs if (why := validate.ref_problem(r))]
        hub_refs = [r for r in hub_refs if all(r is not bad for bad, _ in rejected)]
        hub_version = versions.get("huggingface-hub")
        if hub_version and validate.pin(hub_version):
            hub_version = None  # not a version pip reads: the hub is as good as unpinned
        parsed = version_tuple(hub_version)
        cli: str | None = "hf"
        if parsed is not None and parsed < (0, 34):
            cli = "huggingface-cli" if parsed >= (0, 17) else None
        greedy = parsed is not None and parsed < (1,)
        if hub_version and hub_version.startswith("<"):
            requirement = f"huggingface_hub{hub_version}"
        elif hub_version:
            requirement = f"huggingface_hub=={hub_version}"
        else:
            requirement = "huggingface_hub>=1.0"

        weights_stage = self.stage_named(WEIGHTS_STAGE)
        if weights_stage is not None and weights_stage.index == self.app.index:
            weights_stage = None

        # Where the fix bakes: the cache the project names, else a fixed HF_HOME.
        hf_home = self.settings.hf_home or DEFAULT_HF_HOME
        if cache.value(env, "HF_HUB_CACHE") or cache.value(env, "HUGGINGFACE_HUB_CACHE"):
            hub_dir = cache.hub_cache(env, final.user, final.workdir)
            cache_var = ("HF_HUB_CACHE", hub_dir)
        elif cache.value(env, "HF_HOME") or cache.value(env, "XDG_CACHE_HOME"):
            hub_dir = cache.hub_cache(env, final.user, final.workdir)
            cache_var = ("HF_HOME", posixpath.dirname(hub_dir))
        else:
            hub_dir = posixpath.join(hf_home, "hub")
            cache_var = ("HF_HOME", hf_home)
        project_cache = cache.project_sets_cache(env)
        home_problem = validate.first_problem(
            [(name, value, validate.image_path) for name, value in (cache_var, ("hub", hub_dir))]
        )

        def runtime(ref: ModelRef, with_home: bool) -> str:
            if ref.local_dir:  # the loader reads that folder, not a cache
                return cache.absolute(ref.local_dir, final.workdir, final.user, env)
            scope = dict(env)
            if with_home and not project_cache:
                scope["HF_HOME"] = hf_home
            return cache.hub_cache(
                scope, final.user, final.workdir, library=ref.library, cache_dir=ref.cache_dir
            )

        bakes, unresolved_downloads = self.bakes(scan_versions, None)
        baked, missing_refs, misplaced = _match(hub_refs, bakes, lambda r: runtime(r, False))
        set_hf_home = False
        default_home = cache.hub_cache({}, final.user, final.workdir)
        # A project that already bakes into the default cache and copies it keeps it.
        relies = any(runtime(r, False) == default_home for r, _bake in baked)
        missed = any(runtime(r, False) == default_home for r in missing_refs)
        if not project_cache and missed and not relies:
            set_hf_home = True
            bakes, unresolved_downloads = self.bakes(scan_versions, hf_home)
            baked, missing_refs, misplaced = _match(hub_refs, bakes, lambda r: runtime(r, True))

        app_env = fastembed.app_env(env, missing_refs)
        groups: dict[tuple[str, str, str | None, str], list[ModelRef]] = {}
        for ref in missing_refs:
            assert ref.repo_id is not None
            where = (app_env and fastembed.baked_dir(env, ref)) or runtime(ref, set_hf_home)
            groups.setdefault((ref.repo_type, ref.repo_id, ref.revision, where), []).append(ref)
        missing_list: list[Download] = []
        for download in (_download(key, group) for key, group in groups.items()):
            if any(r.local_dir for r in download.refs):
                download = replace(download, local=True)
            why = home_problem or validate.download_problem(download)
            if why is None:
                missing_list.append(download)
            else:
                rejected.extend((ref, why) for ref in download.refs)
        missing = tuple(missing_list)
        set_hf_home = set_hf_home and home_problem is None

        existing_copies = tuple(
            posixpath.normpath(posixpath.join("/", w))
            for i in self.app.instructions
            if i.keyword == "COPY" and (i.flag("from") or "").lower() == WEIGHTS_STAGE
            for w in [expand(x, i.env) for x in i.words()][:-1]
        )
        copy_dirs = tuple(
            sorted(
                d
                for d in {d.cache_dir for d in missing}
                if not any(cache.is_under(d, c) for c in existing_copies)
            )
        )

        warnings = list(self._warnings({d.cache_dir for d in missing}, env))
        unresolved = tuple(r for r in refs if r.kind is RefKind.UNRESOLVED)
        for ref in (*unresolved, *(d.refs[0] for d in missing)):
            if ref.path.is_file():
                self.documents.text(ref.path)  # so reports can show the line
        never_offline = tuple(r for r in hub_refs if not r.offline_safe)
        for ref in never_offline:
            if ref.path.is_file():
                self.documents.text(ref.path)  # MLF305 rewrites the call
        blockers = _offline_blockers(refs, unresolved_downloads, self.root)
        blockers += self.hub_libraries_not_followed()
        blockers += self.unscanned()
        blockers += [f"{ref.repo_id!a} is not usable in a build line" for ref, _ in rejected]
        offline_set = bool(
            cache.value(env, "HF_HUB_OFFLINE") or cache.value(env, "TRANSFORMERS_OFFLINE")
        )
        runtime_user = final.user or "root"
        anchor = self.code_copy()
        return WeightFacts(
            app_stage=self.app.index,
            refs=tuple(refs),
            missing=missing,
            baked=tuple(baked),
            misplaced=tuple(misplaced),
            unresolved=unresolved,
            rejected=tuple(rejected),
            unresolved_downloads=tuple(unresolved_downloads),
            never_offline=never_offline,
            pipeline_tags=self.pipeline_tags(never_offline),
            cache_var=cache_var,
            hub_dir=hub_dir,
            set_hf_home=set_hf_home,
            app_env=app_env,
            copy_dirs=copy_dirs,
            warnings=tuple(warnings),
            offline=bool(hub_refs) and not blockers,
            offline_blockers=tuple(blockers),
            offline_set=offline_set,
            hub_version=hub_version,
            hub_requirement=requirement,
            cli=cli,
            greedy_flags=greedy,
            weights_stage=weights_stage.index if weights_stage is not None else None,
            weights_stage_hub=self.stage_hub(weights_stage),
            weights_copies=existing_copies,
            runtime_user=runtime_user,
            chown=self.chown(runtime_user, anchor),
            anchor=anchor,
            offline_anchor=self.offline_anchor(),
            commands=tuple(self.cli_commands(versions)),
            tokens=tuple(self.tokens(scan_versions)),
            literals=tokens.literals(model),
            logins=tokens.logins(model, self.reads_hub(scan_versions)),
            compose=self.compose_service() if self.settings.weights == "volume" else None,
            versions=versions,
        )

    def made_local(self, refs: tuple[ModelRef, ...], workdir: str) -> tuple[ModelRef, ...]:
        """The refs, with a name that is a path a RUN of the app's stages creates (an
        unzipped or cloned model folder) turned local (`made`)."""
        runs: list[tuple[str, list[str]]] = []
        stage: Stage | None = self.app
        while stage is not None:
            for instruction in stage.instructions:
                if instruction.keyword == "RUN":
                    workdir_then = self.states[instruction.index].workdir
                    for command in _commands_of(self.model, instruction):
                        runs.append((workdir_then, [w.value for w in command.words]))
            stage = _parent_stage(self.model, stage)
        paths = made.made_paths(runs)
        if not paths:
            return refs
        return tuple(
            replace(r, kind=RefKind.LOCAL, repo_id=None, local_path=r.repo_id)
            if r.kind is RefKind.HUB and r.repo_id and made.is_made(r.repo_id, workdir, paths)
            else r
            for r in refs
        )

    def image_file(self, image_path: str) -> str | None:
        """The context file a COPY of the app's stages put at `image_path`."""
        stage: Stage | None = self.app
        while stage is not None:
            end = replace(stage.instructions[-1], index=stage.instructions[-1].index + 1)
            rel = self.context_path(stage, end, image_path)
            if rel is not None:
                return rel
            stage = _parent_stage(self.model, stage)
        return None

    def start_script_text(self, image_path: str) -> str | None:
        """The text of the script at `image_path` (relative: from the final WORKDIR)."""
        final = final_state(self.model, self.app, self.states)
        rel = self.image_file(posixpath.normpath(posixpath.join(final.workdir, image_path)))
        return self.read_script(rel) if rel is not None else None

    def read_script(self, rel: str) -> str | None:
        """A start script's text; None for a missing, binary or oversized file."""
        path = self.root / rel
        if not path.is_file() or path.stat().st_size > startup.MAX_SCRIPT_BYTES:
            return None
        try:
            text: str | None = self.documents.text(path)
        except MlfixError:  # a binary the start command runs is no script
            return None
        return text

    def start_refs(
        self, env: Mapping[str, str], versions: Mapping[str, str]
    ) -> tuple[ModelRef, ...]:
        """Downloads of the start command and the scripts it runs (`startup`)."""
        found = startup.start_command(self.app, lambda s: _parent_stage(self.model, s))
        if found is None:
            return ()
        instruction, argv = found
        final = final_state(self.model, self.app, self.states)
        where, read = self.image_file, self.read_script
        scan = startup.StartScan(self.root, env, versions, read, where)
        start = startup.Start(instruction, argv, final.workdir)
        return tuple(scan.refs(start, self.target.dockerfile))

    def pipeline_tags(self, refs: Iterable[ModelRef]) -> dict[str, tuple[str, str]]:
        repos = sorted({r.repo_id for r in refs if r.library == "transformers" and r.repo_id})
        key = repr(("cards", repos))
        if key not in self.cache:
            self.cache[key] = cards.pipeline_tags(self.root, repos)
        found: dict[str, tuple[str, str]] = self.cache[key]
        return found

    def _warnings(self, dirs: Iterable[str], env: Mapping[str, str]) -> Iterable[tuple[str, str]]:
        volumes: list[str] = []
        for instruction in self.app.instructions:
            if instruction.keyword == "VOLUME":
                volumes.extend(
                    posixpath.normpath(expand(w, instruction.env)) for w in instruction.words()
                )
        for directory in sorted(dirs):
            for volume in volumes:
                if cache.is_under(directory, volume):
                    yield (
                        directory,
                        f"the cache {directory} is under VOLUME {volume}: a volume mounted there"
                        " at runtime hides the baked files",
                    )
            if cache.is_under(directory, "/tmp"):
                yield (
                    directory,
                    f"the cache {directory} is under /tmp, which platforms often mount empty"
                    " (tmpfs) at runtime; a fixed HF_HOME such as /opt/hf is safer",
                )

    def code_copy(self) -> int | None:
        """The first COPY/ADD of the app stage that brings more than dependency manifests."""
        for instruction in self.app.instructions:
            if instruction.keyword not in ("COPY", "ADD") or instruction.has_flag("from"):
                continue
            plan = copy_plan(instruction, self.states[instruction.index].workdir)
            if plan is None:
                return instruction.index
            if all(MANIFESTS.search(source) for source in plan.sources):
                continue
            return instruction.index
        for instruction in self.app.instructions:
            if instruction.keyword in ("CMD", "ENTRYPOINT", "HEALTHCHECK"):
                return instruction.index
        return None

    def stage_hub(self, stage: Stage | None) -> str | None:
        """The hub cache a download added at the end of `stage` writes to."""
        if stage is None:
            return None
        env = {k: v for k, v in stage_env(self.model, stage).items() if v}
        state = final_state(self.model, stage, self.states)
        return cache.hub_cache(env, state.user, state.workdir)

    def offline_anchor(self) -> int | None:
        for instruction in self.app.instructions:
            if instruction.keyword in ("CMD", "ENTRYPOINT"):
                return instruction.index
        return None

    def chown(self, user: str, anchor: int | None) -> str | None:
        """`--chown` for the runtime USER when it exists where the COPY goes, else None."""
        name = user.split(":")[0]
        if name in ("root", "0", "") or validate.user(user):
            return None
        if name.isdigit():
            return user
        limit = anchor if anchor is not None else self.app.instructions[-1].index + 1
        created = re.compile(rf"\b(?:useradd|adduser)\b[^&;|]*\s{re.escape(name)}(?:\s|$)")
        for instruction in self.app.instructions:
            if instruction.index >= limit:
                break
            if instruction.keyword == "RUN" and created.search(instruction.value):
                return user
        return None

    # -- MLF302 / MLF303 ------------------------------------------------------------------

    def cli_commands(self, versions: Mapping[str, str]) -> Iterable[CliCommand]:
        for stage in self.model.stages:
            version = self.stage_hub_version(stage, versions)
            for instruction in stage.instructions:
                if instruction.keyword != "RUN" or not re.search(
                    r"\b(?:hf|huggingface-cli)\b", instruction.value
                ):
                    continue
                for command in _commands_of(self.model, instruction):
                    words = shell.program(command)
                    if len(words) < 2:
                        continue
                    tool = posixpath.basename(words[0].value)
                    if tool == "huggingface-cli":
                        sub = words[1].value
                    elif tool == "hf":
                        sub = words[1].value
                        if sub == "auth" and len(words) > 2:
                            sub = f"auth {words[2].value}"
                    else:
                        continue
                    yield CliCommand(instruction.index, command, words[0], sub, version)

    def tokens(self, versions: Mapping[str, str]) -> Iterable[TokenDef]:
        """ARG/ENV that hold a token: by name, or by a literal token as the value."""
        for stage in self.model.stages:
            for instruction in stage.instructions:
                if instruction.keyword not in ("ARG", "ENV"):
                    continue
                pairs = _assignments(instruction)
                literal = tokens.literal_names(instruction)
                for name, has_value in pairs:
                    if name.upper() not in TOKEN_NAMES and name not in literal:
                        continue
                    runs, explicit, logins = self._token_runs(stage, instruction, name, versions)
                    yield TokenDef(
                        instruction.index,
                        name,
                        instruction.keyword,
                        has_value,
                        len(pairs),
                        runs,
                        explicit,
                        logins,
                    )

    def reads_hub(self, versions: Mapping[str, str]) -> Callable[[Instruction], bool]:
        """Whether a RUN downloads from the hub (so it needs the token a login gave)."""

        def reads(instruction: Instruction) -> bool:
            stage = self.model.stages[instruction.stage]
            env = stage_env(self.model, stage, instruction)
            facts = self.run_facts(instruction, env, versions)
            return bool(facts.downloads or facts.refs or facts.scripts or facts.modules)

        return reads

    def _token_runs(
        self, stage: Stage, definition: Instruction, name: str, versions: Mapping[str, str]
    ) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        uses = re.compile(rf"\$(?:\{{{re.escape(name)}(?:[:?+-][^}}]*)?\}}|{re.escape(name)}\b)")
        runs: list[int] = []
        explicit: list[int] = []
        logins: list[int] = []
        for instruction in stage.instructions:
            if instruction.index <= definition.index or instruction.keyword != "RUN":
                continue
            text = self.model.text[instruction.start : instruction.end]
            named = bool(uses.search(text))
            implicit = False
            if name in HUB_TOKEN_NAMES:
                facts = self.run_facts(
                    instruction, stage_env(self.model, stage, instruction), versions
                )
                implicit = bool(facts.downloads or facts.refs or facts.scripts or facts.modules)
            if named or implicit:
                runs.append(instruction.index)
            if named:
                explicit.append(instruction.index)
            if re.search(r"\b(?:huggingface-cli|hf auth|hf)\s+login\b", instruction.value):
                logins.append(instruction.index)
        return tuple(runs), tuple(explicit), tuple(logins)

    # -- volume ---------------------------------------------------------------------------

    def compose_service(self) -> ComposeService | None:
        from mlfix.weights.compose import find_service

        service: ComposeService | None = find_service(self.target)
        if service is not None:
            self.documents.text(service.path)  # the rule edits it through the session
        return service


def _commands_of(model: DockerfileModel, instruction: Instruction) -> list[shell.Command]:
    if instruction.heredocs or instruction.is_json:
        return []
    found = shell.commands(model.text, instruction.start, instruction.end, model.escape)
    if not found:
        return []
    first = found[0]
    words = list(first.words)
    # Drop the RUN keyword and its flags; the rest of the first command is the command.
    while words and (words[0].value.upper() == "RUN" or words[0].value.startswith("--")):
        words = words[1:]
        if words and words[0].value.upper() != "RUN" and not words[0].value.startswith("--"):
            break
    if not words:
        return found[1:]
    return [shell.Command(tuple(words), first.operator), *found[1:]]


def _assignments(instruction: Instruction) -> list[tuple[str, bool]]:
    """(name, has a value) for each variable an ARG/ENV sets."""
    text = instruction.value.strip()
    if instruction.keyword == "ENV" and "=" not in text.split()[0] if text.split() else False:
        return [(text.split()[0], len(text.split()) > 1)]
    found: list[tuple[str, bool]] = []
    for word in shell.commands(text, 0, len(text))[0].words if text else ():
        name, sep, value = word.value.partition("=")
        found.append((name, bool(sep and value)))
    return found


def _copied(rel: str, is_dir: bool, sources: list[str]) -> bool:
    """Whether a context path ends up in the image through one of the COPY sources."""
    for source in sources:
        source = source.rstrip("/") or "."
        if source == "." or rel == source or rel.startswith(source + "/"):
            return True
        if is_dir and source.startswith(rel + "/"):
            return True
        if includes.is_glob(source):
            if is_dir:
                return True
            parts = rel.split("/")
            if any(fnmatchcase("/".join(parts[: i + 1]), source) for i in range(len(parts))):
                return True
    return False


def _covers(bake: Bake, ref: ModelRef) -> bool:
    """Whether a bake's files include what the ref's loader needs first."""
    if bake.patterns is None:
        return True
    wanted = includes.include_patterns(ref)
    if wanted is None:
        return False
    key = [p for p in wanted if not includes.is_glob(p)][:1] or list(wanted[:1])
    return all(any(fnmatchcase(name, p) or name == p for p in bake.patterns) for name in key)


def _same_revision(a: str | None, b: str | None) -> bool:
    return (a or "main") == (b or "main")


def _match(
    refs: list[ModelRef], bakes: list[Bake], runtime: Any
) -> tuple[list[tuple[ModelRef, Bake]], list[ModelRef], list[tuple[ModelRef, Bake, str]]]:
    baked: list[tuple[ModelRef, Bake]] = []
    missing: list[ModelRef] = []
    misplaced: list[tuple[ModelRef, Bake, str]] = []
    for ref in refs:
        where = runtime(ref)
        same_repo = [
            b
            for b in bakes
            if b.repo_id == ref.repo_id
            and b.repo_type == ref.repo_type
            and _same_revision(b.revision, ref.revision)
        ]
        hit = next(
            (b for b in same_repo if (b.cache_dir or b.local_dir) == where and _covers(b, ref)),
            None,
        )
        if hit is not None:
            baked.append((ref, hit))
            continue
        missing.append(ref)
        for bake in same_repo:
            if bake.local_dir:
                why = f"it goes to --local-dir {bake.local_dir}, which {ref.loader} never reads"
            elif bake.cache_dir != where:
                why = f"it goes to {bake.cache_dir}, but the app reads {where}"
            else:
                why = "it does not download the files this loader reads"
            misplaced.append((ref, bake, why))
    return baked, missing, misplaced


def _download(key: tuple[str, str, str | None, str], refs: list[ModelRef]) -> Download:
    repo_type, repo_id, revision, where = key
    exact = [r for r in refs if r.role == "file" and r.filename]
    if exact and len(exact) == len(refs):
        names: list[str] = []
        for ref in exact:
            assert ref.filename is not None
            name = f"{ref.subfolder.strip('/')}/{ref.filename}" if ref.subfolder else ref.filename
            if name not in names:
                names.append(name)
        if not any(includes.is_glob(n) for n in names):
            return Download(repo_id, repo_type, revision, where, (), tuple(names), tuple(refs))
    patterns = includes.merge(includes.include_patterns(r) for r in refs)
    return Download(repo_id, repo_type, revision, where, patterns, (), tuple(refs))


def _offline_blockers(
    refs: Iterable[ModelRef],
    unresolved_downloads: Iterable[tuple[int, HubDownload]],
    root: Path,
) -> list[str]:
    blockers: list[str] = []
    for ref in refs:
        try:
            shown = ref.path.relative_to(root)
        except ValueError:
            shown = ref.path
        where = f"{shown.as_posix()}:{ref.line}"
        if ref.kind is RefKind.UNRESOLVED:
            blockers.append(f"{where}: the model name is not known until runtime")
        elif ref.kind is RefKind.HUB and not ref.offline_safe:
            blockers.append(f"{where}: {ref.loader} reaches the network even with the files cached")
        elif ref.kind is RefKind.HUB and not ref.exact:
            blockers.append(f"{where}: another name may reach {ref.loader} at runtime")
        elif ref.kind is RefKind.HUB and any("cannot be read" in n for n in ref.notes):
            blockers.append(f"{where}: {next(n for n in ref.notes if 'cannot be read' in n)}")
        elif ref.role == "adapter" and ref.kind is RefKind.HUB:
            blockers.append(f"{where}: the adapter's base model is named only on the hub")
    for _index, download in unresolved_downloads:
        blockers.append(f"the Dockerfile downloads a repo mlfix cannot name ({download.raw})")
    return blockers
