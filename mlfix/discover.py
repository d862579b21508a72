"""Turn the paths a user gives into targets: a Dockerfile plus the context it is built with.

- A directory is walked (symlinked directories are not followed) for Dockerfiles
  (`Dockerfile`, `Dockerfile.*`, `*.Dockerfile`, `Containerfile`, lowercase
  `dockerfile`...) and compose files (`compose.yaml`, `docker-compose.yml`, and their
  `.override`/`.<env>` variants). `.gitignore` files (and `.git/info/exclude`) are
  respected, as are the exclude patterns the caller passes; VCS and cache
  directories and virtual environments are never entered.
- A Dockerfile is built with its own directory as the context, unless a compose
  service builds it: then the service's `build.context` is the context (it may be
  a subdirectory or `..`), and the target names the service. A Dockerfile given
  by name is matched against the compose files of its directory and the ones
  above it, up to the repository root.
- A compose file given by name yields one target per service that has a `build`.

Discovery only reads names and the compose files; nothing here parses Dockerfiles.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pathspec import GitIgnoreSpec
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from mlfix import build_context
from mlfix.errors import MlfixError
from mlfix.facts import Target
from mlfix.regular import not_regular, read_regular

DOCKERFILE = re.compile(
    r"^(?:(?:Dockerfile|dockerfile|Containerfile|containerfile)(?:\.[^/]+)?"
    r"|[^/]+\.(?:Dockerfile|dockerfile|Containerfile|containerfile))$"
)
# `Dockerfile.<suffix>` names that are not Dockerfiles: per-Dockerfile ignore files,
# templates, backups and docs.
NOT_DOCKERFILE = re.compile(
    r"\.(?:dockerignore|j2|jinja2?|tmpl|tpl|template|in|bak|orig|rej|swp|md|rst|txt|"
    r"ya?ml|json|toml|sh|py|lock|sample|example)$|~$",
    re.IGNORECASE,
)
COMPOSE = re.compile(r"^(?:docker-)?compose(?:\.[A-Za-z0-9_-]+)*\.ya?ml$")
NEVER_ENTER = frozenset(
    {
        ".git", ".hg", ".svn", ".bzr", "node_modules", "__pycache__", ".venv", "venv",
        ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", "site-packages",
        ".direnv", ".eggs", "__pypackages__",
    }
)  # fmt: skip
VARIABLE = re.compile(r"\$(?:\{(?P<braced>[^}]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")

Excluded = Callable[[Path, bool], bool]  # (path, is_dir) -> skip it


# `DockerfileTextEmbedding`, `Dockerfile_gpu`, `Dockerfile-cpu`: Dockerfiles when their
# content is (a first instruction FROM or ARG), since such names also hold templates.
SUFFIXED = re.compile(r"^(?:Dockerfile|dockerfile|Containerfile|containerfile)[\w.-]+$")
FIRST_INSTRUCTION = re.compile(rb"^\s*(FROM|ARG)\s", re.IGNORECASE)
SNIFF_BYTES = 8192


def is_dockerfile_name(name: str) -> bool:
    return bool(DOCKERFILE.match(name)) and not NOT_DOCKERFILE.search(name)


def may_be_dockerfile(name: str) -> bool:
    """A name that is a Dockerfile's only if the content says so (see `reads_as_dockerfile`)."""
    return bool(SUFFIXED.match(name)) and not NOT_DOCKERFILE.search(name)


def reads_as_dockerfile(path: Path) -> bool:
    """Whether the first instruction, after comments and blank lines, is FROM or ARG."""
    try:
        if not path.is_file():
            return False
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError:
        return False
    for line in head.removeprefix(b"\xef\xbb\xbf").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(b"#"):
            continue
        return bool(FIRST_INSTRUCTION.match(stripped + b" "))
    return False


def is_compose_name(name: str) -> bool:
    return bool(COMPOSE.match(name))


def display(path: Path) -> str:
    """How output names a path: relative to the working directory when it is inside it."""
    if not path.is_absolute():
        return os.path.normpath(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _is_venv(path: Path) -> bool:
    try:
        return (path / "pyvenv.cfg").exists()
    except OSError:  # an unreadable directory: the walk reports it when it lists it
        return False


def _norm(path: Path) -> Path:
    return Path(os.path.normpath(path))


@dataclass
class Discovery:
    targets: list[Target] = field(default_factory=list)
    errors: list[MlfixError] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # named or found, but excluded
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # choices made for the user, said once


class GitIgnore:
    """`.gitignore` files from the repository root down, read once per directory."""

    def __init__(self, warnings: list[str] | None = None) -> None:
        self._specs: dict[Path, GitIgnoreSpec | None] = {}
        self.warnings = warnings if warnings is not None else []

    def _spec(self, directory: Path) -> GitIgnoreSpec | None:
        if directory not in self._specs:
            lines: list[str] = []
            for name in (".gitignore", ".git/info/exclude"):
                path = directory / name
                if not os.path.lexists(path):
                    continue
                try:
                    lines += read_regular(path).decode("utf-8", "replace").splitlines()
                except MlfixError as exc:
                    if not_regular(path) or "larger" in exc.message:
                        self.warnings.append(str(exc))
                    continue
            self._specs[directory] = GitIgnoreSpec.from_lines(lines) if lines else None
        return self._specs[directory]

    def ignored(self, path: Path, is_dir: bool) -> bool:
        """Deepest `.gitignore` with an opinion wins, as in git (parents were checked already)."""
        path = path.absolute()
        for directory in path.parents:
            spec = self._spec(directory)
            if spec is not None:
                relative = path.relative_to(directory).as_posix() + ("/" if is_dir else "")
                result = spec.check_file(relative)
                if result.include is not None:
                    return bool(result.include)
            if (directory / ".git").exists():
                break
        return False


def _resolve_variables(value: str, where: str) -> str:
    """Compose-style `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `$VAR` from the environment."""

    def one(match: re.Match[str]) -> str:
        inner = match.group("braced") if match.group("braced") is not None else match.group("plain")
        name, default, use_default_if_empty = inner, None, False
        for marker in (":-", "-"):
            if marker in inner:
                name, default = inner.split(marker, 1)
                use_default_if_empty = marker == ":-"
                break
        value = os.environ.get(name)
        if value is None or (use_default_if_empty and not value):
            if default is None:
                raise ValueError(f"{where}: ${{{name}}} is not set")
            return default
        return value

    return VARIABLE.sub(one, value.replace("$$", "\0")).replace("\0", "$")


@dataclass
class Compose:
    """What one compose file builds: targets, services it cannot follow, broken services."""

    targets: list[Target] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[MlfixError] = field(default_factory=list)


def compose_targets(path: Path) -> Compose:
    """One target per service with a local `build`; raises MlfixError for a broken file.

    A service that cannot be followed (a git URL as context, an inline Dockerfile,
    an unset variable) is a warning; one whose context or Dockerfile is missing is
    an error, and the other services still count.
    """
    yaml = YAML(typ="rt")
    try:
        data: Any = yaml.load(read_regular(path).decode("utf-8"))
    except (YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MlfixError(path, f"invalid YAML ({first})") from None
    services = data.get("services") if isinstance(data, dict) else None
    found = Compose()
    if services is None:
        return found
    if not isinstance(services, dict):
        raise MlfixError(path, "`services` must be a mapping")
    warnings = found.warnings
    base = path.parent
    for name, service in services.items():
        build = service.get("build") if isinstance(service, dict) else None
        if build is None:
            continue
        if isinstance(build, str):
            build = {"context": build}
        if not isinstance(build, dict):
            found.errors.append(MlfixError(path, f"service {name}: `build` must be a mapping"))
            continue
        if "dockerfile_inline" in build:
            warnings.append(f"{display(path)}: service {name}: inline Dockerfile skipped")
            continue
        try:
            context_text = _resolve_variables(str(build.get("context", ".")), f"service {name}")
            dockerfile_text = _resolve_variables(
                str(build.get("dockerfile", "Dockerfile")), f"service {name}"
            )
        except ValueError as exc:
            warnings.append(f"{display(path)}: {exc}; service skipped")
            continue
        stage_text: str | None = None
        if build.get("target") is not None:
            try:
                stage_text = _resolve_variables(str(build["target"]), f"service {name}")
            except ValueError:
                stage_text = None  # unknown here: the stage that runs is taken to be the last
        if re.match(r"^[a-z][a-z0-9+.-]*://|^git@|^github\.com/", context_text):
            warnings.append(f"{display(path)}: service {name}: remote context skipped")
            continue
        context = _norm(base / context_text)
        dockerfile = _norm(context / dockerfile_text)
        if not context.is_dir():
            message = f"service {name}: build context {context_text} is not a directory"
            found.errors.append(MlfixError(path, message))
        elif not dockerfile.is_file():
            message = f"service {name}: Dockerfile {display(dockerfile)} does not exist"
            found.errors.append(MlfixError(path, message))
        else:
            found.targets.append(
                Target(dockerfile, context, display(dockerfile), str(name), stage_text or None)
            )
    return found


def _repo_root(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None


def _compose_files_above(dockerfile: Path) -> Iterator[Path]:
    """Compose files in the Dockerfile's directory and above, up to the repository root."""
    start = dockerfile.absolute().parent
    root = _repo_root(start)
    if root is None:
        cwd = Path.cwd()
        root = cwd if start == cwd or cwd in start.parents else start
    for directory in (start, *start.parents):
        try:
            names = sorted(entry.name for entry in os.scandir(directory) if entry.is_file())
        except OSError:
            names = []
        for name in names:
            if is_compose_name(name):
                yield directory / name
        if directory == root:
            break


def _real(path: Path) -> Path:
    """The file a path names; a symlink loop or broken link stays itself (the engine reports it)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))


def _same(a: Path, b: Path) -> bool:
    return _real(a) == _real(b)


def _is_file(entry: os.DirEntry[str]) -> bool:
    """A file or a symlink that is not a directory (a broken or looping link included)."""
    try:
        return entry.is_file() or (entry.is_symlink() and not entry.is_dir())
    except OSError:
        return True


def _is_special(entry: os.DirEntry[str]) -> bool:
    """A FIFO, socket or device: never read, but named in an error when it is wanted."""
    try:
        return not entry.is_dir() and not entry.is_file()
    except OSError:
        return False


def services_building(dockerfile: Path) -> list[Target]:
    """Compose services above a Dockerfile named on its own that build it.

    A broken compose file there is not reported: the user named the Dockerfile.
    """
    found: list[Target] = []
    for compose in _compose_files_above(dockerfile):
        try:
            built = compose_targets(compose).targets
        except MlfixError:
            continue
        found.extend(t for t in built if _same(t.dockerfile, dockerfile))
    return found


def stdin_target(dockerfile: Path, name: str) -> Target:
    """The target for a Dockerfile read from stdin, named `name` in output."""
    if dockerfile.exists():
        for target in services_building(dockerfile):
            return Target(
                dockerfile, target.context, name, target.compose_service, target.build_target
            )
    return Target(dockerfile, dockerfile.parent, name)


class Walker:
    def __init__(self, excluded: Excluded, respect_gitignore: bool) -> None:
        self.excluded = excluded
        self.result = Discovery()
        self.gitignore = GitIgnore(self.result.warnings) if respect_gitignore else None

    def skip(self, path: Path, is_dir: bool) -> bool:
        if self.excluded(path, is_dir):
            self.result.skipped.append(path)
            return True
        return self.gitignore is not None and self.gitignore.ignored(path, is_dir)

    def walk(self, root: Path) -> tuple[list[Path], list[Path]]:
        """Dockerfiles and compose files under `root`, sorted, pruned as it goes."""
        dockerfiles: list[Path] = []
        composes: list[Path] = []
        stack = [root]
        while stack:
            directory = stack.pop()
            try:
                entries = sorted(os.scandir(directory), key=lambda e: e.name)
            except OSError as exc:
                self.result.errors.append(
                    MlfixError(directory, f"cannot be read ({exc.strerror or exc})")
                )
                continue
            subdirs: list[Path] = []
            for entry in entries:
                path = directory / entry.name
                if entry.is_dir(follow_symlinks=False):
                    if entry.name in NEVER_ENTER or _is_venv(path):
                        continue
                    if not self.skip(path, True):
                        subdirs.append(path)
                elif _is_file(entry) or _is_special(entry):
                    wanted = (
                        is_dockerfile_name(entry.name)
                        or is_compose_name(entry.name)
                        or (may_be_dockerfile(entry.name) and reads_as_dockerfile(path))
                    )
                    if not wanted or self.skip(path, False):
                        continue
                    why = not_regular(path)
                    if why is not None:
                        self.result.errors.append(MlfixError(path, why))
                        continue
                    (composes if is_compose_name(entry.name) else dockerfiles).append(path)
            stack.extend(reversed(subdirs))
        return dockerfiles, composes

    def compose(self, path: Path, *, named: bool = True) -> list[Target]:
        """The services a compose file builds, less those whose Dockerfile is excluded.

        A service whose context or Dockerfile is missing, in a compose file the walk came
        across (not one the user named), is a warning: that service cannot build as the
        checkout stands (a submodule, a generated folder), and the Dockerfiles are still
        checked. A compose file that does not parse is an error either way.
        """
        try:
            found = compose_targets(path)
        except MlfixError as exc:
            self.result.errors.append(exc)
            return []
        self.result.warnings.extend(found.warnings)
        if named:
            self.result.errors.extend(found.errors)
        else:
            self.result.warnings.extend(f"{error}; service skipped" for error in found.errors)
        return [t for t in found.targets if not self.skip(t.dockerfile, False)]


def discover(
    paths: Iterable[Path],
    *,
    excluded: Excluded = lambda path, is_dir: False,
    respect_gitignore: bool = True,
) -> Discovery:
    """Targets for the given paths, in a stable order, each Dockerfile/context pair once."""
    walker = Walker(excluded, respect_gitignore)
    result = walker.result
    plain: list[Path] = []  # Dockerfiles with no compose service (yet)
    roots: dict[Path, Path] = {}  # a found Dockerfile -> the folder the user named
    services: list[Target] = []
    for path in paths:
        if not path.exists() and not path.is_symlink():
            result.errors.append(MlfixError(path, "does not exist"))
            continue
        if path.is_dir() and excluded(path, True):
            result.skipped.append(path)
            continue
        if path.is_dir():
            before = (len(result.skipped), len(result.errors))
            dockerfiles, composes = walker.walk(path)
            said = (len(result.skipped), len(result.errors)) != before  # skipped or unreadable
            if not dockerfiles and not composes and not said:
                result.errors.append(MlfixError(path, "no Dockerfile found under this directory"))
            plain.extend(dockerfiles)
            roots.update((found, path.absolute()) for found in dockerfiles)
            for compose in composes:
                services.extend(walker.compose(compose, named=False))
            continue
        if excluded(path, False):
            result.skipped.append(path)
            continue
        why = not_regular(path)
        if why is not None:
            result.errors.append(MlfixError(path, why))
            continue
        if is_compose_name(path.name):
            services.extend(walker.compose(path))
            continue
        plain.append(path)
        services.extend(services_building(path))
    seen: dict[tuple[Path, Path], int] = {}
    built_by_service: set[Path] = set()
    for target in services:
        key = (_real(target.dockerfile), _real(target.context))
        built_by_service.add(key[0])
        if build_context.holds_none(target.dockerfile, target.context):
            result.notes.append(
                f"{display(target.dockerfile)}: skipped: its compose context "
                f"{display(target.context)} holds none of its COPY sources; fix the "
                "compose file's build.context to check it"
            )
            continue
        if key not in seen:
            seen[key] = len(result.targets)
            result.targets.append(target)
        elif result.targets[seen[key]].build_target != target.build_target:
            # Services build different stages of one Dockerfile: none of them is "the" app
            # stage, so the rules fall back to the last one (as for a plain Dockerfile).
            first = result.targets[seen[key]]
            result.targets[seen[key]] = dataclasses.replace(first, build_target=None)
    # One file reached twice (a symlinked Dockerfile and its target) is one target: the
    # symlink says where it is built, so it comes first.
    plain_files: set[Path] = set()
    for dockerfile in sorted(plain, key=lambda p: not p.is_symlink()):
        resolved = _real(dockerfile)
        if resolved in built_by_service or resolved in plain_files:
            continue
        plain_files.add(resolved)
        root = _repo_root(dockerfile.absolute().parent) or roots.get(dockerfile, Path.cwd())
        choice = build_context.choose(dockerfile, root)
        if choice.note:
            result.notes.append(f"{display(dockerfile)}: {choice.note}")
        for context in choice.contexts:
            result.targets.append(Target(dockerfile, context, display(dockerfile)))
    result.targets.sort(key=lambda t: (display(t.dockerfile), display(t.context)))
    return result
