from __future__ import annotations

import sys
from pathlib import Path

import pytest

# `tests.support` must import however pytest is started (`pytest` or `python -m pytest`).
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.support.fixtures import (  # noqa: E402
    check_docker_marker,
    docker,
    docker_base_image,
    local_index,
    mark_docker_items,
)

__all__ = ["docker", "docker_base_image", "local_index"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_docker_items(items)


def pytest_runtest_setup(item: pytest.Item) -> None:
    check_docker_marker(item)


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text handed to libcst's parser during the test, in order."""
    import libcst as cst

    texts: list[str] = []
    real_parse = cst.parse_module

    def spy(source: str) -> cst.Module:
        texts.append(source)
        return real_parse(source)

    monkeypatch.setattr(cst, "parse_module", spy)
    return texts
