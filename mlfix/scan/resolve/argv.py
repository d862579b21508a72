"""Command-line options: `args.model` after `parser.parse_args()` is the option's default."""

from __future__ import annotations

import ast

from mlfix.scan.resolve.base import EvaluatorBase
from mlfix.scan.source import Scope
from mlfix.scan.values import (
    Text,
    Unknown,
    Value,
)


class Argv(EvaluatorBase):
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
