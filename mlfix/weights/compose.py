"""`weights = "volume"`: mount the weights from the host in the compose service instead.

The compose file is edited with ruamel.yaml's round-trip mode, so comments, quoting, key
order and anchors survive. Before editing, the unchanged document is dumped once: when that
does not reproduce the file byte for byte (an indentation ruamel cannot keep), mlfix does
not rewrite the file and shows the lines to add instead.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from mlfix.discover import compose_targets, is_compose_name
from mlfix.errors import MlfixError
from mlfix.facts import Target

HOST_CACHE = "${HF_HOME:-~/.cache/huggingface}"


def _candidates(target: Target) -> list[Path]:
    """Compose files beside the Dockerfile and the context, and above, to a repository root."""
    seen: list[Path] = []
    starts = [target.dockerfile.absolute().parent, target.context.absolute()]
    for start in starts:
        for directory in (start, *start.parents):
            try:
                names = sorted(e.name for e in os.scandir(directory) if e.is_file())
            except OSError:
                names = []
            for name in names:
                path = directory / name
                if is_compose_name(name) and path not in seen:
                    seen.append(path)
            if (directory / ".git").exists():
                break
    return seen


def find_service(target: Target) -> Any:
    """The compose file and service that build this target's Dockerfile, if any."""
    from mlfix.weights.facts import ComposeService

    wanted = target.dockerfile.resolve()
    for path in _candidates(target):
        try:
            built = compose_targets(path).targets
        except MlfixError:
            continue
        for service in built:
            if service.dockerfile.resolve() != wanted or service.compose_service is None:
                continue
            if target.compose_service and service.compose_service != target.compose_service:
                continue
            return ComposeService(path, service.compose_service)
    return None


def _yaml(text: str) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    mapping, sequence, offset = _indentation(text)
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _indentation(text: str) -> tuple[int, int, int]:
    """(mapping, sequence, offset) indents as the file writes them, for ruamel to keep."""
    mapping = 2
    lines = text.splitlines()
    for index, line in enumerate(lines[:-1]):
        match = re.match(r"^(\s*)[^\s#-][^:]*:\s*$", line)
        nxt = lines[index + 1]
        if match and nxt.strip() and not nxt.lstrip().startswith(("-", "#")):
            step = len(nxt) - len(nxt.lstrip()) - len(match.group(1))
            if step > 0:
                mapping = step
                break
    for index, line in enumerate(lines[:-1]):
        match = re.match(r"^(\s*)[^\s#-][^:]*:\s*$", line)
        nxt = lines[index + 1]
        dash = re.match(r"^(\s*)-(\s+)", nxt)
        if match and dash:
            offset = len(dash.group(1)) - len(match.group(1))
            return mapping, offset + 1 + len(dash.group(2)), offset
    return mapping, mapping, 0


def _dump(yaml: YAML, data: Any) -> str:
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def add_volume(
    text: str, service: str, container_dir: str, environment: dict[str, str], read_only: bool
) -> str | None:
    """The compose text with the weights volume and variables added; None if it cannot be kept.

    Returns the text unchanged when the service already mounts `container_dir` and sets
    the variables.
    """
    yaml = _yaml(text)
    try:
        data = yaml.load(text)
    except YAMLError:
        return None
    if _dump(yaml, data) != text:
        return None
    services = data.get("services") if isinstance(data, CommentedMap) else None
    entry = services.get(service) if isinstance(services, CommentedMap) else None
    if not isinstance(entry, CommentedMap):
        return None
    env = entry.get("environment")
    if env is None:
        env = CommentedMap()
        entry["environment"] = env
    for key, value in environment.items():
        if isinstance(env, CommentedMap):
            if key not in env:
                env[key] = value
        elif isinstance(env, CommentedSeq):
            if not any(str(item).split("=", 1)[0] == key for item in env):
                env.append(f"{key}={value}")
        else:
            return None
    volumes = entry.get("volumes")
    if volumes is None:
        volumes = CommentedSeq()
        entry["volumes"] = volumes
    if not isinstance(volumes, CommentedSeq):
        return None
    mounted = False
    for item in volumes:
        if isinstance(item, str):
            parts = re.sub(r"\$\{[^}]*\}", "SOURCE", item).split(":")
            mounted |= len(parts) >= 2 and parts[1].rstrip("/") == container_dir.rstrip("/")
        elif isinstance(item, dict):
            mounted |= str(item.get("target", "")).rstrip("/") == container_dir.rstrip("/")
    if not mounted:
        volumes.append(f"{HOST_CACHE}:{container_dir}" + (":ro" if read_only else ""))
    return _dump(yaml, data)
