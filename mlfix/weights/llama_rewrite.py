"""Rewrite `Llama.from_pretrained(repo, file, ...)` to `Llama(model_path=hf_hub_download(...))`.

llama-cpp-python's `from_pretrained` lists the repository (`HfFileSystem().ls`) before it
downloads anything, to match `filename` as a glob, so it needs the network even when the
file is cached. `hf_hub_download` of the same file falls back to the cache. The rewrite is
made with libcst so every byte outside the call (and the one import it adds) is kept; this
module is imported only when MLF305 builds its fix, since importing libcst is slow.

Mapping, from llama-cpp-python's `Llama.from_pretrained(cls, repo_id, filename=None,
additional_files=None, local_dir=None, local_dir_use_symlinks="auto", cache_dir=None,
**kwargs)`, which ends in `cls(model_path=..., **kwargs)`: `repo_id`, `filename`,
`cache_dir` and `local_dir` go to `hf_hub_download` (it returns the path `from_pretrained`
would have built); every other keyword goes to `Llama`. Calls that pass
`additional_files`, `local_dir_use_symlinks`, `*args`/`**kwargs` or more than two
positional arguments are not rewritten: their meaning is not one `hf_hub_download`.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

HUB_KEYWORDS = ("repo_id", "filename", "cache_dir", "local_dir")
POSITIONAL = ("repo_id", "filename")
REFUSED = ("additional_files", "local_dir_use_symlinks")
BOM = "\ufeff"


@dataclass(frozen=True)
class Rewrite:
    """The new text of the file, or why the call was left alone."""

    text: str | None
    reason: str | None = None


def _is_from_pretrained(node: cst.Call) -> bool:
    return isinstance(node.func, cst.Attribute) and node.func.attr.value == "from_pretrained"


class _Find(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, line: int) -> None:
        self.line = line
        self.found: list[tuple[int, cst.Call]] = []

    def visit_Call(self, node: cst.Call) -> None:
        if _is_from_pretrained(node):
            start = self.get_metadata(PositionProvider, node).start
            if start.line == self.line:
                self.found.append((start.column, node))


def _why_not(call: cst.Call) -> str | None:
    positional = [a for a in call.args if a.keyword is None]
    if any(a.star for a in call.args):
        return "the call passes *args or **kwargs"
    if len(positional) > len(POSITIONAL):
        return "the call passes more than repo_id and filename by position"
    names = [a.keyword.value for a in call.args if a.keyword is not None]
    for name in REFUSED:
        if name in names:
            return f"the call passes {name}=, which one hf_hub_download does not cover"
    given = set(names) | set(POSITIONAL[: len(positional)])
    if not {"repo_id", "filename"} <= given:
        return "the call does not name both repo_id and filename"
    return None


def _keyword(name: str, value: cst.BaseExpression) -> cst.Arg:
    return cst.Arg(
        value=value,
        keyword=cst.Name(name),
        equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
        ),
    )


def _rewrite_call(call: cst.Call) -> cst.Call:
    assert isinstance(call.func, cst.Attribute)
    hub: dict[str, cst.BaseExpression] = {}
    slots: list[int] = []  # where the hub arguments were, to put model_path at the first
    kept: list[tuple[int, cst.Arg]] = []
    for index, arg in enumerate(call.args):
        name = arg.keyword.value if arg.keyword is not None else POSITIONAL[index]
        if name in HUB_KEYWORDS:
            hub[name] = arg.value
            slots.append(index)
        else:
            kept.append((index, arg))
    inner_args = [_keyword(name, hub[name]) for name in HUB_KEYWORDS if name in hub]
    inner_args = [
        a.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        for a in inner_args[:-1]
    ] + inner_args[-1:]
    inner = cst.Call(func=cst.Name("hf_hub_download"), args=inner_args)
    first = call.args[slots[0]]
    model_path = first.with_changes(
        keyword=cst.Name("model_path"),
        value=inner,
        equal=first.equal
        if first.keyword is not None
        else cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
        ),
    )
    # Each kept argument keeps its comma (and the comment after it); model_path takes the
    # comma of the last argument it replaces. The last argument of the call takes the
    # original last comma, so a trailing comma and the line break before `)` survive.
    model_path = model_path.with_changes(
        comma=_with_comments(call.args[slots[-1]].comma, [call.args[i].comma for i in slots])
    )
    ordered = sorted([*kept, (slots[0], model_path)], key=lambda item: item[0])
    args = [arg for _index, arg in ordered]
    # Which argument holds the call's trailing comma now: model_path when the last argument
    # was one it replaced, else the kept argument that was last.
    last = len(call.args) - 1
    holder = next(
        n
        for n, (index, _arg) in enumerate(ordered)
        if index == (slots[0] if last in slots else last)
    )
    if holder != len(args) - 1:
        stops_last, becomes_last = _exchange_ends(args[-1].comma, args[holder].comma)
        args[holder] = args[holder].with_changes(comma=stops_last)
        args[-1] = args[-1].with_changes(comma=becomes_last)
    return call.with_changes(func=call.func.value, args=args)


Comma = cst.Comma | cst.MaybeSentinel


def _comment(comma: Comma) -> str | None:
    if isinstance(comma, cst.Comma) and isinstance(
        comma.whitespace_after, cst.ParenthesizedWhitespace
    ):
        found = comma.whitespace_after.first_line.comment
        return found.value if found is not None else None
    return None


def _with_comments(comma: Comma, replaced: list[Comma]) -> Comma:
    """`comma`, carrying the end-of-line comments of every argument model_path replaces."""
    comments = [c for c in (_comment(x) for x in replaced) if c is not None]
    if len(comments) < 2 and (not comments or _comment(comma) is not None):
        return comma
    if not (
        isinstance(comma, cst.Comma)
        and isinstance(comma.whitespace_after, cst.ParenthesizedWhitespace)
    ):
        return comma  # no line end to put them on
    ws = comma.whitespace_after
    first = ws.first_line
    whitespace = first.whitespace if first.comment is not None else cst.SimpleWhitespace("  ")
    joined = cst.Comment("  ".join(comments))
    return comma.with_changes(
        whitespace_after=ws.with_changes(
            first_line=first.with_changes(whitespace=whitespace, comment=joined)
        )
    )


def _exchange_ends(inner: Comma, last: Comma) -> tuple[Comma, Comma]:
    """(comma for the argument that stops being last, comma for the one that becomes last).

    `inner` is the comma the new last argument had, `last` the call's trailing one, which
    the other argument holds. Each argument keeps the comment on its own line; only what
    follows the line break (the indentation of the next argument, or of the closing `)`)
    changes hands. Without line breaks on both sides the commas are simply exchanged.
    """
    if (
        isinstance(inner, cst.Comma)
        and isinstance(last, cst.Comma)
        and isinstance(inner.whitespace_after, cst.ParenthesizedWhitespace)
        and isinstance(last.whitespace_after, cst.ParenthesizedWhitespace)
    ):
        mine, tail = inner.whitespace_after, last.whitespace_after
        stops_last = last.with_changes(
            whitespace_after=tail.with_changes(
                empty_lines=mine.empty_lines, indent=mine.indent, last_line=mine.last_line
            )
        )
        becomes_last = inner.with_changes(
            whitespace_after=mine.with_changes(
                empty_lines=tail.empty_lines, indent=tail.indent, last_line=tail.last_line
            )
        )
        return stops_last, becomes_last
    return inner, last


class _Replace(cst.CSTTransformer):
    def __init__(self, target: cst.Call) -> None:
        self.target = target

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if original_node is self.target:
            return _rewrite_call(updated_node)
        return updated_node


def rewrite(text: str, line: int, column: int) -> Rewrite:
    """The file with the `from_pretrained` call that starts at `line` (1-based) rewritten.

    `column` (1-based) picks among several calls on that line; it is only a hint, since
    scanners count columns differently (characters, UTF-8 bytes).
    """
    bom = text.startswith(BOM)
    source = text[1:] if bom else text
    try:
        source.encode("utf-8")
        module = cst.parse_module(source)
    except (UnicodeEncodeError, cst.ParserSyntaxError):
        return Rewrite(None, "libcst cannot parse the file")
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    finder = _Find(line)
    wrapper.visit(finder)
    if not finder.found:
        return Rewrite(None, "the call was not found where the scan saw it")
    found = sorted(finder.found, key=lambda item: abs(item[0] + 1 - column))
    call = found[0][1]
    reason = _why_not(call)
    if reason is not None:
        return Rewrite(None, reason)
    changed = _with_import(module.visit(_Replace(call)))
    return Rewrite((BOM if bom else "") + changed.code)


def _imports_hub_download(statement: cst.BaseStatement) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    for small in statement.body:
        if (
            isinstance(small, cst.ImportFrom)
            and isinstance(small.module, cst.Name)
            and small.module.value == "huggingface_hub"
            and not isinstance(small.names, cst.ImportStar)
            and any(
                alias.name.value == "hf_hub_download" and alias.asname is None
                for alias in small.names
            )
        ):
            return True
    return False


def _is_import(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body
    )


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _with_import(module: cst.Module) -> cst.Module:
    """`from huggingface_hub import hf_hub_download` after the file's leading imports.

    One new line and nothing else: libcst's AddImportsVisitor also inserts a blank line
    before the first statement that follows, which is a change the user did not ask for.
    """
    body = list(module.body)
    if any(_imports_hub_download(statement) for statement in body):
        return module
    at = 1 if body and _is_docstring(body[0]) else 0
    while at < len(body) and _is_import(body[at]):
        at += 1
    line = cst.parse_statement(
        "from huggingface_hub import hf_hub_download\n", config=module.config_for_parsing
    )
    if at == 0 and body:
        # The new first line takes over the file's leading comments and blank lines.
        first = body[0]
        line = line.with_changes(leading_lines=first.leading_lines)
        body[0] = first.with_changes(leading_lines=())
    body.insert(at, line)
    return module.with_changes(body=body)
