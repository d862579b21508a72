"""Environment variables: the image's value (the Dockerfile's ENV/ARG) before the code's
default, because that is what runs."""

from __future__ import annotations

import ast

from mlfix.scan.resolve.base import EvaluatorBase
from mlfix.scan.source import Scope
from mlfix.scan.values import (
    NoneValue,
    Text,
    Unknown,
    Value,
)


class Env(EvaluatorBase):
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
