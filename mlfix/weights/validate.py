"""Whether a value from scanned code may be written into a generated build line.

Every value MLF301 writes (`hf download` arguments, `ENV`/`COPY` paths) can come from the
project's code or config, so it is attacker-controlled text as far as the build is
concerned: a revision ``main`touch pwned` `` must never reach a shell. Escaping the
characters one thinks of fails on the ones one did not, so each value is instead checked
against the hub's own rules for its kind; a value the hub would refuse cannot name
anything worth baking. What passes is still quoted (`word`), so the rules only have to be
right about what the hub accepts, not about the shell.

Beyond the hub's rules, no value may hold `$` or a backtick: they would be inert in single
quotes, but hadolint flags them there (SC2016) and no real name needs them.

Each check returns None when the value is usable, else why not (for the finding).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlfix.scan.refs import ModelRef
    from mlfix.weights.facts import Download

# huggingface_hub's `validate_repo_id`, in ASCII (the hub refuses other names), with
# `fullmatch`: the hub's own `^...$` also accepts a name followed by one newline.
_REPO_PART = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?", re.ASCII)
REPO_TYPES = frozenset({"model", "dataset", "space"})
_SHA = re.compile(r"[0-9a-f]{7,64}", re.ASCII)
_REF_FORBIDDEN = set(" ~^:?*[\\")
# Paths written bare into ENV and COPY, which expand `$`, split on spaces and read quotes.
_IMAGE_PATH = re.compile(r"/[A-Za-z0-9_.@+/-]*", re.ASCII)


def _text(value: str) -> str | None:
    if not value:
        return "it is empty"
    if any(not char.isprintable() for char in value):
        return "it holds a control, format or non-printable character"
    if value.startswith("-"):
        return "it starts with '-' and would read as an option"
    if "$" in value or "`" in value:
        # Inert inside single quotes, but shellcheck (hadolint SC2016) flags them there and
        # no hub name needs them: mlfix writes neither.
        return "mlfix writes no '$' or '`' into a build line"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "it is not valid UTF-8"
    return None


def repo_id(value: str) -> str | None:
    """huggingface_hub's repo id rules: `[namespace/]name`, `[\\w.-]`, at most 96 characters."""
    if why := _text(value):
        return why
    if len(value) > 96:
        return "a repo id has at most 96 characters"
    parts = value.split("/")
    if len(parts) > 2:
        return "a repo id has at most one '/'"
    if "--" in value or ".." in value:
        return "a repo id holds no '--' or '..'"
    if value.endswith(".git"):
        return "a repo id does not end in '.git'"
    if not all(_REPO_PART.fullmatch(part) for part in parts):
        return "a repo id is letters, digits, '_', '.', '-', not starting or ending in '.' or '-'"
    return None


def repo_type(value: str) -> str | None:
    if value in REPO_TYPES:
        return None
    return "the repo type is one of " + ", ".join(sorted(REPO_TYPES))


def revision(value: str) -> str | None:
    """A commit sha, or a name git's `check-ref-format` accepts (what the hub resolves)."""
    if why := _text(value):
        return why
    if _SHA.fullmatch(value):
        return None
    if any(char in _REF_FORBIDDEN for char in value) or "\x7f" in value:
        return "a git ref holds no space or any of ~^:?*[\\"
    if ".." in value or "@{" in value or "//" in value or value == "@":
        return "a git ref holds no '..', '@{' or '//' and is not '@'"
    if value.endswith(("/", ".", ".lock")) or value.startswith("/"):
        return "a git ref does not start with '/' or end in '/', '.' or '.lock'"
    if any(part.startswith(".") or part.endswith(".lock") for part in value.split("/")):
        return "no part of a git ref starts with '.' or ends in '.lock'"
    return None


def repo_path(value: str) -> str | None:
    """A file, folder or pattern inside a repo: a relative POSIX path with no '..'."""
    if why := _text(value):
        return why
    if value.startswith("/"):
        return "a path inside a repo does not start with '/'"
    if "\\" in value:
        return "a path inside a repo uses '/', not '\\'"
    if any(part == ".." for part in value.split("/")):
        return "a path inside a repo has no '..' part"
    return None


def image_path(value: str) -> str | None:
    """A directory written bare into `ENV`, `COPY` and `--cache-dir`: absolute and plain."""
    if not _IMAGE_PATH.fullmatch(value):
        return "an image path written by mlfix is absolute and only letters, digits and _.@+-/"
    if any(part == ".." for part in value.split("/")):
        return "an image path written by mlfix has no '..' part"
    return None


def user(value: str) -> str | None:
    """A `--chown` value: user[:group], names or ids."""
    if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(?::[A-Za-z0-9_][A-Za-z0-9_.-]*)?", value):
        return None
    return "a --chown user is a name or id, optionally :group"


Check = Callable[[str], "str | None"]


def first_problem(checks: Iterable[tuple[str, str | None, Check]]) -> str | None:
    """`(field, value, check)` triples: the first failure as "field 'value': why"."""
    for name, value, check in checks:
        if value is None:
            continue
        why = check(value)
        if why is not None:
            return f"{name} {value!a}: {why}"
    return None


def pin(version: str) -> str | None:
    """A huggingface_hub version as a project pins it (`0.34.1`, `<1.0`), written in quotes."""
    if re.fullmatch(r"<?=?=?[0-9][0-9A-Za-z.+!*-]*", version.replace(" ", ""), re.ASCII):
        return None
    return "a version is digits, letters and .+!*-"


def ref_problem(ref: ModelRef) -> str | None:
    """Why a model reference cannot be baked as written, or None."""
    return first_problem(
        [
            ("repo id", ref.repo_id, repo_id),
            ("repo_type", ref.repo_type, repo_type),
            ("revision", ref.revision, revision),
            ("subfolder", ref.subfolder.strip("/") if ref.subfolder else None, repo_path),
            ("filename", ref.filename, repo_path),
            ("variant", ref.variant, repo_path),
            *(("allow_patterns", p, repo_path) for p in ref.allow_patterns or ()),
        ]
    )


def download_problem(download: Download) -> str | None:
    """Why a planned download cannot be written as an `hf download` line, or None."""
    return first_problem(
        [
            ("repo id", download.repo_id, repo_id),
            ("repo_type", download.repo_type, repo_type),
            ("revision", download.revision, revision),
            ("cache dir", download.cache_dir, image_path),
            *(("filename", n, repo_path) for n in download.filenames),
            *(("include pattern", p, repo_path) for p in download.include or ()),
        ]
    )


def word(value: str) -> str:
    """One POSIX sh word: bare when every character is inert, else single-quoted.

    `shlex.quote` leaves only `[A-Za-z0-9_@%+=:,./-]` bare (none of them is special to sh)
    and otherwise writes `'...'` with `'` as `'"'"'`, inside which sh expands nothing.
    """
    return shlex.quote(value)
