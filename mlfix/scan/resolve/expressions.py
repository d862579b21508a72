"""Expressions: literals, f-strings, `+`/`%`/`/` on strings and paths, `or`, attributes,
subscripts and the calls mlfix knows the result of (str methods, os.path, loaders)."""

from __future__ import annotations

import ast

from mlfix.scan.resolve.base import EvaluatorBase
from mlfix.scan.resolve.util import (
    ENV_GETTERS,
    PATH_FUNCTIONS,
    RESULT_IS_MODEL,
    STR_METHODS,
    path_text,
)
from mlfix.scan.source import Scope
from mlfix.scan.values import (
    ClassRef,
    Const,
    FunctionRef,
    Instance,
    LocalPath,
    Mapping,
    ModuleRef,
    NoneValue,
    Opaque,
    ParsedArgs,
    Sequence,
    Text,
    Unknown,
    Value,
    describe,
)

# FastAPI dependency markers: the parameter holds what the dependency returns.
DEPENDS = frozenset({"fastapi.Depends", "fastapi.params.Depends", "fastapi.Security"})


class Expressions(EvaluatorBase):
    def _eval(self, expr: ast.expr, scope: Scope) -> Value:
        if isinstance(expr, ast.Constant):
            value = expr.value
            if isinstance(value, str):
                return Text(value)
            if value is None:
                return NoneValue()
            if isinstance(value, bytes):
                return Opaque("bytes")
            if value is Ellipsis:
                return Unknown("the value is '...' (required)")
            return Const(value)
        if isinstance(expr, ast.Name):
            self.use = (scope.file, expr.lineno)
            return self.lookup(expr.id, scope)
        if isinstance(expr, ast.JoinedStr):
            return self._fstring(expr, scope)
        if isinstance(expr, ast.BinOp):
            return self._binop(expr, scope)
        if isinstance(expr, ast.Attribute):
            return self._attribute(expr, scope)
        if isinstance(expr, ast.Call):
            return self._call(expr, scope)
        if isinstance(expr, ast.Subscript):
            return self._subscript(expr, scope)
        if isinstance(expr, ast.BoolOp):
            return self._boolop(expr, scope)
        if isinstance(expr, ast.IfExp):
            body = self.eval(expr.body, scope)
            orelse = self.eval(expr.orelse, scope)
            if isinstance(body, Text) and isinstance(orelse, Text) and body.value == orelse.value:
                return body
            shown = " or ".join(repr(v.value) for v in (body, orelse) if isinstance(v, Text))
            return Unknown("chosen at runtime by a condition" + (f" ({shown})" if shown else ""))
        if isinstance(expr, (ast.List, ast.Tuple, ast.Set)):
            return Sequence(tuple(self.eval(item, scope) for item in expr.elts))
        if isinstance(expr, ast.Dict):
            items: list[tuple[Value, Value]] = []
            for key, item in zip(expr.keys, expr.values, strict=True):
                if key is None:
                    return Unknown("a dict built with ** unpacking")
                items.append((self.eval(key, scope), self.eval(item, scope)))
            return Mapping(tuple(items))
        if isinstance(expr, ast.Lambda):
            return FunctionRef(expr, scope)
        if isinstance(expr, ast.NamedExpr):
            return self.eval(expr.value, scope)
        if isinstance(expr, ast.Starred):
            return Unknown("unpacked with *")
        return Unknown(f"computed by an expression mlfix does not evaluate ({type(expr).__name__})")

    def _fstring(self, expr: ast.JoinedStr, scope: Scope) -> Value:
        result = Text("")
        for part in expr.values:
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                result = result.join(Text(part.value), result.value + part.value)
                continue
            if not isinstance(part, ast.FormattedValue):
                return Unknown("an f-string part mlfix does not evaluate")
            if part.format_spec is not None:
                return Unknown("an f-string with a format spec")
            value = self.eval(part.value, scope)
            if isinstance(value, Const) and part.conversion == -1:
                value = Text(str(value.value))
            if not isinstance(value, Text):
                return (
                    value
                    if isinstance(value, Unknown)
                    else Unknown(f"an f-string part: {describe(value)}")
                )
            piece = value.value
            if part.conversion == ord("r"):
                piece = repr(piece)
            elif part.conversion == ord("a"):
                piece = ascii(piece)
            result = result.join(value, result.value + piece)
        return result

    def _binop(self, expr: ast.BinOp, scope: Scope) -> Value:
        left = self.eval(expr.left, scope)
        right = self.eval(expr.right, scope)
        if isinstance(expr.op, ast.Add):
            if isinstance(left, Text) and isinstance(right, Text):
                return left.join(right, left.value + right.value)
            if isinstance(left, LocalPath) or isinstance(right, LocalPath):
                return LocalPath(None)
        elif isinstance(expr.op, ast.Div) and (
            isinstance(left, LocalPath) or isinstance(right, LocalPath)
        ):
            known = [path_text(side) for side in (left, right)]
            return LocalPath(
                "/".join(k for k in known if k is not None) if None not in known else None
            )
        elif isinstance(expr.op, ast.Mod) and isinstance(left, Text):
            parts = right.items if isinstance(right, Sequence) else (right,)
            if all(isinstance(p, (Text, Const)) for p in parts):
                args = tuple(p.value for p in parts if isinstance(p, (Text, Const)))
                try:
                    formatted = left.value % args
                except (TypeError, ValueError, KeyError):
                    return Unknown("a %-format mlfix cannot apply")
                result = left
                for part in parts:
                    if isinstance(part, Text):
                        result = result.join(part, result.value)
                return Text(
                    formatted, result.env_vars, result.from_dockerfile, result.exact, result.via
                )
        for side in (left, right):
            if isinstance(side, Unknown):
                return side
        return Unknown("computed by an operation on values mlfix cannot combine")

    def _boolop(self, expr: ast.BoolOp, scope: Scope) -> Value:
        if not isinstance(expr.op, ast.Or):
            return Unknown("chosen at runtime by an 'and' expression")
        skipped: list[str] = []
        for operand in expr.values:
            value = self.eval(operand, scope)
            if isinstance(value, Text) and value.value:
                env = tuple(name for name in skipped if name not in value.env_vars)
                return Text(
                    value.value, value.env_vars + env, value.from_dockerfile, value.exact, value.via
                )
            if isinstance(value, Unknown) and value.unset_env:
                skipped.append(value.unset_env)
                continue
            if isinstance(value, (NoneValue, Text)):
                continue
            return value
        return Unknown("every alternative of an 'or' is empty or unset")

    def _attribute(self, expr: ast.Attribute, scope: Scope) -> Value:
        base = self.eval(expr.value, scope)
        return self.attribute_of(base, expr.attr)

    def attribute_of(self, base: Value, attr: str) -> Value:
        if isinstance(base, Mapping):  # OmegaConf / attribute-style config access
            for key, item in base.items:
                if isinstance(key, Text) and key.value == attr:
                    return item
            return Unknown(f"the config has no key {attr!r}")
        if isinstance(base, ModuleRef):
            if base.scope is None:
                return ModuleRef(f"{base.name}.{attr}", None)
            module = base.scope
            if module.lookup_local(attr) or module.star_imports:
                value = self.lookup(attr, module)
                if not (isinstance(value, Unknown) and "is not defined" in value.reason):
                    return value
            sub = self.project.module_scope(f"{base.name}.{attr}", module.file, 0)
            if sub is None and module.file.path.name == "__init__.py":
                sub = self.project.module_scope(attr, module.file, 1)
            if sub is not None:
                return ModuleRef(f"{base.name}.{attr}", sub)
            return Unknown(f"'{attr}' is not defined in {module.file.display}")
        if isinstance(base, ClassRef):
            return self.class_attribute(base, attr, None)
        if isinstance(base, Instance):
            return self.class_attribute(base.cls, attr, base)
        if isinstance(base, LocalPath):
            return LocalPath(None)  # .parent, .stem, methods such as .resolve: still a path
        if isinstance(base, ParsedArgs):
            return self._argparse_default(base.scope, attr)
        if isinstance(base, Unknown):
            return base
        return Unknown(f"the attribute '{attr}' of {describe(base)}")

    def _subscript(self, expr: ast.Subscript, scope: Scope) -> Value:
        base = self.eval(expr.value, scope)
        key = self.eval(expr.slice, scope)
        if isinstance(base, ModuleRef) and base.scope is None:
            if base.name == "os.environ":
                if isinstance(key, Text):
                    return self.env_lookup(key.value, None)
                return Unknown("an environment variable whose name is computed")
            if base.name == "sys.argv":
                if isinstance(key, Const) and isinstance(key.value, int):
                    return self.argv_item(scope, key.value)
                return Unknown("a command-line argument (sys.argv)")
            return Unknown(f"a value read from {base.name}")
        if isinstance(base, Mapping) and isinstance(key, Text):
            for item_key, item_value in base.items:
                if isinstance(item_key, Text) and item_key.value == key.value:
                    return item_value
            return Unknown(f"the key {key.value!r} is not in the dict")
        if isinstance(base, Sequence) and isinstance(key, Const) and isinstance(key.value, int):
            try:
                return base.items[key.value]
            except IndexError:
                return Unknown("an index past the end of a list")
        if isinstance(base, Unknown):
            return base
        if isinstance(key, Unknown):
            return Unknown(f"looked up with a key that is {key.reason}")
        return Unknown("looked up in a collection mlfix cannot index")

    def _call(self, call: ast.Call, scope: Scope) -> Value:
        func = call.func
        if isinstance(func, ast.Attribute):
            if func.attr in RESULT_IS_MODEL:
                return Opaque("a loaded model")
            if func.attr == "parse_args":
                return ParsedArgs(scope)
            if func.attr in STR_METHODS:
                receiver = self.eval(func.value, scope)
                if isinstance(receiver, Text):
                    return self._str_method(receiver, func.attr, call, scope)
                if isinstance(receiver, Unknown):
                    return receiver
            if func.attr == "get":
                receiver = self.eval(func.value, scope)
                if isinstance(receiver, Mapping) and call.args:
                    key = self.eval(call.args[0], scope)
                    if isinstance(key, Text):
                        for item_key, item_value in receiver.items:
                            if isinstance(item_key, Text) and item_key.value == key.value:
                                return item_value
                        return self.eval(call.args[1], scope) if len(call.args) > 1 else NoneValue()
        callee = self.eval(func, scope)
        if isinstance(callee, ModuleRef) and callee.scope is None:
            name = callee.name
            if name in ENV_GETTERS:
                return self._env_call(call, scope)
            if name in PATH_FUNCTIONS:
                texts = [path_text(self.eval(arg, scope)) for arg in call.args]
                joins = name in (
                    "os.path.join",
                    "pathlib.Path",
                    "pathlib.PurePath",
                    "pathlib.PosixPath",
                )
                if joins and texts and None not in texts:
                    return LocalPath("/".join(t for t in texts if t is not None))
                return LocalPath(None)
            if name in DEPENDS and call.args:
                return self._dependency(call.args[0], scope)
            loaded = self.config_call(name, call, scope)
            if loaded is not None:
                return loaded
            last = name.rsplit(".", 1)[-1]
            if last in RESULT_IS_MODEL:
                return Opaque("a loaded model")
            if name in ("sys.argv",):
                return Unknown("a command-line argument (sys.argv)")
            return Unknown(f"the result of {name}()")
        if isinstance(callee, LocalPath):
            return LocalPath(None)  # Path(...).resolve(), .joinpath(...)
        if isinstance(callee, ClassRef):
            return Instance(callee, call, scope)
        if isinstance(callee, FunctionRef):
            return self.call_function(callee, call, scope)
        if (
            isinstance(func, ast.Name)
            and isinstance(callee, Unknown)
            and "is not defined" in callee.reason
        ):
            return self._builtin(func.id, call, scope)
        if isinstance(callee, Unknown):
            return Unknown(f"the result of {scope.file.segment(func)}()")
        return Unknown(f"the result of calling {describe(callee)}")

    def _dependency(self, dependency: ast.expr, scope: Scope) -> Value:
        """FastAPI's `Depends(get_config)` is what `get_config()` returns when the route
        runs (a class: an instance of it), so a parameter defaulting to it has that value."""
        target = self.eval(dependency, scope)
        if isinstance(target, FunctionRef):
            return self.call_function(target, None, None)
        if isinstance(target, ClassRef):
            return Instance(target, None, None)
        return Unknown(f"the dependency {scope.file.segment(dependency)} FastAPI injects")

    def _builtin(self, name: str, call: ast.Call, scope: Scope) -> Value:
        if name == "str" and len(call.args) == 1:
            value = self.eval(call.args[0], scope)
            if isinstance(value, Const):
                return Text(str(value.value))
            if isinstance(value, LocalPath):
                return value
            return value
        if name == "input":
            return Unknown("read from input()")
        if name == "open" and call.args:
            path = self.eval(call.args[0], scope)
            if isinstance(path, Text):
                return LocalPath(path.value)
            return path if isinstance(path, LocalPath) else LocalPath(None)
        if name in ("Path", "PurePath"):
            return LocalPath(None)
        return Unknown(f"the result of {name}()")

    def _str_method(self, receiver: Text, method: str, call: ast.Call, scope: Scope) -> Value:
        args = [self.eval(arg, scope) for arg in call.args]
        kwargs = {kw.arg: self.eval(kw.value, scope) for kw in call.keywords if kw.arg}
        if any(kw.arg is None for kw in call.keywords):
            return Unknown("a string method called with ** arguments")
        if method == "join":
            if (
                len(args) == 1
                and isinstance(args[0], Sequence)
                and all(isinstance(i, Text) for i in args[0].items)
            ):
                items = [i for i in args[0].items if isinstance(i, Text)]
                result = receiver
                for item in items:
                    result = result.join(item, result.value)
                return Text(
                    receiver.value.join(i.value for i in items),
                    result.env_vars,
                    result.from_dockerfile,
                    result.exact,
                    result.via,
                )
            return Unknown("a join of values mlfix cannot read")
        plain: list[object] = []
        merged = receiver
        for value in [*args, *kwargs.values()]:
            if isinstance(value, Text):
                plain.append(value.value)
                merged = merged.join(value, merged.value)
            elif isinstance(value, Const):
                plain.append(value.value)
            else:
                return (
                    value
                    if isinstance(value, Unknown)
                    else Unknown(f"a string method argument: {describe(value)}")
                )
        positional = plain[: len(args)]
        named = dict(zip(kwargs, plain[len(args) :], strict=True))
        try:
            result = getattr(receiver.value, method)(*positional, **named)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError):
            return Unknown(f"a .{method}() mlfix cannot apply")
        if isinstance(result, list) and all(isinstance(part, str) for part in result):
            meta = (merged.env_vars, merged.from_dockerfile, merged.exact, merged.via)
            return Sequence(tuple(Text(part, *meta) for part in result))  # .split("/")
        if not isinstance(result, str):
            return Unknown(f"a .{method}() that does not give a string")
        return Text(result, merged.env_vars, merged.from_dockerfile, merged.exact, merged.via)
