"""Command-line options: `args.model` after `parser.parse_args()`, and `sys.argv[i]`.

When the image's start command (ENTRYPOINT + CMD, or compose `command:`) runs this file
with arguments, those are what the code reads: `--model NAME` / `--model=NAME` for an
option, the i-th argument for `sys.argv[i]`. Otherwise an option has its default.
"""

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
            given = self._given(scope, flags)
            if given is not None:
                return given
            if default is None:
                if option.startswith("-"):
                    return Unknown(f"the command-line option {option} (no default)")
                return Unknown(f"the command-line argument '{option}'")
            value = self.eval(default, scope.module)
            if isinstance(value, Text):
                return value.note(f"argparse default of {option}", exact=False)
            return value
        return Unknown(f"the command-line option '{attr}'")

    def _given(self, scope: Scope, flags: list[str]) -> Value | None:
        """The value the start command passes for these flags (or the first positional
        argument, for a positional with only positional arguments given), if it runs this
        file."""
        args = self.project.argv_for(scope.file)
        if args is None:
            return None
        for index, token in enumerate(args):
            for flag in flags:
                if not flag.startswith("-"):
                    continue
                if token == flag and index + 1 < len(args):
                    return self._from_command(args[index + 1], flag)
                if token.startswith(flag + "="):
                    return self._from_command(token[len(flag) + 1 :], flag)
        return None

    def argv_item(self, scope: Scope, index: int) -> Value:
        """`sys.argv[index]` when the start command runs this file."""
        args = self.project.argv_for(scope.file)
        if args is None:
            return Unknown("a command-line argument (sys.argv)")
        if 1 <= index <= len(args):
            return self._from_command(args[index - 1], f"sys.argv[{index}]")
        return Unknown(f"sys.argv[{index}]: the start command passes {len(args)} arguments")

    @staticmethod
    def _from_command(value: str, what: str) -> Text:
        return Text(value, (), True, True, (f"{what} from the image's start command",))
