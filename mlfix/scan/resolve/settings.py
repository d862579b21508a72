"""Classes: class constants, dataclass and pydantic fields, `self.attr = ...` in methods,
pydantic-settings fields that read environment variables (prefix, alias, case)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from mlfix.scan.resolve.base import EvaluatorBase
from mlfix.scan.resolve.util import (
    index_self_assignments,
    last_name,
)
from mlfix.scan.source import Binding, FunctionNode, Scope
from mlfix.scan.values import (
    ClassRef,
    Const,
    FunctionRef,
    Instance,
    Text,
    Unknown,
    Value,
)


class Settings(EvaluatorBase):
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
            index = cls.scope.file.cache[key] = index_self_assignments(cls.node)
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
