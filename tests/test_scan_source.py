"""The statement cut and lazy parsing that keep the scan fast, and the parallel repo scan."""

from __future__ import annotations

import gc
import textwrap
import weakref
from pathlib import Path

import pytest

import mlfix.scan.repo as repo_module
from mlfix.scan import scan_repo, scan_source
from mlfix.scan.prefilter import needle_lines
from mlfix.scan.source import SourceFile, split_top_level


def chunks_of(code: str) -> list[tuple[int, str | None, str | None]]:
    data = textwrap.dedent(code).encode()
    return [(c.line, c.kind, c.name) for c in split_top_level(data)]


def test_cut_at_top_level_statements() -> None:
    code = '''\
        """Module docstring.

        def not_code():  at column 0 inside a string
        """
        import os
        X = 1

        @decorator(
            arg=1,
        )
        @other
        def decorated():
            pass

        class Thing(Base):
            y = """
        class AlsoNotCode:
        """

        if X:
            pass
        else:
            pass
        try:
            pass
        except ValueError:
            pass
        async def run():
            pass
        total = 1 + \\
        2
        '''
    assert chunks_of(code) == [
        (1, None, None),  # docstring, imports, X: plain statements parsed together
        (8, "def", "decorated"),
        (15, "class", "Thing"),
        (20, None, None),  # if/else, try/except, not split at else/except
        (28, "def", "run"),
        (30, None, None),  # the backslash continuation stays in one statement
    ]


def test_unparsed_definitions_are_parsed_when_a_name_reaches_them() -> None:
    code = textwrap.dedent(
        """\
        from transformers import AutoModel

        def unrelated():
            return 1

        def model_name():
            return "org/from-function"

        m = AutoModel.from_pretrained(model_name())
        """
    ).encode()
    source = SourceFile.parse(Path("a.py"), Path("a.py"), code, needle_lines(code))
    assert source.chunks is not None
    by_name = {chunk.name: chunk for chunk in source.chunks if chunk.name}
    assert by_name["unrelated"].body is None and by_name["model_name"].body is None
    [ref] = scan_source(code.decode(), "a.py").refs
    assert ref.repo_id == "org/from-function"


def test_a_cut_inside_brackets_falls_back_to_the_whole_file() -> None:
    code = (
        "from transformers import AutoModel\n"
        "def load(name,\n"
        "revision='r'):\n"  # a parameter at column 0: looks like a statement to the cut
        "    return AutoModel.from_pretrained('org/x', revision=revision)\n"
    )
    data = code.encode()
    source = SourceFile.parse(Path("a.py"), Path("a.py"), data, needle_lines(data))
    assert source.chunks is None  # parsed whole
    [ref] = scan_source(code, "a.py").refs
    assert (ref.repo_id, ref.revision) == ("org/x", "r")  # the parameter default


def test_code_at_column_0_in_a_docstring_is_not_a_model_load() -> None:
    code = textwrap.dedent(
        '''\
        def usage():
            """Example:
        model = AutoModel.from_pretrained("org/in-docstring")
        print(model)
        """
        '''
    )
    assert scan_source(code, "a.py").refs == ()


def test_syntax_error_in_an_unused_definition_is_not_reported() -> None:
    """Only what the scan reads is parsed: a broken function elsewhere is not its business."""
    code = (
        "from transformers import AutoModel\n"
        "m = AutoModel.from_pretrained('org/x')\n"
        "\n"
        "def broken(:\n"
        "    pass\n"
    )
    result = scan_source(code, "a.py")
    assert [r.repo_id for r in result.refs] == ["org/x"] and result.problems == ()


def test_files_are_freed_without_the_cycle_collector(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(
        "from transformers import AutoModel\nAutoModel.from_pretrained('org/x')\n"
    )
    created: list[weakref.ref[SourceFile]] = []
    original = SourceFile.parse.__func__  # type: ignore[attr-defined]

    def tracking(cls: type[SourceFile], *args: object, **kwargs: object) -> SourceFile:
        source: SourceFile = original(cls, *args, **kwargs)
        created.append(weakref.ref(source))
        return source

    gc.disable()
    try:
        SourceFile.parse = classmethod(tracking)  # type: ignore[method-assign,assignment]
        scan_repo(tmp_path, jobs=1)
    finally:
        SourceFile.parse = classmethod(original)  # type: ignore[method-assign,assignment]
        gc.enable()
    assert created and all(ref() is None for ref in created)


@pytest.mark.parametrize("jobs", [2, 3])
def test_parallel_scan_gives_the_same_result_in_the_same_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    for i in range(40):
        package = tmp_path / f"pkg{i % 5}"
        package.mkdir(exist_ok=True)
        if i % 3 == 0:
            text = (
                f"from transformers import AutoModel\nm = AutoModel.from_pretrained('org/m{i}')\n"
            )
        elif i % 7 == 0:
            text = "def broken(:\n pipeline('x')\n"
        else:
            text = "x = 1\n"
        (package / f"m{i:02}.py").write_text(text)
    serial = scan_repo(tmp_path, jobs=1)
    monkeypatch.setattr(repo_module, "BATCH_FILES", 4)
    parallel = scan_repo(tmp_path, jobs=jobs)
    assert parallel == serial
    assert serial.files_scanned == 40 and len(serial.refs) == 14 and len(serial.problems) == 4


def test_an_internal_error_on_one_file_is_a_problem_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a.py", "b.py"):
        (tmp_path / name).write_text(f"from transformers import pipeline\np = pipeline('{name}')\n")
    original = repo_module.scan_data

    def flaky(data: bytes, path: Path, *args: object, **kwargs: object) -> object:
        if path.name == "a.py":
            raise RuntimeError("boom")
        return original(data, path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(repo_module, "scan_data", flaky)
    result = scan_repo(tmp_path, jobs=1)
    assert [p.path for p in result.problems] == [Path("a.py")]
    assert "RuntimeError: boom" in result.problems[0].message
    assert [r.task for r in result.refs] == ["b.py"]


def test_no_worker_processes_while_other_threads_run() -> None:
    import threading

    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert repo_module.default_jobs() == 1
    finally:
        stop.set()
        thread.join()
