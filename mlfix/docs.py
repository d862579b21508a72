"""Rule pages: each rule's docstring is its documentation, rendered to docs/rules/.

`python -m mlfix.docs` rewrites the pages; a test fails when a page is stale or a
docstring lacks a required section, so the docs cannot drift from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

from mlfix.rules import RULES

SECTIONS = (
    "## What it does",
    "## Why is this bad?",
    "## Example",
    "## Use instead",
    "## Fix safety",
)
DOCS = Path(__file__).resolve().parent.parent / "docs" / "rules"


def missing_sections(module: ModuleType) -> list[str]:
    doc = module.__doc__ or ""
    return [section for section in SECTIONS if section not in doc]


def page(module: ModuleType) -> str:
    body = (module.__doc__ or "").strip()
    return f"# {module.CODE}: {module.NAME}\n\n{module.SUMMARY}.\n\n{body}\n"


def main() -> int:
    DOCS.mkdir(parents=True, exist_ok=True)
    for code, module in RULES.items():
        (DOCS / f"{code}.md").write_text(page(module))
    return 0


if __name__ == "__main__":
    sys.exit(main())
