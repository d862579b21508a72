"""Names: what a name is bound to in its scope, across the project's modules.

Module constants, names imported from other project modules (`from .config import MODEL`),
parameters and their defaults. A name bound in several places has one value only when
all of them agree (the `x = os.getenv(...)` then `if not x: x = ...` idiom included).
"""

from __future__ import annotations

import ast

from mlfix.scan.resolve.base import EvaluatorBase
from mlfix.scan.resolve.util import (
    is_classmethod,
    is_staticmethod,
)
from mlfix.scan.source import Binding, Scope
from mlfix.scan.values import (
    ClassRef,
    Each,
    FunctionRef,
    Instance,
    LocalPath,
    Mapping,
    ModuleRef,
    NoneValue,
    Sequence,
    Text,
    Unknown,
    Value,
)


class Names(EvaluatorBase):
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
        bindings = self._enclosing_loop(bindings, scope) or bindings
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

    def _enclosing_loop(self, bindings: list[Binding], scope: Scope) -> list[Binding] | None:
        """A name used inside the `for` loop (or `with open(...) as name` block) that binds
        it has that statement's value, whatever else binds the name in the scope."""
        file, line = self.use
        if file is not scope.file:
            return None
        inside = [
            b
            for b in bindings
            if isinstance(b.node, (ast.For, ast.AsyncFor, ast.With, ast.AsyncWith))
            and b.value is not None
            and b.line <= line <= (getattr(b.node, "end_lineno", None) or b.line)
        ]
        return [max(inside, key=lambda b: b.line)] if inside else None

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
        # `get_config()` reached along several paths: one object, made by one call.
        made = {(id(v.cls.node), id(v.call)) for _, v in kept if isinstance(v, Instance)}
        if len(made) == 1 and all(isinstance(v, Instance) for _, v in kept):
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
        if kind == "loop":
            return self._loop(binding, scope)
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

    def _loop(self, binding: Binding, scope: Scope) -> Value:
        """`for name in <collection>`: every item, when all are strings mlfix can read
        (a list, tuple or set, a dict's keys or values)."""
        assert binding.value is not None
        iterable = binding.value
        method = None
        if (
            isinstance(iterable, ast.Call)
            and isinstance(iterable.func, ast.Attribute)
            and iterable.func.attr in ("values", "keys")
            and not iterable.args
        ):
            method = iterable.func.attr
            iterable = iterable.func.value
        value = self.eval(iterable, scope)
        items: tuple[Value, ...] = ()
        if isinstance(value, Sequence) and method is None:
            items = value.items
        elif isinstance(value, Mapping):
            items = tuple(k if method != "values" else v for k, v in value.items)
        texts = tuple(item for item in items if isinstance(item, Text))
        if not items or len(texts) != len(items):
            return Unknown(f"'{binding.name}' is a loop variable (line {binding.line})")
        step = f"loop over line {binding.line}"
        return Each(tuple(text.note(step) for text in texts), binding.line)

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
                and not is_staticmethod(function)
            ):
                cls = ClassRef(owner.node, owner)
                return cls if is_classmethod(function) else Instance(cls, None, None)
        if binding.reason:
            return Unknown(
                f"'{binding.name}' collects the extra arguments of {scope.function_name()}()"
            )
        passed = self.call_site_values(binding, scope)
        if passed is not None:
            return passed
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
