"""Whole-file parsing and its bounds, and the parallel repo scan."""

from __future__ import annotations

import gc
import itertools
import textwrap
import tracemalloc
import weakref
from pathlib import Path

import pytest

import mlfix.scan.repo as repo_module
from mlfix.scan import scan_repo, scan_source
from mlfix.scan.models import scan_data
from mlfix.scan.resolve import MAX_EVALS, Evaluator, Project
from mlfix.scan.resolve.util import MAX_DEPTH
from mlfix.scan.source import SourceFile


def refs_of(code: str) -> list[str | None]:
    return [ref.repo_id for ref in scan_source(textwrap.dedent(code), "a.py").refs]


def test_a_method_that_rebinds_an_attribute_makes_the_name_ambiguous() -> None:
    """The whole file is parsed: a rebinding anywhere in the class counts, even in a method
    that holds no loader call (the case the old member-by-member cut baked 'org/one' for)."""
    code = """\
        from transformers import AutoModel

        class Loader:
            def __init__(self):
                self.repo = "org/one"

            def unrelated(self):
                (self.repo) = "org/two"

            def load(self):
                return AutoModel.from_pretrained(self.repo)
        """
    [ref] = scan_source(textwrap.dedent(code), "a.py").refs
    assert ref.repo_id is None and "'org/one', 'org/two'" in (ref.unresolved_reason or "")


def test_definitions_anywhere_in_the_file_are_followed() -> None:
    code = """\
        from transformers import AutoModel

        def unrelated():
            return 1

        def model_name():
            return "org/from-function"

        m = AutoModel.from_pretrained(model_name())
        """
    assert refs_of(code) == ["org/from-function"]


def test_parameters_at_column_0_inside_brackets() -> None:
    code = (
        "from transformers import AutoModel\n"
        "def load(name,\n"
        "revision='r'):\n"
        "    return AutoModel.from_pretrained('org/x', revision=revision)\n"
    )
    [ref] = scan_source(code, "a.py").refs
    assert (ref.repo_id, ref.revision) == ("org/x", "r")  # the parameter default


def test_a_large_file_is_reported_not_read_into_the_parser(tmp_path: Path) -> None:
    """A 2 GB sparse file costs one bounded read, and the report says it was skipped."""
    big = tmp_path / "huge.py"
    with big.open("wb") as handle:
        handle.write(b"from transformers import pipeline\npipeline('x')\n")
        handle.truncate(2 << 30)
    result = scan_repo(tmp_path, jobs=1)
    assert result.refs == ()
    [problem] = result.problems
    assert problem.path == Path("huge.py") and "larger than" in problem.message


def test_a_long_chained_conditional_is_bounded() -> None:
    """90 KB of `elif`: parsed or refused quickly, never a crash, what is skipped reported."""
    arms = "".join(f"elif kind == {i}:\n    name = 'org/m{i}'\n" for i in range(1, 3000))
    code = (
        "from transformers import AutoModel\nname = 'org/m0'\nif kind == 0:\n    pass\n"
        + arms
        + "AutoModel.from_pretrained(name)\n"
    )
    assert len(code) > 90_000
    result = scan_source(code, "a.py")
    assert all(ref.repo_id is None for ref in result.refs)
    assert result.problems and "nested" in result.problems[0].message


def _conditional_in_the_call(arms: int) -> bytes:
    chain = "".join(f"'org/m{i}' if kind == {i} else " for i in range(arms))
    code = f"from transformers import AutoModel\nAutoModel.from_pretrained({chain}'org/x')\n"
    return code.encode()


def _cost(data: bytes) -> tuple[int, int, str | None]:
    """Values evaluated, peak bytes allocated, and the ref's unresolved reason."""
    evaluator = Evaluator(Project(None, {}))
    tracemalloc.start()
    try:
        [ref], _ = scan_data(data, Path("a.py"), Path("a.py"), evaluator)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return MAX_EVALS - evaluator.budget, peak, ref.unresolved_reason


def test_a_chained_conditional_inside_a_loader_call_costs_linear_memory() -> None:
    """Issue #13 measured 4.4 GB for 90 KB of this shape on the libcst scan. On `ast` the
    values evaluated do not grow with the chain (the evaluator stops at the first arm it
    cannot decide) and memory grows as the source does: doubling it at most ~doubles the
    peak, never squares it. (A chain long enough to pass the parser's own nesting limit is
    a reported parse failure: test_a_long_chained_conditional_is_bounded.)"""
    _cost(_conditional_in_the_call(10))  # warm caches, so they do not count below
    costs = [_cost(_conditional_in_the_call(arms)) for arms in (400, 800, 1600)]
    assert len({evals for evals, _, _ in costs}) == 1, costs  # a bound on values
    assert costs[0][0] < 3 * MAX_DEPTH < 400  # bounded by the depth limit, not the arms
    for (_, small, _), (_, large, _) in itertools.pairwise(costs):
        assert large < 2.5 * small, costs
    assert all(reason and "chosen at runtime" in reason for _, _, reason in costs)


def test_nesting_under_the_parser_limit_but_past_the_walk_limit_is_reported() -> None:
    arms = "".join(f"elif kind == {i}:\n    name = 'org/m{i}'\n" for i in range(1, 200))
    code = (
        "from transformers import AutoModel\nname = 'org/m0'\nif kind == 0:\n    pass\n"
        + arms
        + "AutoModel.from_pretrained(name)\n"
    )
    result = scan_source(code, "a.py")
    [ref] = result.refs
    assert ref.repo_id is None  # the deep arms still count as bindings of 'name'
    assert [p.message for p in result.problems] == [
        "not fully scanned: blocks nested deeper than 64 levels"
    ]


def test_the_evaluation_budget_stops_a_combinatorial_name() -> None:
    lines = "".join(f"name = name + 'x{i}'\n" for i in range(60))
    code = (
        f"from transformers import AutoModel\nname = 'a'\n{lines}AutoModel.from_pretrained(name)\n"
    )
    result = scan_source(code, "a.py")
    [ref] = result.refs
    assert ref.repo_id is None
    assert any("values to evaluate" in p.message for p in result.problems)


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


def test_a_file_that_does_not_parse_is_a_problem_with_no_guessed_refs() -> None:
    """The file is parsed whole, so a syntax error anywhere means nothing in it is trusted."""
    code = (
        "from transformers import AutoModel\n"
        "m = AutoModel.from_pretrained('org/x')\n"
        "\n"
        "def broken(:\n"
        "    pass\n"
    )
    result = scan_source(code, "a.py")
    assert result.refs == () and [(p.line, p.message) for p in result.problems] == [
        (4, "cannot parse: invalid syntax")
    ]


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


def test_a_config_beside_a_file_is_read_when_the_scan_runs_from_a_relative_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`scan_repo(Path("."))`: a file's config, named relative to the file's folder, was
    found and then crashed the file's scan (relative_to on a relative path; the corpus)."""
    (tmp_path / "vendor" / "config").mkdir(parents=True)
    (tmp_path / "vendor" / "config" / "model.yaml").write_text("model: org/tiny\n")
    (tmp_path / "vendor" / "infer.py").write_text(
        "import yaml\nfrom transformers import AutoModel\n"
        'cfg = yaml.safe_load(open("config/model.yaml"))\n'
        'AutoModel.from_pretrained(cfg["model"])\n'
    )
    monkeypatch.chdir(tmp_path)
    result = scan_repo(Path("."), jobs=1)
    assert result.problems == ()
    assert [r.repo_id for r in result.refs] == ["org/tiny"]
