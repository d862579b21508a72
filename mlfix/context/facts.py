"""What the `.dockerignore` rules (MLF101-MLF103) know about one build, gathered from disk.

The engine calls `provide` for every pass and puts its `IgnoreFacts` in `Facts.ignore`.
Everything here is read once per ignore-file text and kept
in the session's `documents.cache`: the first pass walks the context, a pass after
MLF101 created the file walks it again under the new file (which now skips the junk
unread), and every other call is a dictionary lookup.

The facts, attribute by attribute:

* `ignore_path` - the file Docker reads for this build: BuildKit's
  `<Dockerfile>.dockerignore` when it exists (`per_dockerfile`), else
  `<context>/.dockerignore`, which is also where MLF101 creates one. Its current text
  (`text`, None when there is none) comes from the session's documents, so a file a fix
  created or changed in an earlier pass is what the rules see; `ignore` is it parsed
  with Docker's rules, `error` why Docker rejects it.
* `tree` - the walk under that file: totals sent, junk entries with their sizes, and
  the problems (unreadable directories, symlink loops) met on the way.
* `copies` - every path a `COPY`/`ADD` (or a `RUN --mount=type=bind`) takes from the
  context, with the paths a wildcard names expanded on disk (`matches`).
* `mentions` - where the Python sources or the Dockerfile's commands name a junk path,
  found by a bytes search over string literals (no parsing): `"data/labels.json"` in
  `train.py` names `data`.
* `lost` - for each `COPY`'d path (not the whole context), the files under it that the
  ignore file keeps out, except junk that is meant to stay out (caches, venvs, `.git`,
  `node_modules`, secrets) and lines written for that directory's insides
  (`models/*.ckpt`), which are taken as deliberate.
* `misnamed` - files Docker never reads (`.Dockerignore`, `dockerignore.txt`...);
  `misplaced` - a `.dockerignore` beside a Dockerfile whose context is elsewhere.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mlfix.config import Settings
from mlfix.context import baseline
from mlfix.context.dockerignore import (
    IGNORE_FILE,
    DockerIgnore,
    Engine,
    IgnoreFile,
    Pattern,
    find_misnamed_ignore_files,
    go_clean,
)
from mlfix.context.inventory import ContextFacts
from mlfix.context.junk import JunkKind, classify_dir, classify_file
from mlfix.context.tree import EntryKind, Listing, Node, walk
from mlfix.dockerfile.model import DockerfileModel, Instruction
from mlfix.dockerfile.state import copy_plan, expand
from mlfix.errors import MlfixError
from mlfix.facts import Target

KEY = "dockerignore"
CODES = ("MLF101", "MLF102", "MLF103")

# Junk that belongs out of the context even inside a directory a COPY names: nobody
# copies `app/` for its `__pycache__`. Weights, datasets and experiment output are what
# such a directory is copied for.
INCIDENTAL = frozenset(
    {JunkKind.GIT, JunkKind.VENV, JunkKind.CACHE, JunkKind.NODE_MODULES, JunkKind.SECRET}
)
SOURCE_SUFFIXES = (".py",)
SOURCE_LIMIT = 2_000_000  # bytes read from one source file
SOURCES_LIMIT = 64_000_000  # bytes read from all source files of one context
LOST_FILES_LIMIT = 500  # lost file paths kept for checking a re-include
LITERAL = re.compile(rb"""(["'])([^"'\r\n]{1,400})\1""")
GLOB = frozenset("*?[")
# Instructions whose words may name context paths the build or the app reads.
COMMAND_KEYWORDS = frozenset({"RUN", "CMD", "ENTRYPOINT", "ENV", "ARG"})


class _Documents(Protocol):
    """The part of `engine.Documents` this module uses (the engine imports the rules)."""

    cache: dict[str, Any]

    def text(self, path: Path) -> str | None: ...


@dataclass(frozen=True)
class CopySource:
    """One context path a `COPY`/`ADD`/bind mount takes, with what it names on disk.

    `source` is cleaned and relative to the context root (`.` for all of it); `matches`
    are the existing paths it names (the source itself, or what its wildcards match).
    """

    instruction: int
    line: int
    end_line: int
    keyword: str
    source: str
    written: str  # the instruction's sources and destination as written, for messages
    matches: tuple[str, ...]

    @property
    def whole(self) -> bool:
        return self.source == "."


@dataclass(frozen=True)
class Mention:
    """A place that names a junk path: `train.py:12` holding the literal `"data/x.csv"`."""

    path: str  # junk entry path
    where: str  # file (relative to the context, or "Dockerfile") and line
    literal: str


@dataclass(frozen=True)
class LostPath:
    """A file or a whole directory under a `COPY`'d path that the ignore file drops."""

    path: str
    is_dir: bool
    bytes: int
    files: int
    line: int  # the ignore-file line that drops it


@dataclass(frozen=True)
class Lost:
    """What the ignore file takes away from one path a `COPY` names.

    `roots` are the largest lost pieces (a directory with everything below it lost, or
    single files); `files` up to LOST_FILES_LIMIT lost file paths, so a fix can prove a
    re-include brings each one back. `nothing_sent`: the COPY finds nothing at all (the
    build fails).
    """

    copy: CopySource
    path: str
    is_dir: bool
    nothing_sent: bool
    roots: tuple[LostPath, ...]
    files: tuple[str, ...]
    total_bytes: int
    total_files: int

    @property
    def last_line(self) -> int:
        return max(r.line for r in self.roots)


@dataclass(frozen=True)
class IgnoreFacts:
    """The `.dockerignore` side of one target; see the module docstring."""

    context: Path
    dockerfile: Path
    ignore_path: Path
    per_dockerfile: bool
    text: str | None
    ignore: DockerIgnore | None
    error: str | None
    tree: ContextFacts | None
    copies: tuple[CopySource, ...]
    mentions: Mapping[str, tuple[Mention, ...]] = field(default_factory=dict)
    lost: tuple[Lost, ...] = ()
    misnamed: tuple[Path, ...] = ()
    misplaced: tuple[Path, ...] = ()
    misnamed_texts: Mapping[Path, str | None] = field(default_factory=dict)
    engine: Engine = Engine.MODERN
    sizes: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    # Names of `context.baseline` lines that exist at the context root.
    present: frozenset[str] = frozenset()

    @property
    def exists(self) -> bool:
        return self.text is not None

    @property
    def copies_whole_context(self) -> bool:
        return any(c.whole for c in self.copies)


def provide(
    target: Target, documents: _Documents, model: DockerfileModel, settings: Settings
) -> IgnoreFacts | None:
    """The engine's hook: facts only when one of MLF101-MLF103 can use them."""
    wanted = any(settings.enabled(code) for code in CODES)
    if not wanted and not any(code in model.text for code in CODES):
        return None  # a suppression naming them still needs the facts, for MLF001
    return gather(target, documents, model)


def gather(
    target: Target,
    documents: _Documents,
    model: DockerfileModel,
    engine: Engine = Engine.MODERN,
) -> IgnoreFacts:
    context = target.context
    dockerfile = target.dockerfile
    specific = dockerfile.with_name(dockerfile.name + IGNORE_FILE)
    per_dockerfile = documents.text(specific) is not None
    path = specific if per_dockerfile else context / IGNORE_FILE
    text = documents.text(path)
    copies = tuple(_copy_sources(model, context))
    ignore: DockerIgnore | None = None
    error = None
    if text is not None:
        try:
            ignore = DockerIgnore.parse(text, path=path, engine=engine)
        except MlfixError as exc:
            error = exc.message
    misnamed = tuple(find_misnamed_ignore_files(context, dockerfile))
    misplaced: tuple[Path, ...] = ()
    beside = dockerfile.parent / IGNORE_FILE
    if _real(dockerfile.parent) != _real(context) and beside != path and beside.is_file():
        misplaced = (beside,)
    misnamed_texts = {p: documents.text(p) for p in (*misnamed, *misplaced)}
    facts = IgnoreFacts(
        context=context,
        dockerfile=dockerfile,
        ignore_path=path,
        per_dockerfile=per_dockerfile,
        text=text,
        ignore=ignore,
        error=error,
        tree=None,
        copies=copies,
        misnamed=misnamed,
        misplaced=misplaced,
        misnamed_texts=misnamed_texts,
        engine=engine,
    )
    if error is not None:
        return facts
    key = f"{KEY}:{path}:{engine.value}:{hash(text)}:{hash(copies)}"
    cached = documents.cache.get(key)
    if cached is None:
        cached = _walk_facts(context, path, per_dockerfile, ignore, copies, model)
        documents.cache[key] = cached
    tree, mentions, lost, sizes = cached
    present = frozenset(n for n in baseline.NAMES if os.path.lexists(context / n))
    return IgnoreFacts(
        context=context,
        dockerfile=dockerfile,
        ignore_path=path,
        per_dockerfile=per_dockerfile,
        text=text,
        ignore=ignore,
        error=None,
        tree=tree,
        copies=copies,
        mentions=mentions,
        lost=lost,
        misnamed=misnamed,
        misplaced=misplaced,
        misnamed_texts=misnamed_texts,
        engine=engine,
        sizes=sizes,
        present=present,
    )


def _real(path: Path) -> str:
    return os.path.realpath(path)


def _walk_facts(
    context: Path,
    path: Path,
    per_dockerfile: bool,
    ignore: DockerIgnore | None,
    copies: tuple[CopySource, ...],
    model: DockerfileModel,
) -> tuple[
    ContextFacts,
    dict[str, tuple[Mention, ...]],
    tuple[Lost, ...],
    dict[str, tuple[int, int]],
]:
    sources: list[tuple[str, int]] = []

    def visit(node: Node) -> None:
        if node.kind is EntryKind.FILE and node.sent and node.path.endswith(SOURCE_SUFFIXES):
            sources.append((node.path, node.bytes))

    ignore_file = IgnoreFile(path, per_dockerfile) if ignore is not None else None
    tree = ContextFacts.collect(context, ignore, ignore_file=ignore_file, visit=visit)
    mentions = find_mentions(context, [j.path for j in tree.junk], sources, model)
    lost = tuple(_lost(context, ignore, copies))
    return tree, mentions, lost, _sizes(context, tree, copies)


def _sizes(
    context: Path, tree: ContextFacts, copies: tuple[CopySource, ...]
) -> dict[str, tuple[int, int]]:
    """Bytes and files of the COPY'd paths that lie inside a junk directory.

    A `!` line keeps them when that directory is excluded; knowing their size lets the
    savings be exact instead of left out.
    """
    dirs = [j.path for j in tree.junk if j.is_dir]
    found: dict[str, tuple[int, int]] = {}
    for copy in copies:
        for match in copy.matches:
            if match in found or not any(match.startswith(d + "/") for d in dirs):
                continue
            try:
                st = os.lstat(context / match)
            except OSError:
                continue
            if not stat.S_ISDIR(st.st_mode):
                found[match] = (st.st_size if stat.S_ISREG(st.st_mode) else 0, 1)
                continue
            total = [0, 0]
            try:
                for node in walk(context, start=match):
                    if node.kind is not EntryKind.DIR:
                        total[0] += node.bytes
                        total[1] += node.files
            except MlfixError:
                continue
            found[match] = (total[0], total[1])
    return found


# -- COPY sources -------------------------------------------------------------------------


def _copy_sources(model: DockerfileModel, context: Path) -> Iterator[CopySource]:
    for instruction in model.instructions:
        if instruction.keyword in ("COPY", "ADD"):
            plan = copy_plan(instruction, "/")
            if plan is None or not plan.from_context:
                continue
            written = " ".join(instruction.words())
            for source in plan.sources:
                if "$" in source:
                    continue  # a variable the Dockerfile does not set: cannot be followed
                yield _source(instruction, source, f"{instruction.keyword} {written}", context)
        elif instruction.keyword == "RUN":
            for source in _bind_sources(instruction):
                yield _source(instruction, source, f"RUN --mount=...source={source}", context)


def _bind_sources(instruction: Instruction) -> Iterator[str]:
    for flag in instruction.flags:
        if flag.name != "mount" or not flag.value:
            continue
        fields: dict[str, str] = {}
        for part in flag.value.split(","):
            name, _, value = part.partition("=")
            fields[name.strip().lower()] = value.strip()
        if fields.get("type", "bind") != "bind" or "from" in fields:
            continue
        raw = expand(fields.get("source") or fields.get("src") or ".", instruction.env)
        if "$" not in raw:
            yield posixpath.normpath("/" + raw).lstrip("/") or "."


def _source(instruction: Instruction, source: str, written: str, context: Path) -> CopySource:
    cleaned = go_clean(source).lstrip("/") or "."
    matches = (cleaned,) if cleaned == "." else tuple(_expand(context, cleaned))
    return CopySource(
        instruction.index,
        instruction.first_line,
        instruction.last_line,
        instruction.keyword,
        cleaned,
        written,
        matches,
    )


def _expand(context: Path, source: str) -> Iterator[str]:
    """The context paths a COPY source names: itself, or what its wildcards match.

    Wildcards follow Go's `filepath.Match` per path component, as BuildKit's do.
    """
    if not any(ch in source for ch in GLOB):
        if os.path.lexists(context / source) and _inside(context, source):
            yield source
        return
    found = [""]
    for component in source.split("/"):
        following: list[str] = []
        for base in found:
            if not any(ch in component for ch in GLOB):
                candidate = f"{base}/{component}" if base else component
                if os.path.lexists(context / candidate):
                    following.append(candidate)
                continue
            try:
                names = sorted(os.listdir(context / base if base else context))
            except OSError:
                continue
            pattern = _component_pattern(component)
            for name in names:
                if pattern is not None and pattern.fullmatch(name):
                    following.append(f"{base}/{name}" if base else name)
        found = following
    yield from (p for p in found if _inside(context, p))


def _component_pattern(component: str) -> re.Pattern[str] | None:
    try:
        pattern = Pattern.compile(0, component, component, Engine.MODERN)
    except ValueError:
        return None
    out: list[str] = []
    i = 0
    text = pattern.pattern
    while i < len(text):
        ch = text[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = text.find("]", i + 2)
            if end < 0:
                return None
            body = text[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("^") else body) + "]")
            i = end
        elif ch == "\\" and i + 1 < len(text):
            i += 1
            out.append(re.escape(text[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out))


def _inside(context: Path, rel: str) -> bool:
    """No symlinked directory on the way out of the context (the final entry may be one)."""
    head = posixpath.dirname(rel)
    if not head:
        return True
    real = os.path.realpath(context / head)
    root = os.path.realpath(context)
    return real == root or real.startswith(root + os.sep)


# -- where the code names a path -------------------------------------------------------------


def _tokens(path: str, is_weight: bool) -> set[str]:
    """How code may write the path: any tail of its components (`x/data`, `data`).

    For a weight file every directory above it counts too: `from_pretrained("models")`
    reads it, and so does a store opened at its top folder
    (`PersistentClient(path="/app/chroma_db")` reads `chroma_db/<uuid>/header.bin`).
    """
    parts = path.split("/")
    found = {"/".join(parts[i:]) for i in range(len(parts))}
    if is_weight:
        for end in range(1, len(parts)):
            found |= {"/".join(parts[i:end]) for i in range(end)}
    return found


def _named(literal: str, tokens: Mapping[str, list[str]]) -> list[str]:
    """Junk paths a literal names as a run of its path components."""
    text = literal.strip()
    if text.startswith("./"):
        text = text[2:]
    parts = [p for p in text.split("/") if p not in ("", ".")]
    hits: list[str] = []
    for i in range(len(parts)):
        for j in range(i + 1, len(parts) + 1):
            hits.extend(tokens.get("/".join(parts[i:j]), ()))
    return hits


def find_mentions(
    context: Path,
    junk: list[str],
    sources: list[tuple[str, int]],
    model: DockerfileModel | None = None,
) -> dict[str, tuple[Mention, ...]]:
    """Where Python string literals (and the Dockerfile's commands) name each junk path."""
    if not junk:
        return {}
    tokens: dict[str, list[str]] = {}
    for path in junk:
        is_weight = classify_file(path.rpartition("/")[2]) is JunkKind.WEIGHTS
        for token in _tokens(path, is_weight):
            tokens.setdefault(token, []).append(path)
    needles = {t.rpartition("/")[2].encode("utf-8", "surrogateescape") for t in tokens}
    found: dict[str, list[Mention]] = {}
    budget = SOURCES_LIMIT
    for rel, size in sources:
        if size > SOURCE_LIMIT or size > budget:
            continue
        try:
            data = (context / rel).read_bytes()
        except OSError:
            continue
        budget -= len(data)
        if not any(n in data for n in needles):
            continue
        for match in LITERAL.finditer(data):
            literal = match.group(2).decode("utf-8", "replace")
            for path in _named(literal, tokens):
                line = data.count(b"\n", 0, match.start()) + 1
                found.setdefault(path, []).append(Mention(path, f"{rel}:{line}", literal))
    if model is not None:
        for instruction in model.instructions:
            if instruction.keyword not in COMMAND_KEYWORDS:
                continue  # COPY/ADD are handled as copies; WORKDIR and such name image paths
            for word in re.split(r"[\s\"'=,\[\]]+", instruction.value):
                for path in _named(word, tokens):
                    where = f"{model.path.name}:{instruction.first_line}"
                    found.setdefault(path, []).append(Mention(path, where, word))
    return {path: tuple(items) for path, items in found.items()}


# -- what the ignore file takes from a COPY ----------------------------------------------------


def _deliberate(pattern: Pattern | None, path: str) -> bool:
    """A line written for the inside of `path` (`models/*.ckpt` for `models`)."""
    if pattern is None:
        return False
    literal = re.split(r"[*?\[\\]", pattern.pattern, maxsplit=1)[0]
    return literal.startswith(path + "/")


def _lost(
    context: Path, ignore: DockerIgnore | None, copies: tuple[CopySource, ...]
) -> Iterator[Lost]:
    if ignore is None or not ignore.patterns:
        return
    seen: set[str] = set()
    for copy in copies:
        if copy.whole:
            continue
        for match in copy.matches:
            key = f"{copy.instruction}:{match}"
            if key in seen:
                continue
            seen.add(key)
            lost = _lost_under(context, ignore, copy, match)
            if lost is not None:
                yield lost


def _lost_under(context: Path, ignore: DockerIgnore, copy: CopySource, match: str) -> Lost | None:
    try:
        st = os.lstat(context / match)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode):
        # A file the COPY names itself: any line that drops it breaks the build.
        if ignore.sends_file(match):
            return None
        pattern = ignore.deciding_pattern(match)
        line = pattern.line if pattern is not None else 0
        size = st.st_size if stat.S_ISREG(st.st_mode) else 0
        root = LostPath(match, False, size, 1, line)
        return Lost(copy, match, False, True, (root,), (match,), size, 1)
    if ignore.sends_file(match) and not ignore.may_change_below(match):
        return None
    kinds: dict[str, JunkKind] = {}

    def summarise(listing: Listing) -> bool:
        if listing.path == match:
            return False  # `COPY .venv /opt/venv` wants the venv itself
        kind = classify_dir(listing)
        if kind in INCIDENTAL:
            kinds[listing.path] = kind
            return True
        return False

    counts: dict[str, list[int]] = {}  # dir -> [files, lost files, lost bytes, line]
    lost_files: list[tuple[str, int, int]] = []
    sent_any = False
    try:
        nodes = list(
            walk(context, ignore=ignore, summarise=summarise, measure_ignored=True, start=match)
        )
    except MlfixError:
        return None
    for node in nodes:
        if node.summarised or node.kind is EntryKind.DIR:
            if node.summarised and node.sent_files:
                sent_any = True
            continue
        if node.sent:
            sent_any = True
        name = node.path.rpartition("/")[2]
        if node.sent or _incidental_file(name):
            _count(counts, node.path, match, lost=None)
            continue
        pattern = ignore.deciding_pattern(node.path)
        if _deliberate(pattern, match):
            _count(counts, node.path, match, lost=None)
            continue
        line = pattern.line if pattern is not None else 0
        lost_files.append((node.path, node.bytes, line))
        _count(counts, node.path, match, lost=(node.bytes, line))
    if not lost_files:
        return None
    roots = _roots(match, counts, lost_files)
    return Lost(
        copy,
        match,
        True,
        not sent_any and not ignore.sends_file(match),
        tuple(roots),
        tuple(p for p, _, _ in lost_files[:LOST_FILES_LIMIT]),
        sum(b for _, b, _ in lost_files),
        len(lost_files),
    )


def _incidental_file(name: str) -> bool:
    return classify_file(name.rpartition("/")[2]) is JunkKind.SECRET


def _count(counts: dict[str, list[int]], path: str, top: str, lost: tuple[int, int] | None) -> None:
    head = path.rpartition("/")[0]
    while True:
        entry = counts.setdefault(head, [0, 0, 0, 0])
        entry[0] += 1
        if lost is not None:
            entry[1] += 1
            entry[2] += lost[0]
            entry[3] = max(entry[3], lost[1])
        if head == top or "/" not in head:
            break
        head = head.rpartition("/")[0]


def _roots(
    top: str, counts: dict[str, list[int]], lost_files: list[tuple[str, int, int]]
) -> list[LostPath]:
    """The largest lost pieces: whole directories where possible, else files."""

    def whole(directory: str) -> bool:
        entry = counts.get(directory)
        return entry is not None and entry[0] == entry[1]

    roots: dict[str, LostPath] = {}
    for path, size, line in lost_files:
        best: str | None = None
        head = path.rpartition("/")[0]
        while head and (head == top or head.startswith(top + "/")):
            if whole(head):
                best = head
            if head == top:
                break
            head = head.rpartition("/")[0]
        if best is None:
            roots[path] = LostPath(path, False, size, 1, line)
        elif best not in roots:
            entry = counts[best]
            roots[best] = LostPath(best, True, entry[2], entry[1], entry[3])
    return sorted(roots.values(), key=lambda r: r.path)
