"""pytest fixtures for real Docker builds; imported by ``tests/conftest.py``.

* ``docker``: a ``tests.support.docker.Docker`` helper, with the local ``python:*`` base
  image built; images the test builds are removed after it. Skips when no engine answers,
  fails instead when ``MLFIX_REQUIRE_DOCKER=1``.
* ``docker_base_image``: (session) the base image id.
* ``local_index``: (session) the PEP 503 index at http://127.0.0.1:38123/simple/ over the
  pinned wheels, for ``docker.build(..., network_host=True)`` of poetry/uv projects.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.docker import (
    REQUIRE_ENV,
    BaseImageUnavailable,
    Docker,
    docker_available,
    docker_required,
    ensure_base_image,
)
from tests.support.pyindex import PyIndex
from tests.support.wheels import ensure_wheelhouse


def skip_or_fail(reason: str) -> None:
    """Skip, or fail when ``MLFIX_REQUIRE_DOCKER=1`` says docker tests must run."""
    if docker_required():
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1)", pytrace=False)
    pytest.skip(reason)


def require_engine() -> None:
    if not docker_available():
        skip_or_fail("no Docker engine answers /usr/bin/docker info")


@pytest.fixture(scope="session")
def docker_base_image() -> str:
    """Id of the local base image (tagged python:3.11-slim etc.), built once."""
    require_engine()
    try:
        return ensure_base_image()
    except BaseImageUnavailable as exc:
        skip_or_fail(f"cannot build the local base image: {exc}")
        raise


@pytest.fixture
def docker(docker_base_image: str) -> Iterator[Docker]:
    """Build helpers; what the test builds is removed afterwards."""
    helper = Docker()
    try:
        yield helper
    finally:
        helper.cleanup()


@pytest.fixture(scope="session")
def local_index() -> Iterator[PyIndex]:
    """The local package index over the pinned wheels, on 127.0.0.1:38123."""
    with PyIndex(ensure_wheelhouse()) as index:
        yield index


def mark_docker_items(items: list[pytest.Item]) -> None:
    """Tests that use the ``docker`` fixtures get the ``docker`` marker (``-m 'not docker'``)."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "docker" in names or "docker_base_image" in names:
            item.add_marker(pytest.mark.docker)


def check_docker_marker(item: pytest.Item) -> None:
    """A test marked ``docker`` that does not use the fixture still skips/fails with no engine."""
    if item.get_closest_marker("docker") is not None:
        require_engine()
