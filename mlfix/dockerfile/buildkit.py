"""What BuildKit refuses to build, said the way BuildKit says it.

mlfix refuses a Dockerfile that `docker build` would refuse, rather than rewrite a file
that cannot build. The messages are BuildKit's own (`frontend/dockerfile/instructions`,
checked against the Dockerfile frontend of Docker Engine 20.10), so the user sees the
error `docker build` would show them. Only argument counts and the `name=value` forms are
checked here; the instruction boundaries are the model's job.
"""

from __future__ import annotations

from mlfix.dockerfile import shell

AT_LEAST_ONE = frozenset(
    {"ARG", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "ONBUILD", "SHELL", "VOLUME"}
)
EXACTLY_ONE = frozenset({"MAINTAINER", "STOPSIGNAL", "USER", "WORKDIR"})
NAME_VALUE = frozenset({"ENV", "LABEL"})


def file_refusal(text: str, has_instructions: bool) -> str | None:
    """BuildKit's error for a file with nothing to build, if it is one."""
    if not text.lstrip("\ufeff").strip():
        return "the Dockerfile cannot be empty"
    if not has_instructions:
        return "file with no instructions"
    return None


def refusal(keyword: str, value: str) -> str | None:
    """BuildKit's error for one instruction (`value`: its arguments after the flags)."""
    words = value.split()
    if keyword in AT_LEAST_ONE and not words:
        return f"{keyword} requires at least one argument"
    if keyword in EXACTLY_ONE and not words:
        return f"{keyword} requires exactly one argument"
    if keyword == "FROM" and len(words) not in (1, 3):
        return "FROM requires either one or three arguments"
    if keyword == "FROM" and len(words) == 3 and words[1].upper() != "AS":
        return 'When using FROM with 3 arguments, the second argument must be "AS"'
    if keyword in ("COPY", "ADD") and len(words) < 2:
        return (
            f"{keyword} requires at least two arguments, but only one was provided. "
            "Destination could not be determined"
        )
    if keyword in NAME_VALUE:
        return _name_value(keyword, value)
    return None


def _name_value(keyword: str, value: str) -> str | None:
    """`ENV name value` (the old form) or `ENV a=1 b=2`: every word then needs its `=`."""
    words = [w.source for w in shell.words(value)]
    if not words:
        return None
    if "=" not in words[0]:
        return f"{keyword} must have two arguments" if len(words) < 2 else None
    for word in words:
        if "=" not in word:
            return f'Syntax error - can\'t find = in "{word}". Must be of the form: name=value'
    return None
