"""The values the evaluator can know about an expression without running it."""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace

from mlfix.scan.source import FunctionNode, Scope


@dataclass(frozen=True)
class Text:
    """A string known at scan time, with where it came from.

    `env_vars` are the environment variables read on the way, `from_dockerfile` says one of
    them took the Dockerfile's value, `exact` is False when the value is only a default that
    callers may override (a parameter default, an argparse default).
    """

    value: str
    env_vars: tuple[str, ...] = ()
    from_dockerfile: bool = False
    exact: bool = True
    via: tuple[str, ...] = ()

    def join(self, other: Text, value: str) -> Text:
        return Text(
            value,
            self.env_vars + tuple(v for v in other.env_vars if v not in self.env_vars),
            self.from_dockerfile or other.from_dockerfile,
            self.exact and other.exact,
            self.via + tuple(v for v in other.via if v not in self.via),
        )

    def note(self, step: str, *, exact: bool = True) -> Text:
        via = self.via if step in self.via else (*self.via, step)
        return replace(self, via=via, exact=self.exact and exact)


@dataclass(frozen=True)
class Unknown:
    """A value mlfix cannot know statically; `reason` is shown to the user (MLF304).

    `unset_env` names the variable when the value is an environment variable that has no
    default in the code and no value in the Dockerfile, so `os.getenv("X") or "default"`
    can fall through to the default.
    """

    reason: str
    unset_env: str | None = None


@dataclass(frozen=True)
class NoneValue:
    pass


@dataclass(frozen=True)
class Const:
    """A non-string constant (bool, number)."""

    value: object


@dataclass(frozen=True)
class LocalPath:
    """A filesystem path built in code (`Path(...)`, `os.path.join`, `__file__`)."""

    text: str | None


@dataclass(frozen=True)
class Opaque:
    """A known object that is not a name: a loaded model, a tensor, a client."""

    what: str


@dataclass(frozen=True)
class Sequence:
    items: tuple[Value, ...]


@dataclass(frozen=True)
class Each:
    """A loop variable over a collection mlfix can read (`for name in MODELS.values():`):
    the loop body runs once per item, so a loader there loads every one of them."""

    items: tuple[Text, ...]
    line: int


@dataclass(frozen=True)
class Mapping:
    items: tuple[tuple[Value, Value], ...]


@dataclass(frozen=True)
class ModuleRef:
    """An imported project module (or a third-party one, with `scope` None)."""

    name: str
    scope: Scope | None


@dataclass(frozen=True)
class ClassRef:
    node: ast.ClassDef
    scope: Scope  # the class's own scope


@dataclass(frozen=True)
class Instance:
    """`Cls(...)`: the class plus the call that made it (keyword values override fields)."""

    cls: ClassRef
    call: ast.Call | None
    call_scope: Scope | None


@dataclass(frozen=True)
class FunctionRef:
    """A project function; `bound` is the instance when it is a method looked up on one."""

    node: FunctionNode | ast.Lambda
    scope: Scope  # the scope the function is defined in
    bound: Value | None = None


@dataclass(frozen=True)
class ParsedArgs:
    """The result of `parser.parse_args()`: attributes are argparse defaults."""

    scope: Scope


Value = (
    Text
    | Unknown
    | NoneValue
    | Const
    | LocalPath
    | Opaque
    | Sequence
    | Mapping
    | ModuleRef
    | ClassRef
    | Instance
    | FunctionRef
    | ParsedArgs
    | Each
)


def describe(value: Value) -> str:
    """A short phrase for a value that is not a usable name, for MLF304 messages."""
    if isinstance(value, Unknown):
        return value.reason
    if isinstance(value, NoneValue):
        return "the value is None"
    if isinstance(value, Const):
        return f"the value is {value.value!r}, not a string"
    if isinstance(value, Opaque):
        return f"the value is {value.what}, not a name"
    if isinstance(value, Each):
        return "a loop variable over " + ", ".join(repr(item.value) for item in value.items[:3])
    if isinstance(value, (Sequence, Mapping)):
        return "the value is a collection, not a name"
    if isinstance(value, (ModuleRef, ClassRef, FunctionRef)):
        return "the value is a module, class or function, not a name"
    if isinstance(value, Instance):
        return f"the value is an instance of {value.cls.node.name}, not a name"
    if isinstance(value, ParsedArgs):
        return "the value is the parsed command line"
    if isinstance(value, LocalPath):
        return "the value is a filesystem path"
    return "the value is known"
