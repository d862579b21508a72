"""Which loader-table row a call is, if any, decided from the call's syntax and imports.

A call is a candidate when the name it spells is a row's name (or an alias imported for
one). A row with import paths matches when the callable's qualified name comes from one of
them, or from nowhere visible (`bare` rows: a star import, a re-export); a name defined in
the project itself, or imported relatively, is the project's own function, never a loader.
`X.from_pretrained` is classified by its receiver: the library it is imported from, else
the class-name conventions of transformers, diffusers, peft, optimum and llama-cpp.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from mlfix.scan import known
from mlfix.scan.loaders import BY_NAME, Loader, module_roots, qualnames
from mlfix.scan.resolve import Evaluator, last_name
from mlfix.scan.source import Scope

# Top-level packages and the library name reported for their `from_pretrained`.
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
# Any call given an `hf-hub:` literal: not a table row (no name of its own), same data.
HF_HUB_ROW = Loader("hf-hub:", (), "hfhub", "unknown", 0, ("model_name",))


@dataclass(frozen=True)
class Match:
    """A recognised loader call, before its name is resolved."""

    row: Loader
    library: str
    loader_class: str | None
    role: str
    name: ast.expr | None


def argument(call: ast.Call, index: int | None, *keywords: str) -> ast.expr | None:
    """The argument at `index` or under one of `keywords`; None when absent (or after a *)."""
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


def classify(
    call: ast.Call, scope: Scope, evaluator: Evaluator, aliases: dict[str, str]
) -> Match | None:
    func = call.func
    last = last_name(func) if isinstance(func, (ast.Name, ast.Attribute)) else None
    if isinstance(func, ast.Name) and func.id in aliases:
        last = aliases[func.id]
    rows = BY_NAME.get(last or "")
    if not rows:
        return _hub_prefixed(call, scope, evaluator)
    if isinstance(func, ast.Attribute):
        for row in rows:
            if not row.modules:  # a method recognised on any receiver
                return _method(call, func, row, scope, evaluator)
    qualname = evaluator.qualname(func, scope)
    root = qualname.split(".")[0] if qualname else None
    if root in FOREIGN_HUBS or (qualname and qualname.startswith(("<local>", "."))):
        return None
    for row in rows:
        if row.modules and _matches(row, qualname, func):
            loader_class = row.owner or (row.name if row.kind in ("st", "whisper") else None)
            return Match(row, row.library, loader_class, row.role, _name_argument(call, row))
    return _hub_prefixed(call, scope, evaluator)


def _matches(row: Loader, qualname: str | None, func: ast.expr) -> bool:
    """Imported from the row's package, or (`bare` rows) from nowhere visible."""
    named = qualname
    if row.owner is not None:  # `Class.method`: the receiver must be the class
        if not isinstance(func, ast.Attribute) or last_name(func.value) != row.owner:
            return False
        named = qualname.rsplit(".", 1)[0] if qualname else None
    if qualname is not None and (
        qualname in qualnames(row) or qualname.split(".")[0] in set(module_roots(row))
    ):
        return True
    if not row.bare:
        return False
    if isinstance(func, ast.Attribute) and qualname is None:
        return row.unknown_receiver  # `hub.snapshot_download(...)` with `hub` unknown
    return named is None or "." not in named


def _name_argument(call: ast.Call, row: Loader) -> ast.expr | None:
    return argument(call, row.position, *row.keywords)


def _method(
    call: ast.Call, func: ast.Attribute, row: Loader, scope: Scope, evaluator: Evaluator
) -> Match | None:
    if row.kind != "pretrained":
        return Match(row, row.library, last_name(func.value), row.role, _name_argument(call, row))
    receiver = func.value
    if isinstance(receiver, ast.Name) and receiver.id in ("cls", "self"):
        return None  # a library's own loader implementation: the name is its parameter
    if isinstance(receiver, ast.Call) and last_name(receiver.func) == "super":
        return None
    qualname = evaluator.qualname(receiver, scope)
    if qualname and qualname.split(".")[0] in FOREIGN_HUBS:
        return None
    class_name = last_name(receiver)
    library = pretrained_library(qualname, class_name)
    role = _role_of(class_name, library)
    name = class_name or ""
    if library == "peft" and name.startswith(("PeftModel", "PeftMixedModel")):
        argument_expr = argument(call, 1, "model_id")
    elif library == "llama-cpp":
        argument_expr = argument(call, 0, "repo_id")
    else:
        argument_expr = _name_argument(call, row)
    return Match(row, library, class_name, role, argument_expr)


def _hub_prefixed(call: ast.Call, scope: Scope, evaluator: Evaluator) -> Match | None:
    """Any call given a literal `hf-hub:org/name` (timm and open_clip naming)."""
    first = argument(call, 0, "model_name")
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
    qualname = evaluator.qualname(call.func, scope)
    library = LIBRARIES.get(qualname.split(".")[0], "unknown") if qualname else "unknown"
    return Match(HF_HUB_ROW, library, None, "model", first)


def pretrained_library(qualname: str | None, class_name: str | None) -> str:
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
    if name == "GLiNER":
        return "gliner"
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
