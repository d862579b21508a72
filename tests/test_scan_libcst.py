"""The scan reads Python with libcst: what it parses, where, and that it matches `ast`."""

from __future__ import annotations

import ast
import builtins
import subprocess
import sys
import textwrap
import warnings
from collections import Counter
from pathlib import Path

import libcst as cst
import pytest

import mlfix.scan.syntax as syntax
from mlfix.scan import scan_source
from mlfix.scan.source import ModuleTree, SourceFile, parse_python
from mlfix.scan.syntax import else_body, flat, string_pieces, suite, try_parts, walk

ROOT = Path(__file__).resolve().parent.parent

APP = textwrap.dedent(
    """\
    import os
    from transformers import AutoModel, pipeline

    MODEL = os.getenv("MODEL", "org/model")


    class Service:
        def __init__(self, name: str = MODEL) -> None:
            self.model = AutoModel.from_pretrained(name, revision="v1")


    classifier = pipeline("text-classification", model="org/classifier")
    """
)


def test_libcst_parses_and_cpython_parser_is_not_used(
    monkeypatch: pytest.MonkeyPatch, parsed: list[str]
) -> None:
    def refuse(*args: object, **kwargs: object) -> object:
        raise AssertionError("CPython's parser was used on a file libcst can read")

    monkeypatch.setattr(ast, "parse", refuse)
    monkeypatch.setattr(builtins, "compile", refuse)
    refs = scan_source(APP, "app.py").refs
    assert [(r.repo_id, r.line, r.column) for r in refs] == [
        ("org/model", 9, 22),
        ("org/classifier", 12, 14),
    ]
    assert parsed
    # Only the statements the scan needs: the unrelated import line is never parsed alone,
    # and nothing parses the whole file.
    assert all(APP not in text for text in parsed)


def test_cpython_words_the_error_of_a_file_libcst_rejects() -> None:
    result = scan_source("from transformers import AutoModel\nm = AutoModel.from_pretrained('x'\n")
    [problem] = result.problems
    assert problem.message == "cannot parse: '(' was never closed" and problem.line == 2


def test_a_needed_statement_that_does_not_parse_fails_the_file_as_before() -> None:
    code = (
        "from transformers import AutoModel\n"
        "NAME = 'org/a' +\n"  # reached only through the lookup of NAME
        "m = AutoModel.from_pretrained(NAME)\n"
    )
    result = scan_source(code, "a.py")
    assert result.refs == ()
    assert [p.line for p in result.problems] == [2]
    assert result.problems[0].message.startswith("cannot parse")


def test_a_cut_inside_brackets_reached_by_a_lookup_parses_the_whole_file() -> None:
    code = (
        "from transformers import AutoModel\n"
        "DEFAULT = 'org/main'\n"
        "NAMES = [\n"
        "DEFAULT,\n"  # column 0 inside brackets: the cut splits here
        "]\n"
        "m = AutoModel.from_pretrained(NAMES[0])\n"
    )
    [ref] = scan_source(code, "a.py").refs
    assert (ref.repo_id, ref.line, ref.column) == ("org/main", 6, 5)


def test_very_deep_nesting_is_refused_before_libcst_can_crash() -> None:
    """libcst's native parser overflows its stack on ~1,000 nested brackets (a segfault);
    CPython refuses more than 200, and so does the scan, in a child process to be safe."""
    code = "from transformers import AutoModel\nm = AutoModel.from_pretrained(" + "(" * 3000
    code += "'x'" + ")" * 3000 + ")\n"
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from mlfix.scan import scan_source\n"
        "result = scan_source(sys.stdin.read())\n"
        "print(result.refs, [p.message for p in result.problems])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(ROOT)],
        input=code,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "too many nested parentheses" in done.stdout


@pytest.mark.parametrize(
    "literal",
    [
        "'plain'",
        '"double"',
        "'''triple\nline'''",
        "r'raw\\n'",
        "'esc\\n\\t\\x41\\u00e9\\N{BULLET}\\101'",
        "'invalid \\d escape'",
        "'caf\u00e9 \u20ac'",
        "b'bytes\\x00'",
        "rb'raw bytes\\n'",
        "'line \\\ncontinued'",
        "U'upper'",
        "'a' 'b' \"c\"",
    ],
)
def test_string_values_match_cpython(literal: str) -> None:
    node = cst.parse_expression(literal)
    found, value = syntax.constant(node)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the oracle warns about the invalid escape
        expected = ast.literal_eval(literal)
    assert found and value == expected


def test_fstring_pieces() -> None:
    node = cst.parse_expression("f'a{{b}}\\n{x!r:>3} {y}' 'tail'")
    pieces = string_pieces(node)
    assert pieces is not None
    texts = [p if isinstance(p, str) else "<field>" for p in pieces]
    assert texts == ["a{b}\n", "<field>", " ", "<field>", "tail"]


# -- positions are the ones `ast` gives --------------------------------------------------

TRICKY = textwrap.dedent(
    """\
    # -*- coding: utf-8 -*-
    \"\"\"Docstring with a call(x) in it.\"\"\"
    import os, sys; from a import (b,
        c)

    @decorator(
        arg=f(1),
    )
    @other
    async def run(x=g(2), *, y=(h)(3)) -> None:
        z = 'é' + k(4); w = [m(5) for _ in n(6)]
        if p(7):
            q(8)
        elif r(9):
            pass
        else:
            s(10)  # comment
        # trailing comment in the block

    class C(Base, metaclass=meta(11)):
        attr: int = t(12)

        def method(self):
            try:
                u(13)
            except E as e:
                v(14)
            else:
                w(15)
            finally:
                x(16)
            with y(17) as (a, b), z(18):
                return (aa
                    .bb(19)
                    .cc(20))

    match cmd(21):
        case [x, y]:
            dd(22)
        case _:
            pass
    lam = lambda q=ee(23): ff(24)
    """
)


def _ast_facts(data: bytes) -> tuple[Counter[tuple[int, ...]], Counter[tuple[int, int]]]:
    tree = ast.parse(data)
    lines = data.splitlines(keepends=True)

    def column(line: int, offset: int) -> int:
        return len(lines[line - 1][:offset].decode("utf-8", "replace"))

    calls: Counter[tuple[int, ...]] = Counter()
    statements: Counter[tuple[int, int]] = Counter()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            assert node.end_lineno is not None and node.end_col_offset is not None
            calls[(node.lineno, column(node.lineno, node.col_offset), node.end_lineno)] += 1
        if isinstance(node, ast.stmt):
            assert node.end_lineno is not None
            statements[(node.lineno, node.end_lineno)] += 1
    return calls, statements


def _statements(body: list[syntax.Statement]) -> list[syntax.Statement]:
    found: list[syntax.Statement] = []
    for stmt in body:
        found.append(stmt)
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef, cst.With)):
            found += _statements(suite(stmt.body))
        elif isinstance(stmt, (cst.If, cst.For, cst.While)):
            found += _statements(suite(stmt.body)) + _statements(else_body(stmt.orelse))
        elif isinstance(stmt, (cst.Try, cst.TryStar)):
            body, orelse, finalbody = try_parts(stmt)
            found += _statements(body)
            for handler in stmt.handlers:
                found += _statements(suite(handler.body))
            found += _statements(orelse) + _statements(finalbody)
        elif isinstance(stmt, cst.Match):
            for case in stmt.cases:
                found += _statements(suite(case.body))
    return found


def _cst_facts(
    source: SourceFile,
) -> tuple[Counter[tuple[int, ...]], Counter[tuple[int, int]]]:
    calls: Counter[tuple[int, ...]] = Counter()
    statements: Counter[tuple[int, int]] = Counter()
    for stmt in _statements(flat(source.tree.body)):
        statements[(source.line(stmt), source.end_line(stmt))] += 1
    for node in walk(*source.tree.body):
        if isinstance(node, cst.Call):
            line, column = source.start(node)
            calls[(line, column, source.end_line(node))] += 1
    return calls, statements


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("whole", [True, False])
def test_positions_match_ast(newline: str, whole: bool) -> None:
    data = TRICKY.replace("\n", newline).encode("utf-8")
    path = Path("tricky.py")
    if whole:
        unit = parse_python(data, "tricky.py")
        source = SourceFile(path, path, data, ModuleTree(list(unit.module.body)), None, [unit])
    else:
        lines = range(1, TRICKY.count("\n") + 2)
        source = SourceFile.parse(path, path, data, lines)
        source.ensure_lines(lines)
    assert _cst_facts(source) == _ast_facts(data)


def test_positions_match_ast_on_the_fixtures() -> None:
    checked = 0
    for path in sorted((ROOT / "fixtures").rglob("*.py")):
        data = path.read_bytes()
        try:
            expected = _ast_facts(data)
        except SyntaxError:
            continue
        lines = range(1, data.count(b"\n") + 2)
        source = SourceFile.parse(path, path, data, lines)
        source.ensure_lines(lines)
        assert _cst_facts(source) == expected, path
        checked += 1
    assert checked > 20


def test_source_segments_are_the_exact_text() -> None:
    code = "x = f( 'a'  # c\n  , (b) )\ny = (( g ))(h)\n"
    data = code.encode()
    path = Path("s.py")
    source = SourceFile.parse(path, path, data, [1, 2, 3])
    calls = [n for n in walk(*source.tree.body) if isinstance(n, cst.Call)]
    assert [source.segment(c) for c in calls] == ["f( 'a'  # c\n  , (b) )", "(( g ))(h)"]
    names = [n for n in walk(*source.tree.body) if isinstance(n, cst.Name) and n.value == "b"]
    assert [source.segment(n) for n in names] == ["b"]  # without its parentheses, as in ast


def test_needles_in_comments_and_plain_strings_are_not_parsed(parsed: list[str]) -> None:
    code = (
        '"""Run the data pipeline (not a model pipeline)."""\n'
        "# model = AutoModel.from_pretrained('org/old')\n"
        "def steps() -> str:\n"
        "    return 'SentenceTransformer(x) is documented elsewhere'\n"
    )
    result = scan_source(code, "a.py")
    assert result.refs == () and result.problems == () and parsed == []


@pytest.mark.parametrize(
    "line",
    [
        "label = f\"{AutoModel.from_pretrained('org/in-fstring')}\"",
        "label = rf'{AutoModel.from_pretrained(\"org/in-fstring\")}'",
    ],
)
def test_a_call_inside_an_fstring_field_is_still_found(line: str) -> None:
    [ref] = scan_source(f"from transformers import AutoModel\n{line}\n", "a.py").refs
    assert (ref.repo_id, ref.line) == ("org/in-fstring", 2)


def test_an_hf_hub_literal_is_found_inside_a_string() -> None:
    code = "import timm\nm = timm.create_model('hf-hub:org/vit')\n"
    [ref] = scan_source(code, "a.py").refs
    assert ref.repo_id == "org/vit"


def test_visit_runs_libcst_visitor_hooks_in_source_order_without_rebuilding() -> None:
    module = cst.parse_module(
        "x = f(g(1), h=k(2)) if c(0) else z(9)\n"
        "y = [m(3) for _ in n(4)]\n"
        "@d(5)\n"
        "def w(a=p(6)) -> r(7):\n"
        "    return q(8)\n"
    )
    events: list[tuple[str, str]] = []

    class Recorder(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            if isinstance(node, cst.Call):
                events.append(("visit", cst.Module([]).code_for_node(node.func)))
            return not isinstance(node, cst.ListComp)

        def on_leave(self, original_node: cst.CSTNode) -> None:
            if isinstance(original_node, (cst.Call, cst.ListComp)):
                events.append(("leave", type(original_node).__name__))

    syntax.visit(module, Recorder())
    ours, events[:] = list(events), []
    module.visit(Recorder())
    assert ours == events
    visited = [name for event, name in ours if event == "visit"]
    assert visited == ["f", "g", "k", "c", "z", "d", "p", "r", "q"]  # source order
    assert ("leave", "ListComp") in ours
    assert ("visit", "m") not in ours  # on_visit declined the comprehension's children


def test_a_call_after_a_nested_quote_in_a_312_fstring_is_found() -> None:
    code = (
        "from transformers import AutoModel\n"
        'd = {"k": 1}\n'
        't = f"{d["k"]} {AutoModel.from_pretrained("org/nested")}"\n'
    )
    result = scan_source(code, "a.py")  # libcst reads PEP 701 f-strings on any Python
    assert [(r.repo_id, r.line) for r in result.refs] == [("org/nested", 3)]
