"""Every registered rule documents itself in fixed sections, and its page is current."""

from __future__ import annotations

from types import ModuleType

import pytest

from fixture_cases import FIXTURES
from mlfix.docs import DOCS, missing_sections, page
from mlfix.rules import RULES

MODULES = list(RULES.values())


@pytest.mark.parametrize("module", MODULES, ids=list(RULES))
def test_docstring_has_every_section(module: ModuleType) -> None:
    assert missing_sections(module) == []


@pytest.mark.parametrize("module", MODULES, ids=list(RULES))
def test_page_is_current(module: ModuleType) -> None:
    path = DOCS / f"{module.CODE}.md"
    assert path.exists(), f"run `python -m mlfix.docs` to write {path.name}"
    assert path.read_text() == page(module), f"{path.name} is stale: run `python -m mlfix.docs`"


@pytest.mark.parametrize("module", MODULES, ids=list(RULES))
def test_rule_has_fixtures(module: ModuleType) -> None:
    cases = list((FIXTURES / module.CODE).glob("*/expected.diff"))
    assert cases, f"{module.CODE} has no fixture cases"
