"""Read dependency manifests for what else they pull in.

Only the references matter here: `-r`/`-c` includes (which must be in the image
before the install runs), local source paths (which make an install depend on the
code), and static dependency lists (which let `pip install .` be split).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from io import StringIO
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from mlfix.deps.commands import local_path_of, parse_pip

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


MANIFEST_RE = re.compile(
    r"(?:.*requirements.*\.(?:txt|in)|constraints.*\.txt|pyproject\.toml|setup\.cfg|Pipfile"
    r"|Pipfile\.lock|poetry\.lock|poetry\.toml|uv\.lock|uv\.toml|pdm\.lock"
    r"|(?:environment|conda)[\w.-]*\.ya?ml|\.python-version)"
)


def is_manifest(path: str) -> bool:
    """True for a file that only declares dependencies (by its name), never code."""
    parent, _, name = path.rstrip("/").rpartition("/")
    if "requirements" in parent.rsplit("/", 1)[-1] and name.endswith((".txt", ".in")):
        return True  # requirements/prod.txt
    return MANIFEST_RE.fullmatch(name) is not None


@dataclass(frozen=True)
class Requirements:
    """References found in a requirements file; include paths are relative to it."""

    includes: tuple[str, ...]
    local_paths: tuple[str, ...]
    find_links: tuple[str, ...]


def _logical_lines(text: str) -> list[str]:
    """pip joins lines ending in a backslash and drops `#` comments (after whitespace)."""
    joined: list[str] = []
    buffer = ""
    for raw in text.splitlines():
        if raw.endswith("\\"):
            buffer += raw[:-1]
            continue
        buffer += raw
        joined.append(buffer)
        buffer = ""
    if buffer:
        joined.append(buffer)
    result = []
    for line in joined:
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        position = line.find(" #")
        if position == -1:
            position = line.find("\t#")
        result.append((line[:position] if position != -1 else line).strip())
    return [line for line in result if line]


def parse_requirements(text: str) -> Requirements:
    includes: list[str] = []
    local: list[str] = []
    links: list[str] = []
    for line in _logical_lines(text):
        words = line.split()
        command = parse_pip(["pip", "install"], words)
        includes.extend(command.manifests)
        local.extend(command.local_paths)
        links.extend(command.find_links)
    return Requirements(tuple(includes), tuple(local), tuple(links))


@dataclass(frozen=True)
class Pyproject:
    name: str | None
    dependencies: tuple[str, ...] | None  # None: dynamic or not declared in [project]
    build_backend: str | None
    readme: str | None
    poetry_package_mode: bool
    local_sources: tuple[str, ...]
    has_build_system: bool = False  # uv installs a project only when it has one
    uv_package: bool | None = None  # `[tool.uv] package`, when set


def parse_pyproject(text: str) -> Pyproject:
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return Pyproject(None, None, None, None, True, ())
    project = data.get("project", {})
    dynamic = project.get("dynamic", [])
    deps = project.get("dependencies")
    static = tuple(deps) if isinstance(deps, list) and "dependencies" not in dynamic else None
    readme = project.get("readme")
    poetry = data.get("tool", {}).get("poetry", {})
    local: list[str] = []
    for section in (poetry.get("dependencies", {}), *poetry.get("group", {}).values()):
        if isinstance(section, dict) and "dependencies" in section:
            section = section["dependencies"]
        if isinstance(section, dict):
            local.extend(
                value["path"]
                for value in section.values()
                if isinstance(value, dict) and isinstance(value.get("path"), str)
            )
    uv = data.get("tool", {}).get("uv", {})
    for source in uv.get("sources", {}).values():
        if isinstance(source, dict) and isinstance(source.get("path"), str):
            local.append(source["path"])
    return Pyproject(
        name=project.get("name") or poetry.get("name"),
        dependencies=static,
        build_backend=data.get("build-system", {}).get("build-backend"),
        readme=readme if isinstance(readme, str) else None,
        poetry_package_mode=poetry.get("package-mode", True) is not False,
        local_sources=tuple(local),
        has_build_system="build-system" in data,
        uv_package=uv_package if isinstance(uv_package := uv.get("package"), bool) else None,
    )


def parse_pipfile_paths(text: str) -> tuple[str, ...]:
    """Pipfile entries like `pkg = {path = "."}` build local source."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return ()
    paths: list[str] = []
    for section in ("packages", "dev-packages"):
        for value in data.get(section, {}).values():
            if isinstance(value, dict) and isinstance(value.get("path"), str):
                paths.append(value["path"])
    return tuple(paths)


def parse_environment(text: str) -> Requirements:
    """An environment.yml's `pip:` section may include requirement files or local paths."""
    try:
        data = YAML(typ="safe").load(StringIO(text))
    except YAMLError:
        return Requirements((), (), ())
    includes: list[str] = []
    local: list[str] = []
    deps = data.get("dependencies", []) if isinstance(data, dict) else []
    for item in deps if isinstance(deps, list) else []:
        if isinstance(item, dict) and isinstance(item.get("pip"), list):
            sub = parse_requirements("\n".join(str(x) for x in item["pip"]))
            includes.extend(sub.includes)
            local.extend(sub.local_paths)
    return Requirements(tuple(includes), tuple(local_path_of(p) for p in local), ())
