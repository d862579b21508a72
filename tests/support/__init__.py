"""Test infrastructure: real Docker builds on a local base image, and a local package index.

See ``tests/support/README.md``. Modules: ``docker`` (engine, base image, builds, image
contents), ``wheels`` (the pinned wheel set), ``pyindex`` (PEP 503 index over it),
``projects`` (tiny pip/poetry/uv projects and their lock files), ``fixtures`` (pytest).
"""
