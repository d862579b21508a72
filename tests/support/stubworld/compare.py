"""What may differ between the original's and the fixed image, and what may not.

A fix may change the files it edits (they are copied too), keep out of the context what a
new ``.dockerignore`` line lists, and add the baked weights (hub cache entries). Anything
else that differs in the final image, or in what the installs read, is unexpected.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tests.support.docker import VOLATILE_PATHS, FileInfo, compare_trees

# The stub world's own logs, and apt's package lists (a cache, which MLF203 removes on
# purpose; the stub apt-get never fills it).
IGNORED_PATHS = ("/.stubworld", "/.stubworld/*", "/var/lib/apt/lists/*")
_HUB_ENTRY_RE = re.compile(r"/(models|datasets|spaces)--[^/]+(/|$)")


@dataclass(frozen=True)
class Allowed:
    """What the fix changes on purpose, as mlfix's findings and the two trees say."""

    edited: frozenset[str]  # context-relative paths whose bytes the fix changed or added
    ignored: tuple[str, ...]  # .dockerignore lines the fix added (`!` ones re-include)
    caches: tuple[str, ...]  # image directories the baked weights go to
    mounts: tuple[str, ...] = ()  # cache mount targets of the fixed Dockerfile


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's ignore pattern (Go ``filepath.Match`` plus ``**``) as a regex."""
    out, i = "", 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif ch == "*":
            out, i = out + "[^/]*", i + 1
        elif ch == "?":
            out, i = out + "[^/]", i + 1
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out, i = out + re.escape(ch), i + 1
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                body = "^" + body[1:] if body.startswith("^") else body
                out, i = out + "[" + body + "]", end + 1
        elif ch == "\\" and i + 1 < len(pattern):
            out, i = out + re.escape(pattern[i + 1]), i + 2
        else:
            out, i = out + re.escape(ch), i + 1
    return re.compile(out + r"\Z")


def ignore_lines(text: str) -> list[str]:
    lines = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def _ignored_by(rel: str, patterns: Sequence[str]) -> bool:
    """Whether a context path (or a directory above it) matches one of the new lines."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    for pattern in patterns:
        if pattern.startswith("!"):
            continue
        regex = _pattern_regex(pattern.strip("/").removeprefix("./"))
        if any(regex.match(prefix) for prefix in prefixes):
            return True
    return False


def _suffixes(path: str) -> list[str]:
    parts = path.strip("/").split("/")
    return ["/".join(parts[n:]) for n in range(len(parts))]


def cache_mounts(text: str) -> tuple[str, ...]:
    """``--mount=type=cache,target=X`` targets: BuildKit leaves each X as an empty directory."""
    out = []
    for flag in re.findall(r"--mount=(\S+)", text):
        parts = dict(p.split("=", 1) for p in flag.split(",") if "=" in p)
        target = parts.get("target") or parts.get("dst") or parts.get("destination")
        if parts.get("type") == "cache" and target:
            out.append("/" + target.strip("\"'").strip("/"))
    return tuple(out)


def _allowed(kind: str, path: str, allowed: Allowed, weight_dirs: set[str]) -> bool:
    suffixes = _suffixes(path)
    if kind == "only after" and any(
        m == path or m.startswith(path.rstrip("/") + "/") for m in allowed.mounts
    ):
        return True  # the (empty) mount point of a cache mount the fix added
    if any(s in allowed.edited for s in suffixes):
        return True
    if kind == "only before" and any(_ignored_by(s, allowed.ignored) for s in suffixes):
        return True
    reincluded = [line[1:] for line in allowed.ignored if line.startswith("!")]
    if kind == "only after" and any(_ignored_by(s, reincluded) for s in suffixes):
        return True
    if kind == "only after":
        if _HUB_ENTRY_RE.search(path) or path in weight_dirs:
            return True
        if any(path == c or path.startswith(c.rstrip("/") + "/") for c in allowed.caches):
            return True
    return False


def file_differences(
    before: Mapping[str, FileInfo], after: Mapping[str, FileInfo], allowed: Allowed
) -> tuple[list[str], list[str]]:
    """(unexpected, allowed) differences of two final images, one line each."""
    lines = compare_trees(before, after, ignore=(*VOLATILE_PATHS, *IGNORED_PATHS))
    # Directories that only exist to hold baked weights (/opt/hf, /opt/hf/hub).
    weight_dirs = {
        "/" + "/".join(p.strip("/").split("/")[:n])
        for p in after
        if p not in before and (_HUB_ENTRY_RE.search(p) or _under(p, allowed.caches))
        for n in range(1, p.count("/") + 1)
    } | set(allowed.caches)
    unexpected, ok = [], []
    for line in lines:
        kind, _, rest = line.partition(": ")
        path = rest.split(": ", 1)[0]
        (ok if _allowed(kind, path, allowed, weight_dirs) else unexpected).append(line)
    return unexpected, ok


def _under(path: str, dirs: Iterable[str]) -> bool:
    return any(path.startswith(d.rstrip("/") + "/") for d in dirs)


def parse_reads(text: str) -> set[tuple[str, str, str]]:
    """The reads logs: ``tool<TAB>path<TAB>sha256`` lines."""
    reads = set()
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 3:
            reads.add((parts[0], parts[1], parts[2]))
    return reads


def read_differences(
    before: set[tuple[str, str, str]], after: set[tuple[str, str, str]]
) -> list[str]:
    out = [f"only original reads: {t} {p} {d[:12]}" for t, p, d in sorted(before - after)]
    out += [f"only fixed reads: {t} {p} {d[:12]}" for t, p, d in sorted(after - before)]
    return out


def matches_any(path: str, globs: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, g) for g in globs)
