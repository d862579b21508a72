"""poetry, uv and pipenv: the manifest and lock they read, and the project source they build.

Each finds its manifest from the working directory upwards (or ``-C``/``--directory``/
``--project``), needs the lock where the flags make it required (``uv sync --frozen``,
``pipenv install --deploy``), logs it where it is merely read, and needs the project's own
source unless ``--no-root``/``--no-install-project`` or the project is not a package.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import tomllib

from stubtools import pip
from stubtools.common import (
    Missing,
    absolute,
    decode,
    fail,
    find_upward,
    log_read,
    make_venv,
    read_file,
    run_command,
    split_option,
)

_DIR_OPTIONS = ("-C", "--directory", "--project")


def _toml(tool: str, path: str) -> dict[str, Any]:
    return tomllib.loads(decode(read_file(tool, path)))


def _module_name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _has_module(root: str, name: str) -> bool:
    mod = _module_name(name)
    for base in (root, os.path.join(root, "src")):
        path = os.path.join(base, mod)
        if os.path.isdir(path) or os.path.isfile(path + ".py"):
            return True
    return False


def _source(tool: str, root: str, packages: Sequence[str], name: str) -> None:
    """The project's own code must be there: the named packages, else a module named after it."""
    if packages:
        for rel in packages:
            if not os.path.exists(os.path.join(root, rel)):
                raise Missing(f"package source {os.path.join(root, rel)} does not exist")
    elif not name or not _has_module(root, name):
        raise Missing(f"no source for project {name!r} in {root} (and no --no-root)")
    log_read(tool, root)


def _start_dir(args: Sequence[str]) -> str:
    for i, arg in enumerate(args):
        if arg in _DIR_OPTIONS and i + 1 < len(args):
            return absolute(args[i + 1])
        value = split_option(arg, _DIR_OPTIONS)
        if value:
            return absolute(value)
    return os.getcwd()


def _after(args: Sequence[str], word: str) -> list[str]:
    return list(args[args.index(word) + 1 :]) if word in args else []


def _subcommand(args: Sequence[str], value_options: Sequence[str]) -> tuple[str, list[str]]:
    i = 0
    while i < len(args):
        if args[i] in value_options:
            i += 2
        elif args[i].startswith("-"):
            i += 1
        else:
            return args[i], list(args[i + 1 :])
    return "", []


# --------------------------------------------------------------------------- poetry


def poetry(args: Sequence[str]) -> int:
    command, rest = _subcommand(args, _DIR_OPTIONS)
    if command == "run":
        return run_command(_after(args, "run"))
    if command not in ("install", "sync", "build", "export", "lock", "check"):
        return 0
    try:
        manifest = find_upward("pyproject.toml", _start_dir(args))
        if manifest is None:
            raise Missing(f"no pyproject.toml in {_start_dir(args)} or above")
        data = _toml("poetry", manifest)
        root = os.path.dirname(manifest)
        lock = os.path.join(root, "poetry.lock")
        if os.path.isfile(lock):
            read_file("poetry", lock)
        elif command == "export":
            raise Missing(f"{lock} does not exist")
        section = data.get("tool", {}).get("poetry", {})
        package_mode = section.get("package-mode", True)
        if command in ("install", "sync", "build") and package_mode and "--no-root" not in rest:
            packages = [
                os.path.join(p.get("from", ""), p["include"])
                for p in section.get("packages", [])
                if isinstance(p, dict) and "include" in p
            ]
            name = section.get("name") or data.get("project", {}).get("name", "")
            _source("poetry", root, packages, name)
        if command == "export":
            _write_output(rest, f"poetry export of {manifest}")
    except Missing as exc:
        return fail("poetry", str(exc))
    return 0


def _write_output(args: Sequence[str], what: str) -> None:
    for i, arg in enumerate(args):
        target = split_option(arg, ("--output", "--output-file"))
        if target is None and arg in ("-o", "--output", "--output-file") and i + 1 < len(args):
            target = args[i + 1]
        if target:
            with open(absolute(target), "w", encoding="utf-8") as handle:
                handle.write(f"# stubworld: {what}\n")
            return
    print(f"# stubworld: {what}")


# --------------------------------------------------------------------------- uv

_UV_VALUE_OPTIONS = (*_DIR_OPTIONS, "--python", "-p", "--cache-dir", "--config-file")


def uv(args: Sequence[str]) -> int:
    command, rest = _subcommand(args, _UV_VALUE_OPTIONS)
    if command == "pip":
        return pip.main(rest, tool="uv")
    if command == "venv":
        names = [a for a in rest if not a.startswith("-")]
        make_venv(absolute(names[0] if names else ".venv"))
        return 0
    if command == "run":
        words = _after(args, "run")
        while words and words[0].startswith("-"):
            words = (
                words[2:]
                if words[0]
                in ("--with", "--python", "-p", "--project", "--directory", "--extra", "--group")
                else words[1:]
            )
        return run_command(words)
    if command not in ("sync", "export", "lock", "build"):
        return 0
    try:
        manifest = find_upward("pyproject.toml", _start_dir(args))
        if manifest is None:
            raise Missing(f"no pyproject.toml in {_start_dir(args)} or above")
        data = _toml("uv", manifest)
        root = os.path.dirname(manifest)
        lock = os.path.join(root, "uv.lock")
        if os.path.isfile(lock):
            read_file("uv", lock)
        elif {"--frozen", "--locked"} & set(rest):
            raise Missing(f"{lock} does not exist (--frozen/--locked)")
        packaged = "build-system" in data and data.get("tool", {}).get("uv", {}).get(
            "package", True
        )
        skip = {"--no-install-project", "--no-install-workspace", "--only-dev"} & set(rest)
        if command in ("sync", "build") and packaged and not skip:
            _source("uv", root, [], data.get("project", {}).get("name", ""))
        if command == "sync":
            env = os.environ.get("UV_PROJECT_ENVIRONMENT") or os.path.join(root, ".venv")
            make_venv(absolute(env, root))
        if command == "export":
            _write_output(rest, f"uv export of {manifest}")
    except Missing as exc:
        return fail("uv", str(exc))
    return 0


# --------------------------------------------------------------------------- pipenv


def pipenv(args: Sequence[str]) -> int:
    command, rest = _subcommand(args, ())
    if command == "run":
        return run_command(_after(args, "run"))
    if command not in ("install", "sync", "requirements", "lock"):
        return 0
    try:
        pipfile = os.environ.get("PIPENV_PIPFILE") or find_upward("Pipfile", os.getcwd())
        packages = [a for a in rest if not a.startswith("-")]
        if pipfile is None or not os.path.isfile(pipfile):
            if command == "install" and packages:
                return 0  # pipenv writes a new Pipfile for them
            raise Missing(f"no Pipfile in {os.getcwd()} or above")
        data = _toml("pipenv", absolute(pipfile))
        lock = absolute(pipfile) + ".lock"
        needs_lock = command in ("sync", "requirements") or {"--deploy", "--ignore-pipfile"} & set(
            rest
        )
        if os.path.isfile(lock):
            read_file("pipenv", lock)
        elif needs_lock:
            raise Missing(f"{lock} does not exist")
        root = os.path.dirname(absolute(pipfile))
        for section in ("packages", "dev-packages"):
            for spec in data.get(section, {}).values():
                if isinstance(spec, dict) and "path" in spec:
                    pip.local_path("pipenv", absolute(spec["path"], root))
    except Missing as exc:
        return fail("pipenv", str(exc))
    return 0
