"""Calls to the project's own functions: the value they return with the call's arguments
bound to their parameters."""

from __future__ import annotations

import ast

from mlfix.scan.resolve.base import EvaluatorBase
from mlfix.scan.resolve.util import (
    returns,
)
from mlfix.scan.source import Binding, FunctionNode, Scope
from mlfix.scan.values import (
    FunctionRef,
    NoneValue,
    Unknown,
    Value,
)


class Calls(EvaluatorBase):
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
            for ret in returns(node.body):
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
