"""A start command that is the project's own command-line tool, given no arguments.

`ENTRYPOINT ["ludwig"]` with no CMD runs the console script the project declares
(`[project.scripts]` or `[tool.poetry.scripts]` in its pyproject.toml). When that script
parses its command line with argparse and requires a positional argument (a subcommand,
a config file), a start without arguments ends in argparse's usage error before anything
else of the tool runs: the image is a toolbox whose work is chosen by the arguments a user
passes to `docker run`, so no model its code names is loaded by starting it. The check is
narrow on purpose: the entry function, or a function or class of the same module it calls
(up to three calls deep), must create the required argument and call `parse_args` itself.
A tool that works without arguments (a server with defaults, typer's or click's defaults,
a default subcommand) keeps the usual scan.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

Read = Callable[[str], str | None]
MAX_DEPTH = 3


def _scripts(read: Read) -> dict[str, str]:
    text = read("pyproject.toml")
    if text is None:
        return {}
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}
    found: dict[str, str] = {}
    for table in (
        data.get("project", {}).get("scripts"),
        data.get("tool", {}).get("poetry", {}).get("scripts"),
    ):
        if isinstance(table, dict):
            found.update({k: v for k, v in table.items() if isinstance(v, str)})
    return found


def _module(module: str, read: Read) -> tuple[str, str] | None:
    base = module.replace(".", "/")
    for prefix in ("", "src/"):
        for rel in (f"{prefix}{base}.py", f"{prefix}{base}/__init__.py"):
            text = read(rel)
            if text is not None:
                return rel, text
    return None


def _is_required_positional(call: ast.Call) -> bool:
    if not (isinstance(call.func, ast.Attribute) and call.func.attr == "add_argument"):
        return False
    if not call.args or not all(
        isinstance(a, ast.Constant) and isinstance(a.value, str) for a in call.args
    ):
        return False
    first = call.args[0]
    assert isinstance(first, ast.Constant)
    if str(first.value).startswith("-"):
        return False
    nargs = next((k.value for k in call.keywords if k.arg == "nargs"), None)
    if nargs is None:
        return True  # argparse requires a positional without nargs, default or not
    return isinstance(nargs, ast.Constant) and nargs.value not in ("?", "*", "...", 0)


def _parses_required(function: ast.FunctionDef) -> bool:
    calls = [node for node in ast.walk(function) if isinstance(node, ast.Call)]
    required = any(_is_required_positional(call) for call in calls)
    parses = any(isinstance(c.func, ast.Attribute) and c.func.attr == "parse_args" for c in calls)
    return required and parses


def _definitions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    """Top-level functions, and classes by their __init__."""
    table: dict[str, ast.FunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            table[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    table[node.name] = item
    return table


def _requires(name: str, table: dict[str, ast.FunctionDef], depth: int, seen: set[str]) -> bool:
    function = table.get(name)
    if function is None or name in seen or depth > MAX_DEPTH:
        return False
    seen.add(name)
    if _parses_required(function):
        return True
    called = [
        node.func.id
        for node in ast.walk(function)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    ]
    return any(_requires(callee, table, depth + 1, seen) for callee in called)


def needs_arguments(program: str, read: Read) -> str | None:
    """Why `program`, started with no arguments, stops at its usage error; else None."""
    target = _scripts(read).get(program)
    if target is None or ":" not in target:
        return None
    module, _, function = target.partition(":")
    found = _module(module.strip(), read)
    if found is None:
        return None
    rel, text = found
    try:
        tree = ast.parse(text, rel)
    except (SyntaxError, ValueError):
        return None
    if not _requires(function.strip().split(".")[0], _definitions(tree), 1, set()):
        return None
    return (
        f"the image starts the project's command {program} ({rel}) with no arguments, and"
        " it requires one: it prints its usage and exits, so the arguments a user gives"
        " `docker run` decide what it loads"
    )
