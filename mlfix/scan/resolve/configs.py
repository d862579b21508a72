"""Values from the project's own config files: `json.load(open("config.json"))["MODEL"]`,
`yaml.safe_load`, `tomllib.load`, `OmegaConf.load("config.yaml").model.name`,
`with open(path) as f: cfg = json.load(f)`.

The file is read from the build context (the scan only sees what the image gets: a
`.dockerignore`d or uncopied file is excluded by the walk, and a name read from a file the
context does not hold stays unknown). Relative paths are tried against the context root
(the usual WORKDIR) and the reading file's directory. Files over MAX_CONFIG_BYTES are not
read; values are converted to at most MAX_ITEMS strings, numbers, lists and mappings.
"""

from __future__ import annotations

import ast
import io
import json
import os
import sys
from pathlib import Path

from mlfix.scan.prefilter import read_bytes
from mlfix.scan.resolve.base import EvaluatorBase
from mlfix.scan.source import Scope
from mlfix.scan.values import Const, LocalPath, Mapping, NoneValue, Sequence, Text, Unknown, Value

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MAX_CONFIG_BYTES = 1 << 20
MAX_ITEMS = 5000
LOADERS = {
    "json.load": "json",
    "json.loads": "json-text",
    "yaml.safe_load": "yaml",
    "yaml.load": "yaml",
    "yaml.full_load": "yaml",
    "tomllib.load": "toml",
    "tomli.load": "toml",
    "toml.load": "toml",
    "omegaconf.OmegaConf.load": "yaml",
}


def _convert(data: object, where: str, budget: list[int]) -> Value:
    budget[0] -= 1
    if budget[0] < 0:
        return Unknown(f"{where} holds more values than mlfix reads")
    if isinstance(data, str):
        return Text(data, via=(f"read from {where}",))
    if isinstance(data, bool | int | float):
        return Const(data)
    if data is None:
        return NoneValue()
    if isinstance(data, dict):
        return Mapping(tuple((Text(str(k)), _convert(v, where, budget)) for k, v in data.items()))
    if isinstance(data, list | tuple):
        return Sequence(tuple(_convert(v, where, budget) for v in data))
    return Unknown(f"a value of {where} mlfix does not read")


def _parse(kind: str, data: bytes) -> object:
    if kind == "json":
        return json.loads(data)
    if kind == "toml":
        return tomllib.loads(data.decode("utf-8"))
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(io.BytesIO(data))


class Configs(EvaluatorBase):
    def config_call(self, name: str, call: ast.Call, scope: Scope) -> Value | None:
        """The value a config loader call returns, or None when `name` is not one."""
        kind = LOADERS.get(name)
        if kind is None or not call.args:
            return None
        source = self.eval(call.args[0], scope)
        if kind == "json-text":
            if isinstance(source, Text):
                try:
                    return _convert(json.loads(source.value), "a JSON string", [MAX_ITEMS])
                except ValueError:
                    return Unknown("a JSON string that does not parse")
            return Unknown("JSON text mlfix cannot read")
        path = source.text if isinstance(source, LocalPath) else None
        if isinstance(source, Text):
            path = source.value
        if path is None:
            return Unknown(f"a config file whose path mlfix cannot read ({name})")
        return self.read_config(path, kind, scope)

    def read_config(self, path: str, kind: str, scope: Scope) -> Value:
        root = self.project.root
        if root is None:
            return Unknown(f"the config file {path}")
        candidates = [root / path, Path(os.path.dirname(scope.file.path)) / path]
        for candidate in candidates:
            try:
                inside = candidate.resolve().is_relative_to(root)
                if not inside or not candidate.is_file():
                    continue
                data = read_bytes(str(candidate))
            except OSError:
                continue
            if len(data) > MAX_CONFIG_BYTES:
                return Unknown(f"the config file {path} is larger than mlfix reads")
            # The scope's file path may be relative (to the working directory): resolved,
            # both sides name the same tree.
            shown = Path(os.path.relpath(candidate.resolve(), root.resolve())).as_posix()
            try:
                return _convert(_parse(kind, data), shown, [MAX_ITEMS])
            except Exception:  # any parse error of the project's file: unknown, not a crash
                return Unknown(f"the config file {shown} does not parse")
        return Unknown(f"the config file {path} is not in the build context")
