"""Images whose start command runs none of the project's code.

MLF301 bakes what the app loads when the container starts. Some images start nothing of
the project: a development image whose CMD is an interactive shell (`bash`, `conda run -n
env bash`), one that only sleeps, one whose Dockerfile sets no CMD or ENTRYPOINT at all so
the base image's own command runs (a Python REPL, a shell). The models the project's files
name are then loaded, if ever, by commands a user types; baking them adds gigabytes (and a
gated repository breaks the build) for a run that never happens. Such an image gets no
bake from the scanned code; its start command's own downloads still count.

Base images that do run the project's code without a CMD in the Dockerfile (the FastAPI /
gunicorn images that start `/app/main.py`) keep the usual scan.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence

from mlfix.dockerfile.model import Stage
from mlfix.weights import console
from mlfix.weights.startup import SHELLS, start_command, unwrap

# Bases whose own CMD starts an app from the project's files (tiangolo's images run
# /app/main.py or app/main.py with uvicorn or gunicorn).
_APP_RUNNER_HINTS = ("tiangolo/", "uvicorn-gunicorn", "meinheld-gunicorn", "gunicorn-flask")
_SHELL_FLAGS = frozenset({"-l", "-i", "--login", "-il", "-li", "--norc", "--noprofile"})
_IDLERS = frozenset({"sleep", "true"})
# A wrapper line that starts a program (rather than setting up the environment).
_STARTS = re.compile(
    r"\b(?:python\d*(?:\.\d+)?|uvicorn|gunicorn|streamlit|fastapi|flask|node|java)\b"
)
# `conda run -n env CMD`, `mamba run -p /env CMD`: the options before CMD take a value.
_ENV_RUNNERS = frozenset({"conda", "mamba", "micromamba"})
_ENV_RUNNER_VALUE_FLAGS = frozenset({"-n", "--name", "-p", "--prefix", "--cwd"})


def _strip_env_runner(argv: Sequence[str]) -> list[str]:
    rest = list(argv)
    if len(rest) >= 2 and posixpath.basename(rest[0]) in _ENV_RUNNERS and rest[1] == "run":
        rest = rest[2:]
        while rest and rest[0].startswith("-"):
            rest = rest[2:] if rest[0] in _ENV_RUNNER_VALUE_FLAGS else rest[1:]
    return rest


def _root_base(stage: Stage, parent: Callable[[Stage], Stage | None]) -> str:
    current = stage
    while (up := parent(current)) is not None:
        current = up
    return current.base


def _passes_its_arguments_only(text: str) -> bool:
    """A wrapper script whose last command is `exec "$@"` and that starts nothing else:
    with no arguments it sets up the environment and exits."""
    lines = [line.strip() for line in text.splitlines()]
    commands = [line for line in lines if line and not line.startswith("#")]
    if not commands or commands[-1] not in ('exec "$@"', "exec $@", 'exec "${@}"'):
        return False
    return not any(_STARTS.search(line) for line in commands[:-1])


def idle_reason(
    stage: Stage,
    parent: Callable[[Stage], Stage | None],
    script: Callable[[str], str | None] = lambda _path: None,
    copies_scripts: bool = False,
    project: Callable[[str], str | None] = lambda _rel: None,
) -> str | None:
    """Why the image `stage` builds starts none of the project's code, or None.
    `script` reads a file of the image (a path as the start command spells it);
    `copies_scripts`: the Dockerfile COPYs Python files by name (`COPY train.py .`), so
    without a start command the image is still made to run them; `project` reads a file
    of the build context (its pyproject.toml and the module of a console script)."""
    found = start_command(stage, parent)
    if found is None:
        base = _root_base(stage, parent).lower()
        if copies_scripts or any(hint in base for hint in _APP_RUNNER_HINTS):
            return None
        return "the Dockerfile sets no CMD or ENTRYPOINT, so the image starts its base's command"
    argv = _strip_env_runner(unwrap(found[1]))
    if len(argv) == 3 and posixpath.basename(argv[0]) in SHELLS and argv[1] == "-c":
        argv = _strip_env_runner(unwrap(argv[2].split()))  # `CMD bash`: sh -c "bash"
    if not argv:
        return None
    program = posixpath.basename(argv[0])
    if program in SHELLS and all(arg in _SHELL_FLAGS for arg in argv[1:]):
        return f"the image starts an interactive shell ({' '.join(found[1])})"
    if program in _IDLERS or (program == "tail" and argv[1:] == ["-f", "/dev/null"]):
        return f"the image starts `{' '.join(found[1])}`, which runs no project code"
    if len(argv) == 1 and (why := console.needs_arguments(program, project)):
        return why
    if len(argv) == 1 and found[0].keyword == "ENTRYPOINT":
        text = script(argv[0])
        if text is not None and _passes_its_arguments_only(text):
            return f"the image's ENTRYPOINT {argv[0]} runs the command it is given, and no CMD"
    return None
