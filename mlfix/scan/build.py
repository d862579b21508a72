"""Turn a recognised loader call into `ModelRef`s: resolve its name, apply the library's
own naming rules (short names, sizes, `hf-hub:` prefixes, task defaults, fastembed's
table), and classify the result as a hub repo, a local path or unresolved.

A name that is a path in the image (`./`, `../`, `/`, `~`, nested, or a directory of the
project) is LOCAL: nothing is downloaded for it.
"""

from __future__ import annotations

import ast

from mlfix.scan import fastembed_models, known
from mlfix.scan.build_core import (
    FASTEMBED_FILES,
    HUB_FILE_URL,
    RefBuilderCore,
    _replace,
    _unique,
    keywords_of,
    looks_like_path,
)
from mlfix.scan.classify import Match, argument
from mlfix.scan.loaders import FASTEMBED_DEFAULT_CACHE, Loader
from mlfix.scan.refs import ModelRef, RefKind
from mlfix.scan.source import Scope
from mlfix.scan.values import Each, LocalPath, NoneValue, Opaque, Text, Unknown, Value, describe


class RefBuilder(RefBuilderCore):
    """Builds the refs of one file's loader calls, per loader kind."""

    def refs(self, call: ast.Call, loader: Match, scope: Scope) -> list[ModelRef]:
        base = self._base(call, loader, scope)
        value = self.evaluator.eval(loader.name, scope) if loader.name is not None else None
        if isinstance(value, Each):  # a loop: the loader runs once per item
            return [
                ref for item in value.items for ref in self._refs(call, loader, scope, base, item)
            ]
        return self._refs(call, loader, scope, base, value)

    def _refs(
        self,
        call: ast.Call,
        loader: Match,
        scope: Scope,
        base: dict[str, object],
        value: Value | None,
    ) -> list[ModelRef]:
        kind = loader.row.kind
        if kind == "pipeline":
            return self._pipeline(call, loader, scope, base, value)
        quiet = loader.row.off_keyword and keywords_of(call).get(loader.row.off_keyword)
        if isinstance(quiet, ast.Constant) and quiet.value is False:
            return []  # told to load no model (kokoro's `KPipeline(model=False)`)
        default = loader.row.default
        if value is None and default is not None:
            named = loader.row.keywords[0] if loader.row.keywords else "model"
            via = f"default {named} of {loader.row.name} in {loader.row.default_source}"
            value = Text(default, via=(via,))
        if kind == "model_id" and isinstance(value, Text):
            return self._model_id(base, value)
        if value is None:
            if kind == "st":
                return []  # SentenceTransformer() with modules, no download
            return [self._unresolved(base, "the call names no model")]
        if isinstance(value, Opaque):
            return []  # an object was passed, loaded elsewhere (and recorded there)
        if kind == "st":
            return [self._named(base, value, st_class=loader.row.short_names)]
        if kind == "fastembed":
            return [self._fastembed(base, value, loader.row, keywords_of(call), scope)]
        if kind == "whisper":
            return [self._whisper(base, value)]
        if kind in ("hub_file", "snapshot"):
            ref = self._named(base, value, hub_only=True)
            if kind == "hub_file" and base["filename"] is None:
                filename = argument(call, 1, "filename")
                base_filename = self.evaluator.text(filename, scope)
                ref = _replace(ref, filename=base_filename)
                if base_filename is None:
                    ref = _replace(ref, notes=(*ref.notes, "filename= cannot be read"))
            return [ref]
        if kind in ("timm", "open_clip", "hfhub"):
            return self._prefixed(call, loader, scope, base, value)
        if kind == "single_file":
            return [self._single_file(base, value)]
        refs = [self._named(base, value)]
        if loader.library == "llama-cpp":
            gguf = self.evaluator.text(argument(call, 1, "filename"), scope)
            refs[0] = _replace(
                refs[0],
                filename=gguf,
                offline_safe=False,
                notes=(
                    *refs[0].notes,
                    "llama-cpp's Llama.from_pretrained lists the repo over the network even"
                    " when the file is cached; load the cached file with"
                    " Llama(model_path=...) to run offline",
                ),
            )
        if loader.role == "adapter":
            refs = self._adapter(refs[0], loader)
        return refs

    def _whisper(self, base: dict[str, object], value: Value) -> ModelRef:
        base = {**base, "allow_patterns": known.FASTER_WHISPER_ALLOW_PATTERNS}
        if isinstance(value, Text) and "/" not in value.value and not looks_like_path(value.value):
            name = value.value
            if self.project.local_dir(name, self.source) is not None:
                return self._make(
                    base,
                    kind=RefKind.LOCAL,
                    repo_id=None,
                    local_path=name,
                    **self._from_text(value),
                )
            repo = known.FASTER_WHISPER_MODELS.get(name)
            if repo is None:
                return self._unresolved(base, f"{name!r} is not a faster-whisper model size")
            meta = self._from_text(value)
            meta["via"] = (*value.via, f"faster-whisper size {name!r} is {repo!r}")
            return self._make(base, kind=RefKind.HUB, repo_id=repo, **meta)
        return self._named(base, value)

    def _prefixed(
        self, call: ast.Call, loader: Match, scope: Scope, base: dict[str, object], value: Value
    ) -> list[ModelRef]:
        if isinstance(value, Text) and value.value.startswith(known.HF_HUB_PREFIXES):
            name = value.value.split(":", 1)[1]
            revision = base["revision"]
            if "@" in name:
                name, revision = name.split("@", 1)
            meta = self._from_text(value)
            if known.is_repo_id(name):
                return [self._make(base, kind=RefKind.HUB, repo_id=name, revision=revision, **meta)]
            return [
                self._make(
                    base,
                    kind=RefKind.UNRESOLVED,
                    repo_id=None,
                    unresolved_reason=f"{name!r} is not a hub repo id",
                    **meta,
                )
            ]
        keywords = {k.arg: k.value for k in call.keywords if k.arg}
        if loader.row.kind == "timm":
            pretrained = (
                self.evaluator.eval(keywords["pretrained"], scope)
                if "pretrained" in keywords
                else None
            )
            if pretrained is None or (hasattr(pretrained, "value") and pretrained.value is False):
                return []
            if isinstance(value, Text):
                return [
                    self._unresolved(
                        base,
                        f"timm picks the hub repo for {value.value!r} from its own pretrained"
                        " registry; name it as 'hf-hub:org/name' to let mlfix bake it",
                    )
                ]
            return [self._unresolved(base, describe(value))]
        if loader.row.kind == "open_clip":
            tag = keywords.get("pretrained") or argument(call, 1, "pretrained")
            if tag is None or loader.role == "tokenizer":
                return []
            if isinstance(value, Text):
                return [
                    self._unresolved(
                        base,
                        f"open_clip picks where {value.value!r} weights come from in its own"
                        " pretrained registry; name it as 'hf-hub:org/name' to let mlfix bake it",
                    )
                ]
            return [self._unresolved(base, describe(value))]
        return [self._unresolved(base, describe(value))] if not isinstance(value, Text) else []

    def _single_file(self, base: dict[str, object], value: Value) -> ModelRef:
        if isinstance(value, Text):
            match = HUB_FILE_URL.match(value.value)
            if match:
                return self._make(
                    base,
                    kind=RefKind.HUB,
                    repo_id=match.group(1),
                    revision=match.group(2),
                    filename=match.group(3),
                    **self._from_text(value),
                )
            if value.value.startswith(("http://", "https://")):
                return self._unresolved(
                    base, f"{value.value!r} is a URL outside the Hugging Face hub"
                )
            return self._make(
                base,
                kind=RefKind.LOCAL,
                repo_id=None,
                local_path=value.value,
                **self._from_text(value),
            )
        return self._named(base, value)

    def _adapter(self, ref: ModelRef, loader: Match) -> list[ModelRef]:
        """A PEFT adapter; its base model is named in `adapter_config.json` beside it."""
        if ref.kind is not RefKind.LOCAL or ref.local_path is None:
            if ref.kind is RefKind.HUB:
                note = "the adapter's base model is named in its adapter_config.json on the hub"
                return [_replace(ref, notes=(*ref.notes, note))]
            return [ref]
        directory = self.project.local_dir(ref.local_path, self.source)
        config = self.project.adapter_config(directory) if directory is not None else None
        base_model = config.get("base_model_name_or_path") if config else None
        if not isinstance(base_model, str):
            return [ref]
        ref = _replace(ref, base_model=base_model)
        refs = [ref]
        # AutoPeftModel* loads the base itself; PeftModel gets it as an argument (recorded there).
        if (loader.loader_class or "").startswith("AutoPeft"):
            revision = config.get("revision") if config else None
            kind = (
                RefKind.HUB
                if known.is_repo_id(base_model) and not looks_like_path(base_model)
                else RefKind.LOCAL
            )
            refs.append(
                _replace(
                    ref,
                    kind=kind,
                    repo_id=base_model if kind is RefKind.HUB else None,
                    local_path=None if kind is RefKind.HUB else base_model,
                    role="adapter-base",
                    library="transformers",
                    revision=revision if isinstance(revision, str) else None,
                    via=(f"base_model_name_or_path in {ref.local_path}/adapter_config.json",),
                    base_model=None,
                )
            )
        return refs

    def _pipeline(
        self,
        call: ast.Call,
        loader: Match,
        scope: Scope,
        base: dict[str, object],
        model: Value | None,
    ) -> list[ModelRef]:
        task_expr = argument(call, 0, "task")
        task_value = self.evaluator.eval(task_expr, scope) if task_expr is not None else None
        task = task_value.value if isinstance(task_value, Text) else None
        base = {**base, "task": task}
        refs: list[ModelRef] = []
        if isinstance(model, NoneValue):
            model = None
        if model is not None and not isinstance(model, Opaque):
            ref = self._named(base, model)
            if task_expr is None:
                note = (
                    "pipeline() without a task asks the hub for the model's task, even with"
                    " the files cached; pass the task to run offline"
                )
                ref = _replace(ref, offline_safe=False, notes=(*ref.notes, note))
            refs.append(ref)
        elif model is None:
            refs.append(self._pipeline_default(base, task_expr, task_value))
        keywords = {k.arg: k.value for k in call.keywords if k.arg}
        for key, role in (
            ("tokenizer", "tokenizer"),
            ("feature_extractor", "processor"),
            ("image_processor", "processor"),
            ("processor", "processor"),
        ):
            if key in keywords:
                value = self.evaluator.eval(keywords[key], scope)
                if isinstance(value, (Text, Unknown, LocalPath)):
                    extra = {**base, "role": role, "raw": self.source.segment(keywords[key])}
                    refs.append(self._named(extra, value))
        return refs

    def _pipeline_default(
        self, base: dict[str, object], task_expr: ast.expr | None, task: Value | None
    ) -> ModelRef:
        if task_expr is None or task is None:
            return self._unresolved(base, "pipeline() names neither a task nor a model")
        if not isinstance(task, Text):
            return self._unresolved(base, f"the pipeline task is unknown: {describe(task)}")
        version = self.project.version("transformers")
        default = known.pipeline_default(task.value, version)
        major = known.transformers_major(version)
        if default is None:
            return self._unresolved(
                base, f"transformers {major}.x has no default model for the task {task.value!r}"
            )
        revision = base["revision"] or default.revision
        return self._make(
            base,
            kind=RefKind.HUB,
            repo_id=default.repo_id,
            revision=revision,
            role="pipeline-default",
            via=(*task.via, f"default model of pipeline({task.value!r}) in transformers {major}.x"),
            env_vars=task.env_vars,
            from_dockerfile_env=task.from_dockerfile,
            exact=task.exact,
        )

    def _model_id(self, base: dict[str, object], value: Text) -> list[ModelRef]:
        """LangChain's `from_model_id`: AutoTokenizer and the task's model class, one repo."""
        model = self._named(base, value)
        tokenizer = self._named({**base, "role": "tokenizer"}, value)
        return [model, tokenizer]

    def _fastembed(
        self,
        base: dict[str, object],
        value: Value,
        row: Loader,
        keywords: dict[str, ast.expr],
        scope: Scope,
    ) -> ModelRef:
        """fastembed's own names: its table (generated from the wheel) gives the hub repo
        and the files it fetches; the cache is its own (`cache_dir=`, FASTEMBED_CACHE_PATH,
        else the temp dir)."""
        if not isinstance(value, Text):
            return self._unresolved(base, describe(value))
        entry = fastembed_models.MODELS.get(row.name, {}).get(value.value.lower())
        meta = self._from_text(value)
        if entry is None:
            reason = (
                f"{value.value!r} is not a {row.name} model of fastembed"
                f" {fastembed_models.FASTEMBED_VERSION}"
            )
            return self._make(
                base, kind=RefKind.UNRESOLVED, repo_id=None, unresolved_reason=reason, **meta
            )
        repo, model_file, extra = entry
        if repo is None:
            reason = f"fastembed downloads {value.value!r} from a URL, not the hub"
            return self._make(
                base, kind=RefKind.UNRESOLVED, repo_id=None, unresolved_reason=reason, **meta
            )
        cache = base["cache_dir"]
        env_vars = list(value.env_vars)
        if cache is None:
            found = self.project.env_value(row.cache_env)
            cache = found[1] if found else FASTEMBED_DEFAULT_CACHE
            if found:
                env_vars.append(row.cache_env)
        meta["via"] = (
            *value.via,
            f"fastembed {fastembed_models.FASTEMBED_VERSION} maps {value.value!r} to {repo!r}",
        )
        meta["env_vars"] = tuple(env_vars)
        return self._make(
            {**base, "cache_dir": cache},
            kind=RefKind.HUB,
            repo_id=repo,
            allow_patterns=None
            if extra is None
            else _unique((*FASTEMBED_FILES, model_file, *extra)),
            **meta,
        )
