"""The part of building refs every loader kind shares: the call's common fields, and
classifying a resolved name as a hub repo, a local path or unresolved."""

from __future__ import annotations

import ast
import re
from dataclasses import replace

from mlfix.scan import known
from mlfix.scan.classify import Match
from mlfix.scan.refs import ModelRef, RefKind
from mlfix.scan.resolve import Evaluator
from mlfix.scan.source import Scope, SourceFile
from mlfix.scan.values import LocalPath, NoneValue, Text, Unknown, Value, describe

# fastembed 0.9.1 `download_files_from_huggingface`: always fetched, besides the model files.
FASTEMBED_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "preprocessor_config.json",
)

OPTION_KEYWORDS = (
    "use_safetensors",
    "local_files_only",
    "trust_remote_code",
    "from_tf",
    "from_flax",
    "use_fast",
    "file_name",
)
HUB_FILE_URL = re.compile(
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


def _unique(patterns: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(patterns))


def keywords_of(call: ast.Call) -> dict[str, ast.expr]:
    return {k.arg: k.value for k in call.keywords if k.arg}


def _replace(ref: ModelRef, **changes: object) -> ModelRef:
    return replace(ref, **changes)  # type: ignore[arg-type]


class RefBuilderCore:
    """Builds the refs of one file's loader calls (the shared part)."""

    def __init__(self, source: SourceFile, evaluator: Evaluator) -> None:
        self.source = source
        self.evaluator = evaluator
        self.project = evaluator.project

    def _base(self, call: ast.Call, loader: Match, scope: Scope) -> dict[str, object]:
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
        cache = next(
            (keywords[k] for k in ("cache_dir", *loader.row.cache_keywords) if k in keywords), None
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
            "offline_safe": loader.row.offline_safe,
            "options": tuple(options),
        }

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
