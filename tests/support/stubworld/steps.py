"""Which steps of a rebuild install the project's dependencies, and whether an edit reran them.

A dependency install is a ``RUN`` that installs from a manifest (``-r``, a local path,
``poetry install``, ``uv sync``, ``pipenv``, a conda environment file) or installs packages
by name that are not installers themselves (``pip install uv`` bootstraps a tool; the
hoisted ``pip install six==1.17.0 idna==3.20`` of an MLF201 fix is the dependency layer).
Only stages the edit reached (some non-``FROM`` step not ``CACHED``) count: in each, the
first dependency install must be ``CACHED``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from tests.support.docker import parse_plain_log

_STEP_RE = re.compile(r"^\[(?:(?P<stage>\S+) )?\s*\d+/\d+\] (?P<text>.*)$")
_SEGMENT_RE = re.compile(r"&&|\|\||;|\|")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")
# Installing these sets up a tool; it is not the project's dependency layer.
TOOLS = {
    "pip", "setuptools", "wheel", "uv", "poetry", "pipenv", "virtualenv", "pipx",
    "huggingface-hub", "huggingface_hub", "hf-transfer", "hf_transfer", "poetry-plugin-export",
    "conda-lock", "mamba",
}  # fmt: skip
_INSTALLERS = ("pip", "pip3", "uv", "poetry", "pipenv", "conda", "mamba", "micromamba")


@dataclass(frozen=True)
class InstallStep:
    stage: str
    text: str
    cached: bool


def _words(segment: str) -> list[str]:
    try:
        return shlex.split(segment)
    except ValueError:
        return segment.split()


def is_dependency_install(command: str) -> bool:
    """Whether a RUN command installs dependencies (see module docstring)."""
    for segment in _SEGMENT_RE.split(command):
        words = [w for w in _words(segment) if w not in ("sudo", "-m", "python", "python3")]
        words = [w.rsplit("/", 1)[-1] for w in words]
        while words and words[0] not in _INSTALLERS:
            words = words[1:]
        if len(words) < 2:
            continue
        tool, rest = words[0], words[1:]
        if tool == "uv" and rest[0] == "pip":
            tool, rest = "pip", rest[1:]
        verb = rest[0] if rest else ""
        if tool in ("poetry", "pipenv") and verb in ("install", "sync"):
            return True
        if tool == "uv" and verb == "sync":
            return True
        if tool in ("conda", "mamba", "micromamba") and (
            verb in ("install", "create", "update")
            or rest[:2] in (["env", "create"], ["env", "update"])
        ):
            return True
        if tool in ("pip", "pip3") and verb in ("install", "sync", "wheel", "download"):
            args = rest[1:]
            if any(
                a.startswith(("-r", "-c", "-e", "--requirement", "--constraint", "--editable"))
                for a in args
            ):
                return True
            names = [a for a in args if not a.startswith("-")]
            if any(a.startswith((".", "/")) for a in names):
                return True
            packages = {m.group(0).lower() for a in names if (m := _NAME_RE.match(a))}
            if packages - TOOLS:
                return True
    return False


def install_steps(log: str) -> list[InstallStep]:
    """The dependency installs of a ``--progress=plain`` log, in order."""
    out = []
    for step in parse_plain_log(log):
        match = _STEP_RE.match(step.name)
        if not match or not match.group("text").startswith("RUN"):
            continue
        text = re.sub(r"\s+", " ", match.group("text"))
        # BuildKit prints `RUN\tpip` as `RUN\tPIP` (it upper-cases the first word).
        command = re.sub(r"^(?:\s*--\S+)*", "", text[3:])  # RUN's own flags (--mount=...)
        if is_dependency_install(command.lower()):
            out.append(InstallStep(match.group("stage") or "", text, step.cached))
    return out


def rebuilt_stages(log: str) -> set[str]:
    """Stages where the edit made some step run again (FROM and the oracle's log copies aside)."""
    out = set()
    for step in parse_plain_log(log):
        match = _STEP_RE.match(step.name)
        if not match or step.cached or match.group("text").startswith("FROM"):
            continue
        if "/.stubworld/" not in match.group("text"):
            out.add(match.group("stage") or "")
    return out


def install_cached(log: str) -> bool | None:
    """In every stage the edit reached, the first dependency install stayed ``CACHED``;
    None when no such stage installs anything."""
    rebuilt = rebuilt_stages(log)
    firsts: dict[str, bool] = {}
    for step in install_steps(log):
        if step.stage in rebuilt:
            firsts.setdefault(step.stage, step.cached)
    return all(firsts.values()) if firsts else None
