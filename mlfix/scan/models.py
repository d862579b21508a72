"""Find the models a project loads: which loader, which repo, which arguments.

The visitor walks only the statements that hold a needle line (see `prefilter`), finds the
loader calls there, and resolves their name argument with `resolve.Evaluator`. Scanned code
is read as a syntax tree and never imported or executed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from mlfix.scan import known
from mlfix.scan.prefilter import may_load_models, read_bytes
from mlfix.scan.refs import ModelRef, RefKind, ScanProblem, ScanResult
from mlfix.scan.resolve import MAX_EVALS, Evaluator, Project, _last_name
from mlfix.scan.source import MAX_NESTING, Scope, SourceFile
from mlfix.scan.values import LocalPath, NoneValue, Opaque, Text, Unknown, Value, describe
from mlfix.textio import ERRORS

EMPTY_ENV: MappingABC[str, str] = MappingProxyType({})

# Top-level packages and the library name reported for them.
LIBRARIES = {
    "transformers": "transformers",
    "diffusers": "diffusers",
    "peft": "peft",
    "sentence_transformers": "sentence-transformers",
    "huggingface_hub": "huggingface_hub",
    "timm": "timm",
    "open_clip": "open_clip",
    "faster_whisper": "faster-whisper",
    "llama_cpp": "llama-cpp",
    "optimum": "optimum",
    "setfit": "setfit",
    "span_marker": "span_marker",
    "gliner": "gliner",
}
# Hubs that are not Hugging Face's, with look-alike function names.
FOREIGN_HUBS = frozenset({"modelscope", "openmind_hub", "openxlab"})

ST_CLASSES = frozenset({"SentenceTransformer", "CrossEncoder", "SparseEncoder"})
HUB_FUNCTIONS = frozenset({"hf_hub_download", "snapshot_download"})
OPEN_CLIP_FUNCTIONS = frozenset(
    {"create_model", "create_model_and_transforms", "create_model_from_pretrained", "get_tokenizer"}
)
TIMM_FUNCTIONS = frozenset(
    {"timm.create_model", "timm.models.create_model", "timm.models._factory.create_model"}
)
PIPELINE_FUNCTIONS = frozenset({"transformers.pipeline", "transformers.pipelines.pipeline"})
CANDIDATE_NAMES = frozenset(
    {
        "from_pretrained",
        "from_single_file",
        "load_adapter",
        "load_lora_weights",
        "pipeline",
        "WhisperModel",
        *ST_CLASSES,
        *HUB_FUNCTIONS,
        *OPEN_CLIP_FUNCTIONS,
    }
)
# Keyword arguments kept verbatim because they change which files a loader reads.
OPTION_KEYWORDS = (
    "use_safetensors",
    "local_files_only",
    "trust_remote_code",
    "from_tf",
    "from_flax",
    "use_fast",
    "file_name",
)
_HUB_FILE_URL = re.compile(
    r"^https?://(?:www\.)?(?:huggingface\.co|hf\.co)/([\w.-]+/[\w.-]+)/(?:blob|resolve)/([^/]+)/(.+)$"
)
_WINDOWS_PATH = re.compile(r"^[A-Za-z]:[\\/]")


def looks_like_path(name: str) -> bool:
    """A name no library would send to the hub: absolute, explicitly relative, or nested."""
    return (
        name in (".", "..")
        or name.startswith(("/", "./", "../", "~", "\\"))
        or "\\" in name
        or name.count("/") > 1
        or bool(_WINDOWS_PATH.match(name))
    )


@dataclass(frozen=True)
class _Loader:
    """A recognised loader call, before its name is resolved."""

    kind: str
    library: str
    loader_class: str | None
    role: str
    name: ast.expr | None


def _argument(call: ast.Call, index: int | None, *keywords: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg in keywords:
            return keyword.value
    if (
        index is not None
        and index < len(call.args)
        and not any(isinstance(arg, ast.Starred) for arg in call.args[: index + 1])
    ):
        return call.args[index]
    return None


def _library_of(qualname: str | None, class_name: str | None) -> str:
    """Which library a `X.from_pretrained` belongs to: by import, else by the class name."""
    if qualname and not qualname.startswith((".", "<local>")):
        root = qualname.split(".")[0]
        if root in LIBRARIES:
            return LIBRARIES[root]
    name = class_name or ""
    if name.startswith(("AutoPeft", "Peft")):
        return "peft"
    if name == "Llama":
        return "llama-cpp"
    if name.endswith("Pipeline"):
        return "diffusers"
    if name.startswith("ORT"):
        return "optimum"
    if name.startswith(("Auto", "TF", "Flax")) or (
        name[:1].isupper()
        and (
            "For" in name
            or name.endswith(
                ("Model", "Tokenizer", "TokenizerFast", "Processor", "Config", "FeatureExtractor")
            )
        )
    ):
        return "transformers"
    return "unknown"


def _role_of(class_name: str | None, library: str) -> str:
    name = class_name or ""
    if library == "peft" and name.startswith(("AutoPeft", "Peft")):
        return "adapter"
    if name.endswith(("Tokenizer", "TokenizerFast")):
        return "tokenizer"
    if name.endswith(("Processor", "FeatureExtractor")):
        return "processor"
    if name.endswith("Config"):
        return "config"
    return "model"


class ModelVisitor:
    """Walks one file's statements and records its model refs."""

    def __init__(self, source: SourceFile, evaluator: Evaluator) -> None:
        self.source = source
        self.evaluator = evaluator
        self.project = evaluator.project
        self.refs: list[ModelRef] = []
        self.aliases = self._loader_aliases()

    def _loader_aliases(self) -> dict[str, str]:
        """Loader functions imported under another name (`... import pipeline as hf_pipeline`)."""
        aliases: dict[str, str] = {}
        for stmt in self.source.tree.body:
            if isinstance(stmt, ast.ImportFrom):
                for alias in stmt.names:
                    if alias.asname and alias.name in CANDIDATE_NAMES:
                        aliases[alias.asname] = alias.name
        return aliases

    def run(self) -> list[ModelRef]:
        self._block(self.source.tree.body, self.source.module_scope)
        return self.refs

    def _block(self, body: list[ast.stmt], scope: Scope, depth: int = 0) -> None:
        if depth > MAX_NESTING:
            if body:
                self.source.skip(f"blocks nested deeper than {MAX_NESTING} levels", body[0].lineno)
            return
        for stmt in body:
            decorators = getattr(stmt, "decorator_list", None) or []
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = stmt.args
                self._expressions(
                    [*decorators, *args.defaults, *(d for d in args.kw_defaults if d)], scope
                )
                self._block(stmt.body, self.source.scope(stmt, scope), depth + 1)
            elif isinstance(stmt, ast.ClassDef):
                self._expressions(
                    [*decorators, *stmt.bases, *(k.value for k in stmt.keywords)], scope
                )
                self._block(stmt.body, self.source.scope(stmt, scope), depth + 1)
            elif isinstance(stmt, (ast.If, ast.While)):
                self._expressions([stmt.test], scope)
                self._block(stmt.body, scope, depth + 1)
                self._block(stmt.orelse, scope, depth + 1)
            elif isinstance(stmt, (ast.For, ast.AsyncFor)):
                self._expressions([stmt.iter], scope)
                self._block(stmt.body, scope, depth + 1)
                self._block(stmt.orelse, scope, depth + 1)
            elif isinstance(stmt, (ast.With, ast.AsyncWith)):
                self._expressions([item.context_expr for item in stmt.items], scope)
                self._block(stmt.body, scope, depth + 1)
            elif isinstance(stmt, ast.Match):
                self._expressions([stmt.subject], scope)
                for case in stmt.cases:
                    self._block(case.body, scope, depth + 1)
            elif hasattr(stmt, "handlers"):  # try / try*
                self._block(getattr(stmt, "body", []), scope, depth + 1)
                for handler in getattr(stmt, "handlers", []):
                    self._block(handler.body, scope, depth + 1)
                self._block(getattr(stmt, "orelse", []), scope, depth + 1)
                self._block(getattr(stmt, "finalbody", []), scope, depth + 1)
            else:
                self._expressions([stmt], scope)

    def _expressions(self, nodes: Iterable[ast.AST], scope: Scope) -> None:
        calls = [node for root in nodes for node in ast.walk(root) if isinstance(node, ast.Call)]
        calls.sort(key=lambda c: (c.lineno, c.col_offset))
        for call in calls:
            loader = self._classify(call, scope)
            if loader is not None:
                self.refs.extend(self._refs(call, loader, scope))

    # -- recognising loaders ----------------------------------------------------------

    def _classify(self, call: ast.Call, scope: Scope) -> _Loader | None:
        func = call.func
        last = _last_name(func) if isinstance(func, (ast.Name, ast.Attribute)) else None
        if isinstance(func, ast.Name) and func.id in self.aliases:
            last = self.aliases[func.id]
        if last not in CANDIDATE_NAMES:
            return self._hub_prefixed(call, scope)
        if isinstance(func, ast.Attribute):
            attr = func.attr
            if attr == "from_pretrained":
                return self._pretrained(call, func, scope)
            if attr == "from_single_file":
                return _Loader(
                    "single_file",
                    "diffusers",
                    _last_name(func.value),
                    "model",
                    _argument(call, 0, "pretrained_model_link_or_path"),
                )
            if attr == "load_lora_weights":
                return _Loader(
                    "lora",
                    "diffusers",
                    None,
                    "lora",
                    _argument(call, 0, "pretrained_model_name_or_path_or_dict"),
                )
            if attr == "load_adapter":
                return _Loader(
                    "pretrained", "peft", None, "adapter", _argument(call, 0, "peft_model_id")
                )
        qualname = self.evaluator.qualname(func, scope)
        root = qualname.split(".")[0] if qualname else None
        if root in FOREIGN_HUBS or (qualname and qualname.startswith(("<local>", "."))):
            return None
        bare = qualname is None or "." not in qualname  # not imported from anywhere
        if isinstance(func, ast.Attribute) and qualname is None:
            bare = False
        if last in HUB_FUNCTIONS and (
            root == "huggingface_hub"
            or bare
            or (isinstance(func, ast.Attribute) and qualname is None)
        ):
            if last == "hf_hub_download":
                return _Loader(
                    "hub_file", "huggingface_hub", None, "file", _argument(call, 0, "repo_id")
                )
            return _Loader(
                "snapshot", "huggingface_hub", None, "snapshot", _argument(call, 0, "repo_id")
            )
        if last == "pipeline" and qualname in PIPELINE_FUNCTIONS:
            return _Loader("pipeline", "transformers", None, "model", _argument(call, 1, "model"))
        if last in ST_CLASSES and (root == "sentence_transformers" or bare):
            return _Loader(
                "st",
                "sentence-transformers",
                last,
                "model",
                _argument(call, 0, "model_name_or_path", "model_name"),
            )
        if last == "WhisperModel" and (root == "faster_whisper" or bare):
            return _Loader(
                "whisper",
                "faster-whisper",
                "WhisperModel",
                "model",
                _argument(call, 0, "model_size_or_path"),
            )
        if qualname in TIMM_FUNCTIONS:
            return _Loader("timm", "timm", None, "model", _argument(call, 0, "model_name"))
        if root == "open_clip" and last in OPEN_CLIP_FUNCTIONS:
            role = "tokenizer" if last == "get_tokenizer" else "model"
            return _Loader("open_clip", "open_clip", None, role, _argument(call, 0, "model_name"))
        return self._hub_prefixed(call, scope)

    def _hub_prefixed(self, call: ast.Call, scope: Scope) -> _Loader | None:
        """Any call given a literal `hf-hub:org/name` (timm and open_clip naming)."""
        first = _argument(call, 0, "model_name")
        if first is None:
            return None
        literal = first.value if isinstance(first, ast.Constant) else None
        if (
            isinstance(first, ast.JoinedStr)
            and first.values
            and isinstance(first.values[0], ast.Constant)
        ):
            literal = first.values[0].value
        if not (isinstance(literal, str) and literal.startswith(known.HF_HUB_PREFIXES)):
            return None
        qualname = self.evaluator.qualname(call.func, scope)
        library = LIBRARIES.get(qualname.split(".")[0], "unknown") if qualname else "unknown"
        return _Loader("hfhub", library, None, "model", first)

    def _pretrained(self, call: ast.Call, func: ast.Attribute, scope: Scope) -> _Loader | None:
        receiver = func.value
        if isinstance(receiver, ast.Name) and receiver.id in ("cls", "self"):
            return None  # a library's own loader implementation: the name is its parameter
        if isinstance(receiver, ast.Call) and _last_name(receiver.func) == "super":
            return None
        qualname = self.evaluator.qualname(receiver, scope)
        if qualname and qualname.split(".")[0] in FOREIGN_HUBS:
            return None
        class_name = _last_name(receiver)
        library = _library_of(qualname, class_name)
        role = _role_of(class_name, library)
        name = class_name or ""
        if library == "peft" and name.startswith(("PeftModel", "PeftMixedModel")):
            argument = _argument(call, 1, "model_id")
        elif library == "llama-cpp":
            argument = _argument(call, 0, "repo_id")
        else:
            argument = _argument(
                call,
                0,
                "pretrained_model_name_or_path",
                "model_id",
                "repo_id",
                "model_name_or_path",
            )
        return _Loader("pretrained", library, class_name, role, argument)

    # -- building refs ----------------------------------------------------------------

    def _base(self, call: ast.Call, loader: _Loader, scope: Scope) -> dict[str, object]:
        """The fields every ref of this call shares: position, loader, keyword arguments."""
        keywords = {k.arg: k.value for k in call.keywords if k.arg}
        text = self.evaluator.text
        notes: list[str] = []
        for key in ("revision", "subfolder", "cache_dir", "cache_folder", "download_root"):
            if key in keywords and text(keywords[key], scope) is None:
                value = self.evaluator.eval(keywords[key], scope)
                if not isinstance(value, NoneValue):
                    notes.append(f"{key}= cannot be read: {describe(value)}")
        options: list[tuple[str, str]] = []
        for key in OPTION_KEYWORDS:
            if key in keywords:
                value = self.evaluator.eval(keywords[key], scope)
                if isinstance(value, Text):
                    options.append((key, value.value))
                elif not isinstance(value, (Unknown, NoneValue)) and hasattr(value, "value"):
                    options.append((key, repr(value.value)))
        filename = text(keywords.get("filename"), scope) or text(keywords.get("gguf_file"), scope)
        filename = filename or text(keywords.get("weight_name"), scope)
        cache = (
            keywords.get("cache_dir")
            or keywords.get("cache_folder")
            or keywords.get("download_root")
        )
        return {
            "library": loader.library,
            "loader": self.source.segment(call.func),
            "loader_class": loader.loader_class,
            "role": loader.role,
            "path": self.source.display,
            "line": call.lineno,
            "column": self.source.char_column(call.lineno, call.col_offset),
            "raw": self.source.segment(loader.name)
            if loader.name is not None
            else self.source.segment(call),
            "revision": text(keywords.get("revision"), scope),
            "subfolder": text(keywords.get("subfolder"), scope),
            "filename": filename,
            "allow_patterns": self.evaluator.strings(keywords.get("allow_patterns"), scope),
            "ignore_patterns": self.evaluator.strings(keywords.get("ignore_patterns"), scope),
            "cache_dir": text(cache, scope),
            "local_dir": text(keywords.get("local_dir"), scope),
            "repo_type": text(keywords.get("repo_type"), scope) or "model",
            "variant": text(keywords.get("variant"), scope),
            "backend": text(keywords.get("backend"), scope),
            "notes": tuple(notes),
            "options": tuple(options),
        }

    def _refs(self, call: ast.Call, loader: _Loader, scope: Scope) -> list[ModelRef]:
        base = self._base(call, loader, scope)
        value = self.evaluator.eval(loader.name, scope) if loader.name is not None else None
        kind = loader.kind
        if kind == "pipeline":
            return self._pipeline(call, loader, scope, base, value)
        if value is None:
            if kind == "st":
                return []  # SentenceTransformer() with modules, no download
            return [self._unresolved(base, "the call names no model")]
        if isinstance(value, Opaque):
            return []  # an object was passed, loaded elsewhere (and recorded there)
        if kind == "st":
            return [self._named(base, value, st_class=loader.loader_class)]
        if kind == "whisper":
            return [self._whisper(base, value)]
        if kind in ("hub_file", "snapshot"):
            ref = self._named(base, value, hub_only=True)
            if kind == "hub_file" and base["filename"] is None:
                filename = _argument(call, 1, "filename")
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
            gguf = self.evaluator.text(_argument(call, 1, "filename"), scope)
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

    def _make(self, base: dict[str, object], **fields: object) -> ModelRef:
        merged = {**base, **fields}
        return ModelRef(**merged)  # type: ignore[arg-type]

    def _unresolved(self, base: dict[str, object], reason: str) -> ModelRef:
        return self._make(base, kind=RefKind.UNRESOLVED, repo_id=None, unresolved_reason=reason)

    def _from_text(self, value: Text) -> dict[str, object]:
        return {
            "env_vars": value.env_vars,
            "from_dockerfile_env": value.from_dockerfile,
            "exact": value.exact,
            "via": value.via,
        }

    def _named(
        self,
        base: dict[str, object],
        value: Value,
        *,
        st_class: str | None = None,
        hub_only: bool = False,
    ) -> ModelRef:
        """A ref for a name that libraries treat as `local dir if it exists, else hub id`."""
        if isinstance(value, Text):
            name = value.value
            meta = self._from_text(value)
            if not hub_only:
                local = (
                    self.project.local_dir(name, self.source) if not looks_like_path(name) else None
                )
                if looks_like_path(name) or local is not None:
                    return self._make(
                        base, kind=RefKind.LOCAL, repo_id=None, local_path=name, **meta
                    )
            repo = name
            if st_class is not None:
                version = self.project.version("sentence-transformers")
                repo = known.sentence_transformers_repo(st_class, name, version)
                if repo != name:
                    meta["via"] = (*value.via, f"sentence-transformers maps {name!r} to {repo!r}")
            if known.is_repo_id(repo):
                return self._make(base, kind=RefKind.HUB, repo_id=repo, **meta)
            reason = f"{name!r} is neither a hub repo id nor a directory of the project"
            return self._make(
                base, kind=RefKind.UNRESOLVED, repo_id=None, unresolved_reason=reason, **meta
            )
        if isinstance(value, LocalPath):
            return self._make(base, kind=RefKind.LOCAL, repo_id=None, local_path=value.text)
        return self._unresolved(base, describe(value))

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
        self, call: ast.Call, loader: _Loader, scope: Scope, base: dict[str, object], value: Value
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
        if loader.kind == "timm":
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
        if loader.kind == "open_clip":
            tag = keywords.get("pretrained") or _argument(call, 1, "pretrained")
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
            match = _HUB_FILE_URL.match(value.value)
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

    def _adapter(self, ref: ModelRef, loader: _Loader) -> list[ModelRef]:
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
        loader: _Loader,
        scope: Scope,
        base: dict[str, object],
        model: Value | None,
    ) -> list[ModelRef]:
        task_expr = _argument(call, 0, "task")
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


def _replace(ref: ModelRef, **changes: object) -> ModelRef:
    from dataclasses import replace

    return replace(ref, **changes)  # type: ignore[arg-type]


# -- entry points -------------------------------------------------------------------------


def scan_data(
    data: bytes,
    path: Path,
    display: Path,
    evaluator: Evaluator,
    *,
    line_offset: int = 0,
) -> tuple[list[ModelRef], list[ScanProblem]]:
    try:
        source = SourceFile.parse(path, display, data)
    except SyntaxError as exc:
        message = f"cannot parse: {exc.msg}" if exc.msg else "cannot parse"
        return [], [ScanProblem(display, (exc.lineno or 1) + line_offset, message)]
    except (RecursionError, MemoryError):
        return [], [
            ScanProblem(display, 1 + line_offset, "not scanned: nested too deeply to parse")
        ]
    except ValueError as exc:
        return [], [ScanProblem(display, 1 + line_offset, f"not scanned: {exc}")]
    evaluator.project.remember(source)
    evaluator.start_file()
    refs = ModelVisitor(source, evaluator).run()
    problems = [
        ScanProblem(display, line + line_offset, f"not fully scanned: {reason}")
        for reason, line in source.skipped.items()
    ]
    if evaluator.exhausted:
        message = f"not fully scanned: more than {MAX_EVALS} values to evaluate"
        problems.append(ScanProblem(display, 1 + line_offset, message))
    if line_offset:
        refs = [_replace(ref, line=ref.line + line_offset) for ref in refs]
    return refs, problems


def scan_source(
    text: str,
    path: str | Path = "<string>",
    *,
    env: MappingABC[str, str] = EMPTY_ENV,
    root: Path | None = None,
    versions: MappingABC[str, str] = EMPTY_ENV,
    line_offset: int = 0,
) -> ScanResult:
    """Scan one piece of Python source (a test, a `python -c` snippet, a named script).

    With `root`, names imported from other project modules and local model directories are
    resolved against it. `line_offset` shifts reported lines (a snippet inside a Dockerfile).
    """
    project = Project(root, env, versions=versions)
    data = text.encode("utf-8", ERRORS)
    file_path = Path(path)
    display = project.display(file_path) if root is not None else file_path
    if not may_load_models(data):
        return ScanResult(files_scanned=1)
    refs, problems = scan_data(
        data, file_path, display, Evaluator(project), line_offset=line_offset
    )
    project.close()
    return ScanResult(tuple(refs), 1, 1, tuple(problems))


def scan_file(
    path: Path,
    *,
    root: Path | None = None,
    env: MappingABC[str, str] = EMPTY_ENV,
    versions: MappingABC[str, str] = EMPTY_ENV,
) -> ScanResult:
    """Scan one Python file, e.g. the script a Dockerfile runs (`RUN python download.py`)."""
    project = Project(root, env, versions=versions)
    display = project.display(path)
    try:
        data = read_bytes(str(path))
    except OSError as exc:
        return ScanResult(
            files_scanned=1,
            problems=(ScanProblem(display, 1, f"cannot be read ({exc.strerror or exc})"),),
        )
    if not may_load_models(data):
        return ScanResult(files_scanned=1)
    refs, problems = scan_data(data, path, display, Evaluator(project))
    project.close()
    return ScanResult(tuple(refs), 1, 1, tuple(problems))
