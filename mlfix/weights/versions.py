"""The package versions a project pins, read from its Dockerfile and manifests.

They decide which hub CLI exists in the image (`hf` from huggingface_hub 0.34,
`huggingface-cli` only before 1.0), how many values `--include` takes, and which
defaults transformers and sentence-transformers apply. Only exact pins count (`==`,
`===`, a lock file's version; `~=X.Y` is read as X.Y): anything looser installs the
newest release, which is what mlfix assumes when nothing is pinned.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from mlfix.scan.known import package_key

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_PIN = re.compile(
    r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(===?|~=)\s*([A-Za-z0-9.*+!_-]+)"
)
_UPPER = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*[^;]*<\s*([0-9][0-9.]*)")
REQUIREMENT_FILES = ("requirements.txt", "requirements-prod.txt", "requirements/base.txt")
LOCK_FILES = ("poetry.lock", "uv.lock", "pdm.lock")

Reader = Callable[[str], str | None]  # context-relative path -> text, None if absent


def pin_of(requirement: str) -> tuple[str, str] | None:
    """`huggingface_hub==0.20.3` -> ("huggingface-hub", "0.20.3"); loose specifiers -> None."""
    match = _PIN.match(requirement.split(";")[0].split("#")[0])
    if not match:
        return None
    version = match.group(3).rstrip(".*")
    return package_key(match.group(1)), version


def upper_bound(requirement: str) -> tuple[str, str] | None:
    """`huggingface_hub<1.0` -> ("huggingface-hub", "<1.0"): it installs a release below."""
    match = _UPPER.match(requirement.split(";")[0].split("#")[0])
    if not match or _PIN.match(requirement):
        return None
    return package_key(match.group(1)), "<" + match.group(2)


def _requirement_lines(text: str) -> Iterable[str]:
    for raw in text.replace("\\\n", " ").splitlines():
        line = raw.split(" #")[0].strip()
        if line and not line.startswith(("#", "-")):
            yield line


def from_requirements(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in _requirement_lines(text):
        pin = pin_of(line) or upper_bound(line)
        if pin:
            found.setdefault(*pin)
    return found


def _toml(text: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}
    return data


def _lock_packages(text: str) -> Iterator[dict[str, Any]]:
    """poetry.lock, uv.lock and pdm.lock all list `[[package]]` tables with a name."""
    for package in _toml(text).get("package", []):
        if isinstance(package, dict) and isinstance(package.get("name"), str):
            yield package


def from_lock(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for package in _lock_packages(text):
        version = package.get("version")
        if isinstance(version, str):
            found.setdefault(package_key(package["name"]), version)
    return found


def from_pyproject(text: str) -> dict[str, str]:
    data = _toml(text)
    found: dict[str, str] = {}
    for requirement in data.get("project", {}).get("dependencies", []) or []:
        if isinstance(requirement, str):
            pin = pin_of(requirement)
            if pin:
                found.setdefault(*pin)
    poetry = data.get("tool", {}).get("poetry", {}).get("dependencies", {})
    if isinstance(poetry, dict):
        for name, spec in poetry.items():
            version = spec.get("version") if isinstance(spec, dict) else spec
            if isinstance(version, str) and re.fullmatch(r"=?=?\s*[0-9][0-9A-Za-z.+-]*", version):
                found.setdefault(package_key(name), version.lstrip("= "))
    return found


def from_pipfile_lock(text: str) -> dict[str, str]:
    import json

    try:
        data = json.loads(text)
    except ValueError:
        return {}
    found: dict[str, str] = {}
    section = data.get("default", {}) if isinstance(data, dict) else {}
    for name, spec in section.items() if isinstance(section, dict) else []:
        version = spec.get("version") if isinstance(spec, dict) else None
        if isinstance(version, str) and version.startswith("=="):
            found.setdefault(package_key(name), version[2:])
    return found


def from_command_words(words: Iterable[str]) -> dict[str, str]:
    """Pins named on a `pip install` / `uv pip install` command line."""
    found: dict[str, str] = {}
    for word in words:
        word = word.strip("\"'")
        pin = pin_of(word) or upper_bound(word)
        if pin:
            found.setdefault(*pin)
    return found


def project_versions(read: Reader, inline: Mapping[str, str] = {}) -> dict[str, str]:
    """Pins from the Dockerfile's own install lines first, then lock files, then manifests."""
    found: dict[str, str] = dict(inline)
    sources: list[tuple[Iterable[str], Callable[[str], dict[str, str]]]] = [
        (LOCK_FILES, from_lock),
        (("Pipfile.lock",), from_pipfile_lock),
        (REQUIREMENT_FILES, from_requirements),
        (("pyproject.toml",), from_pyproject),
    ]
    for names, pins in sources:
        for name in names:
            text = read(name)
            if text:
                for key, value in pins(text).items():
                    found.setdefault(key, value)
    return found


def version_tuple(version: str | None) -> tuple[int, ...] | None:
    """(0, 34, 1) for "0.34.1"; an upper bound "<1.0" reads as just below it, (0, 999)."""
    if not version:
        return None
    below = version.strip().startswith("<")
    numbers = re.match(r"\s*<?\s*(\d+(?:\.\d+)*)", version)
    if not numbers:
        return None
    parts = [int(part) for part in numbers.group(1).split(".")]
    if below:
        while parts and parts[-1] == 0:
            parts.pop()
        if not parts:
            return None
        parts[-1] -= 1
        parts.append(999)
    return tuple(parts)


_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def declared_packages(read: Reader, command_words: Iterable[str] = ()) -> set[str]:
    """Every package the project names, pinned or not (keys as `package_key` gives them).

    Read from the same files as `project_versions` and from the Dockerfile's install
    words; used to know whether the app installs a library that downloads from the hub
    in ways the scan does not follow.
    """
    found: set[str] = set()

    def add(requirement: str) -> None:
        match = _NAME.match(requirement.strip("\"'"))
        if match:
            found.add(package_key(match.group(1)))

    for word in command_words:
        if not word.startswith("-") and "/" not in word and not word.endswith(".txt"):
            add(word)
    for name in REQUIREMENT_FILES:
        text = read(name)
        for line in _requirement_lines(text or ""):
            add(line)
    for name in LOCK_FILES:
        text = read(name)
        if text:
            found.update(package_key(package["name"]) for package in _lock_packages(text))
    text = read("pyproject.toml")
    if text:
        data = _toml(text)
        for requirement in data.get("project", {}).get("dependencies", []) or []:
            if isinstance(requirement, str):
                add(requirement)
        poetry = data.get("tool", {}).get("poetry", {}).get("dependencies", {})
        if isinstance(poetry, dict):
            found.update(package_key(name) for name in poetry)
    text = read("Pipfile")
    if text:
        packages = _toml(text).get("packages", {})
        if isinstance(packages, dict):
            found.update(package_key(name) for name in packages)
    return found
