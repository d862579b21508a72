"""Work out, without running anything, which string an expression holds.

A model name is rarely a literal at the call: it comes from a module constant, a constant
imported from another module of the project, an environment variable with a default, a
settings class, an f-string. The evaluator follows those statically. It never imports or
executes scanned code: it reads syntax trees, and what it cannot know it reports as
`Unknown` with a reason the user can act on (MLF304).

Environment variables take the value the image gives them (the Dockerfile's ENV/ARG,
passed in as `env`) before the code's default, because that is what runs.
"""

from __future__ import annotations

import ast
import json
import os
from collections import OrderedDict
from collections.abc import Iterator
from collections.abc import Mapping as MappingABC
from pathlib import Path

from mlfix.scan.known import pinned
from mlfix.scan.loaders import RESULT_IS_MODEL
from mlfix.scan.prefilter import read_bytes
from mlfix.scan.source import Binding, FunctionNode, Scope, SourceFile
from mlfix.scan.values import (
    ClassRef,
    Const,
    FunctionRef,
    Instance,
    LocalPath,
    Mapping,
    ModuleRef,
    NoneValue,
    Opaque,
    ParsedArgs,
    Sequence,
    Text,
    Unknown,
    Value,
    describe,
)

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
_MAX_DEPTH = 40
MAX_EVALS = 20_000  # expressions evaluated per scanned file, imports included


class Project:
    """The scanned repository: finds the modules that imports name, and keeps a few parsed.

    Only a bounded number of parsed modules are kept (LRU), so memory does not grow with
    the repository.
    """

    def __init__(
        self,
        root: Path | None,
        env: MappingABC[str, str],
        *,
        versions: MappingABC[str, str] | None = None,
        cache_size: int = 64,
    ) -> None:
        self.root = root.resolve() if root is not None else None
        self.env = env
        self.env_folded = {key.lower(): (key, value) for key, value in env.items()}
        self.versions = dict(versions or {})
        self._cache: OrderedDict[Path, SourceFile | None] = OrderedDict()
        self._cache_size = cache_size
        # Which file a module name is, per search base: bounded, like the module cache.
        self._found: OrderedDict[tuple[Path, str], Path | None] = OrderedDict()

    def version(self, package: str) -> str | None:
        """The version the project pins for a package, when the caller knows it."""
        return pinned(self.versions, package)

    def display(self, path: Path) -> Path:
        if self.root is not None:
            try:
                return _absolute(path).relative_to(self.root)
            except ValueError:
                pass
        return path

    def remember(self, source: SourceFile) -> None:
        self._store(_absolute(source.path), source)

    def _store(self, key: Path, value: SourceFile | None) -> None:
        old = self._cache.get(key)
        if old is not None and old is not value:
            old.close()
        self._cache[key] = value
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            _, evicted = self._cache.popitem(last=False)
            if evicted is not None:
                evicted.close()

    def close(self) -> None:
        """Release every cached module (see `SourceFile.close`)."""
        for source in self._cache.values():
            if source is not None:
                source.close()
        self._cache.clear()

    def load(self, path: Path) -> SourceFile | None:
        key = _absolute(path)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        source: SourceFile | None
        try:
            source = SourceFile.parse(key, self.display(key), read_bytes(str(key)))
        except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
            source = None
        self._store(key, source)
        return source

    def _search_bases(self, importer: SourceFile) -> Iterator[Path]:
        if self.root is None:
            return
        directory = _absolute(importer.path).parent
        while True:
            yield directory
            if directory == self.root or self.root not in directory.parents:
                break
            directory = directory.parent
        yield self.root / "src"

    def _find(self, base: Path, dotted: str) -> Path | None:
        key = (base, dotted)
        if key not in self._found:
            parts = [part for part in dotted.split(".") if part]
            found: Path | None = None
            if parts:
                candidate = base.joinpath(*parts)
                if candidate.with_suffix(".py").is_file():
                    found = candidate.with_suffix(".py")
                elif (candidate / "__init__.py").is_file():
                    found = candidate / "__init__.py"
            self._found[key] = found
            if len(self._found) > 64 * self._cache_size:
                self._found.popitem(last=False)
            return found
        self._found.move_to_end(key)
        return self._found[key]

    def module_path(self, dotted: str, importer: SourceFile, level: int) -> Path | None:
        """The project file `import dotted` (with `level` leading dots) names, if any."""
        if self.root is None:
            return None
        if level > 0:
            base = _absolute(importer.path).parent
            for _ in range(level - 1):
                base = base.parent
            if not dotted:
                init = base / "__init__.py"
                return init if init.is_file() else None
            return self._find(base, dotted)
        for base in self._search_bases(importer):
            found = self._find(base, dotted)
            if found is not None:
                return found
        return None

    def module_scope(self, dotted: str, importer: SourceFile, level: int) -> Scope | None:
        path = self.module_path(dotted, importer, level)
        if path is None:
            return None
        source = self.load(path)
        return source.module_scope if source is not None else None

    def local_dir(self, name: str, importer: SourceFile) -> Path | None:
        """The project directory a relative model name points at, if it exists.

        Libraries check `os.path.isdir(name)` before the hub, so `models/bert` is local
        when the project has that directory (at its root or beside the loading file).
        """
        if self.root is None or not name or os.path.isabs(name):
            return None
        for base in (_absolute(importer.path).parent, self.root):
            candidate = base / name
            try:
                if candidate.is_dir():
                    return candidate
            except OSError:
                continue
        return None

    def adapter_config(self, directory: Path) -> dict[str, object] | None:
        """A local PEFT adapter's `adapter_config.json`, which names its base model."""
        try:
            data = json.loads(read_bytes(str(directory / "adapter_config.json")))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def env_value(self, name: str, *, case_sensitive: bool = True) -> tuple[str, str] | None:
        if name in self.env:
            return name, self.env[name]
        if not case_sensitive:
            return self.env_folded.get(name.lower())
        return None


def _absolute(path: Path) -> Path:
    """An absolute, normalised path without resolving symlinks (one syscall per part)."""
    text = os.fspath(path)
    return Path(os.path.normpath(text if os.path.isabs(text) else os.path.join(os.getcwd(), text)))


def _returns(body: list[ast.stmt]) -> Iterator[ast.Return]:
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
                            yield from _returns([item])
                        elif hasattr(item, "body"):
                            yield from _returns(item.body)


def _statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements in a body and its nested blocks, not entering nested functions or classes."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, name, None)
            if isinstance(inner, list):
                yield from _statements(inner)
        for handler in getattr(stmt, "handlers", None) or ():
            yield from _statements(handler.body)
        for case in getattr(stmt, "cases", None) or ():
            yield from _statements(case.body)


def _index_self_assignments(
    cls: ast.ClassDef,
) -> dict[str, list[tuple[FunctionNode, ast.stmt, ast.expr]]]:
    """attr -> (method, statement, value) for every `self.attr = value` in the class's methods."""
    index: dict[str, list[tuple[FunctionNode, ast.stmt, ast.expr]]] = {}
    for method in cls.body:
        if not isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)) or _is_staticmethod(
            method
        ):
            continue
        params = [*method.args.posonlyargs, *method.args.args]
        if not params:
            continue
        me = params[0].arg
        for stmt in _statements(method.body):
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


def _path_text(value: Value) -> str | None:
    if isinstance(value, Text):
        return value.value
    if isinstance(value, LocalPath):
        return value.text
    return None


def _is_staticmethod(node: FunctionNode) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list)


def _is_classmethod(node: FunctionNode) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "classmethod" for d in node.decorator_list)


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
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


class Evaluator:
    """Evaluates expressions to `Value`s. One per scan; holds no per-file state."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._active: set[tuple[int, str]] = set()
        self._overrides: dict[int, dict[str, Value]] = {}
        self._depth = 0
        self.budget = MAX_EVALS
        self.exhausted = False

    def start_file(self) -> None:
        """A new file gets a fresh evaluation budget (see MAX_EVALS)."""
        self.budget = MAX_EVALS
        self.exhausted = False

    # -- entry points -----------------------------------------------------------------

    def eval(self, expr: ast.expr, scope: Scope) -> Value:
        self.budget -= 1
        if self.budget < 0:
            self.exhausted = True
            return Unknown(f"mlfix stops after evaluating {MAX_EVALS} values in one file")
        if self._depth > _MAX_DEPTH:
            return Unknown("the value is defined too indirectly to follow")
        self._depth += 1
        try:
            return self._eval(expr, scope)
        except RecursionError:
            return Unknown("the value is defined too indirectly to follow")
        finally:
            self._depth -= 1

    def text(self, expr: ast.expr | None, scope: Scope) -> str | None:
        """The string an optional argument holds, or None when absent or unknown."""
        if expr is None:
            return None
        value = self.eval(expr, scope)
        return value.value if isinstance(value, Text) else None

    def strings(self, expr: ast.expr | None, scope: Scope) -> tuple[str, ...] | None:
        """A pattern argument: one string or a list of strings."""
        if expr is None:
            return None
        value = self.eval(expr, scope)
        if isinstance(value, Text):
            return (value.value,)
        if isinstance(value, Sequence) and all(isinstance(item, Text) for item in value.items):
            return tuple(item.value for item in value.items if isinstance(item, Text))
        return None

    def qualname(self, expr: ast.expr, scope: Scope, depth: int = 0) -> str | None:
        """The imported name an expression refers to (`transformers.AutoModel`), statically.

        A name imported relatively (`from .models import X`) starts with "."; a class or
        function defined in the project starts with "<local>.". Unknown receivers give None.
        """
        if depth > 8:
            return None
        if isinstance(expr, ast.Name):
            found = self._find_bindings(expr.id, scope)
            if found is None:
                for module, level in scope.module.star_imports:
                    if level == 0 and self.project.module_path(module, scope.file, 0) is None:
                        return f"{module}.{expr.id}"
                return expr.id
            bindings, owner = found
            if len(bindings) != 1:
                kinds = {b.kind for b in bindings}
                if kinds <= {"import", "from"}:
                    binding = bindings[0]
                else:
                    return None
            else:
                binding = bindings[0]
            if binding.kind == "import":
                return binding.module
            if binding.kind == "from":
                prefix = "." * binding.level
                return (
                    f"{prefix}{binding.module}.{binding.attr}"
                    if binding.module
                    else f"{prefix}{binding.attr}"
                )
            if binding.kind in ("def", "class"):
                return f"<local>.{binding.name}"
            if binding.kind == "assign" and isinstance(
                binding.value, (ast.Name, ast.Attribute, ast.Call)
            ):
                return self.qualname(binding.value, owner, depth + 1)
            return None
        if isinstance(expr, ast.Attribute):
            base = self.qualname(expr.value, scope, depth + 1)
            return f"{base}.{expr.attr}" if base else None
        if isinstance(expr, ast.Call):
            base = self.qualname(expr.func, scope, depth + 1)
            return f"{base}()" if base else None
        return None

    # -- names ------------------------------------------------------------------------

    def _find_bindings(self, name: str, scope: Scope) -> tuple[list[Binding], Scope] | None:
        current: Scope | None = scope
        innermost = True
        while current is not None:
            if current.kind == "class" and not innermost:
                current = current.parent
                continue
            if name in current.globals and current.parent is not None:
                current = current.module
                innermost = False
                continue
            found = current.lookup_local(name)
            if found:
                return found, current
            innermost = False
            current = current.parent
        return None

    def lookup(self, name: str, scope: Scope) -> Value:
        current: Scope | None = scope
        while current is not None:
            overrides = self._overrides.get(id(current))
            if overrides is not None and name in overrides:
                return overrides[name]
            current = current.parent
        found = self._find_bindings(name, scope)
        if found is not None:
            bindings, owner = found
            return self._from_bindings(name, bindings, owner)
        module = scope.module
        for star_module, level in module.star_imports:
            target = self.project.module_scope(star_module, module.file, level)
            if target is not None and target.lookup_local(name):
                return self.lookup(name, target)
        if name == "__file__":
            return LocalPath(None)  # where the file lives in the image, not in the repo
        if name in ("__name__",):
            return Unknown("the module name")
        return Unknown(f"'{name}' is not defined in {scope.file.display}")

    def _from_bindings(self, name: str, bindings: list[Binding], scope: Scope) -> Value:
        values: list[tuple[Binding, Value]] = []
        for binding in bindings:
            key = (id(binding), name)
            if key in self._active:
                values.append((binding, Unknown(f"'{name}' is defined in terms of itself")))
                continue
            self._active.add(key)
            try:
                values.append((binding, self._binding_value(binding, scope)))
            finally:
                self._active.discard(key)
        step = f"{name} ({scope.file.display}:{bindings[0].line})"
        merged = self.merge(name, values)
        return merged.note(step) if isinstance(merged, Text) else merged

    def merge(self, name: str, values: list[tuple[Binding, Value]]) -> Value:
        """One value for a name bound in several places, or Unknown when they disagree.

        `x = os.getenv("X")` followed by `if not x: x = "org/m"` is the `or` idiom, so an
        unset variable or None does not count as a disagreement.
        """
        if len(values) == 1:
            return values[0][1]
        unset = [v for _, v in values if isinstance(v, Unknown) and v.unset_env]
        kept = [(b, v) for b, v in values if not isinstance(v, NoneValue) and v not in unset]
        texts = [v for _, v in kept if isinstance(v, Text)]
        env_names = tuple(v.unset_env for v in unset if isinstance(v, Unknown) and v.unset_env)
        if kept and len(texts) == len(kept):
            chosen: Text | None = None
            dockerfile = [t for t in texts if t.from_dockerfile]
            if dockerfile and len({t.value for t in dockerfile}) == 1:
                chosen = dockerfile[0]
            elif len({t.value for t in texts}) == 1:
                chosen = texts[0]
            if chosen is not None:
                extra = tuple(e for e in env_names if e not in chosen.env_vars)
                return Text(
                    chosen.value,
                    chosen.env_vars + extra,
                    chosen.from_dockerfile,
                    chosen.exact,
                    chosen.via,
                )
            lines = ", ".join(str(b.line) for b, _ in kept)
            shown = ", ".join(repr(t.value) for t in texts[:3])
            return Unknown(f"'{name}' is given different values (lines {lines}): {shown}")
        if len(kept) == 1:
            return kept[0][1]
        if not kept and unset:
            return unset[0]
        modules = {v.name for _, v in kept if isinstance(v, ModuleRef)}
        if len(modules) == 1 and all(isinstance(v, ModuleRef) for _, v in kept):
            return kept[0][1]
        for _, value in kept:
            if isinstance(value, Unknown):
                return value
        return Unknown(f"'{name}' is bound in several places")

    def _binding_value(self, binding: Binding, scope: Scope) -> Value:
        kind = binding.kind
        if kind == "assign":
            assert binding.value is not None
            return self.eval(binding.value, scope)
        if kind == "import":
            assert binding.module is not None
            target = self.project.module_scope(binding.module, scope.file, 0)
            return ModuleRef(binding.module, target)
        if kind == "from":
            return self._from_import(binding, scope)
        if kind in ("def", "class"):
            node = binding.node
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return FunctionRef(node, scope)
            if isinstance(node, ast.ClassDef):
                return ClassRef(node, scope.file.scope(node, scope))
            return Unknown(
                f"the definition of '{binding.name}' (line {binding.line}) does not parse"
            )
        if kind == "param":
            return self._param(binding, scope)
        return Unknown(
            f"'{binding.name}' is {binding.reason or 'not a constant'} (line {binding.line})"
        )

    def _from_import(self, binding: Binding, scope: Scope) -> Value:
        module = binding.module or ""
        attr = binding.attr or binding.name
        target = self.project.module_scope(module, scope.file, binding.level)
        if target is not None:
            if target.lookup_local(attr) or target.star_imports:
                value = self.lookup(attr, target)
                if not (isinstance(value, Unknown) and "is not defined" in value.reason):
                    if isinstance(value, Text):
                        return value.note(f"{attr} imported from {target.file.display}")
                    return value
            submodule = f"{module}.{attr}" if module else attr
            sub = self.project.module_scope(submodule, scope.file, binding.level)
            if sub is not None:
                return ModuleRef(submodule, sub)
            return Unknown(f"'{attr}' is not defined in {target.file.display}")
        if binding.level > 0:
            sub = self.project.module_scope(attr, scope.file, binding.level) if not module else None
            if sub is not None:
                return ModuleRef(attr, sub)
            return Unknown(f"the module '{'.' * binding.level}{module}' is not in the project")
        return ModuleRef(f"{module}.{attr}", None)

    def _param(self, binding: Binding, scope: Scope) -> Value:
        function = scope.node
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            positional = [*function.args.posonlyargs, *function.args.args]
            owner = scope.parent
            if (
                positional
                and positional[0] is binding.node
                and owner is not None
                and owner.kind == "class"
                and isinstance(owner.node, ast.ClassDef)
                and not _is_staticmethod(function)
            ):
                cls = ClassRef(owner.node, owner)
                return cls if _is_classmethod(function) else Instance(cls, None, None)
        if binding.reason:
            return Unknown(
                f"'{binding.name}' collects the extra arguments of {scope.function_name()}()"
            )
        if binding.value is None:
            return Unknown(
                f"'{binding.name}' is a parameter of {scope.function_name()}() with no default"
            )
        parent = scope.parent or scope.module
        value = self.eval(binding.value, parent)
        if isinstance(value, Text):
            return value.note(
                f"default of parameter '{binding.name}' of {scope.function_name()}()", exact=False
            )
        if isinstance(value, NoneValue):
            return Unknown(
                f"'{binding.name}' is a parameter of {scope.function_name()}() (default None)"
            )
        return value

    # -- expressions ------------------------------------------------------------------

    def _eval(self, expr: ast.expr, scope: Scope) -> Value:
        if isinstance(expr, ast.Constant):
            value = expr.value
            if isinstance(value, str):
                return Text(value)
            if value is None:
                return NoneValue()
            if isinstance(value, bytes):
                return Opaque("bytes")
            if value is Ellipsis:
                return Unknown("the value is '...' (required)")
            return Const(value)
        if isinstance(expr, ast.Name):
            return self.lookup(expr.id, scope)
        if isinstance(expr, ast.JoinedStr):
            return self._fstring(expr, scope)
        if isinstance(expr, ast.BinOp):
            return self._binop(expr, scope)
        if isinstance(expr, ast.Attribute):
            return self._attribute(expr, scope)
        if isinstance(expr, ast.Call):
            return self._call(expr, scope)
        if isinstance(expr, ast.Subscript):
            return self._subscript(expr, scope)
        if isinstance(expr, ast.BoolOp):
            return self._boolop(expr, scope)
        if isinstance(expr, ast.IfExp):
            body = self.eval(expr.body, scope)
            orelse = self.eval(expr.orelse, scope)
            if isinstance(body, Text) and isinstance(orelse, Text) and body.value == orelse.value:
                return body
            shown = " or ".join(repr(v.value) for v in (body, orelse) if isinstance(v, Text))
            return Unknown("chosen at runtime by a condition" + (f" ({shown})" if shown else ""))
        if isinstance(expr, (ast.List, ast.Tuple, ast.Set)):
            return Sequence(tuple(self.eval(item, scope) for item in expr.elts))
        if isinstance(expr, ast.Dict):
            items: list[tuple[Value, Value]] = []
            for key, item in zip(expr.keys, expr.values, strict=True):
                if key is None:
                    return Unknown("a dict built with ** unpacking")
                items.append((self.eval(key, scope), self.eval(item, scope)))
            return Mapping(tuple(items))
        if isinstance(expr, ast.Lambda):
            return FunctionRef(expr, scope)
        if isinstance(expr, ast.NamedExpr):
            return self.eval(expr.value, scope)
        if isinstance(expr, ast.Starred):
            return Unknown("unpacked with *")
        return Unknown(f"computed by an expression mlfix does not evaluate ({type(expr).__name__})")

    def _fstring(self, expr: ast.JoinedStr, scope: Scope) -> Value:
        result = Text("")
        for part in expr.values:
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                result = result.join(Text(part.value), result.value + part.value)
                continue
            if not isinstance(part, ast.FormattedValue):
                return Unknown("an f-string part mlfix does not evaluate")
            if part.format_spec is not None:
                return Unknown("an f-string with a format spec")
            value = self.eval(part.value, scope)
            if isinstance(value, Const) and part.conversion == -1:
                value = Text(str(value.value))
            if not isinstance(value, Text):
                return (
                    value
                    if isinstance(value, Unknown)
                    else Unknown(f"an f-string part: {describe(value)}")
                )
            piece = value.value
            if part.conversion == ord("r"):
                piece = repr(piece)
            elif part.conversion == ord("a"):
                piece = ascii(piece)
            result = result.join(value, result.value + piece)
        return result

    def _binop(self, expr: ast.BinOp, scope: Scope) -> Value:
        left = self.eval(expr.left, scope)
        right = self.eval(expr.right, scope)
        if isinstance(expr.op, ast.Add):
            if isinstance(left, Text) and isinstance(right, Text):
                return left.join(right, left.value + right.value)
            if isinstance(left, LocalPath) or isinstance(right, LocalPath):
                return LocalPath(None)
        elif isinstance(expr.op, ast.Div) and (
            isinstance(left, LocalPath) or isinstance(right, LocalPath)
        ):
            known = [_path_text(side) for side in (left, right)]
            return LocalPath(
                "/".join(k for k in known if k is not None) if None not in known else None
            )
        elif isinstance(expr.op, ast.Mod) and isinstance(left, Text):
            parts = right.items if isinstance(right, Sequence) else (right,)
            if all(isinstance(p, (Text, Const)) for p in parts):
                args = tuple(p.value for p in parts if isinstance(p, (Text, Const)))
                try:
                    formatted = left.value % args
                except (TypeError, ValueError, KeyError):
                    return Unknown("a %-format mlfix cannot apply")
                result = left
                for part in parts:
                    if isinstance(part, Text):
                        result = result.join(part, result.value)
                return Text(
                    formatted, result.env_vars, result.from_dockerfile, result.exact, result.via
                )
        for side in (left, right):
            if isinstance(side, Unknown):
                return side
        return Unknown("computed by an operation on values mlfix cannot combine")

    def _boolop(self, expr: ast.BoolOp, scope: Scope) -> Value:
        if not isinstance(expr.op, ast.Or):
            return Unknown("chosen at runtime by an 'and' expression")
        skipped: list[str] = []
        for operand in expr.values:
            value = self.eval(operand, scope)
            if isinstance(value, Text) and value.value:
                env = tuple(name for name in skipped if name not in value.env_vars)
                return Text(
                    value.value, value.env_vars + env, value.from_dockerfile, value.exact, value.via
                )
            if isinstance(value, Unknown) and value.unset_env:
                skipped.append(value.unset_env)
                continue
            if isinstance(value, (NoneValue, Text)):
                continue
            return value
        return Unknown("every alternative of an 'or' is empty or unset")

    # -- environment ------------------------------------------------------------------

    def env_lookup(self, name: str, default: Value | None, *, case_sensitive: bool = True) -> Value:
        found = self.project.env_value(name, case_sensitive=case_sensitive)
        if found is not None:
            key, value = found
            return Text(value, (key,), True, True, (f"env {key} from the Dockerfile",))
        if default is None or isinstance(default, NoneValue):
            return Unknown(
                f"environment variable {name} has no default in the code"
                " and no value in the Dockerfile",
                unset_env=name,
            )
        if isinstance(default, Text):
            env_vars = default.env_vars if name in default.env_vars else (name, *default.env_vars)
            return Text(
                default.value,
                env_vars,
                default.from_dockerfile,
                default.exact,
                (*default.via, f"default of env {name}"),
            )
        return default

    def _env_call(self, call: ast.Call, scope: Scope) -> Value:
        if not call.args:
            return Unknown("an environment lookup mlfix cannot read")
        key = self.eval(call.args[0], scope)
        if not isinstance(key, Text):
            return Unknown("an environment variable whose name is computed")
        default_expr = call.args[1] if len(call.args) > 1 else None
        for keyword in call.keywords:
            if keyword.arg in ("default", "value"):
                default_expr = keyword.value
        default = self.eval(default_expr, scope) if default_expr is not None else None
        return self.env_lookup(key.value, default)

    # -- attributes and subscripts ----------------------------------------------------

    def _attribute(self, expr: ast.Attribute, scope: Scope) -> Value:
        base = self.eval(expr.value, scope)
        return self.attribute_of(base, expr.attr)

    def attribute_of(self, base: Value, attr: str) -> Value:
        if isinstance(base, ModuleRef):
            if base.scope is None:
                return ModuleRef(f"{base.name}.{attr}", None)
            module = base.scope
            if module.lookup_local(attr) or module.star_imports:
                value = self.lookup(attr, module)
                if not (isinstance(value, Unknown) and "is not defined" in value.reason):
                    return value
            sub = self.project.module_scope(f"{base.name}.{attr}", module.file, 0)
            if sub is None and module.file.path.name == "__init__.py":
                sub = self.project.module_scope(attr, module.file, 1)
            if sub is not None:
                return ModuleRef(f"{base.name}.{attr}", sub)
            return Unknown(f"'{attr}' is not defined in {module.file.display}")
        if isinstance(base, ClassRef):
            return self.class_attribute(base, attr, None)
        if isinstance(base, Instance):
            return self.class_attribute(base.cls, attr, base)
        if isinstance(base, LocalPath):
            return LocalPath(None)  # .parent, .stem, methods such as .resolve: still a path
        if isinstance(base, ParsedArgs):
            return self._argparse_default(base.scope, attr)
        if isinstance(base, Unknown):
            return base
        return Unknown(f"the attribute '{attr}' of {describe(base)}")

    def _subscript(self, expr: ast.Subscript, scope: Scope) -> Value:
        base = self.eval(expr.value, scope)
        key = self.eval(expr.slice, scope)
        if isinstance(base, ModuleRef) and base.scope is None:
            if base.name == "os.environ":
                if isinstance(key, Text):
                    return self.env_lookup(key.value, None)
                return Unknown("an environment variable whose name is computed")
            if base.name == "sys.argv":
                return Unknown("a command-line argument (sys.argv)")
            return Unknown(f"a value read from {base.name}")
        if isinstance(base, Mapping) and isinstance(key, Text):
            for item_key, item_value in base.items:
                if isinstance(item_key, Text) and item_key.value == key.value:
                    return item_value
            return Unknown(f"the key {key.value!r} is not in the dict")
        if isinstance(base, Sequence) and isinstance(key, Const) and isinstance(key.value, int):
            try:
                return base.items[key.value]
            except IndexError:
                return Unknown("an index past the end of a list")
        if isinstance(base, Unknown):
            return base
        if isinstance(key, Unknown):
            return Unknown(f"looked up with a key that is {key.reason}")
        return Unknown("looked up in a collection mlfix cannot index")

    # -- calls ------------------------------------------------------------------------

    def _call(self, call: ast.Call, scope: Scope) -> Value:
        func = call.func
        if isinstance(func, ast.Attribute):
            if func.attr in RESULT_IS_MODEL:
                return Opaque("a loaded model")
            if func.attr == "parse_args":
                return ParsedArgs(scope)
            if func.attr in STR_METHODS:
                receiver = self.eval(func.value, scope)
                if isinstance(receiver, Text):
                    return self._str_method(receiver, func.attr, call, scope)
                if isinstance(receiver, Unknown):
                    return receiver
            if func.attr == "get":
                receiver = self.eval(func.value, scope)
                if isinstance(receiver, Mapping) and call.args:
                    key = self.eval(call.args[0], scope)
                    if isinstance(key, Text):
                        for item_key, item_value in receiver.items:
                            if isinstance(item_key, Text) and item_key.value == key.value:
                                return item_value
                        return self.eval(call.args[1], scope) if len(call.args) > 1 else NoneValue()
        callee = self.eval(func, scope)
        if isinstance(callee, ModuleRef) and callee.scope is None:
            name = callee.name
            if name in ENV_GETTERS:
                return self._env_call(call, scope)
            if name in PATH_FUNCTIONS:
                texts = [_path_text(self.eval(arg, scope)) for arg in call.args]
                joins = name in (
                    "os.path.join",
                    "pathlib.Path",
                    "pathlib.PurePath",
                    "pathlib.PosixPath",
                )
                if joins and texts and None not in texts:
                    return LocalPath("/".join(t for t in texts if t is not None))
                return LocalPath(None)
            last = name.rsplit(".", 1)[-1]
            if last in RESULT_IS_MODEL:
                return Opaque("a loaded model")
            if name in ("sys.argv",):
                return Unknown("a command-line argument (sys.argv)")
            return Unknown(f"the result of {name}()")
        if isinstance(callee, LocalPath):
            return LocalPath(None)  # Path(...).resolve(), .joinpath(...)
        if isinstance(callee, ClassRef):
            return Instance(callee, call, scope)
        if isinstance(callee, FunctionRef):
            return self.call_function(callee, call, scope)
        if (
            isinstance(func, ast.Name)
            and isinstance(callee, Unknown)
            and "is not defined" in callee.reason
        ):
            return self._builtin(func.id, call, scope)
        if isinstance(callee, Unknown):
            return Unknown(f"the result of {scope.file.segment(func)}()")
        return Unknown(f"the result of calling {describe(callee)}")

    def _builtin(self, name: str, call: ast.Call, scope: Scope) -> Value:
        if name == "str" and len(call.args) == 1:
            value = self.eval(call.args[0], scope)
            if isinstance(value, Const):
                return Text(str(value.value))
            if isinstance(value, LocalPath):
                return value
            return value
        if name == "input":
            return Unknown("read from input()")
        if name in ("Path", "PurePath"):
            return LocalPath(None)
        return Unknown(f"the result of {name}()")

    def _str_method(self, receiver: Text, method: str, call: ast.Call, scope: Scope) -> Value:
        args = [self.eval(arg, scope) for arg in call.args]
        kwargs = {kw.arg: self.eval(kw.value, scope) for kw in call.keywords if kw.arg}
        if any(kw.arg is None for kw in call.keywords):
            return Unknown("a string method called with ** arguments")
        if method == "join":
            if (
                len(args) == 1
                and isinstance(args[0], Sequence)
                and all(isinstance(i, Text) for i in args[0].items)
            ):
                items = [i for i in args[0].items if isinstance(i, Text)]
                result = receiver
                for item in items:
                    result = result.join(item, result.value)
                return Text(
                    receiver.value.join(i.value for i in items),
                    result.env_vars,
                    result.from_dockerfile,
                    result.exact,
                    result.via,
                )
            return Unknown("a join of values mlfix cannot read")
        plain: list[object] = []
        merged = receiver
        for value in [*args, *kwargs.values()]:
            if isinstance(value, Text):
                plain.append(value.value)
                merged = merged.join(value, merged.value)
            elif isinstance(value, Const):
                plain.append(value.value)
            else:
                return (
                    value
                    if isinstance(value, Unknown)
                    else Unknown(f"a string method argument: {describe(value)}")
                )
        positional = plain[: len(args)]
        named = dict(zip(kwargs, plain[len(args) :], strict=True))
        try:
            result = getattr(receiver.value, method)(*positional, **named)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError):
            return Unknown(f"a .{method}() mlfix cannot apply")
        if not isinstance(result, str):
            return Unknown(f"a .{method}() that does not give a string")
        return Text(result, merged.env_vars, merged.from_dockerfile, merged.exact, merged.via)

    def call_function(
        self, function: FunctionRef, call: ast.Call | None, call_scope: Scope | None
    ) -> Value:
        """The value a project function returns, with the call's arguments bound."""
        node = function.node
        frame = Scope("function", node, function.scope.file, function.scope)
        overrides: dict[str, Value] = {}
        if call is not None and call_scope is not None:
            params = [*node.args.posonlyargs, *node.args.args]
            if function.bound is not None and params:
                overrides[params[0].arg] = function.bound
                params = params[1:]
            if any(isinstance(a, ast.Starred) for a in call.args) or any(
                k.arg is None for k in call.keywords
            ):
                return Unknown(
                    f"the result of {self._name_of(node)}() called with * or ** arguments"
                )
            for param, arg in zip(params, call.args, strict=False):
                overrides[param.arg] = self.eval(arg, call_scope)
            names = {p.arg for p in [*params, *node.args.kwonlyargs]}
            for keyword in call.keywords:
                if keyword.arg in names:
                    overrides[keyword.arg] = self.eval(keyword.value, call_scope)
        elif function.bound is not None:
            params = [*node.args.posonlyargs, *node.args.args]
            if params:
                overrides[params[0].arg] = function.bound
        self._overrides[id(frame)] = overrides
        try:
            if isinstance(node, ast.Lambda):
                return self.eval(node.body, frame)
            values: list[tuple[Binding, Value]] = []
            for ret in _returns(node.body):
                if ret.value is None:
                    values.append((Binding("other", "return", ret, ret.lineno), NoneValue()))
                else:
                    values.append(
                        (
                            Binding("assign", "return", ret, ret.lineno, ret.value),
                            self.eval(ret.value, frame),
                        )
                    )
            if not values:
                return Unknown(f"{self._name_of(node)}() returns nothing mlfix can read")
            return self.merge(f"{self._name_of(node)}()", values)
        finally:
            del self._overrides[id(frame)]

    @staticmethod
    def _name_of(node: FunctionNode | ast.Lambda) -> str:
        return "<lambda>" if isinstance(node, ast.Lambda) else node.name

    # -- classes: constants, dataclasses, pydantic settings ---------------------------

    def _bases(self, cls: ClassRef) -> Iterator[tuple[ast.expr, Value]]:
        for base in cls.node.bases:
            parent = cls.scope.parent or cls.scope.module
            yield base, self.eval(base, parent)

    def is_settings(self, cls: ClassRef, depth: int = 0) -> bool:
        """A pydantic-settings class: its fields read environment variables."""
        for base, value in self._bases(cls):
            last = last_name(base)
            if last == "BaseSettings":
                return True
            if isinstance(value, ClassRef) and depth < 8 and self.is_settings(value, depth + 1):
                return True
        return False

    def _settings_config(self, cls: ClassRef, depth: int = 0) -> tuple[str, bool]:
        """(env_prefix, case_sensitive) from `model_config = ...` or an inner `class Config`."""
        prefix: str | None = None
        case_sensitive: bool | None = None
        scope = cls.scope
        for binding in scope.lookup_local("model_config") or []:
            if isinstance(binding.value, ast.Call):
                for keyword in binding.value.keywords:
                    prefix, case_sensitive = self._config_item(
                        keyword.arg, keyword.value, scope, prefix, case_sensitive
                    )
            elif isinstance(binding.value, ast.Dict):
                for key, item in zip(binding.value.keys, binding.value.values, strict=True):
                    if isinstance(key, ast.Constant) and isinstance(key.value, str):
                        prefix, case_sensitive = self._config_item(
                            key.value, item, scope, prefix, case_sensitive
                        )
        for binding in scope.lookup_local("Config") or []:
            if binding.kind == "class" and isinstance(binding.node, ast.ClassDef):
                inner = scope.file.scope(binding.node, scope)
                for name in ("env_prefix", "case_sensitive"):
                    for setting in inner.lookup_local(name) or []:
                        if setting.value is not None:
                            prefix, case_sensitive = self._config_item(
                                name, setting.value, inner, prefix, case_sensitive
                            )
        if (prefix is None or case_sensitive is None) and depth < 8:
            for _, value in self._bases(cls):
                if isinstance(value, ClassRef):
                    base_prefix, base_case = self._settings_config(value, depth + 1)
                    prefix = base_prefix if prefix is None else prefix
                    case_sensitive = base_case if case_sensitive is None else case_sensitive
        return prefix or "", bool(case_sensitive)

    def _config_item(
        self, key: str | None, value: ast.expr, scope: Scope, prefix: str | None, case: bool | None
    ) -> tuple[str | None, bool | None]:
        evaluated = self.eval(value, scope)
        if key == "env_prefix" and isinstance(evaluated, Text):
            return evaluated.value, case
        if (
            key == "case_sensitive"
            and isinstance(evaluated, Const)
            and isinstance(evaluated.value, bool)
        ):
            return prefix, evaluated.value
        return prefix, case

    def _field_parts(
        self, value: ast.expr | None, scope: Scope
    ) -> tuple[ast.expr | None, bool, str | None]:
        """Unwrap `Field(...)`/`field(...)`: (default expression, is_factory, env alias)."""
        if not isinstance(value, ast.Call):
            return value, False, None
        name = last_name(value.func)
        if name not in ("Field", "field"):
            return value, False, None
        default: ast.expr | None = value.args[0] if value.args else None
        factory = False
        alias: str | None = None
        for keyword in value.keywords:
            if keyword.arg == "default":
                default = keyword.value
            elif keyword.arg == "default_factory":
                default, factory = keyword.value, True
            elif keyword.arg in ("env", "validation_alias", "alias"):
                evaluated = self.eval(keyword.value, scope)
                if isinstance(evaluated, Text) and (alias is None or keyword.arg != "alias"):
                    alias = evaluated.value
        return default, factory, alias

    def _fields(self, cls: ClassRef) -> list[str]:
        """Field names in order, for dataclass-style positional construction."""
        names: list[str] = []
        for stmt in cls.node.body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                annotation = cls.scope.file.segment(stmt.annotation)
                if "ClassVar" not in annotation:
                    names.append(stmt.target.id)
        return names

    def class_attribute(
        self, cls: ClassRef, attr: str, instance: Instance | None, depth: int = 0
    ) -> Value:
        scope = cls.scope
        if instance is not None and instance.call is not None and instance.call_scope is not None:
            passed = self._constructor_argument(cls, attr, instance)
            if passed is not None:
                return passed
        class_bindings = scope.lookup_local(attr)
        settings = self.is_settings(cls)
        if class_bindings and class_bindings[-1].kind in ("def",):
            node = class_bindings[-1].node
            assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            if any(last_name(d) in ("property", "cached_property") for d in node.decorator_list):
                return self.call_function(FunctionRef(node, scope, instance), None, None)
            return FunctionRef(node, scope, instance)
        if class_bindings:
            binding = class_bindings[-1]
            default_expr, factory, alias = self._field_parts(binding.value, scope)
            step = f"{cls.node.name}.{attr} ({scope.file.display}:{binding.line})"
            if settings:
                if alias is not None:
                    env_name, case_sensitive = alias, False
                else:
                    prefix, case_sensitive = self._settings_config(cls)
                    env_name = f"{prefix}{attr}"
                    env_name = env_name if case_sensitive else env_name.upper()
                default: Value | None
                if default_expr is None:
                    default = None
                elif factory:
                    callee = self.eval(default_expr, scope)
                    default = (
                        self.call_function(callee, None, None)
                        if isinstance(callee, FunctionRef)
                        else Unknown("a default factory")
                    )
                else:
                    default = self.eval(default_expr, scope)
                value = self.env_lookup(env_name, default, case_sensitive=case_sensitive)
                return value.note(step) if isinstance(value, Text) else value
            if default_expr is None:
                return Unknown(f"{cls.node.name}.{attr} has no default (line {binding.line})")
            if factory:
                callee = self.eval(default_expr, scope)
                value = (
                    self.call_function(callee, None, None)
                    if isinstance(callee, FunctionRef)
                    else Unknown("a default factory")
                )
            else:
                value = self.eval(default_expr, scope)
            return value.note(step) if isinstance(value, Text) else value
        assigned = self._self_assignments(cls, attr, instance)
        if assigned is not None:
            return assigned
        if depth < 8:
            for _, base in self._bases(cls):
                if isinstance(base, ClassRef):
                    found = self.class_attribute(base, attr, instance, depth + 1)
                    if not (isinstance(found, Unknown) and found.reason.startswith("no attribute")):
                        return found
        return Unknown(f"no attribute '{attr}' on {cls.node.name} that mlfix can read")

    def _constructor_argument(self, cls: ClassRef, attr: str, instance: Instance) -> Value | None:
        call = instance.call
        call_scope = instance.call_scope
        assert call is not None and call_scope is not None
        for keyword in call.keywords:
            if keyword.arg == attr:
                return self.eval(keyword.value, call_scope)
        if call.args and cls.scope.lookup_local("__init__") is None:
            fields = self._fields(cls)
            if attr in fields:
                index = fields.index(attr)
                if index < len(call.args) and not any(
                    isinstance(a, ast.Starred) for a in call.args
                ):
                    return self.eval(call.args[index], call_scope)
        return None

    def _self_assignments(
        self, cls: ClassRef, attr: str, instance: Instance | None
    ) -> Value | None:
        """`self.attr = value` in the class's methods, evaluated in each method's scope."""
        key = ("self-assignments", id(cls.node))
        index = cls.scope.file.cache.get(key)
        if index is None:
            index = cls.scope.file.cache[key] = _index_self_assignments(cls.node)
        assert isinstance(index, dict)
        values: list[tuple[Binding, Value]] = []
        frames: dict[int, Scope] = {}
        for method, node, value in index.get(attr, ()):
            frame = frames.get(id(method))
            if frame is None:
                frame = frames[id(method)] = self._method_frame(method, cls, instance)
            binding = Binding("assign", attr, node, node.lineno, value)
            values.append((binding, self.eval(value, frame)))
        if not values:
            return None
        merged = self.merge(f"self.{attr}", values)
        step = f"self.{attr} ({cls.scope.file.display}:{values[0][0].line})"
        return merged.note(step) if isinstance(merged, Text) else merged

    def _method_frame(
        self, method: FunctionNode, cls: ClassRef, instance: Instance | None
    ) -> Scope:
        """The method's scope; for `__init__` of a constructed instance, its arguments bound."""
        scope = cls.scope.file.scope(method, cls.scope)
        if (
            method.name != "__init__"
            or instance is None
            or instance.call is None
            or instance.call_scope is None
        ):
            return scope
        frame = Scope("function", method, cls.scope.file, cls.scope)
        call = instance.call
        params = [*method.args.posonlyargs, *method.args.args][1:]
        overrides: dict[str, Value] = {}
        if not any(isinstance(a, ast.Starred) for a in call.args):
            for param, arg in zip(params, call.args, strict=False):
                overrides[param.arg] = self.eval(arg, instance.call_scope)
        for keyword in call.keywords:
            if keyword.arg is not None:
                overrides[keyword.arg] = self.eval(keyword.value, instance.call_scope)
        self._overrides[id(frame)] = overrides
        return frame

    # -- argparse ---------------------------------------------------------------------

    def _argparse_default(self, scope: Scope, attr: str) -> Value:
        """`args.model` after `parser.parse_args()`: the option's default, if it has one."""
        for node in ast.walk(scope.file.tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr != "add_argument" or not node.args:
                continue
            flags = [
                a.value
                for a in node.args
                if isinstance(a, ast.Constant) and isinstance(a.value, str)
            ]
            if not flags:
                continue
            dest: str | None = None
            default: ast.expr | None = None
            for keyword in node.keywords:
                if keyword.arg == "dest" and isinstance(keyword.value, ast.Constant):
                    dest = str(keyword.value.value)
                elif keyword.arg == "default":
                    default = keyword.value
            if dest is None:
                longs = [f for f in flags if f.startswith("--")]
                first = longs[0] if longs else flags[0]
                dest = first.lstrip("-").replace("-", "_")
            if dest != attr:
                continue
            option = flags[0]
            if default is None:
                if option.startswith("-"):
                    return Unknown(f"the command-line option {option} (no default)")
                return Unknown(f"the command-line argument '{option}'")
            value = self.eval(default, scope.module)
            if isinstance(value, Text):
                return value.note(f"argparse default of {option}", exact=False)
            return value
        return Unknown(f"the command-line option '{attr}'")
