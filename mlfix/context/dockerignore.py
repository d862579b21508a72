"""`.dockerignore` read and matched the way Docker does it, not the way git does.

Why a hand-written matcher and not pathspec: pathspec's `gitwildmatch` implements git's
rules, and they disagree with Docker's on the cases that matter most here. In git a
pattern without a slash (`*.pyc`, `build`) matches at any depth; in Docker every pattern
is anchored at the context root, so `*.pyc` matches only `./x.pyc` and `**/*.pyc` is
needed for every level. Git also distinguishes `dir/` (directories only) from `dir`;
Docker runs `filepath.Clean` on the pattern first, so the trailing slash is simply
dropped. Comments differ too (`#` only at the very start of a line, before trimming) and
Docker has no `\\#`/trailing-space escapes. Adapting pathspec would mean overriding every
piece of it, so this module translates each pattern to a regular expression itself, as
moby's patternmatcher does, and keeps pathspec out of the matching path entirely.

Two Docker behaviours exist in the wild and they send different files:

* `Engine.MODERN` - moby/patternmatcher with `MatchesOrParentMatches` semantics and
  tonistiigi/fsutil's current walker (Docker >= 23, where `docker build` is buildx, and
  BuildKit >= 0.11). A path is excluded when the last pattern that matches it, or any of
  its parent directories, is not a `!` pattern. Regex metacharacters `.+()|{}$` in a
  pattern are literal.
* `Engine.LEGACY` - docker/docker `pkg/fileutils` as vendored by the Docker 20.10 CLI
  (which does the file transfer for `DOCKER_BUILDKIT=1` builds). Its `Matches` checks only
  the one parent prefix that has as many components as the pattern, its walker only
  descends into an excluded directory when a `!` pattern literally starts with that
  directory's path, and only `.` and `$` are escaped when the pattern becomes a regex, so
  `a+b.txt` matches `aab.txt` but not `a+b.txt`. The real-Docker tests in this repository
  run against such an engine and confirm each of these quirks.

The default is MODERN: it is what current Docker does and what the documentation
describes. Entries mlfix writes itself (plain directory names, `**/` globs, literal `!`
re-includes) behave the same under both engines.
"""

from __future__ import annotations

import enum
import os
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mlfix.errors import MlfixError
from mlfix.textio import read_text

__all__ = [
    "IGNORE_FILE",
    "MISNAMED_IGNORE_FILES",
    "DirAction",
    "DockerIgnore",
    "Engine",
    "IgnoreFile",
    "Pattern",
    "Verdict",
    "find_ignore_file",
    "find_misnamed_ignore_files",
    "go_clean",
]

IGNORE_FILE = ".dockerignore"

# Names people give the file that Docker never reads (Linux names are case-sensitive).
MISNAMED_IGNORE_FILES: tuple[str, ...] = (
    ".Dockerignore",
    ".DockerIgnore",
    ".DOCKERIGNORE",
    "dockerignore",
    "Dockerignore",
    ".dockerignore.txt",
    "dockerignore.txt",
    ".docker-ignore",
    ".dockerIgnore",
)


class Engine(enum.Enum):
    """Which Docker file-transfer code to model; see the module docstring."""

    MODERN = "modern"
    LEGACY = "legacy"

    @staticmethod
    def for_docker_client(version: str) -> Engine:
        """The engine a `docker build` client of this version uses for the context.

        The client walks and filters the context itself, so the client version decides;
        clients before 23.0 carry the old fileutils/fsutil pair.
        """
        head = version.strip().lstrip("v").split(".", 1)[0]
        try:
            major = int(head)
        except ValueError:
            return Engine.MODERN
        return Engine.LEGACY if major < 23 else Engine.MODERN


class DirAction(enum.Enum):
    """What Docker's walker does with a directory."""

    WALK = "walk"  # not excluded: sent, and its entries are looked at one by one
    WALK_EXCLUDED = "walk-excluded"  # excluded, but a `!` pattern may bring back entries below
    SKIP = "skip"  # excluded with everything below: never read


# Go's unicode.IsSpace for Latin-1, which str.isspace does not match exactly (\x1c-\x1f).
_GO_LATIN1_SPACE = "\t\n\v\f\r \x85\xa0"


def _go_trim_space(text: str) -> str:
    def is_space(ch: str) -> bool:
        return ch in _GO_LATIN1_SPACE if ord(ch) <= 0xFF else ch.isspace()

    start, end = 0, len(text)
    while start < end and is_space(text[start]):
        start += 1
    while end > start and is_space(text[end - 1]):
        end -= 1
    return text[start:end]


def go_clean(path: str) -> str:
    """Go's `filepath.Clean` on Linux; `posixpath.normpath` keeps a leading `//`, Go does not."""
    if not path:
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for comp in path.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(comp)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def _glob_error(pattern: str) -> str | None:
    """Why Go's `filepath.Match` would reject the pattern, or None.

    Docker validates every pattern this way and fails the build on a bad one, so mlfix
    refuses it too rather than guess what the user meant.
    """
    i, n = 0, len(pattern)

    def esc(j: int) -> int:
        # getEsc: one (possibly escaped) class character; returns the index after it.
        if j >= n or pattern[j] in "-]":
            raise ValueError
        if pattern[j] == "\\":
            j += 1
            if j >= n:
                raise ValueError
        j += 1
        if j >= n:
            raise ValueError
        return j

    try:
        while i < n:
            ch = pattern[i]
            if ch == "\\":
                if i + 1 >= n:
                    return "a trailing backslash escapes nothing"
                i += 2
            elif ch == "[":
                i += 1
                if i < n and pattern[i] == "^":
                    i += 1
                ranges = 0
                while True:
                    if i < n and pattern[i] == "]" and ranges > 0:
                        i += 1
                        break
                    i = esc(i)
                    if pattern[i] == "-":
                        i = esc(i + 1)
                    ranges += 1
            else:
                i += 1
    except ValueError:
        return "malformed character class"
    return None


# Characters patternmatcher escapes before handing the pattern to the regex engine.
_MODERN_ESCAPED = frozenset(".+()|{}$")
_LEGACY_ESCAPED = frozenset(".$")

# Go regexp escapes `\<letter>` that mean the same in Python's re.
_SAME_ESCAPES = frozenset("afnrtvdDsSwWbBA")


def _escape(ch: str) -> str:
    """The regex for Docker's `\\<ch>`: Go's meaning, written for Python's re."""
    if ch.isascii() and ch.isalnum():
        if ch in _SAME_ESCAPES:
            return "\\" + ch
        if ch == "z":
            return r"\Z"
        raise ValueError(f"the escape \\{ch} has no portable meaning")
    return re.escape(ch)


class _Kind(enum.Enum):
    EXACT = "exact"
    PREFIX = "prefix"
    SUFFIX = "suffix"
    REGEX = "regex"


def _translate(pattern: str, engine: Engine) -> tuple[_Kind, str]:
    """Docker's `Pattern.compile`, emitting a Python regex body (no anchors).

    Returns the match kind and, for REGEX, the regex. MODERN's shortcuts (exact, prefix,
    suffix) are not just speed-ups: `**foo` is a plain suffix test there, so it matches
    `barfoo`, which the regex `(.*/)?foo` would not.
    """
    escaped = _MODERN_ESCAPED if engine is Engine.MODERN else _LEGACY_ESCAPED
    out: list[str] = []
    kind = _Kind.EXACT
    i, n = 0, len(pattern)
    first = True
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                if i >= n:
                    # "**" at the end accepts everything, as in .gitignore.
                    out.append(".*")
                    kind = _Kind.PREFIX if kind is _Kind.EXACT else _Kind.REGEX
                else:
                    out.append("(?:.*/)?")
                    kind = _Kind.REGEX
                if first:
                    kind = _Kind.SUFFIX
            else:
                out.append("[^/]*")
                kind = _Kind.REGEX
        elif ch == "?":
            out.append("[^/]")
            kind = _Kind.REGEX
        elif ch in escaped:
            out.append("\\" + ch)
        elif ch == "\\":
            if i < n:
                out.append(_escape(pattern[i]))
                i += 1
                kind = _Kind.REGEX
            else:
                out.append(r"\\")
        elif ch in "[]":
            out.append(ch)
            kind = _Kind.REGEX
        else:
            # Copied as is, like Docker does: `-` and `^` keep their meaning inside a
            # class, and LEGACY's unescaped `+()|{}` stay regex operators, on which Go's
            # regexp and Python's re agree.
            out.append(ch)
        first = False
    if engine is Engine.LEGACY:
        # LEGACY has no shortcuts: every pattern is a regex.
        kind = _Kind.REGEX
    return kind, "".join(out)


def _matcher(pattern: str, engine: Engine) -> Callable[[str], bool]:
    kind, regex = _translate(pattern, engine)
    if kind is _Kind.EXACT:
        return pattern.__eq__
    if kind is _Kind.PREFIX:
        return _starts_with(pattern[:-2])
    if kind is _Kind.SUFFIX:
        return _ends_with(pattern[2:])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        compiled = re.compile(regex)

    def match(path: str) -> bool:
        return compiled.fullmatch(path) is not None

    return match


def _starts_with(prefix: str) -> Callable[[str], bool]:
    def match(path: str) -> bool:
        return path.startswith(prefix)

    return match


def _ends_with(suffix: str) -> Callable[[str], bool]:
    bare = suffix[1:] if suffix.startswith("/") else None

    def match(path: str) -> bool:
        # `**/foo` also matches `foo` itself, at the root.
        return path.endswith(suffix) or path == bare

    return match


@dataclass(frozen=True)
class Pattern:
    """One effective line of a `.dockerignore`.

    `line` and `text` point back at the file, so findings can name the line and a fix can
    leave it byte for byte; `pattern` is what Docker matches after `ReadAll`'s cleaning.
    """

    line: int
    text: str
    pattern: str
    exclusion: bool
    engine: Engine = Engine.MODERN
    _match: Callable[[str], bool] = field(repr=False, compare=False, default=bool)
    _components: tuple[str, ...] = field(repr=False, compare=False, default=())

    @staticmethod
    def compile(line: int, text: str, cleaned: str, engine: Engine) -> Pattern:
        """Build a pattern from one cleaned `ReadAll` entry (leading `!` included)."""
        body = go_clean(cleaned)
        exclusion = body.startswith("!")
        if exclusion:
            if len(body) == 1:
                raise ValueError('illegal exclusion pattern: "!"')
            body = body[1:]
        problem = _glob_error(body)
        if problem is not None:
            raise ValueError(problem)
        try:
            match = _matcher(body, engine)
        except (ValueError, re.error) as exc:
            raise ValueError(f"cannot be matched: {exc}") from None
        return Pattern(line, text, body, exclusion, engine, match, tuple(body.split("/")))

    def matches(self, path: str) -> bool:
        """Whether the pattern matches this path itself (no parent-directory rule)."""
        return self._match(path)

    def may_match_below(self, directory: str) -> bool:
        """Whether some path strictly inside `directory` could match this pattern itself.

        Errs on the side of True: a wrong True only costs a walk, a wrong False would
        predict the wrong files.
        """
        if directory in ("", "."):
            return True
        dirs = directory.split("/")
        comps = self._components
        if self.engine is Engine.LEGACY and any(c in self.pattern for c in "+()|{}"):
            return True
        if self.pattern.startswith("**") and self.engine is Engine.MODERN:
            return True
        for index, name in enumerate(dirs):
            if index >= len(comps):
                return False
            comp = comps[index]
            if "**" in comp:
                return True
            if not _component_matches(comp, name, self.engine):
                return False
        return len(comps) > len(dirs)


def _component_matches(comp: str, name: str, engine: Engine) -> bool:
    if not any(c in comp for c in "*?[\\"):
        return comp == name
    try:
        kind, regex = _translate(comp, engine)
    except ValueError:
        return True
    if kind is not _Kind.REGEX:
        return comp == name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        try:
            return re.fullmatch(regex, name) is not None
        except re.error:
            return True


@dataclass(frozen=True)
class Verdict:
    """The outcome of matching one path, kept so children can reuse it.

    `index` is the position of the last pattern that matched the path or one of its
    parents (-1 for none). Under MODERN rules a child only needs to check the patterns
    after it, which keeps a walk linear in the number of paths.
    """

    excluded: bool
    index: int


_ROOT = Verdict(False, -1)


@dataclass(frozen=True)
class DockerIgnore:
    """A parsed `.dockerignore`: Docker's exclude list plus where each entry came from."""

    patterns: tuple[Pattern, ...]
    text: str = ""
    engine: Engine = Engine.MODERN
    path: Path | None = None

    @classmethod
    def parse(
        cls, text: str, *, path: Path | None = None, engine: Engine = Engine.MODERN
    ) -> DockerIgnore:
        """Read the file as moby's `ReadAll` does; a pattern Docker rejects is an MlfixError.

        Lines split on LF with one trailing CR dropped (so CRLF files read the same), a
        UTF-8 BOM is dropped from the first line, `#` starts a comment only as the very
        first character, whitespace is trimmed, and the path is cleaned with a leading
        `/` removed.
        """
        patterns: list[Pattern] = []
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for number, raw in enumerate(lines, start=1):
            line = raw[:-1] if raw.endswith("\r") else raw
            if number == 1 and line.startswith("\ufeff"):
                line = line[1:]
            if line.startswith("#"):
                continue
            entry = _go_trim_space(line)
            if not entry:
                continue
            invert = entry.startswith("!")
            if invert:
                entry = _go_trim_space(entry[1:])
            if entry:
                entry = go_clean(entry)
                if len(entry) > 1 and entry.startswith("/"):
                    entry = entry[1:]
            if invert:
                entry = "!" + entry
            try:
                patterns.append(Pattern.compile(number, line, entry, engine))
            except ValueError as exc:
                raise MlfixError(
                    path or IGNORE_FILE, f"line {number}: {line.strip()!r}: {exc}"
                ) from None
        return cls(tuple(patterns), text, engine, path)

    @classmethod
    def load(cls, path: Path, *, engine: Engine = Engine.MODERN) -> DockerIgnore:
        """Parse the file at `path`, with read errors as one-line MlfixErrors."""
        return cls.parse(read_text(path), path=path, engine=engine)

    def with_engine(self, engine: Engine) -> DockerIgnore:
        """The same file read under the other engine's rules."""
        return DockerIgnore.parse(self.text, path=self.path, engine=engine)

    @property
    def has_exclusions(self) -> bool:
        """Whether any `!` line exists; without one, an excluded directory is never read."""
        return any(p.exclusion for p in self.patterns)

    # -- single paths --------------------------------------------------------------

    def verdict(self, relpath: str, parent: Verdict | None = None) -> Verdict:
        """Match `relpath` (POSIX, relative to the context root).

        Pass the parent directory's verdict during a walk to avoid re-matching the parent
        chain; without it the parents are checked from the path itself. Docker makes no
        difference between files and directories here: the trailing `/` of a pattern is
        removed by `filepath.Clean` before matching.
        """
        path = go_clean(relpath)
        if path == ".":
            return _ROOT
        if self.engine is Engine.LEGACY:
            return self._legacy_verdict(path)
        if parent is None:
            parent = _ROOT
            head, _, _ = path.rpartition("/")
            if head:
                parent = self.verdict(head)
        index = parent.index
        for i in range(len(self.patterns) - 1, index, -1):
            if self.patterns[i].matches(path):
                index = i
                break
        if index < 0:
            return _ROOT
        return Verdict(not self.patterns[index].exclusion, index)

    def _legacy_verdict(self, path: str) -> Verdict:
        """fileutils.Matches from Docker 20.10, quirks included."""
        matched = False
        index = -1
        head = path.rpartition("/")[0]
        parents = head.split("/") if head else []
        for i, pattern in enumerate(self.patterns):
            if pattern.exclusion != matched:
                continue
            match = pattern.matches(path)
            if not match and parents:
                width = len(pattern._components)
                if width <= len(parents):
                    match = pattern.matches("/".join(parents[:width]))
            if match:
                matched = not pattern.exclusion
                index = i
        return Verdict(matched, index)

    def excludes(self, relpath: str) -> bool:
        """Whether Docker leaves this path out of the context (parents included)."""
        return self.verdict(relpath).excluded

    def deciding_pattern(self, relpath: str) -> Pattern | None:
        """The line that decides the path's fate, for messages that quote it."""
        index = self.verdict(relpath).index
        return self.patterns[index] if index >= 0 else None

    def matching_line(self, relpath: str) -> int | None:
        """1-based line of the deciding pattern, or None when no pattern matches."""
        pattern = self.deciding_pattern(relpath)
        return None if pattern is None else pattern.line

    # -- walking -------------------------------------------------------------------

    def may_change_below(self, directory: str, verdict: Verdict | None = None) -> bool:
        """Whether some path inside `directory` can get a different verdict than it.

        When False, the whole subtree shares the directory's fate and a walker can count
        it without matching each path (MODERN). LEGACY always answers True: its parent
        rule can flip a path deep inside a directory it kept.
        """
        if self.engine is Engine.LEGACY:
            return bool(self.patterns)
        if verdict is None:
            verdict = self.verdict(directory)
        return any(p.may_match_below(directory) for p in self.patterns[verdict.index + 1 :])

    def dir_action(self, directory: str, verdict: Verdict | None = None) -> DirAction:
        """What Docker's walker does with this directory: walk it, or skip it unread.

        An excluded directory is skipped unless a `!` pattern could bring something below
        it back. MODERN decides that from what the pattern can match; LEGACY uses the
        Docker 20.10 rule (the `!` pattern must literally start with `<dir>/`), which is
        why `!**/keep` cannot rescue anything inside an excluded directory there.
        """
        if verdict is None:
            verdict = self.verdict(directory)
        if not verdict.excluded:
            return DirAction.WALK
        if not self.has_exclusions:
            return DirAction.SKIP
        if self.engine is Engine.LEGACY:
            prefix = directory + "/"
            for pattern in self.patterns:
                if pattern.exclusion and (pattern.pattern + "/").startswith(prefix):
                    return DirAction.WALK_EXCLUDED
            return DirAction.SKIP
        for pattern in self.patterns[verdict.index + 1 :]:
            if pattern.exclusion and pattern.may_match_below(directory):
                return DirAction.WALK_EXCLUDED
        return DirAction.SKIP

    @property
    def sends_walked_excluded_dirs(self) -> bool:
        """LEGACY sends an excluded directory it walks into even if nothing below is sent."""
        return self.engine is Engine.LEGACY

    def sends_file(self, relpath: str) -> bool:
        """Whether Docker's walker sends this path: not excluded, no parent skipped unread.

        A path the verdict keeps is still lost when a directory above it is excluded and
        no `!` line can reach into it (LEGACY's literal-prefix rule is the usual cause),
        so a `!` re-include is only proven by this, not by `excludes`.
        """
        path = go_clean(relpath)
        if path == ".":
            return True
        parts = path.split("/")
        verdict = _ROOT
        for end in range(1, len(parts)):
            directory = "/".join(parts[:end])
            verdict = self.verdict(directory, verdict)
            if self.dir_action(directory, verdict) is DirAction.SKIP:
                return False
        return not self.verdict(path, verdict).excluded

    def can_skip_dir(self, directory: str) -> bool:
        """Whether a walk may skip this directory unread, as Docker's own walker does."""
        return self.dir_action(directory) is DirAction.SKIP

    def excluded_paths(self, paths: Iterable[str]) -> list[str]:
        """The subset of `paths` Docker leaves out, in input order (for finding messages)."""
        return [p for p in paths if self.excludes(p)]


@dataclass(frozen=True)
class IgnoreFile:
    """The ignore file Docker would use for one build, and why that one."""

    path: Path
    per_dockerfile: bool


def find_ignore_file(
    context: Path, dockerfile: Path | None = None, *, buildkit: bool = True
) -> IgnoreFile | None:
    """The ignore file Docker reads for this Dockerfile and context, if any.

    BuildKit first looks for `<Dockerfile path>.dockerignore` beside the Dockerfile
    (`docker/Dockerfile.dockerignore` for `-f docker/Dockerfile`) and, when it exists,
    uses it *instead of* `<context>/.dockerignore`; the two are never merged. The classic
    builder (`DOCKER_BUILDKIT=0`) knows only `<context>/.dockerignore`; both verified
    against Docker 20.10.
    """
    if dockerfile is not None and buildkit:
        specific = dockerfile.with_name(dockerfile.name + IGNORE_FILE)
        if specific.is_file():
            return IgnoreFile(specific, per_dockerfile=True)
    default = context / IGNORE_FILE
    if default.is_file():
        return IgnoreFile(default, per_dockerfile=False)
    return None


def find_misnamed_ignore_files(context: Path, dockerfile: Path | None = None) -> list[Path]:
    """Files that look meant as a `.dockerignore` but that Docker never reads.

    Looks in the context root and beside the Dockerfile, by exact name: a real
    `.dockerignore` next to a misnamed one is still reported, since the misnamed file's
    lines are silently dead.
    """
    places: list[Path] = [context]
    if dockerfile is not None and dockerfile.parent != context:
        places.append(dockerfile.parent)
    found: list[Path] = []
    for place in places:
        try:
            names = set(os.listdir(place))
        except OSError:
            continue
        for name in MISNAMED_IGNORE_FILES:
            if name in names and (place / name).is_file():
                found.append(place / name)
        if dockerfile is not None and place == dockerfile.parent:
            for wrong in (dockerfile.name + ".Dockerignore", dockerfile.name + ".dockerignore.txt"):
                if wrong in names:
                    found.append(place / wrong)
    return found
