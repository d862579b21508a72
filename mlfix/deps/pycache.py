"""Where pip, uv and poetry keep their download caches when a `RUN` runs them.

A cache directory is found the way the tool finds it at build time: its own
variable (`PIP_CACHE_DIR`, `UV_CACHE_DIR`, `POETRY_CACHE_DIR`) or `--cache-dir`,
else `$XDG_CACHE_HOME/<tool>`, else `$HOME/.cache/<tool>`. `HOME` is the `ENV HOME`
in scope, or what Docker sets for the active `USER`: `/root` for root, and for a
user the Dockerfile creates (`useradd`, `adduser`) the home that command gives it.
A user the Dockerfile does not create has no known home or uid: its cache cannot be
placed, and callers fall back to not caching at all.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass

from mlfix.deps.facts import DependencyFacts, command_offset, logical
from mlfix.dockerfile import shell
from mlfix.dockerfile.model import DockerfileModel, Instruction
from mlfix.dockerfile.state import expand

TRUTHY = frozenset({"1", "true", "on", "yes", "y"})
ROOT_NAMES = frozenset({"", "root", "0"})


@dataclass(frozen=True)
class Account:
    """The user a RUN runs as: `home` and `uid` are None where the Dockerfile does not say."""

    user: str
    home: str | None
    uid: int | None

    @property
    def is_root(self) -> bool:
        return self.user in ROOT_NAMES


@dataclass(frozen=True)
class CreatedUser:
    name: str
    uid: int | None
    home: str | None  # None: the command leaves it to the system's defaults


def _created_users(model: DockerfileModel, before: int) -> list[CreatedUser]:
    """Users that `useradd`/`adduser` RUNs above instruction `before` create."""
    users: list[CreatedUser] = []
    for instruction in model.instructions:
        if instruction.index >= before:
            break
        if instruction.keyword != "RUN" or instruction.is_json or instruction.heredocs:
            continue
        raw = model.text[instruction.start : instruction.end]
        body = raw[command_offset(model, instruction) :]
        for segment in shell.segments(body, model.escape):
            words = [w.value for w in shell.words(segment.text, model.escape)]
            words = [expand(w, instruction.env) for w in words]
            created = _parse_useradd(words)
            if created is not None:
                users.append(created)
    return users


def _parse_useradd(words: list[str]) -> CreatedUser | None:
    while words and words[0] in ("sudo", "exec"):
        words = words[1:]
    if not words:
        return None
    tool = posixpath.basename(words[0])
    if tool not in ("useradd", "adduser"):
        return None
    uid: int | None = None
    home: str | None = None
    base: str | None = None
    system = False
    positional: list[str] = []
    args = words[1:]
    takes_value = {
        "-u", "--uid", "-d", "--home-dir", "--home", "-h", "-b", "--base-dir", "-g", "--gid",
        "-G", "--groups", "-s", "--shell", "-c", "--comment", "--gecos", "-k", "--skel",
        "-e", "--expiredate", "-f", "--inactive", "-K", "--key", "-p", "--password",
        "--ingroup", "--firstuid", "--lastuid", "--conf", "-R", "--root", "-P", "--prefix",
        "-Z", "--selinux-user",
    }  # fmt: skip
    position = 0
    while position < len(args):
        word = args[position]
        name, value = word, None
        if word.startswith("--") and "=" in word:
            name, value = word.split("=", 1)
        if name in takes_value and value is None and not (tool == "useradd" and name == "-h"):
            position += 1
            value = args[position] if position < len(args) else ""
        if name in ("-u", "--uid") and value is not None and value.isdigit():
            uid = int(value)
        elif name in ("-d", "--home-dir", "--home") or (tool == "adduser" and name == "-h"):
            home = value
        elif name in ("-b", "--base-dir"):
            base = value
        elif name in ("-r", "--system", "-S"):
            system = True
        elif not name.startswith("-"):
            positional.append(word)
        position += 1
    if not positional:
        return None
    user = positional[0] if tool == "adduser" else positional[-1]
    if home is None and base is not None:
        home = posixpath.join(base, user)
    if home is None and not (tool == "adduser" and system):
        home = f"/home/{user}"  # useradd's and adduser's default for a named user
    return CreatedUser(user, uid, home)


def account(model: DockerfileModel, deps: DependencyFacts, instruction: Instruction) -> Account:
    state = deps.effective.get(instruction.index)
    spec = state.user if state else "root"
    user, _, _group = spec.partition(":")
    env_home = instruction.env.get("HOME")
    if user in ROOT_NAMES:
        return Account("root", env_home or "/root", 0)
    created = {u.name: u for u in _created_users(model, instruction.index)}
    by_uid = {u.uid: u for u in created.values() if u.uid is not None}
    if user.isdigit():
        found = by_uid.get(int(user))
        return Account(user, env_home or (found.home if found else None), int(user))
    found = created.get(user)
    if found is None:
        return Account(user, env_home, None)
    return Account(user, env_home or found.home, found.uid)


@dataclass(frozen=True)
class CacheDir:
    """A tool's cache directory at one RUN; `path` None when it cannot be told."""

    tool: str  # "pip", "uv", "poetry"
    path: str | None
    under_home: bool  # the path is inside the user's home (derived from HOME)


CACHE_VARS = {"pip": "PIP_CACHE_DIR", "uv": "UV_CACHE_DIR", "poetry": "POETRY_CACHE_DIR"}
CACHE_NAMES = {"pip": "pip", "uv": "uv", "poetry": "pypoetry"}


def cache_dir(
    tool: str, env: Mapping[str, str], who: Account, option: str | None = None
) -> CacheDir:
    """The cache directory `tool` uses with `env` in scope, run as `who`."""
    explicit = option or env.get(CACHE_VARS[tool])
    if explicit:
        path = posixpath.normpath(expand(explicit, env))
        home = who.home
        inside = home is not None and (path + "/").startswith(home.rstrip("/") + "/")
        return CacheDir(tool, path if path.startswith("/") else None, inside and not who.is_root)
    xdg = env.get("XDG_CACHE_HOME")
    if xdg and xdg.startswith("/"):
        path = posixpath.join(posixpath.normpath(xdg), CACHE_NAMES[tool])
        home = who.home
        inside = home is not None and path.startswith(home.rstrip("/") + "/")
        return CacheDir(tool, path, inside and not who.is_root)
    if who.home is None:
        return CacheDir(tool, None, True)
    return CacheDir(tool, posixpath.join(who.home, ".cache", CACHE_NAMES[tool]), not who.is_root)


def is_truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() in TRUTHY


@dataclass(frozen=True)
class CacheMount:
    target: str
    flag: str  # the whole `--mount=...` value


def cache_mounts(instruction: Instruction) -> list[CacheMount]:
    mounts: list[CacheMount] = []
    for flag in instruction.flags:
        if flag.name != "mount" or not flag.value:
            continue
        fields: dict[str, str] = {}
        for part in flag.value.split(","):
            key, _, value = part.partition("=")
            fields[key] = value
        if fields.get("type") != "cache":
            continue
        target = fields.get("target") or fields.get("dst") or fields.get("destination")
        if target:
            mounts.append(
                CacheMount(posixpath.normpath(expand(target, instruction.env)), flag.value)
            )
    return mounts


def covered_by_mount(path: str | None, mounts: list[CacheMount], tool: str) -> bool:
    """A cache mount on the directory (or a parent) keeps the cache out of the layer.

    poetry's directory also holds its virtualenvs, so mounts on its `cache` and
    `artifacts` subdirectories cover it too.
    """
    if tool == "poetry" and path is not None:
        targets = {m.target.rstrip("/") for m in mounts}
        if {f"{path}/cache", f"{path}/artifacts"} <= targets:
            return True
    for mount in mounts:
        target = mount.target.rstrip("/") or "/"
        if path is not None and (path == target or path.startswith(target.rstrip("/") + "/")):
            return True
        if path is None and posixpath.basename(target) in (CACHE_NAMES[tool], ".cache"):
            return True
    return False


def removed_later(path: str | None, tool: str, later: list[str]) -> bool:
    """A later command of the same RUN deletes the cache (or asks the tool to)."""
    if tool == "poetry":
        # Unknown home: the fix removes `$HOME/.cache/pypoetry/{cache,artifacts}`.
        base = path if path is not None else "~/.cache/pypoetry"
        removed = {
            posixpath.normpath(w.strip("\"'").replace("${HOME}", "~").replace("$HOME", "~")).rstrip(
                "/*"
            )
            for text in later
            if text.split()[:1] == ["rm"]
            for w in text.split()[1:]
        }
        if {f"{base}/cache", f"{base}/artifacts"} <= removed:
            return True
    for text in later:
        words = text.split()
        if not words:
            continue
        if tool == "pip" and re.search(r"\bpip\d?(?:\.\d+)?\s+cache\s+(?:purge|remove)\b", text):
            return True
        if tool == "uv" and re.search(r"\buv\s+cache\s+(?:clean|prune)\b", text):
            return True
        if words[0] != "rm":
            continue
        for word in words[1:]:
            if word.startswith("-"):
                continue
            target = posixpath.normpath(word.replace("${HOME}", "~").replace("$HOME", "~"))
            target = target.rstrip("/*") or "/"
            if path is not None and (path + "/").startswith(target.rstrip("/") + "/"):
                return True
            if target.endswith((f".cache/{CACHE_NAMES[tool]}", "/.cache", "~")):
                return True
    return False


def segment_texts(model: DockerfileModel, instruction: Instruction) -> list[str]:
    raw = model.text[instruction.start : instruction.end]
    body = raw[command_offset(model, instruction) :]
    return [logical(s.text, model.escape).strip() for s in shell.segments(body, model.escape)]


def stage_env(model: DockerfileModel, instruction: Instruction) -> dict[str, str]:
    """ENV/ARG in scope, with what a `FROM <earlier stage>` inherits from that stage."""
    inherited: dict[str, str] = {}
    stage = model.stage_of(instruction)
    seen: set[int] = set()
    while stage is not None and stage.index not in seen:
        seen.add(stage.index)
        base = stage.base.lower()
        parent = next(
            (s for s in model.stages if s.index < stage.index and (s.name or "").lower() == base),
            None,
        )
        if parent is None:
            break
        last = parent.instructions[-1]
        for name in _env_names(parent.instructions):
            if name in last.env:
                inherited.setdefault(name, last.env[name])
        stage = parent
    return {**inherited, **instruction.env}


def _env_names(instructions: tuple[Instruction, ...]) -> set[str]:
    """Names that `ENV` instructions set (ARGs end with their stage, ENVs are inherited)."""
    names: set[str] = set()
    for instruction in instructions:
        if instruction.keyword != "ENV":
            continue
        words = instruction.value.split()
        if words and "=" not in words[0]:
            names.add(words[0])
        else:
            names.update(w.split("=", 1)[0] for w in words if "=" in w)
    return names
