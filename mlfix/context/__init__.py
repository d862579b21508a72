"""Build-context facts: Docker's `.dockerignore` rules and a pruned walk of the context.

Rules read these facts and never walk the disk themselves; see `dockerignore` for how
patterns are matched (Docker's rules, not git's) and `tree` for the walk.
"""

from mlfix.context.dockerignore import (
    DirAction,
    DockerIgnore,
    Engine,
    IgnoreFile,
    Pattern,
    find_ignore_file,
    find_misnamed_ignore_files,
)
from mlfix.context.inventory import ContextFacts
from mlfix.context.junk import EntrySavings, JunkEntry, JunkKind
from mlfix.context.tree import Node, Problem, ProblemKind, walk

__all__ = [
    "ContextFacts",
    "DirAction",
    "DockerIgnore",
    "Engine",
    "EntrySavings",
    "IgnoreFile",
    "JunkEntry",
    "JunkKind",
    "Node",
    "Pattern",
    "Problem",
    "ProblemKind",
    "find_ignore_file",
    "find_misnamed_ignore_files",
    "walk",
]
