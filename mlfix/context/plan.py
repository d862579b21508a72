"""Which `.dockerignore` lines to write for the junk of one build context (pure, no I/O).

MLF101 and MLF102 share this: from `IgnoreFacts` it picks the junk to keep out, groups
it into lines, keeps within reach whatever must stay in the context, proves that with
the matcher, and measures what each line saves. The choices:

* **Grouping.** Junk known by its name gets one `**/` line per name (`**/__pycache__`,
  `**/node_modules`, `**/*.safetensors`), since Docker anchors every line at the
  context root and a bare `__pycache__` would only match there; `.git` stays a root
  line when there is only the root one. Junk known by its content (a venv by
  `pyvenv.cfg`, a dataset by having no `__init__.py`) and secrets get their exact paths,
  so a package called `env/` or `data/` never matches by accident.
* **What stays.** A path a `COPY`/`ADD` names is never excluded: the entry is skipped
  when the COPY names the junk itself, or the weights/dataset inside a directory it
  names; when it names something inside the junk (`COPY data/labels.json`) or a name
  line would catch it, a `!` line brings it back. A junk entry the current file keeps
  in with a `!` line of its own, or whose inside the file already sorts out line by
  line, is the user's decision and is left alone.
* **Safety.** A line is unsafe when the code or the Dockerfile's commands name a path
  it removes and a `COPY` brings that path into the image (with `COPY . .`, all of
  them): the app would stop seeing it. Safe lines and unsafe lines go to separate
  blocks, the unsafe block after the safe one.
* **Proof.** Every path that must stay is checked with the matcher against the new
  file, under the modern rules and the Docker 20.10 ones: a line that takes such a
  path and that no `!` line can undo goes (its junk is then reported as kept); a path
  only the old rules would lose is reported.
* **Numbers.** Each exclusion line is credited with the junk it finally keeps out
  (after the block's `!` lines): whole entries, and a directory minus the paths a `!`
  line keeps in it when their sizes are known. Anything less certain is not counted,
  so the savings never overstate.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from mlfix.context.dockerignore import DockerIgnore, Engine
from mlfix.context.facts import INCIDENTAL, CopySource, IgnoreFacts, Mention
from mlfix.context.junk import JunkEntry, JunkKind
from mlfix.textio import newline_of

GROUP_ORDER = (
    JunkKind.GIT,
    JunkKind.VENV,
    JunkKind.NODE_MODULES,
    JunkKind.CACHE,
    JunkKind.WEIGHTS,
    JunkKind.DATASET,
    JunkKind.EXPERIMENT,
    JunkKind.SECRET,
)
GROUP_TITLES = {
    JunkKind.GIT: "Git history",
    JunkKind.VENV: "Virtual environments (they hold a pyvenv.cfg or conda-meta/)",
    JunkKind.NODE_MODULES: "Node packages",
    JunkKind.CACHE: "Caches",
    JunkKind.WEIGHTS: "Model weights",
    JunkKind.DATASET: "Datasets",
    JunkKind.EXPERIMENT: "Experiment output",
    JunkKind.SECRET: "Secrets: in an image layer a secret is a leak",
}
KIND_NAMES = {
    JunkKind.GIT: "git history",
    JunkKind.VENV: "virtualenv",
    JunkKind.NODE_MODULES: "node packages",
    JunkKind.CACHE: "cache",
    JunkKind.WEIGHTS: "weights",
    JunkKind.DATASET: "dataset",
    JunkKind.EXPERIMENT: "experiment output",
    JunkKind.SECRET: "secret",
}
REINCLUDE_TITLE = "Kept in the context: the Dockerfile copies these, or a line above keeps them"
CACHE_ORDER = ("__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".ipynb_checkpoints")
WEIGHT_ORDER = (".pt", ".pth", ".bin", ".safetensors", ".ckpt", ".onnx", ".gguf", ".h5")
COMPACT_AFTER = 8  # more `!` lines than this under one directory become one `!dir/**/*.x`
# Escaped in lines mlfix writes: glob characters, and regex operators Docker 20.10 would
# read as such (`a+b` there matches `aab`), so a line means the same to every engine.
SPECIAL = frozenset("*?[]\\+()|{}^")


@dataclass(frozen=True)
class Line:
    """One proposed line: an exclusion with the junk it is for, or a `!` re-include."""

    text: str
    kind: JunkKind | None  # None: a re-include
    junk: tuple[JunkEntry, ...] = ()
    mentions: tuple[Mention, ...] = ()  # why it is unsafe (empty: safe)
    reason: str = ""  # a re-include: why the path must stay
    keeps: str = ""  # a re-include: the path it keeps

    @property
    def unsafe(self) -> bool:
        return bool(self.mentions)


@dataclass(frozen=True)
class Removed:
    """A junk entry a block keeps out, whole or but for `kept_paths` inside it."""

    junk: JunkEntry
    bytes: int
    files: int
    kept_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class Step:
    """One line and what Docker sends before and after it."""

    line: Line
    removed: tuple[Removed, ...]
    before_bytes: int
    before_files: int
    after_bytes: int
    after_files: int

    @property
    def saved_bytes(self) -> int:
        return self.before_bytes - self.after_bytes

    @property
    def saved_files(self) -> int:
        return self.before_files - self.after_files


@dataclass(frozen=True)
class Kept:
    """Junk left in the context, and why."""

    junk: JunkEntry
    reason: str


@dataclass(frozen=True)
class Block:
    """Lines appended together, with what each one saves."""

    steps: tuple[Step, ...] = ()
    legacy_lost: tuple[str, ...] = ()  # paths that must stay but Docker 20.10 would drop

    @property
    def lines(self) -> tuple[Line, ...]:
        return tuple(step.line for step in self.steps)

    @property
    def removed(self) -> tuple[Removed, ...]:
        return tuple(r for step in self.steps for r in step.removed)

    @property
    def saved_bytes(self) -> int:
        return sum(step.saved_bytes for step in self.steps)

    @property
    def saved_files(self) -> int:
        return sum(step.saved_files for step in self.steps)


@dataclass(frozen=True)
class Proposal:
    """The safe block, the unsafe block (after it), and the junk that stays."""

    safe: Block
    unsafe: Block
    kept: tuple[Kept, ...]
    candidates: tuple[JunkEntry, ...]

    @property
    def empty(self) -> bool:
        return not self.safe.steps and not self.unsafe.steps


# -- naming -------------------------------------------------------------------------------


def size(count: int) -> str:
    """`1.9 GB`, `340.0 kB`, `12 B` (powers of 1000, like `du --si`)."""
    value = float(count)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def files(count: int) -> str:
    return f"{count:,} file" + ("" if count == 1 else "s")


def amount(bytes_: int, count: int) -> str:
    """`1.9 GB, 41,203 files`."""
    return f"{size(bytes_)}, {files(count)}"


def display(junk: JunkEntry) -> str:
    return junk.path + "/" if junk.is_dir else junk.path


def literal(path: str) -> str:
    """The path as a line that matches only itself, under every engine's rules."""
    out = "".join("\\" + ch if ch in SPECIAL else ch for ch in path)
    if out.startswith(("!", "#")) or out != out.strip():
        out = "/" + out  # Docker drops a leading `/`; `#` or `!` first would change the line
    return out


# -- what stays ---------------------------------------------------------------------------


def nameable(path: str) -> bool:
    """Whether a `.dockerignore` line can name the path: lines end at a line break, and
    Docker trims the white space around them."""
    return path == path.strip() and not any(ord(ch) < 32 or ch == "\x7f" for ch in path)


def _inside(path: str, directory: str) -> bool:
    return directory == "." or path.startswith(directory + "/")


def written_for_inside(ignore: DockerIgnore, path: str) -> bool:
    """A line of the file already handles what is inside `path` (`data/*.csv`)."""
    prefix = path + "/"
    for pattern in ignore.patterns:
        text = pattern.pattern
        cut = min((i for i, ch in enumerate(text) if ch in "*?[\\"), default=len(text))
        if text[:cut].startswith(prefix):
            return True
    return False


def _copies_naming(copies: Sequence[CopySource], junk: JunkEntry) -> CopySource | None:
    """A COPY that needs the junk entry itself (or its weights/data, inside a named dir)."""
    for copy in copies:
        if copy.whole:
            continue
        for match in copy.matches:
            if match == junk.path:
                return copy
            if _inside(junk.path, match) and junk.kind not in INCIDENTAL:
                return copy
    return None


def reached(copies: Sequence[CopySource], junk: JunkEntry) -> bool:
    """Whether a COPY/ADD puts the entry (or part of it) into the image."""
    for copy in copies:
        for match in copy.matches:
            if match in (".", junk.path) or _inside(junk.path, match):
                return True
            if _inside(match, junk.path):
                return True
    return False


def reason_of(copy: CopySource, dockerfile: str) -> str:
    return f"`{copy.written}` ({dockerfile}:{copy.line})"


# -- the proposal -------------------------------------------------------------------------


def propose(facts: IgnoreFacts, dockerfile_name: str = "Dockerfile") -> Proposal:
    """The lines MLF101/MLF102 would add for the junk the current file lets through."""
    tree = facts.tree
    if tree is None:
        return Proposal(Block(), Block(), (), ())
    ignore = facts.ignore
    kept: list[Kept] = []
    candidates: list[JunkEntry] = []
    protected: dict[str, str] = {}  # path that must stay sent -> why
    kept_dirs: dict[str, str] = {}  # junk directories that stay whole -> why
    for junk in tree.junk:
        if not (junk.sent_files or junk.sent_bytes):
            continue
        if not nameable(junk.path):
            kept.append(
                Kept(
                    junk,
                    "its name holds a control character (a line break, say), "
                    "which no .dockerignore line can name",
                )
            )
            continue
        reason = None
        if ignore is not None:
            pattern = ignore.deciding_pattern(junk.path)
            if (
                pattern is not None
                and pattern.exclusion
                and (pattern.matches(junk.path) or junk.kind not in INCIDENTAL)
            ):
                reason = f"line {pattern.line} re-includes it (`{pattern.text.strip()}`)"
            elif ignore.excludes(junk.path):
                continue  # what is left of it is what the file's own `!` lines bring back
            elif junk.is_dir and written_for_inside(ignore, junk.path):
                kept.append(Kept(junk, "the file already has lines for what is inside it"))
                continue
        if reason is None:
            named = _copies_naming(facts.copies, junk)
            if named is not None:
                reason = f"{reason_of(named, dockerfile_name)} copies it"
        if reason is not None:
            kept.append(Kept(junk, reason))
            protected[junk.path] = reason
            if junk.is_dir:
                kept_dirs[junk.path] = reason
            continue
        candidates.append(junk)
    # The app's own data (a vector store it persists) stays whole, even inside junk.
    for path in tree.app_data:
        reason = "it holds data the app reads (a vector store)"
        protected.setdefault(path, reason)
        kept_dirs.setdefault(path, reason)
    # Paths a COPY names inside a candidate (`COPY data/labels.json` in `data/`).
    for copy in facts.copies:
        for match in copy.matches:
            if any(_inside(match, j.path) for j in candidates):
                protected.setdefault(match, f"{reason_of(copy, dockerfile_name)} needs it")
    lines = _group(candidates, facts)
    base = facts.text or ""
    sent = (tree.sent_bytes, tree.sent_files)
    safe_lines = [x for x in lines if not x.unsafe]
    safe, dropped = _block(facts, base, safe_lines, protected, kept_dirs, sent)
    kept.extend(dropped)
    safe_text = _join(base, [line.text for line in safe.lines])
    if safe.steps:
        sent = (safe.steps[-1].after_bytes, safe.steps[-1].after_files)
    unsafe_lines = [x for x in lines if x.unsafe]
    unsafe, dropped = _block(facts, safe_text, unsafe_lines, protected, kept_dirs, sent)
    kept.extend(dropped)
    return Proposal(safe, unsafe, tuple(kept), tuple(candidates))


def _group(candidates: Sequence[JunkEntry], facts: IgnoreFacts) -> list[Line]:
    by_line: dict[tuple[JunkKind, str], list[JunkEntry]] = {}
    for junk in candidates:
        by_line.setdefault((junk.kind, _line_for(junk, candidates)), []).append(junk)
    result: list[Line] = []
    for (kind, text), entries in sorted(by_line.items(), key=lambda item: _order(*item[0])):
        mentions = tuple(
            m
            for junk in sorted(entries, key=lambda j: j.path)
            if reached(facts.copies, junk)
            for m in facts.mentions.get(junk.path, ())
        )
        result.append(Line(text, kind, tuple(sorted(entries, key=lambda j: j.path)), mentions))
    return result


def _order(kind: JunkKind, text: str) -> tuple[int, int, str]:
    """Groups in GROUP_ORDER; caches and weights in the order the docs list them."""
    rank = 0
    if kind is JunkKind.CACHE:
        name = text.rpartition("/")[2]
        rank = CACHE_ORDER.index(name) if name in CACHE_ORDER else len(CACHE_ORDER)
    elif kind is JunkKind.WEIGHTS:
        suffix = text.rpartition("*")[2]
        rank = WEIGHT_ORDER.index(suffix) if suffix in WEIGHT_ORDER else len(WEIGHT_ORDER)
    return GROUP_ORDER.index(kind), rank, text


def _line_for(junk: JunkEntry, candidates: Sequence[JunkEntry]) -> str:
    name = junk.path.rpartition("/")[2]
    if junk.kind is JunkKind.GIT:
        nested = any(j.kind is JunkKind.GIT and "/" in j.path for j in candidates)
        return "**/.git" if nested else ".git"
    if junk.kind in (JunkKind.CACHE, JunkKind.NODE_MODULES):
        return f"**/{literal(name)}"
    if junk.kind is JunkKind.WEIGHTS:
        return f"**/*{posixpath.splitext(name)[1]}"
    return literal(junk.path)


def _join(base: str, lines: Iterable[str]) -> str:
    text = base
    if text and not text.endswith("\n"):
        text += "\n"
    return text + "".join(line + "\n" for line in lines)


def _stays(ignore: DockerIgnore, path: str) -> bool:
    """Docker sends the path, and (were it a directory) what is below it."""
    return ignore.sends_file(path) and ignore.sends_file(path + "/x")


def _block(
    facts: IgnoreFacts,
    base: str,
    lines: list[Line],
    protected: Mapping[str, str],
    kept_dirs: Mapping[str, str],
    sent: tuple[int, int],
) -> tuple[Block, list[Kept]]:
    """Lines plus the `!` lines that keep `protected` paths, proven with the matcher.

    `kept_dirs` are junk directories that stay whole (a COPY names them, or the file
    keeps them in). Their insides were measured, not listed, so every `**/` line gets a
    `!<dir>/**/...` twin that keeps it out of them.
    """
    engine = facts.engine
    dropped: list[Kept] = []
    before = DockerIgnore.parse(base, engine=engine) if base else None
    must_stay = [p for p in protected if before is None or _stays(before, p)]
    reincludes: list[Line] = []
    while lines:
        exclusions = [line.text for line in lines]
        current = DockerIgnore.parse(_join(base, exclusions), engine=engine)
        lost = [p for p in must_stay if not _stays(current, p)]
        reincludes = _reincludes(lost, protected, lines, before)
        globs = [line.text for line in lines if line.text.startswith("**/")]
        for directory, reason in sorted(kept_dirs.items()):
            reincludes.extend(
                Line(f"!{literal(directory)}/{glob}", None, reason=reason, keeps=directory)
                for glob in globs
            )
        text = _join(base, exclusions + [r.text for r in reincludes])
        final = DockerIgnore.parse(text, engine=engine)
        still = [p for p in must_stay if not _stays(final, p)]
        if not still:
            break
        # A line whose loss no `!` line undoes goes; its junk stays in the context.
        culprit = next(
            (line for line in lines if _takes_any(base, line.text, engine, still)), lines[-1]
        )
        lines = [line for line in lines if line is not culprit]
        dropped.extend(
            Kept(junk, f"`{culprit.text}` would also take `{still[0]}`, which must stay")
            for junk in culprit.junk
        )
    if not lines:
        return Block(), dropped
    all_lines = [*lines, *reincludes]
    legacy_lost: list[str] = []
    if reincludes:
        other = Engine.LEGACY if engine is Engine.MODERN else Engine.MODERN
        old = DockerIgnore.parse(_join(base, [line.text for line in all_lines]), engine=other)
        legacy_lost = [p for p in must_stay if not _stays(old, p)]
    steps = _measure(facts, base, all_lines, sent)
    return Block(tuple(steps), tuple(legacy_lost)), dropped


def _takes_any(base: str, line: str, engine: Engine, paths: list[str]) -> bool:
    ignore = DockerIgnore.parse(_join(base, [line]), engine=engine)
    return any(not _stays(ignore, p) for p in paths)


def _reincludes(
    lost: list[str],
    protected: Mapping[str, str],
    lines: list[Line],
    before: DockerIgnore | None,
) -> list[Line]:
    """`!` lines for the paths that must stay: one per path, or one per directory for many.

    Many paths under one directory that one `**/` line takes become `!<dir>/**/<glob>`,
    unless the file has lines for that directory's inside (the `!` could undo them).
    """
    groups: dict[str, list[str]] = {}
    for path in sorted(lost):
        glob = next(
            (
                line.text
                for line in lines
                if line.text.startswith("**/") and _tail_matches(line.text[3:], path)
            ),
            "",
        )
        groups.setdefault(glob, []).append(path)
    result: list[Line] = []
    singles = groups.pop("", [])
    for glob, paths in groups.items():
        common = posixpath.commonpath(paths) if len(paths) > 1 else ""
        if common in paths:
            common = posixpath.dirname(common)
        if (
            len(paths) > COMPACT_AFTER
            and common
            and (before is None or not written_for_inside(before, common))
        ):
            reason = protected[paths[0]]
            result.append(Line(f"!{literal(common)}/{glob}", None, reason=reason, keeps=common))
        else:
            singles.extend(paths)
    for path in sorted(set(singles)):
        result.append(Line("!" + literal(path), None, reason=protected[path], keeps=path))
    return result


def _tail_matches(tail: str, path: str) -> bool:
    name = path.rpartition("/")[2]
    if tail.startswith("*"):
        return name.endswith(tail[1:])
    return literal(name) == tail


def _removed_whole(ignore: DockerIgnore, junk: JunkEntry) -> bool:
    if junk.is_dir:
        return ignore.excludes(junk.path) and ignore.can_skip_dir(junk.path)
    return not ignore.sends_file(junk.path)


def _measure(
    facts: IgnoreFacts, base: str, lines: Sequence[Line], sent: tuple[int, int]
) -> list[Step]:
    """Credit each exclusion line with the junk the finished file keeps out because of it."""
    tree = facts.tree
    assert tree is not None
    engine = facts.engine
    start = DockerIgnore.parse(base, engine=engine) if base else None
    text = _join(base, [line.text for line in lines])
    final = DockerIgnore.parse(text, engine=engine)
    first_line = _join(base, []).count("\n") + 1
    ours = {line.text.removeprefix("!"): line.keeps for line in lines if line.kind is None}
    credit: dict[int, list[Removed]] = {}
    for junk in tree.junk:
        if not (junk.sent_files or junk.sent_bytes):
            continue
        if start is not None and _removed_whole(start, junk):
            continue
        gone = _removed(final, junk, ours, facts.sizes)
        pattern = final.deciding_pattern(junk.path)
        if gone is None or pattern is None or pattern.line < first_line:
            continue
        credit.setdefault(pattern.line - first_line, []).append(gone)
    steps: list[Step] = []
    sent_bytes, sent_files = sent
    for index, line in enumerate(lines):
        removed = tuple(sorted(credit.get(index, ()), key=lambda r: r.junk.path))
        after_bytes = sent_bytes - sum(r.bytes for r in removed)
        after_files = sent_files - sum(r.files for r in removed)
        steps.append(Step(line, removed, sent_bytes, sent_files, after_bytes, after_files))
        sent_bytes, sent_files = after_bytes, after_files
    return steps


def _removed(
    final: DockerIgnore,
    junk: JunkEntry,
    ours: Mapping[str, str],
    sizes: Mapping[str, tuple[int, int]],
) -> Removed | None:
    if _removed_whole(final, junk):
        return Removed(junk, junk.sent_bytes, junk.sent_files)
    if not junk.is_dir or not final.excludes(junk.path):
        return None
    # Excluded, with `!` lines reaching in: counted only when they are all ours, for
    # paths whose sizes are known.
    kept: list[str] = []
    for pattern in final.patterns:
        if not pattern.exclusion or not pattern.may_match_below(junk.path):
            continue
        path = ours.get(pattern.text.strip().removeprefix("!"))
        if path is None or path not in sizes or not _inside(path, junk.path):
            return None
        kept.append(path)
    kept_bytes = sum(sizes[p][0] for p in kept)
    kept_files = sum(sizes[p][1] for p in kept)
    return Removed(
        junk, junk.sent_bytes - kept_bytes, junk.sent_files - kept_files, tuple(sorted(kept))
    )


# -- rendering ----------------------------------------------------------------------------


def render(lines: Sequence[Line], header: Sequence[str], newline: str) -> str:
    """The block as text: header comments, then a comment above each group."""
    out: list[str] = [f"# {h}" for h in header]
    current: object = ()
    for line in lines:
        group: object = line.kind if line.kind is not None else "reinclude"
        if group != current:
            title = GROUP_TITLES[line.kind] if line.kind is not None else REINCLUDE_TITLE
            out.append(f"# {title}")
            current = group
        out.append(line.text)
    return "".join(row + newline for row in out)


def append_edit_text(existing: str, block: str) -> str:
    """What goes at the end of an existing file: its missing final newline, a blank line."""
    newline = newline_of(existing)
    prefix = ""
    if existing and not existing.endswith("\n"):
        prefix = newline
    if existing.strip() and not (existing + prefix).endswith(("\n\n", "\n\r\n")):
        prefix += newline
    return prefix + block
