"""Small syntax helpers and the constants the evaluator's parts share."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from mlfix.scan.loaders import RESULT_IS_MODEL
from mlfix.scan.source import FunctionNode
from mlfix.scan.values import LocalPath, Text, Value

__all__ = [
    "ENV_GETTERS",
    "MAX_DEPTH",
    "MAX_EVALS",
    "PATH_FUNCTIONS",
    "RESULT_IS_MODEL",
    "STR_METHODS",
    "dotted",
    "index_self_assignments",
    "is_classmethod",
    "is_staticmethod",
    "last_name",
    "path_text",
    "returns",
    "statements",
]

ENV_GETTERS = frozenset({"os.getenv", "os.environ.get", "os.environ.setdefault", "os.environ.pop"})

PATH_FUNCTIONS = frozenset(
    {
        "os.path.join",
        "os.path.abspath",
        "os.path.expanduser",
        "os.path.dirname",
        "os.path.realpath",
        "os.path.normpath",
        "pathlib.Path",
        "pathlib.PurePath",
        "pathlib.PosixPath",
    }
)

STR_METHODS = frozenset(
    {
        "strip",
        "split",
        "rsplit",
        "lstrip",
        "rstrip",
        "lower",
        "upper",
        "replace",
        "removeprefix",
        "removesuffix",
        "format",
        "join",
    }
)

MAX_DEPTH = 40

MAX_EVALS = 20_000  # expressions evaluated per scanned file, imports included


def returns(body: list[ast.stmt]) -> Iterator[ast.Return]:
    for stmt in body:
        if isinstance(stmt, ast.Return):
            yield stmt
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        else:
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                inner = getattr(stmt, field, None)
                if isinstance(inner, list):
                    for item in inner:
                        if isinstance(item, ast.stmt):
                            yield from returns([item])
                        elif hasattr(item, "body"):
                            yield from returns(item.body)


def statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements in a body and its nested blocks, not entering nested functions or classes."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, name, None)
            if isinstance(inner, list):
                yield from statements(inner)
        for handler in getattr(stmt, "handlers", None) or ():
            yield from statements(handler.body)
        for case in getattr(stmt, "cases", None) or ():
            yield from statements(case.body)


def index_self_assignments(
    cls: ast.ClassDef,
) -> dict[str, list[tuple[FunctionNode, ast.stmt, ast.expr]]]:
    """attr -> (method, statement, value) for every `self.attr = value` in the class's methods."""
    index: dict[str, list[tuple[FunctionNode, ast.stmt, ast.expr]]] = {}
    for method in cls.body:
        if not isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)) or is_staticmethod(
            method
        ):
            continue
        params = [*method.args.posonlyargs, *method.args.args]
        if not params:
            continue
        me = params[0].arg
        for stmt in statements(method.body):
            if isinstance(stmt, ast.Assign):
                targets, value = stmt.targets, stmt.value
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                targets, value = [stmt.target], stmt.value
            else:
                continue
            for target in targets:
                if (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == me
                ):
                    index.setdefault(target.attr, []).append((method, stmt, value))
    return index


def path_text(value: Value) -> str | None:
    if isinstance(value, Text):
        return value.value
    if isinstance(value, LocalPath):
        return value.text
    return None


def is_staticmethod(node: FunctionNode) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list)


def is_classmethod(node: FunctionNode) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "classmethod" for d in node.decorator_list)


def dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return last_name(node.func)
    if isinstance(node, ast.Subscript):
        return last_name(node.value)
    return None
