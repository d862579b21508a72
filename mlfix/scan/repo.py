"""Scan a whole build context, on several cores when it is large.

The walk runs in the calling process and hands batches of paths to workers, which read,
prefilter and parse them; the calling process scans a batch itself whenever the workers
have enough queued. Results are merged in walk order, so the output does not depend on
the number of processes. A bounded number of batches is in flight, so memory stays flat
however large the repository is. Small repositories (up to two batches) are scanned in
process: starting workers would cost more than it saves.
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.pool import AsyncResult
from pathlib import Path

from mlfix.scan.models import EMPTY_ENV, scan_data
from mlfix.scan.prefilter import (
    MAX_FILE_BYTES,
    Exclude,
    PythonFile,
    filter_batch,
    iter_python_files,
    read_problem,
)
from mlfix.scan.refs import ModelRef, ScanProblem, ScanResult
from mlfix.scan.resolve import Evaluator, Project

Argv = dict[str, tuple[str, ...]]
BATCH_FILES = 512
MAX_JOBS = 4
_GC_THRESHOLD = 50_000
_GC_LOCK = threading.Lock()
_RELAXED = 0  # scans running with the relaxed threshold
_SAVED: list[int] = []  # the threshold before the first of them


@dataclass
class _Partial:
    scanned: int = 0
    parsed: int = 0
    refs: list[ModelRef] = field(default_factory=list)
    problems: list[ScanProblem] = field(default_factory=list)


class _BatchScanner:
    """Scans batches of files with one evaluator (so its module cache is shared)."""

    def __init__(
        self, root: Path, env: Mapping[str, str], versions: Mapping[str, str], argv: Argv
    ) -> None:
        self.evaluator = Evaluator(Project(root, env, versions=versions, argv=argv))

    def scan(self, batch: list[PythonFile]) -> _Partial:
        partial = _Partial()
        partial.scanned += len(batch)
        for candidate in filter_batch([file for file in batch if not is_test_file(file.rel)]):
            if candidate.error is not None:
                message = read_problem(candidate.error)
                partial.problems.append(ScanProblem(Path(candidate.file.rel), 1, message))
                continue
            if candidate.too_large:
                message = f"not scanned: larger than {MAX_FILE_BYTES >> 20} MB"
                partial.problems.append(ScanProblem(Path(candidate.file.rel), 1, message))
                continue
            if candidate.data is None:
                continue
            partial.parsed += 1
            display = Path(candidate.file.rel)
            try:
                found, trouble = scan_data(
                    candidate.data, Path(candidate.file.path), display, self.evaluator
                )
            except Exception as exc:  # one odd file must not stop the scan of a repository
                reason = f"{type(exc).__name__}: {exc}"
                message = f"mlfix could not scan this file ({reason}); please report it"
                partial.problems.append(ScanProblem(display, 1, message))
                continue
            partial.refs.extend(found)
            partial.problems.extend(trouble)
        return partial


def is_test_file(rel: str) -> bool:
    """Test code (pytest's naming, a tests/ directory): the app does not run it at start,
    so what it loads is never baked."""
    parts = rel.split("/")
    name = parts[-1]
    if name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py"):
        return True
    return any(part in ("tests", "test") for part in parts[:-1])


_WORKER: _BatchScanner | None = None


def _start_worker(root: Path, env: dict[str, str], versions: dict[str, str], argv: Argv) -> None:
    global _WORKER
    _WORKER = _BatchScanner(root, env, versions, argv)


def _scan_in_worker(paths: list[str], rels: list[str]) -> _Partial:
    assert _WORKER is not None
    return _WORKER.scan([PythonFile(path, rel) for path, rel in zip(paths, rels, strict=True)])


def _batches(files: Iterable[PythonFile]) -> Iterator[list[PythonFile]]:
    batch: list[PythonFile] = []
    for file in files:
        batch.append(file)
        if len(batch) >= BATCH_FILES:
            yield batch
            batch = []
    if batch:
        yield batch


def default_jobs() -> int:
    """Processes for a large scan (the calling one included): the CPUs (at most MAX_JOBS),
    if `fork` is safe.

    Only `fork` starts workers cheaply enough; elsewhere (macOS, Windows) the scan stays in
    process. It also stays in process when the caller runs other threads: a fork copies
    their locks in whatever state they are, which can deadlock the workers.
    """
    if "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1:
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_JOBS))


def scan_repo(
    root: Path,
    *,
    exclude: Exclude | None = None,
    env: Mapping[str, str] = EMPTY_ENV,
    versions: Mapping[str, str] = EMPTY_ENV,
    jobs: int | None = None,
    argv: Argv | None = None,
) -> ScanResult:
    """Scan every Python file of a build context for model loads.

    `exclude(relative_path, is_dir)` skips paths (the `.dockerignore`d ones: they are not in
    the image). `env` is the Dockerfile's ENV/ARG values in the stage that runs the app;
    they win over the code's defaults. `versions` maps packages to the versions the project
    pins (`{"transformers": "4.46.3"}`), when known: the transformers release decides the
    default model of a task-only `pipeline()`, the sentence-transformers release whether a
    short CrossEncoder name gets the `cross-encoder/` prefix; unknown means the newest,
    which is what an unpinned install gets. `jobs` is the number of processes that scan,
    this one included (default: `default_jobs()`; the result does not depend on it).
    `argv` maps a context-relative script to the arguments the image's start command
    passes it (ENTRYPOINT + CMD, compose `command:`), for `sys.argv` and argparse options.
    Unreadable or unparsable files become problems, never errors.
    """
    with _fewer_collections():
        return _scan(root, exclude, env, versions, jobs, dict(argv or {}))


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often while `ast` trees are built.

    A parse allocates thousands of nodes, which trips the youngest generation's threshold
    (700 allocations) over and over, and each collection walks them for nothing: syntax
    trees hold no cycles, and the scan breaks its own (`SourceFile.close`). Collections
    still run, so memory stays bounded; this saves about 5% of a large scan. Workers
    forked inside inherit the setting.
    """
    global _RELAXED
    with _GC_LOCK:  # scans in several threads: the first sets it, the last restores it
        if _RELAXED == 0:
            _SAVED[:] = gc.get_threshold()
            gc.set_threshold(_GC_THRESHOLD, *_SAVED[1:])
        _RELAXED += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _RELAXED -= 1
            if _RELAXED == 0:
                gc.set_threshold(*_SAVED)


def _scan(
    root: Path,
    exclude: Exclude | None,
    env: Mapping[str, str],
    versions: Mapping[str, str],
    jobs: int | None,
    argv: Argv,
) -> ScanResult:
    batches = _batches(iter_python_files(root, exclude))
    head = list(itertools.islice(batches, 2))
    workers = default_jobs() if jobs is None else max(1, jobs)
    total = _Partial()
    if workers == 1 or len(head) < 2:
        scanner = _BatchScanner(root, env, versions, argv)
        for batch in itertools.chain(head, batches):
            _merge(total, scanner.scan(batch))
        scanner.evaluator.project.close()
    else:
        context = multiprocessing.get_context("fork")
        # Objects the workers inherit stay out of the collector's way, so collections in a
        # worker do not copy the parent's pages (copy-on-write) for nothing.
        gc.freeze()
        try:
            setup = (root, dict(env), dict(versions), argv)
            with context.Pool(workers - 1, _start_worker, setup) as pool:
                work = itertools.chain(head, batches)
                _share(pool, workers - 1, work, total, root, env, versions, argv)
        finally:
            gc.unfreeze()
    return ScanResult(tuple(total.refs), total.scanned, total.parsed, tuple(total.problems))


def _share(
    pool: multiprocessing.pool.Pool,
    workers: int,
    batches: Iterable[list[PythonFile]],
    total: _Partial,
    root: Path,
    env: Mapping[str, str],
    versions: Mapping[str, str],
    argv: Argv,
) -> None:
    """Scan batches in the workers and in this process, merging results in walk order.

    The calling process walks the tree, which leaves it idle most of the time: it scans a
    batch itself whenever every worker already has one running and one queued, so `jobs`
    processes do the work with one fewer fork (and its copy-on-write faults) than a pool
    of `jobs` workers plus an idle parent.
    """
    scanner = _BatchScanner(root, env, versions, argv)
    pending: deque[AsyncResult[_Partial] | _Partial] = deque()
    queued: deque[AsyncResult[_Partial]] = deque()
    for batch in batches:
        while queued and queued[0].ready():
            queued.popleft()
        if len(queued) < 2 * workers:
            # Plain strings pickle several times faster than dataclass instances.
            paths = [file.path for file in batch]
            rels = [file.rel for file in batch]
            job = pool.apply_async(_scan_in_worker, (paths, rels))
            queued.append(job)
            pending.append(job)
        else:
            pending.append(scanner.scan(batch))
        # Merge what is done, in order; wait for the oldest when too much is in flight, so
        # memory stays bounded even when a worker is slow.
        while pending and (
            isinstance(pending[0], _Partial) or pending[0].ready() or len(pending) > 4 * workers
        ):
            done = pending.popleft()
            _merge(total, done if isinstance(done, _Partial) else done.get())
    while pending:
        done = pending.popleft()
        _merge(total, done if isinstance(done, _Partial) else done.get())
    scanner.evaluator.project.close()


def _merge(total: _Partial, part: _Partial) -> None:
    total.scanned += part.scanned
    total.parsed += part.parsed
    total.refs.extend(part.refs)
    total.problems.extend(part.problems)
