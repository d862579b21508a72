from __future__ import annotations

import inspect
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mlfix.scan.loaders import LOADERS
from mlfix.scan.prefilter import (
    LOADER_RE,
    MAX_FILE_BYTES,
    NEEDLES,
    PythonFile,
    Unread,
    _confirmed,
    filter_batch,
    iter_candidates,
    iter_python_files,
    may_load_models,
    needle_lines,
    read_bytes,
    read_problem,
)

SPELLINGS = [
    b"AutoModel.from_pretrained(",
    b"Pipe.from_single_file(",
    b"model.load_adapter(",
    b"pipe.load_lora_weights(",
    b"hf_hub_download(",
    b"snapshot_download(",
    b"'hf_hub:timm/x'",
    b"'hf-hub:laion/x'",
    b"timm.create_model(",
    b"open_clip.create_model_and_transforms(",
    b"open_clip.create_model_from_pretrained(",
    b"pipeline(",
    b"SentenceTransformer(",
    b"CrossEncoder(",
    b"SparseEncoder(",
    b"WhisperModel(",
    b"HuggingFaceEmbeddings(",
    b"HuggingFaceBgeEmbeddings(",
    b"HuggingFaceInstructEmbeddings(",
    b"HuggingFaceCrossEncoder(",
    b"HuggingFacePipeline.from_model_id(",
    b"HuggingFaceEmbedding(",
    b"TextEmbedding(",
    b"SparseTextEmbedding(",
    b"LateInteractionTextEmbedding(",
    b"ImageEmbedding(",
    b"TextCrossEncoder(",
    b"BGEM3FlagModel(",
    b"FlagModel(",
    b"FlagReranker(",
    b"FlagLLMReranker(",
    b"KPipeline(",
    b"INSTRUCTOR(",
    b"GLiNER.from_pretrained(",
]


def test_every_needle_has_a_spelling_here() -> None:
    for needle in NEEDLES:
        assert any(needle in spelling for spelling in SPELLINGS), needle


def test_every_row_of_the_loader_table_passes_the_prefilter() -> None:
    """Needles are derived from the table: a row's spelled name always passes (the
    `get_tokenizer` row loads only with an `hf-hub:` literal, itself a needle)."""
    for row in LOADERS:
        spelled = f"{row.name}(".encode() if row.needle else f"{row.name}('hf-hub:a/b')".encode()
        assert may_load_models(b"x = " + spelled + b"\n"), row.callable


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_loader_spelling_passes_the_prefilter(spelling: bytes) -> None:
    assert may_load_models(b"x = 1\n" + spelling + b"\n")


@pytest.mark.parametrize(
    "text",
    [
        b"import os\nprint('hello')\n",
        b"from_pretraine d",
        b"Pipeline([])  # sklearn, capital P",
        b"hub: not a prefix",
        b"encoder = JSONEncoder()",
        b"def create_model_table(): pass",
        b"model = PeftModel(base, config)  # a new adapter, nothing downloaded",
        b"",
    ],
)
def test_text_without_needles_is_rejected(text: bytes) -> None:
    assert not may_load_models(text)
    assert LOADER_RE.search(text) is None


def test_fast_groups_agree_with_the_single_regex_on_near_misses() -> None:
    samples = [
        b"_pretrained",
        b"nceTransformer",
        b"perModel",
        b"ncoder",
        b"-hub:",
        b"create_model",
        b"the_download",
        b"SentenceTransformers",
        b"x.from_pretrained(",
    ]
    for sample in samples:
        assert may_load_models(sample) == bool(LOADER_RE.search(sample)), sample


def test_the_exact_groups_confirm_what_the_single_regex_does() -> None:
    """The confirmation (per first byte, for speed) is LOADER_RE split up, nothing more:
    on every spelling, every near miss, and a file of real code."""
    real = Path(inspect.getfile(inspect)).read_bytes()  # mentions none of the needles
    samples = [*SPELLINGS, *(s[1:] for s in SPELLINGS), *(s[:-2] for s in SPELLINGS), real]
    samples += [b"create_model", b"create_model_and", b"hf-hub", b"hf_hub", real + SPELLINGS[0]]
    for sample in samples:
        assert _confirmed(sample) == bool(LOADER_RE.search(sample)), sample


def test_needle_lines() -> None:
    data = b"a\nmodel = AutoModel.from_pretrained('x')\n\n\np = pipeline('ner'); pipeline('x')\n"
    assert needle_lines(data) == [2, 5]


def _write(root: Path, rel: str, text: str = "") -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_walk_skips_directories_that_cannot_hold_project_code(tmp_path: Path) -> None:
    for rel in [
        "app/main.py",
        "app/sub/util.py",
        "app/readme.md",
        ".git/hooks/x.py",
        "node_modules/pkg/x.py",
        "app/__pycache__/main.cpython-311.py",
        "lib/python3.11/site-packages/pkg/x.py",
        "myenv/lib/x.py",
        "condaenv/x.py",
        "docs/conf.py",
    ]:
        _write(tmp_path, rel)
    _write(tmp_path, "myenv/pyvenv.cfg", "home = /usr\n")
    (tmp_path / "condaenv" / "conda-meta").mkdir()
    found = [f.rel for f in iter_python_files(tmp_path)]
    assert found == ["app/main.py", "app/sub/util.py", "docs/conf.py"]


def test_exclude_is_asked_once_for_an_excluded_directory(tmp_path: Path) -> None:
    for i in range(50):
        _write(tmp_path, f"data/raw/part{i}.py")
    _write(tmp_path, "app/main.py")
    asked: list[tuple[str, bool]] = []

    def exclude(rel: str, is_dir: bool) -> bool:
        asked.append((rel, is_dir))
        return rel == "data"

    assert [f.rel for f in iter_python_files(tmp_path, exclude)] == ["app/main.py"]
    assert ("data", True) in asked
    assert not any(rel.startswith("data/") for rel, _ in asked)


def test_exclude_applies_to_files_too(tmp_path: Path) -> None:
    _write(tmp_path, "keep.py")
    _write(tmp_path, "drop.py")
    files = iter_python_files(tmp_path, lambda rel, is_dir: rel == "drop.py")
    assert [f.rel for f in files] == ["keep.py"]


def test_symlinked_directories_are_not_followed(tmp_path: Path) -> None:
    _write(tmp_path, "real/x.py")
    os.symlink(tmp_path / "real", tmp_path / "link")
    os.symlink(tmp_path, tmp_path / "real" / "loop")
    assert [f.rel for f in iter_python_files(tmp_path)] == ["real/x.py"]


def test_walk_and_reads_are_generators() -> None:
    assert inspect.isgenerator(iter_python_files("."))
    assert inspect.isgenerator(iter_candidates(iter([])))


def test_candidates_keep_bytes_only_for_files_that_may_load_models(tmp_path: Path) -> None:
    names = []
    for i in range(700):  # several batches
        text = "x = 1\n" * (i % 7)
        if i % 97 == 0:
            text += "m = AutoModel.from_pretrained('a/b')\n"
        _write(tmp_path, f"m{i:04}.py", text)
        names.append(f"m{i:04}.py")
    candidates = list(iter_candidates(iter_python_files(tmp_path), batch_files=64))
    assert [c.file.rel for c in candidates] == names
    hits = [c.file.rel for c in candidates if c.data is not None]
    assert hits == [f"m{i:04}.py" for i in range(0, 700, 97)]
    for candidate in candidates:
        if candidate.data is not None:
            assert candidate.data == (tmp_path / candidate.file.rel).read_bytes()


def test_filter_batch_returns_only_hits_and_errors_in_order(tmp_path: Path) -> None:
    _write(tmp_path, "a.py", "x = 1\n")
    _write(tmp_path, "b.py", "SentenceTransformer('m')\n")
    _write(tmp_path, "c.py", "encoder = JSONEncoder()\n")  # a fast-group hit, not a needle
    files = [*iter_python_files(tmp_path), PythonFile(str(tmp_path / "gone.py"), "gone.py")]
    found = filter_batch(files)
    assert [(c.file.rel, c.data is not None, c.error is not None) for c in found] == [
        ("b.py", True, False),
        ("gone.py", False, True),
    ]


def test_unreadable_file_is_reported_not_fatal(tmp_path: Path) -> None:
    _write(tmp_path, "ok.py", "pipeline('ner')\n")
    files = [
        PythonFile(str(tmp_path / "gone.py"), "gone.py"),
        PythonFile(str(tmp_path / "ok.py"), "ok.py"),
    ]
    candidates = list(iter_candidates(files))
    assert candidates[0].error is not None and candidates[0].data is None
    assert candidates[1].data == b"pipeline('ner')\n"


def test_large_files_are_read_whole(tmp_path: Path) -> None:
    body = "# filler\n" * 20000 + "x = AutoModel.from_pretrained('a/b')\n"
    _write(tmp_path, "big.py", body)
    [candidate] = list(iter_candidates(iter_python_files(tmp_path)))
    assert candidate.data is not None and len(candidate.data) == len(body.encode())


class Hung(Exception):
    """Not an OSError (TimeoutError is one), so no reader's `except OSError` swallows it."""


@contextmanager
def no_hang(seconds: int = 5) -> Iterator[None]:
    """Fail (SIGALRM) instead of blocking the test run when a read waits on a FIFO."""

    def fail(_signum: int, _frame: object) -> None:
        raise Hung("the read waited on a FIFO")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_fifo_named_py_is_walked_and_refused_without_waiting(tmp_path: Path) -> None:
    """The walk lists it (so the scan can say it skipped it); the read never opens it for
    a blocking read. A broken link is no file to read and is not listed."""
    os.mkfifo(tmp_path / "app.py")
    os.symlink(tmp_path / "app.py", tmp_path / "link.py")
    os.symlink(tmp_path / "missing", tmp_path / "broken.py")
    _write(tmp_path, "ok.py", "pipeline('ner')\n")
    files = list(iter_python_files(tmp_path))
    assert [f.rel for f in files] == ["app.py", "link.py", "ok.py"]
    with no_hang():
        found = filter_batch(files)
    assert [(c.file.rel, type(c.error).__name__) for c in found] == [
        ("app.py", "Unread"),
        ("link.py", "Unread"),
        ("ok.py", "NoneType"),
    ]
    assert read_problem(found[0].error or OSError()) == (
        "not scanned: is a FIFO, not a regular file"
    )


def test_a_file_swapped_for_a_fifo_after_the_walk_is_refused(tmp_path: Path) -> None:
    """The check is on the open file (fstat), not on what the walk saw."""
    _write(tmp_path, "app.py", "pipeline('ner')\n")
    files = list(iter_python_files(tmp_path))
    (tmp_path / "app.py").unlink()
    os.mkfifo(tmp_path / "app.py")
    with no_hang():
        [candidate] = filter_batch(files)
        with pytest.raises(Unread):
            read_bytes(str(tmp_path / "app.py"))
    assert isinstance(candidate.error, Unread) and candidate.data is None


def test_a_file_over_the_cap_is_sized_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 2 GB sparse .py costs an fstat: not one byte of it is read."""
    with (tmp_path / "big.py").open("wb") as handle:
        handle.write(b"pipeline('ner')\n")
        handle.truncate(2 << 30)
    _write(tmp_path, "ok.py", "pipeline('ner')\n")
    read: list[int] = []
    real_read = os.read

    def counting_read(fd: int, size: int) -> bytes:
        data = real_read(fd, size)
        read.append(len(data))
        return data

    monkeypatch.setattr(os, "read", counting_read)
    big, ok = filter_batch(list(iter_python_files(tmp_path)))
    assert big.too_large and big.data is None and big.error is None
    assert ok.data == b"pipeline('ner')\n"
    assert read == [len(ok.data)]
    assert MAX_FILE_BYTES < 2 << 30
