"""Parameters through their call sites: `def load(name): pipeline(model=name)` with every
call in the project passing a name mlfix can read.

The call sites of a function are the calls spelling its name (`load(...)`, `obj.load(...)`,
`Cls(...)` for `__init__`) in its own file and in the Python files beside it and at the
project root whose bytes mention it (a bounded search, so a large repository costs no
more than a small one). When every call site passes a value mlfix can read (or omits the
argument and the default applies), those are the values: one value when they agree; when
they differ, the name is unresolved and the finding lists them. No call site found: it keeps
its default (or stays unknown), as before.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from mlfix.scan.resolve.base import EvaluatorBase
from mlfix.scan.resolve.util import is_staticmethod
from mlfix.scan.source import Binding, Scope, SourceFile
from mlfix.scan.values import Text, Unknown, Value

MAX_CALL_SITES = 32
MAX_DEPTH = 3  # call sites of call sites of ... followed at most this deep


CallIndex = dict[str, list[tuple[ast.Call, Scope]]]


def _calls_named(source: SourceFile, name: str) -> list[tuple[ast.Call, Scope]]:
    """Calls spelling `name` in the file, with the scope each runs in, in walk order.

    The file is walked once, on the first question, and every call indexed by the name it
    spells: one file is asked about many names (each parameter of each loader's caller),
    and walking it for each cost most of the scan on real repositories.
    """
    key = ("calls", id(source.tree))
    index = source.cache.get(key)
    if not isinstance(index, dict):
        index = source.cache[key] = _index_calls(source)
    calls: list[tuple[ast.Call, Scope]] = index.get(name, [])
    return calls


# Nodes that hold no call below them: not walked into.
_LEAVES = (ast.Name, ast.Constant, ast.expr_context, ast.operator, ast.cmpop, ast.unaryop,
           ast.boolop, ast.alias)  # fmt: skip
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _index_calls(source: SourceFile) -> CallIndex:
    """Every call of the file by the name it spells, in the order of a depth-first walk
    (`ast.iter_child_nodes` order, children of a node taken last first), written out by
    hand: the generic walk's generators cost more than the rest of the search."""
    index: CallIndex = {}
    stack: list[tuple[ast.AST, Scope]] = [(source.tree, source.module_scope)]
    pop, push = stack.pop, stack.append
    while stack:
        current, where = pop()
        for name in current._fields:
            value = getattr(current, name, None)
            for child in value if isinstance(value, list) else (value,):
                if not isinstance(child, ast.AST) or isinstance(child, _LEAVES):
                    continue
                if isinstance(child, _SCOPES):
                    push((child, source.scope(child, where)))
                    continue
                if isinstance(child, ast.Call):
                    func = child.func
                    spelled = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                    if spelled is not None:
                        index.setdefault(spelled, []).append((child, where))
                push((child, where))
    return index


class CallSites(EvaluatorBase):
    def call_site_values(self, binding: Binding, scope: Scope) -> Value | None:
        """The values the project's calls pass for a parameter, or None (no call site)."""
        if id(scope) in self._overrides:
            return None  # evaluating one particular call: its omitted arguments are defaults
        if self.call_site_depth >= MAX_DEPTH:
            return None
        self.call_site_depth += 1
        try:
            return self._call_site_values(binding, scope)
        finally:
            self.call_site_depth -= 1

    def _call_site_values(self, binding: Binding, scope: Scope) -> Value | None:
        function = scope.node
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return None
        owner = scope.parent
        in_class = owner is not None and owner.kind == "class"
        positional = [p.arg for p in [*function.args.posonlyargs, *function.args.args]]
        if in_class and not is_staticmethod(function) and positional:
            positional = positional[1:]
        keyword_only = {p.arg for p in function.args.kwonlyargs}
        if binding.name not in positional and binding.name not in keyword_only:
            return None
        index = positional.index(binding.name) if binding.name in positional else None
        spelled = function.name
        if function.name == "__init__" and in_class and owner is not None:
            spelled = owner.function_name()
        values: list[tuple[Binding, Value]] = []
        for call, where in self._call_sites(scope.file, spelled):
            argument = self._argument_for(call, index, binding.name)
            if argument is None:
                if binding.value is None:
                    continue  # a call that does not pass it raises: not a value
                value = self.eval(binding.value, scope.parent or scope.module)
            elif isinstance(argument, Unknown):
                value = argument
            else:
                value = self.eval(argument, where)
            if isinstance(value, Text):
                value = value.note(f"passed to {spelled}() at {where.file.display}:{call.lineno}")
            values.append((Binding("assign", binding.name, call, call.lineno), value))
            if len(values) >= MAX_CALL_SITES:
                break
        if not values:
            return None
        return self.merge(f"{binding.name}", values)

    def _argument_for(
        self, call: ast.Call, index: int | None, name: str
    ) -> ast.expr | Unknown | None:
        for keyword in call.keywords:
            if keyword.arg == name:
                return keyword.value
            if keyword.arg is None:
                return Unknown(f"passed with ** at line {call.lineno}")
        if index is None:
            return None
        for position, arg in enumerate(call.args):
            if isinstance(arg, ast.Starred):
                return Unknown(f"passed with * at line {call.lineno}")
            if position == index:
                return arg
        return None

    def _call_sites(self, file: SourceFile, name: str) -> Iterator[tuple[ast.Call, Scope]]:
        sources = [file]
        for path in self.project.files_mentioning(name, file.path):
            if path != file.path:
                other = self.project.load(path)
                if other is not None:
                    sources.append(other)
        for source in sources:
            yield from _calls_named(source, name)
