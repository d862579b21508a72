"""Work out, without running anything, which string an expression holds.

A model name is rarely a literal at the call: it comes from a module constant, a constant
imported from another module of the project, an environment variable with a default, a
settings class, an argparse default, a project function's return value. The evaluator
follows those statically, one part per kind of source (names, expressions, env, settings,
argv, calls). It never imports or executes scanned code: it reads syntax trees, and what
it cannot know it reports as `Unknown` with a reason the user can act on (MLF304).
Each file gets a budget of evaluated values (MAX_EVALS), so no file costs unbounded time.
"""

from __future__ import annotations

import ast

from mlfix.scan.resolve.argv import Argv
from mlfix.scan.resolve.call_sites import CallSites
from mlfix.scan.resolve.calls import Calls
from mlfix.scan.resolve.configs import Configs
from mlfix.scan.resolve.env import Env
from mlfix.scan.resolve.expressions import Expressions
from mlfix.scan.resolve.names import Names
from mlfix.scan.resolve.project import Project
from mlfix.scan.resolve.settings import Settings
from mlfix.scan.resolve.util import MAX_DEPTH, MAX_EVALS, last_name
from mlfix.scan.source import Scope, SourceFile
from mlfix.scan.values import Sequence, Text, Unknown, Value

__all__ = ["MAX_EVALS", "Evaluator", "Project", "last_name"]


class Evaluator(Names, Expressions, Env, Settings, Argv, Calls, CallSites, Configs):
    """Evaluates expressions to `Value`s. One per scan; holds no per-file state but the budget."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._active: set[tuple[int, str]] = set()
        self._overrides: dict[int, dict[str, Value]] = {}
        self._depth = 0
        self.budget = MAX_EVALS
        self.exhausted = False
        self.use: tuple[SourceFile | None, int] = (None, 0)

    def start_file(self) -> None:
        """A new file gets a fresh evaluation budget (see MAX_EVALS)."""
        self.budget = MAX_EVALS
        self.exhausted = False

    def eval(self, expr: ast.expr, scope: Scope) -> Value:
        self.budget -= 1
        if self.budget < 0:
            self.exhausted = True
            return Unknown(f"mlfix stops after evaluating {MAX_EVALS} values in one file")
        if self._depth > MAX_DEPTH:
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
