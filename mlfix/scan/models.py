"""Find the models a project loads: which loader, which repo, which arguments.

The visitor walks only the statements that hold a needle line (see `prefilter`), finds the
loader calls there with a libcst visitor (`syntax.CallCollector`), and resolves their name
argument with `resolve.Evaluator`. Scanned code is read as a libcst syntax tree and never
imported or executed.

Speed: libcst (1.9, native parser) needs about 2 µs per character to parse, about ten
times CPython's `ast`, and `node.visit()` or PositionProvider cost about as much again.
So only the statements the scan needs are parsed (`source`), positions come from one
codegen pass over what was parsed (`syntax.Unit`), the visitor runs only on the
statements that touch a needle line, and it is driven over the node fields
(`syntax.visit`) instead of libcst's rebuilding `visit`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import libcst as cst

from mlfix.scan import known
from mlfix.scan.prefilter import LOADER_RE, may_load_models, read_bytes
from mlfix.scan.refs import ModelRef, RefKind, ScanProblem, ScanResult
from mlfix.scan.resolve import Evaluator, Project, _last_name
from mlfix.scan.source import Scope, SourceFile, inert_spans, inside, token_spans
from mlfix.scan.syntax import (
    WORD_BYTES,
    CallCollector,
    NoPosition,
    Statement,
    argument,
    else_body,
    flat,
    keyword_map,
    parameters,
    string_pieces,
    suite,
    try_parts,
    visit,
)
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
# `... import pipeline as hf_pipeline`: the `as` is searched first (a pattern that starts
# with a literal is a fast search; one that starts with a class of bytes is not), then the
# byte before it and the name before that.
_AS = re.compile(rb"as[\s\\]")
_SPACE = frozenset(b" \t\n\r\f\v\\")
_NAME_BEFORE = re.compile(rb"(\w+)[\s\\]*\Z")


def _alias_imports(data: bytes) -> Iterator[int]:
    """Offsets of `<loader name> as` (the imports the alias search must see parsed)."""
    for match in _AS.finditer(data):
        start = match.start()
        if start == 0 or data[start - 1] not in _SPACE:
            continue
        before = _NAME_BEFORE.search(data, max(0, start - 65), start)
        if before and before.group(1).decode("ascii", "replace") in CANDIDATE_NAMES:
            yield before.start()


# An f-string opening on the line: Python 3.12 lets a replacement field reuse the quote
# (`f"{d["k"]} {load("x")}"`), which the string tokens of `inert_spans` take for the end of
# the string, so a needle after one on its line counts as code.
_FSTRING_START = re.compile(rb"(?<![A-Za-z0-9_])[rRbB]?[fF][rRbB]?[\"']")


def loader_lines(data: bytes, spans: list[tuple[int, int]] | None = None) -> list[int]:
    """The 1-based lines where a needle (`prefilter.LOADER_RE`) can name a loader, sorted.

    A subset of `prefilter.needle_lines`: a needle inside a longer name (`run_pipeline`,
    `SentenceTransformerTrainer`) is not a loader, and a loader call is recognised by the
    whole word (or an alias, or an `hf-hub:` literal), so the statements on such lines
    cannot hold one and need not be parsed. Nor can a needle in a comment or a plain
    string (`source.inert_spans`): only the `hf-hub:` prefix is looked for in strings.
    """
    lines: list[int] = []
    line = 1
    pos = 0
    inert: list[tuple[int, int]] | None = None
    for match in LOADER_RE.finditer(data):
        start, end = match.start(), match.end()
        text = match.group()
        if not text.startswith((b"hf_hub:", b"hf-hub:")):
            if start > 0 and data[start - 1] in WORD_BYTES:
                continue
            whole_word = not text.startswith(b"create_model")  # `create_model_and...` goes on
            if whole_word and end < len(data) and data[end] in WORD_BYTES:
                continue
            if inert is None:
                inert = inert_spans(data, spans)
            if inside(inert, start) is not None and not _FSTRING_START.search(
                data, data.rfind(b"\n", 0, start) + 1, start
            ):
                continue  # in a comment or a string: text, not a call
        line += data.count(b"\n", pos, start)
        pos = start
        if not lines or lines[-1] != line:
            lines.append(line)
    return lines


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
    name: cst.BaseExpression | None


_argument = argument


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
    """Walks one file's statements that hold needle lines and records its model refs."""

    def __init__(self, source: SourceFile, evaluator: Evaluator, lines: list[int] | None) -> None:
        self.source = source
        self.evaluator = evaluator
        self.project = evaluator.project
        self.lines = lines
        self.refs: list[ModelRef] = []
        source.ensure_offsets(_alias_imports(source.data))
        self.aliases = self._loader_aliases()
        self.ready = True
        if lines is not None and self.aliases:
            alias_lines = list(self._alias_lines())
            self.ready = source.ensure_lines(alias_lines)
            self.lines = sorted(set(lines) | set(alias_lines))

    # -- which statements to look at --------------------------------------------------

    def _loader_aliases(self) -> dict[str, str]:
        """Loader functions imported under another name (`... import pipeline as hf_pipeline`)."""
        aliases: dict[str, str] = {}
        for stmt in flat(self.source.tree.body):
            if isinstance(stmt, cst.ImportFrom) and not isinstance(stmt.names, cst.ImportStar):
                for alias in stmt.names:
                    name = alias.evaluated_name
                    asname = alias.evaluated_alias
                    if asname and name in CANDIDATE_NAMES:
                        aliases[asname] = name
        return aliases

    def _alias_lines(self) -> Iterator[int]:
        pattern = re.compile(
            rb"\b(?:" + b"|".join(re.escape(a.encode()) for a in self.aliases) + rb")\s*\("
        )
        line, pos = 1, 0
        for match in pattern.finditer(self.source.data):
            line += self.source.data.count(b"\n", pos, match.start())
            pos = match.start()
            yield line

    def _touches(self, start: int, end: int) -> bool:
        if self.lines is None:
            return True
        lines = self.lines
        low, high = 0, len(lines)
        while low < high:
            mid = (low + high) // 2
            if lines[mid] < start:
                low = mid + 1
            else:
                high = mid
        return low < len(lines) and lines[low] <= end

    def run(self) -> list[ModelRef]:
        self._block(flat(self.source.tree.body), self.source.module_scope)
        return self.refs

    def _block(self, body: list[Statement], scope: Scope) -> None:
        source = self.source
        for stmt in body:
            if not self._touches(source.first_line(stmt), source.end_line(stmt)):
                continue
            if isinstance(stmt, cst.FunctionDef):
                params = stmt.params
                self._expressions(
                    [
                        *(d.decorator for d in stmt.decorators),
                        *(p.default for p in parameters(params) if p.default is not None),
                        *(p.default for p in params.kwonly_params if p.default is not None),
                    ],
                    scope,
                )
                self._block(suite(stmt.body), source.scope(stmt, scope))
            elif isinstance(stmt, cst.ClassDef):
                self._expressions(
                    [
                        *(d.decorator for d in stmt.decorators),
                        *(arg.value for arg in stmt.bases),
                        *(arg.value for arg in stmt.keywords),
                    ],
                    scope,
                )
                self._block(suite(stmt.body), source.scope(stmt, scope))
            elif isinstance(stmt, (cst.If, cst.While)):
                self._expressions([stmt.test], scope)
                self._block(suite(stmt.body), scope)
                self._block(else_body(stmt.orelse), scope)
            elif isinstance(stmt, cst.For):
                self._expressions([stmt.iter], scope)
                self._block(suite(stmt.body), scope)
                self._block(else_body(stmt.orelse), scope)
            elif isinstance(stmt, cst.With):
                self._expressions([item.item for item in stmt.items], scope)
                self._block(suite(stmt.body), scope)
            elif isinstance(stmt, cst.Match):
                self._expressions([stmt.subject], scope)
                for case in stmt.cases:
                    self._block(suite(case.body), scope)
            elif isinstance(stmt, (cst.Try, cst.TryStar)):
                body, orelse, finalbody = try_parts(stmt)
                self._block(body, scope)
                for handler in stmt.handlers:
                    self._block(suite(handler.body), scope)
                self._block(orelse, scope)
                self._block(finalbody, scope)
            else:
                self._expressions([stmt], scope)

    def _expressions(self, nodes: Iterable[cst.CSTNode], scope: Scope) -> None:
        collector = CallCollector()
        for root in nodes:
            visit(root, collector)
        # In source order already (libcst's visiting order), so no positions are needed
        # until a call turns out to be a loader.
        for call in collector.calls:
            loader = self._classify(call, scope)
            if loader is not None:
                self.refs.extend(self._refs(call, loader, scope))

    # -- recognising loaders ----------------------------------------------------------

    def _classify(self, call: cst.Call, scope: Scope) -> _Loader | None:
        func = call.func
        last = _last_name(func) if isinstance(func, (cst.Name, cst.Attribute)) else None
        if isinstance(func, cst.Name) and func.value in self.aliases:
            last = self.aliases[func.value]
        if last not in CANDIDATE_NAMES:
            return self._hub_prefixed(call, scope)
        if isinstance(func, cst.Attribute):
            attr = func.attr.value
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
        if isinstance(func, cst.Attribute) and qualname is None:
            bare = False
        if last in HUB_FUNCTIONS and (
            root == "huggingface_hub"
            or bare
            or (isinstance(func, cst.Attribute) and qualname is None)
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

    def _hub_prefixed(self, call: cst.Call, scope: Scope) -> _Loader | None:
        """Any call given a literal `hf-hub:org/name` (timm and open_clip naming)."""
        first = _argument(call, 0, "model_name")
        if first is None:
            return None
        if not _literal_prefix(first).startswith(known.HF_HUB_PREFIXES):
            return None
        qualname = self.evaluator.qualname(call.func, scope)
        library = LIBRARIES.get(qualname.split(".")[0], "unknown") if qualname else "unknown"
        return _Loader("hfhub", library, None, "model", first)

    def _pretrained(self, call: cst.Call, func: cst.Attribute, scope: Scope) -> _Loader | None:
        receiver = func.value
        if isinstance(receiver, cst.Name) and receiver.value in ("cls", "self"):
            return None  # a library's own loader implementation: the name is its parameter
        if isinstance(receiver, cst.Call) and _last_name(receiver.func) == "super":
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

    def _base(self, call: cst.Call, loader: _Loader, scope: Scope) -> dict[str, object]:
        """The fields every ref of this call shares: position, loader, keyword arguments."""
        keywords = keyword_map(call)
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
        line, column = self.source.start(call)
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
            "line": line,
            "column": column + 1,
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

    def _refs(self, call: cst.Call, loader: _Loader, scope: Scope) -> list[ModelRef]:
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
        self, call: cst.Call, loader: _Loader, scope: Scope, base: dict[str, object], value: Value
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
        keywords = keyword_map(call)
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
        call: cst.Call,
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
        keywords = keyword_map(call)
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
        self, base: dict[str, object], task_expr: cst.BaseExpression | None, task: Value | None
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


def _literal_prefix(node: cst.BaseExpression) -> str:
    """The literal text a string argument starts with ("" when it starts with a field)."""
    pieces = string_pieces(node)
    prefix = ""
    for piece in pieces or ():
        if not isinstance(piece, str):
            break
        prefix += piece
    return prefix


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
    spans = token_spans(data)  # strings and comments, read once for all the cuts below
    lines = loader_lines(data, spans)
    if not lines and next(_alias_imports(data), None) is None:
        return [], []  # the needles are inside longer names only: no loader to find
    try:
        source = SourceFile.parse(path, display, data, lines, spans)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return [], [_parse_problem(exc, display, line_offset)]
    evaluator.project.remember(source)
    try:
        visitor = ModelVisitor(source, evaluator, lines)
        refs = visitor.run()
    except (NoPosition, RecursionError):
        message = "cannot parse: the code is nested too deeply"
        return [], [ScanProblem(display, 1 + line_offset, message)]
    if source.error is not None:  # a statement the scan reached does not parse
        return [], [_parse_problem(source.error, display, line_offset)]
    problems: list[ScanProblem] = []
    if not visitor.ready:
        problems.append(
            ScanProblem(display, 1 + line_offset, "cannot parse a statement that calls a loader")
        )
    if line_offset:
        refs = [_replace(ref, line=ref.line + line_offset) for ref in refs]
    return refs, problems


def _parse_problem(error: Exception, display: Path, line_offset: int) -> ScanProblem:
    if isinstance(error, SyntaxError):
        message = f"cannot parse: {error.msg}" if error.msg else "cannot parse"
        return ScanProblem(display, (error.lineno or 1) + line_offset, message)
    return ScanProblem(display, 1 + line_offset, f"cannot parse: {error}")


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
