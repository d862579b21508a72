"""One walk's account of a build context: sizes, junk, problems, and what lines save."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlfix.context.dockerignore import (
    DirAction,
    DockerIgnore,
    Engine,
    IgnoreFile,
    find_ignore_file,
    find_misnamed_ignore_files,
)
from mlfix.context.junk import (
    EntrySavings,
    JunkEntry,
    JunkKind,
    classify_dir,
    classify_file,
    is_app_data,
)
from mlfix.context.tree import EntryKind, Listing, Node, Problem, Tally, walk


def _removed_by(ignore: DockerIgnore, junk: JunkEntry) -> bool:
    """Whether Docker leaves the whole junk entry out under `ignore`."""
    if junk.is_dir:
        return ignore.excludes(junk.path) and ignore.can_skip_dir(junk.path)
    return not ignore.sends_file(junk.path)


@dataclass(frozen=True)
class ContextFacts:
    """What the `.dockerignore` rules need to know about one build context, from one walk.

    `sent_*` is what Docker sends under `ignore` (everything when there is none),
    `total_*` everything the walk read: all of the context when `complete` is true, and
    otherwise everything except the `skipped` directories, which the ignore file excludes
    for good and which were not read. `ignore_file` is the file the ignore rules came
    from (None when there is none); `misnamed` are files Docker never reads.
    """

    root: Path
    ignore: DockerIgnore | None
    ignore_file: IgnoreFile | None
    total_bytes: int
    total_files: int
    sent_bytes: int
    sent_files: int
    junk: tuple[JunkEntry, ...]
    problems: tuple[Problem, ...]
    skipped: tuple[str, ...]
    misnamed: tuple[Path, ...] = ()
    app_data: tuple[str, ...] = ()  # folders holding the app's own data (a vector store)

    @property
    def complete(self) -> bool:
        return not self.skipped

    @property
    def junk_sent_bytes(self) -> int:
        return sum(j.sent_bytes for j in self.junk)

    def savings(self, entries: Sequence[str]) -> list[EntrySavings]:
        """What each proposed line, appended in order after the current file, keeps back.

        Pure arithmetic on the junk entries (no disk access): after each line, a junk
        entry counts as removed when Docker skips it whole (a file: not sent; a
        directory: excluded with nothing below that a `!` line reaches). A `!` line that
        brings an entry back lists it in `restored` and gives its bytes back, so the
        numbers stay right for blocks that mix exclusions and re-includes. Entries still
        partly re-included are not counted, so savings never overstate.
        `sent_*_before`/`after` chain from line to line.
        """
        base = self.ignore.text if self.ignore is not None else ""
        if base and not base.endswith("\n"):
            base += "\n"
        engine = self.ignore.engine if self.ignore is not None else Engine.MODERN
        candidates = [j for j in self.junk if j.sent_files or j.sent_bytes]
        sent_bytes, sent_files = self.sent_bytes, self.sent_files
        text = base
        removed: set[str] = set()
        result: list[EntrySavings] = []
        for line in entries:
            text += line + "\n"
            combined = DockerIgnore.parse(text, engine=engine)
            now = {j.path for j in candidates if _removed_by(combined, j)}
            gone = tuple(j for j in candidates if j.path in now - removed)
            back = tuple(j for j in candidates if j.path in removed - now)
            delta_bytes = sum(j.sent_bytes for j in gone) - sum(j.sent_bytes for j in back)
            delta_files = sum(j.sent_files for j in gone) - sum(j.sent_files for j in back)
            result.append(
                EntrySavings(
                    line,
                    gone,
                    sent_bytes,
                    sent_files,
                    sent_bytes - delta_bytes,
                    sent_files - delta_files,
                    back,
                )
            )
            removed = now
            sent_bytes -= delta_bytes
            sent_files -= delta_files
        return result

    @classmethod
    def collect(
        cls,
        root: Path,
        ignore: DockerIgnore | None = None,
        *,
        ignore_file: IgnoreFile | None = None,
        measure_ignored: bool = False,
        visit: Callable[[Node], None] | None = None,
    ) -> ContextFacts:
        """Walk the context once and gather sizes, junk and problems.

        `visit` sees every node the walk reads (not the skipped ones), so a caller can
        pick files out of the same walk (the Python sources, say) without a second one.
        """
        kinds: dict[str, JunkKind] = {}
        app_data: list[str] = []

        def summarise(listing: Listing) -> bool:
            if is_app_data(listing):
                app_data.append(listing.path)
                return True  # measured whole; nothing inside it is junk
            kind = classify_dir(listing)
            if kind is None:
                return False
            kinds[listing.path] = kind
            return True

        total = Tally()
        junk: list[JunkEntry] = []
        skipped: list[str] = []
        problems: list[Problem] = []
        for node in walk(
            root,
            ignore=ignore,
            summarise=summarise,
            measure_ignored=measure_ignored,
            problems=problems,
        ):
            if node.action is DirAction.SKIP and not measure_ignored:
                skipped.append(node.path)
                continue
            if visit is not None:
                visit(node)
            total.bytes += node.bytes
            total.files += node.files
            total.sent_bytes += node.sent_bytes
            total.sent_files += node.sent_files
            if node.summarised:
                kind: JunkKind | None = kinds.pop(node.path, None)
            elif node.kind is EntryKind.FILE:
                kind = classify_file(node.path.rpartition("/")[2])
            else:
                kind = None
            if kind is not None:
                junk.append(
                    JunkEntry(
                        node.path,
                        kind,
                        node.kind is EntryKind.DIR,
                        node.bytes,
                        node.files,
                        node.sent_bytes,
                        node.sent_files,
                    )
                )
        return cls(
            root=root,
            ignore=ignore,
            ignore_file=ignore_file,
            total_bytes=total.bytes,
            total_files=total.files,
            sent_bytes=total.sent_bytes,
            sent_files=total.sent_files,
            junk=tuple(junk),
            problems=tuple(problems),
            skipped=tuple(skipped),
            app_data=tuple(app_data),
        )

    @classmethod
    def for_build(
        cls,
        context: Path,
        dockerfile: Path | None = None,
        *,
        engine: Engine = Engine.MODERN,
        measure_ignored: bool = False,
    ) -> ContextFacts:
        """Facts for `docker build -f dockerfile context`, with the ignore file BuildKit uses."""
        found = find_ignore_file(context, dockerfile)
        ignore = None if found is None else DockerIgnore.load(found.path, engine=engine)
        facts = cls.collect(context, ignore, ignore_file=found, measure_ignored=measure_ignored)
        misnamed = tuple(find_misnamed_ignore_files(context, dockerfile))
        return ContextFacts(
            root=facts.root,
            ignore=facts.ignore,
            ignore_file=facts.ignore_file,
            total_bytes=facts.total_bytes,
            total_files=facts.total_files,
            sent_bytes=facts.sent_bytes,
            sent_files=facts.sent_files,
            junk=facts.junk,
            problems=facts.problems,
            skipped=facts.skipped,
            misnamed=misnamed,
            app_data=facts.app_data,
        )
