"""What a `RUN` command installs, read from its shell text without running it.

A `RUN` is split into commands by `mlfix.dockerfile.shell.segments` (which keeps offsets
into the raw instruction text, so a chained install can be cut out of its `RUN` with the
rest of the line left as the user wrote it), and each part is classified here: a pip,
poetry, uv, pipenv or conda install, a system package install, or something else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mlfix.dockerfile import shell

PIP_VALUE_OPTIONS = frozenset(
    {
        "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "-t", "--target",
        "--prefix", "--root", "--platform", "--python-version", "--implementation", "--abi",
        "--trusted-host", "--cache-dir", "--src", "--upgrade-strategy", "--progress-bar",
        "--global-option", "--config-settings", "-C", "--no-binary", "--only-binary",
        "--root-user-action", "--report", "--log", "--python", "--proxy", "--retries",
        "--timeout", "--exists-action", "--cert", "--client-cert", "--keyring-provider",
        "--index-strategy", "--extra", "--group", "--build-option", "--install-option",
    }
)  # fmt: skip
SYSTEM_MANAGERS = frozenset({"apt-get", "apt", "apk", "dnf", "yum", "microdnf", "zypper"})
CONDA_TOOLS = frozenset({"conda", "mamba", "micromamba"})


@dataclass(frozen=True)
class InstallCommand:
    """A dependency install, with the files it reads as written in the command.

    `manifests` and `constraints` are paths as the command names them (relative to
    the WORKDIR or absolute); `local_paths` are source trees it builds (`.`,
    `./libs/pkg`, `file:` URLs) and `installs_project` says whether the project's
    own code is installed, which is what makes hoisting need the whole source.
    """

    tool: str
    argv: tuple[str, ...]
    manifests: tuple[str, ...] = ()
    local_paths: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    installs_project: bool = False
    project_dir: str | None = None
    options: tuple[str, ...] = field(default=())
    named: tuple[str, ...] = ()  # requirements by name (`flask==3.0`), pip only

    @property
    def project_only(self) -> bool:
        """Installs local code and no dependency (`pip install --no-deps .`, `--only-root`).

        The step that must come after the code COPY: moving it is never the fix.
        """
        if self.tool == "poetry":
            return "--only-root" in self.argv
        if self.tool == "pip":
            return (
                "--no-deps" in self.options
                and bool(self.local_paths)
                and not self.manifests
                and not self.named
            )
        return False


def _words(text: str) -> list[str]:
    return [w.value for w in shell.words(text) if w.redirect is None]


def _strip_prefix(words: list[str]) -> list[str]:
    """Drop `VAR=value` assignments and wrappers that only change how a command runs."""
    position = 0
    while position < len(words):
        word = words[position]
        if (
            re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", word)
            or word in ("sudo", "exec", "command")
            or word == "env"
        ):
            position += 1
        elif words[position + 1 : position + 2] == ["run"] and _basename(word) in RUNNERS:
            position = _after_runner(words, position + 2)
        else:
            break
    return words[position:]


# `conda run -n env pip install ...` installs with pip: the wrapper only picks the env.
RUNNERS = frozenset({"conda", "mamba", "micromamba", "poetry", "pipenv"})
_RUNNER_VALUES = frozenset({"-n", "--name", "-p", "--prefix", "--cwd"})


def _after_runner(words: list[str], position: int) -> int:
    while position < len(words) and words[position].startswith("-"):
        position += 2 if words[position] in _RUNNER_VALUES else 1
    return position


def _basename(word: str) -> str:
    return word.rsplit("/", 1)[-1]


def _is_python(word: str) -> bool:
    return re.fullmatch(r"python(\d+(\.\d+)?)?", _basename(word)) is not None


def _pip_args(words: list[str]) -> list[str] | None:
    """The arguments after `install` when this is a pip install, else None."""
    name = _basename(words[0]) if words else ""
    if re.fullmatch(r"pip(\d+(\.\d+)?)?", name):
        rest = words[1:]
    elif _is_python(words[0]) and words[1:3] == ["-m", "pip"]:
        rest = words[3:]
    elif name == "uv" and words[1:2] == ["pip"]:
        rest = words[2:]
    else:
        return None
    while rest and rest[0].startswith("-") and rest[0] != "install":
        rest = rest[2:] if rest[0] in ("--python", "-p") else rest[1:]
    if not rest or rest[0] not in ("install", "sync", "wheel", "download"):
        return None
    return rest[1:]


def _is_local_path(spec: str) -> bool:
    if spec.startswith("file:"):
        return True
    if "://" in spec or spec.startswith("git+"):
        return False
    if spec in (".", ".."):
        return True
    if spec.startswith(("./", "../", "/")):
        return True
    head = re.split(r"[\[@;]", spec, maxsplit=1)[0]
    return "/" in head and not re.search(r"[=<>~!]", head)


def local_path_of(spec: str) -> str:
    """The directory or file a local requirement points at, without extras or `file:`."""
    if spec.startswith("file://"):
        spec = spec[len("file://") :]
    elif spec.startswith("file:"):
        spec = spec[len("file:") :]
    if "@" in spec and " @ " in spec:
        spec = spec.split(" @ ", 1)[1]
    return re.split(r"\[", spec, maxsplit=1)[0].strip() or "."


def parse_pip(words: list[str], args: list[str]) -> InstallCommand:
    manifests: list[str] = []
    local: list[str] = []
    links: list[str] = []
    options: list[str] = []
    named: list[str] = []
    position = 0
    while position < len(args):
        word = args[position]
        value: str | None = None
        name = word
        if word.startswith("--") and "=" in word:
            name, value = word.split("=", 1)
        elif len(word) > 2 and word[:2] in ("-r", "-c", "-e") and not word.startswith("--"):
            name, value = word[:2], word[2:]
        takes_value = name in ("-r", "--requirement", "-c", "--constraint", "-e", "--editable")
        takes_value = takes_value or name in PIP_VALUE_OPTIONS
        if takes_value and value is None:
            position += 1
            value = args[position] if position < len(args) else ""
        if name in ("-r", "--requirement", "-c", "--constraint"):
            manifests.append(value or "")
        elif name in ("-e", "--editable"):
            if not value or _is_local_path(value) or not re.match(r"[\w+.-]+:", value):
                local.append(local_path_of(value or ""))  # `-e git+https://...` is not local
        elif name in ("-f", "--find-links") and value and _is_local_path(value):
            links.append(local_path_of(value))
        elif name.startswith("-"):
            options.append(word)
        elif _is_local_path(word):
            local.append(local_path_of(word))
        else:
            named.append(word)
        position += 1
    return InstallCommand(
        tool="pip",
        argv=tuple(words),
        manifests=tuple(manifests),
        local_paths=tuple(local),
        find_links=tuple(links),
        installs_project=any(p in (".", "./") for p in local),
        options=tuple(options),
        named=tuple(named),
    )


def _option_value(args: list[str], *names: str) -> str | None:
    for position, word in enumerate(args):
        for name in names:
            if word == name and position + 1 < len(args):
                return args[position + 1]
            if word.startswith(name + "=") and name.startswith("--"):
                return word.split("=", 1)[1]
            if not name.startswith("--") and word.startswith(name) and len(word) > len(name):
                return word[len(name) :]
    return None


def _project_dir(args: list[str]) -> str:
    return _option_value(args, "--directory", "-C", "--project") or "."


def _join(directory: str, name: str) -> str:
    return name if directory in (".", "./", "") else f"{directory.rstrip('/')}/{name}"


def classify(text: str) -> InstallCommand | None:
    words = _words(text)
    if not words:
        return None
    words = _strip_prefix(words)
    if not words:
        return None
    pip = _pip_args(words)
    if pip is not None:
        return parse_pip(words, pip)
    tool = _basename(words[0])
    args = words[1:]
    if tool == "poetry" and args[:1] in (["install"], ["sync"]):
        directory = _project_dir(args)
        return InstallCommand(
            tool="poetry",
            argv=tuple(words),
            # poetry.toml (the project's own poetry config: where the venv goes) is read
            # by the install as much as the lock is; like the lock, it may be absent.
            manifests=(
                _join(directory, "pyproject.toml"),
                _join(directory, "poetry.lock"),
                _join(directory, "poetry.toml"),
            ),
            installs_project="--no-root" not in args and "--only-root" not in args,
            project_dir=directory,
        )
    if tool == "uv" and args[:1] == ["sync"]:
        directory = _project_dir(args)
        skip = {"--no-install-project", "--only-dev", "--no-install-workspace"}
        return InstallCommand(
            tool="uv",
            argv=tuple(words),
            manifests=(
                _join(directory, "pyproject.toml"),
                _join(directory, "uv.lock"),
                _join(directory, "uv.toml"),
                _join(directory, ".python-version"),
            ),
            installs_project=not skip.intersection(args),
            project_dir=directory,
        )
    if tool == "pipenv" and args[:1] in (["install"], ["sync"]):
        return InstallCommand(
            tool="pipenv",
            argv=tuple(words),
            manifests=("Pipfile", "Pipfile.lock"),
            project_dir=".",
        )
    if tool in CONDA_TOOLS:
        return _classify_conda(words, args)
    if tool in SYSTEM_MANAGERS and any(a in ("install", "add", "update", "upgrade") for a in args):
        return InstallCommand(tool="system", argv=tuple(words))
    return None


def _classify_conda(words: list[str], args: list[str]) -> InstallCommand | None:
    sub = [a for a in args if not a.startswith("-")][:2]
    env_file = _option_value(args, "-f", "--file")
    if sub[:2] in (["env", "create"], ["env", "update"]) or sub[:1] in (["create"], ["install"]):
        manifests: tuple[str, ...] = ()
        if env_file:
            manifests = (env_file,)
        elif sub[:2] in (["env", "create"], ["env", "update"]):
            manifests = ("environment.yml",)
        return InstallCommand(tool="conda", argv=tuple(words), manifests=manifests)
    return None


def is_system_install(text: str) -> bool:
    command = classify(text)
    return command is not None and command.tool == "system"
