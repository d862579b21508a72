"""The choices a run is made of, as enums with no imports of their own.

`mlfix --version` and `mlfix --help` must not pay for the pipeline (pre-commit starts
mlfix on every commit), so the command line's types live here, apart from the code
that uses them.
"""

from __future__ import annotations

import enum


class Mode(enum.Enum):
    """What a run does with the fixes: report them, print them as a diff, or write them."""

    REPORT = "report"
    DIFF = "diff"
    WRITE = "write"


class OutputFormat(str, enum.Enum):
    concise = "concise"
    full = "full"
    json = "json"
    sarif = "sarif"
    github = "github"
    text = "text"  # the same as concise


class Weights(str, enum.Enum):
    bake = "bake"
    volume = "volume"
