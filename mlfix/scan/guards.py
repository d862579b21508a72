"""Loader calls inside `if name == "value":` branches: a finite set chosen by code.

`if model == "gpt-2": load("gpt2") elif model == "llama-7b": load("meta-llama/...")` loads
one of the alternatives, not all of them. When mlfix can read the value the branch tests
(a default, an env default, a Dockerfile ENV), only the branch it selects loads; the others
are not baked. When it cannot, and the test is one of an if/elif chain on the same value
(two or more alternatives), which one runs is chosen at run time: the loads become MLF304
with the alternative named, instead of every alternative being baked. A lone `if` whose
value is unknown is left as before (its load may well be the default path).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace

from mlfix.scan.refs import ModelRef, RefKind
from mlfix.scan.values import Text


@dataclass(frozen=True)
class Guard:
    """A branch taken when `subject == value` (`positive`) or when it is not."""

    subject: ast.expr
    value: str
    positive: bool
    chained: bool  # part of an if/elif chain testing the same subject


def equality(test: ast.expr) -> tuple[ast.expr, str] | None:
    """(subject, "value") for `subject == "value"` or `"value" == subject`."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return None
    if not isinstance(test.ops[0], ast.Eq):
        return None
    left, right = test.left, test.comparators[0]
    if isinstance(left, ast.Constant) and isinstance(left.value, str):
        left, right = right, left
    if not (isinstance(right, ast.Constant) and isinstance(right.value, str)):
        return None
    if isinstance(left, ast.Name) and left.id == "__name__":
        return None  # `if __name__ == "__main__":` is the script's own entry
    if isinstance(left, ast.Constant):
        return None
    return left, right.value


def chain_length(stmt: ast.If, subject: ast.expr) -> int:
    """How many tests of `subject` against a string the if/elif chain from `stmt` has."""
    dumped = ast.dump(subject)
    count = 0
    current: ast.stmt | None = stmt
    while isinstance(current, ast.If):
        found = equality(current.test)
        if found is None or ast.dump(found[0]) != dumped:
            break
        count += 1
        current = current.orelse[0] if len(current.orelse) == 1 else None
    return count


def branch_guards(stmt: ast.If, inherited: bool) -> tuple[Guard, Guard] | None:
    """The guards of an `if` statement's body and of its `else`/`elif` part."""
    found = equality(stmt.test)
    if found is None:
        return None
    subject, value = found
    chained = inherited or chain_length(stmt, subject) >= 2
    return Guard(subject, value, True, chained), Guard(subject, value, False, chained)


def apply(ref: ModelRef, guard: Guard, subject: object) -> ModelRef | None:
    """The ref under `guard` whose subject evaluated to `subject`: kept, dropped (None: the
    branch is not the one taken) or unresolved (a chain on a value mlfix cannot read)."""
    if isinstance(subject, Text):
        return ref if (subject.value == guard.value) == guard.positive else None
    if not guard.chained or ref.kind is not RefKind.HUB:
        return ref
    shown = ast.unparse(guard.subject)
    test = "==" if guard.positive else "!="
    reason = (
        f"loaded only when {shown} {test} {guard.value!r}, one of several alternatives"
        f" chosen at run time by {shown}"
    )
    return replace(ref, kind=RefKind.UNRESOLVED, repo_id=None, unresolved_reason=reason)
