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
