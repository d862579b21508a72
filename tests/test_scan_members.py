"""A class is parsed member by member: methods nothing needs stay unparsed until looked up."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mlfix.scan import scan_repo, scan_source


def refs(code: str) -> list[tuple[str | None, int, int]]:
    result = scan_source(textwrap.dedent(code), "app.py")
    assert not result.problems, result.problems
    return [(ref.repo_id, ref.line, ref.column) for ref in result.refs]


def test_methods_that_load_nothing_are_not_parsed(parsed: list[str]) -> None:
    code = """\
        from transformers import AutoModel

        class Service:
            '''Loads once.'''

            timeout: int = 3

            def __init__(self) -> None:
                self.model = AutoModel.from_pretrained("org/model")

            @staticmethod
            def predict(texts: list[str]) -> list[int]:
                return [len(text) for text in texts]
        """
    assert refs(code) == [("org/model", 9, 22)]
    assert parsed and not any("def predict" in text for text in parsed)


def test_a_method_a_lookup_reaches_is_parsed_then(parsed: list[str]) -> None:
    code = """\
        from transformers import AutoModel

        NAME = "org/from-property"

        class Service:
            def __init__(self) -> None:
                self.model = AutoModel.from_pretrained(self.name)
                self.other = AutoModel.from_pretrained(self.pick("org/picked"))

            @property
            def name(self) -> str:
                return NAME

            def pick(self, value: str) -> str:
                return value

            def unused(self) -> None:
                print("never parsed")
        """
    assert refs(code) == [("org/from-property", 7, 22), ("org/picked", 8, 22)]
    assert any("def name" in text for text in parsed)
    assert not any("never parsed" in text for text in parsed)


def test_a_method_assigning_attributes_is_always_read() -> None:
    code = """\
        from transformers import AutoModel

        class Service:
            def __init__(self) -> None:
                self.model = AutoModel.from_pretrained(self.repo)

            def configure(self) -> None:
                self.repo = "org/one"

            def reconfigure(self) -> None:
                self.repo: str = "org/two"
        """
    result = scan_source(textwrap.dedent(code), "app.py")
    [ref] = result.refs
    assert ref.repo_id is None
    assert "different values (lines 8, 11): 'org/one', 'org/two'" in (ref.unresolved_reason or "")


def test_a_loader_alias_used_in_a_method_left_out_parses_the_class_whole() -> None:
    code = """\
        from transformers import pipeline as hf_pipeline

        class Service:
            def other(self) -> int:
                return 1

            def build(self) -> object:
                return hf_pipeline("ner", model="org/ner")
        """
    assert refs(code) == [("org/ner", 8, 16)]


def test_a_cut_inside_brackets_falls_back_to_the_whole_class() -> None:
    code = """\
        from transformers import AutoModel

        DEFAULT = "org/listed"

        class Service:
            NAMES = [
            DEFAULT,
            ]

            def other(self) -> int:
                return 1

            def load(self) -> object:
                return AutoModel.from_pretrained(self.NAMES[0])
        """
    assert refs(code) == [("org/listed", 14, 16)]


def test_a_method_of_a_class_in_another_module(tmp_path: Path) -> None:
    (tmp_path / "settings.py").write_text(
        textwrap.dedent(
            """\
            class Settings:
                def helper(self) -> str:
                    return "unused"

                def model(self) -> str:
                    return "org/elsewhere"
            """
        )
    )
    (tmp_path / "app.py").write_text(
        textwrap.dedent(
            """\
            from transformers import AutoModel
            from settings import Settings

            model = AutoModel.from_pretrained(Settings().model())
            """
        )
    )
    [ref] = scan_repo(tmp_path, jobs=1).refs
    assert (ref.repo_id, ref.line) == ("org/elsewhere", 4)


def test_a_constructor_without_attribute_assignments_still_counts() -> None:
    code = """\
        from dataclasses import dataclass
        from transformers import AutoModel

        @dataclass
        class Options:
            model: str = "org/default"

        class Plain:
            model = "org/plain"

            def __init__(self, model: str) -> None:
                print(model)

        a = AutoModel.from_pretrained(Options("org/given").model)
        b = AutoModel.from_pretrained(Plain("org/ignored").model)
        """
    assert [repo for repo, _, _ in refs(code)] == ["org/given", "org/plain"]


def test_a_statement_after_the_class_in_the_same_cut_is_not_part_of_a_method() -> None:
    """A top-level statement starting with `(` does not start a chunk of its own: it
    follows the class in the same piece, and must not end up inside the last method."""
    code = """\
        from transformers import AutoModel

        NAME = "org/after"

        class Tests:
            def test_load(self):
                return AutoModel.from_pretrained(self.name())

            def name(self):
                return NAME


        (first,
         second
         ) = (1, 2)
        """
    assert refs(code) == [("org/after", 7, 16)]


def test_an_alias_call_in_a_left_out_method_at_the_end_without_a_newline() -> None:
    code = (
        "from transformers import pipeline as hf_pipe, AutoModel\n"
        "class A:\n"
        '    def load(self): return AutoModel.from_pretrained("org/kept")\n'
        '    def go(self): return hf_pipe("text-classification", model="org/aliased")'
    )
    result = scan_source(code, "app.py")
    assert [(r.repo_id, r.line) for r in result.refs] == [("org/kept", 3), ("org/aliased", 4)]


@pytest.mark.parametrize("statement", ["[X] = [1]", "(MODEL) = 'org/other'", "*rest, = ()"])
def test_a_member_not_starting_with_a_letter_is_its_own_member(statement: str) -> None:
    code = f"""\
        from transformers import AutoModel

        class A:
            @staticmethod
            def name():
                return "org/static"
            {statement}
            def load(self):
                return AutoModel.from_pretrained(A.name())
        """
    assert [repo for repo, _, _ in refs(code)] == ["org/static"]


@pytest.mark.parametrize(
    "assignment",
    [
        'self.modèle = "org/attr"',
        'self.modèle \\\n            = "org/attr"',
        'self.modèle: dict[\n            str, str] = "org/attr"',
    ],
)
def test_attribute_assignments_the_cut_must_see(assignment: str) -> None:
    code = (
        "from transformers import AutoModel\n\n"
        "class A:\n"
        "    def setup(self) -> None:\n"
        f"        {assignment}\n\n"
        "    def load(self):\n"
        "        return AutoModel.from_pretrained(self.modèle)\n"
    )
    [ref] = scan_source(code, "app.py").refs
    assert ref.repo_id == "org/attr"


def test_a_class_in_another_encoding_is_parsed_whole() -> None:
    code = (
        "# -*- coding: latin-1 -*-\n"
        "from transformers import AutoModel\n"
        "class A:\n"
        "    def name(self):\n"
        "        # caf\xe9\n"
        '        return "org/latin"\n'
        "    def load(self):\n"
        "        return AutoModel.from_pretrained(self.name())\n"
    ).encode("latin-1")
    from mlfix.scan.models import scan_data
    from mlfix.scan.resolve import Evaluator, Project

    found, problems = scan_data(code, Path("a.py"), Path("a.py"), Evaluator(Project(None, {})))
    assert [r.repo_id for r in found] == ["org/latin"] and not problems


def test_a_broken_method_holding_an_alias_call_fails_the_file_as_before() -> None:
    code = (
        "from transformers import pipeline as hp, AutoModel\n"
        "class A:\n"
        '    def load(self): return AutoModel.from_pretrained("org/kept")\n'
        "    def broken(self):\n"
        '        return hp("ner", model="org/x") + (1 +\n'
    )
    result = scan_source(code, "app.py")
    assert result.refs == ()
    [problem] = result.problems
    assert problem.line == 5 and problem.message.startswith("cannot parse")
