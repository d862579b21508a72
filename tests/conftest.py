from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

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

# Hypothesis profiles (tests/test_fuzz.py). `ci`, the default, is deterministic and
# bounded (~2 minutes for the fuzz suite on 2 cores); `long` is the documented deep run:
#   HYPOTHESIS_PROFILE=long python -m pytest tests/test_fuzz.py
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile(
    "ci", max_examples=100, deadline=None, derandomize=True, database=None,
    suppress_health_check=_QUIET, print_blob=True,
)  # fmt: skip
settings.register_profile(
    "long", max_examples=2000, deadline=None, suppress_health_check=_QUIET, print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_docker_items(items)


def pytest_runtest_setup(item: pytest.Item) -> None:
    check_docker_marker(item)
