"""What the evaluator's parts share: state, and the methods one part calls on another
(each implemented in its own module, combined in `Evaluator`)."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from mlfix.scan.resolve.project import Project
from mlfix.scan.source import Binding, Scope, SourceFile
from mlfix.scan.values import ClassRef, FunctionRef, Instance, Value

if TYPE_CHECKING:
    pass


class EvaluatorBase:
    project: Project
    _active: set[tuple[int, str]]
    _overrides: dict[int, dict[str, Value]]
    use: tuple[SourceFile | None, int]  # where the name being looked up is used
    call_site_depth: int = 0

    def eval(self, expr: ast.expr, scope: Scope) -> Value:
        raise NotImplementedError

    def lookup(self, name: str, scope: Scope) -> Value:
        raise NotImplementedError

    def merge(self, name: str, values: list[tuple[Binding, Value]]) -> Value:
        raise NotImplementedError

    def qualname(self, expr: ast.expr, scope: Scope, depth: int = 0) -> str | None:
        raise NotImplementedError

    def _find_bindings(self, name: str, scope: Scope) -> tuple[list[Binding], Scope] | None:
        raise NotImplementedError

    def env_lookup(self, name: str, default: Value | None, *, case_sensitive: bool = True) -> Value:
        raise NotImplementedError

    def _env_call(self, call: ast.Call, scope: Scope) -> Value:
        raise NotImplementedError

    def attribute_of(self, base: Value, attr: str) -> Value:
        raise NotImplementedError

    def class_attribute(
        self, cls: ClassRef, attr: str, instance: Instance | None, depth: int = 0
    ) -> Value:
        raise NotImplementedError

    def call_function(
        self, function: FunctionRef, call: ast.Call | None, call_scope: Scope | None
    ) -> Value:
        raise NotImplementedError

    def call_site_values(self, binding: Binding, scope: Scope) -> Value | None:
        raise NotImplementedError

    def config_call(self, name: str, call: ast.Call, scope: Scope) -> Value | None:
        raise NotImplementedError

    def argv_item(self, scope: Scope, index: int) -> Value:
        raise NotImplementedError

    def _argparse_default(self, scope: Scope, attr: str) -> Value:
        raise NotImplementedError
