"""MLF305: the llama-cpp rewrite keeps every other byte, composes with MLF301, stays lazy."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fixture_cases import FIXTURES
from mlfix.config import Settings
from mlfix.engine import run_target
from mlfix.facts import Target
from mlfix.patch import write_atomic
from mlfix.scan import scan_source
from mlfix.weights.cards import front_matter_tag, pipeline_tags
from mlfix.weights.llama_rewrite import rewrite

HEAD = "from llama_cpp import Llama\n"
IMPORT = "from huggingface_hub import hf_hub_download\n"


def _call_line(text: str) -> int:
    return text[: text.index("from_pretrained")].count("\n") + 1


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (
            'llm = Llama.from_pretrained("a/b", "f.gguf", n_gpu_layers=-1)\n',
            'llm = Llama(model_path=hf_hub_download(repo_id="a/b", filename="f.gguf"),'
            " n_gpu_layers=-1)\n",
        ),
        (
            # repo and file after another keyword, the file last: the trailing comma and
            # the `)` line stay, and each comment stays on its argument's line.
            'llm = Llama.from_pretrained(\n    n_ctx=2,  # ctx\n    repo_id="a/b",\n'
            '    filename="f.gguf",  # file\n)\n',
            "llm = Llama(\n    n_ctx=2,  # ctx\n"
            '    model_path=hf_hub_download(repo_id="a/b", filename="f.gguf"),  # file\n)\n',
        ),
        (
            'llm = Llama.from_pretrained(\n    repo_id="a/b",\n    n_ctx=2,  # ctx\n'
            '    filename="f.gguf",  # file\n    )\n',
            'llm = Llama(\n    model_path=hf_hub_download(repo_id="a/b", filename="f.gguf"),'
            "  # file\n    n_ctx=2,  # ctx\n    )\n",
        ),
        (
            # No comment is lost: those of the replaced arguments end model_path's line.
            'llm = Llama.from_pretrained(\n    repo_id="a/b",  # repo\n    n_ctx=2,  # ctx\n'
            '    filename="f.gguf",  # file\n)\n',
            'llm = Llama(\n    model_path=hf_hub_download(repo_id="a/b", filename="f.gguf"),'
            "  # repo  # file\n    n_ctx=2,  # ctx\n)\n",
        ),
        (
            'llm = Llama.from_pretrained(repo_id=REPO, filename=FILE, cache_dir="/c",'
            ' local_dir="m", verbose=False)\n',
            "llm = Llama(model_path=hf_hub_download(repo_id=REPO, filename=FILE,"
            ' cache_dir="/c", local_dir="m"), verbose=False)\n',
        ),
    ],
)
def test_rewrite_moves_hub_arguments_and_keeps_the_rest(call: str, expected: str) -> None:
    text = HEAD + "\n" + call
    result = rewrite(text, _call_line(text), 7)
    assert result.text == HEAD + IMPORT + "\n" + expected
    ast.parse(result.text)


def test_rewrite_keeps_bom_crlf_tabs_and_missing_final_newline() -> None:
    text = (
        '\ufeff"""Doc."""\r\nimport llama_cpp\r\n\r\ndef f():\r\n'
        '\treturn llama_cpp.Llama.from_pretrained("a/b", "f.gguf")'
    )
    result = rewrite(text, 5, 9)
    assert result.text == (
        '\ufeff"""Doc."""\r\nimport llama_cpp\r\nfrom huggingface_hub import hf_hub_download\r\n'
        "\r\ndef f():\r\n"
        '\treturn llama_cpp.Llama(model_path=hf_hub_download(repo_id="a/b", filename="f.gguf"))'
    )


def test_rewrite_adds_no_second_import_and_picks_the_call_on_its_line() -> None:
    text = (
        "from huggingface_hub import hf_hub_download\n" + HEAD + "\n"
        'a, b = Llama.from_pretrained("a/one", "1.gguf"),'
        ' Llama.from_pretrained("a/two", "2.gguf")\n'
    )
    column = text.splitlines()[3].index('Llama.from_pretrained("a/two"') + 1
    result = rewrite(text, 4, column)
    assert result.text is not None
    assert result.text.count("import hf_hub_download") == 1
    assert 'Llama.from_pretrained("a/one", "1.gguf")' in result.text
    assert 'Llama(model_path=hf_hub_download(repo_id="a/two", filename="2.gguf"))' in result.text


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        ('Llama.from_pretrained("a/b", "f.gguf", additional_files=["g.gguf"])', "additional_files"),
        ('Llama.from_pretrained("a/b", "f.gguf", local_dir_use_symlinks=False)', "local_dir_use"),
        ("Llama.from_pretrained(**settings)", "*args or **kwargs"),
        ('Llama.from_pretrained("a/b", "f.gguf", None, "dir")', "by position"),
        ('Llama.from_pretrained(repo_id="a/b")', "both repo_id and filename"),
    ],
)
def test_rewrite_refuses_calls_one_download_does_not_cover(call: str, reason: str) -> None:
    text = HEAD + f"llm = {call}\n"
    result = rewrite(text, 2, 7)
    assert result.text is None
    assert result.reason is not None and reason in result.reason


def test_rewritten_call_is_an_exact_file_download_for_the_scan() -> None:
    text = HEAD + 'llm = Llama.from_pretrained(repo_id="a/b", filename="sub/f.gguf", n_ctx=8)\n'
    result = rewrite(text, 2, 7)
    assert result.text is not None
    refs = scan_source(result.text, Path("app.py")).refs
    assert [(r.repo_id, r.filename, r.role, r.offline_safe) for r in refs] == [
        ("a/b", "sub/f.gguf", "file", True)
    ]


def _copy(case: str, tmp_path: Path) -> Path:
    root = tmp_path / case
    shutil.copytree(FIXTURES / "MLF305" / case / "input", root)
    return root


def test_with_mlf301_the_file_is_baked_once_and_a_second_run_changes_nothing(
    tmp_path: Path,
) -> None:
    root = _copy("fires-llama-from-pretrained", tmp_path)
    target = Target(root / "Dockerfile", root, "Dockerfile")
    settings = Settings(select=("MLF301", "MLF305"), unsafe_fixes=True)
    first = run_target(target, settings, fix=True)
    assert first.error is None
    new = {path.name: text for path, (_old, text) in first.changes.items()}
    assert new["Dockerfile"].count("hf download") == 1
    bake = "RUN hf download acme/tiny-llm-GGUF --include tiny-llm.Q4_K_M.gguf\n"
    assert bake in new["Dockerfile"]
    assert "Llama(\n    model_path=hf_hub_download(" in new["app.py"]
    # Once the loader is offline-safe and everything is baked, MLF301 turns offline mode on.
    assert "ENV HF_HUB_OFFLINE=1\n" in new["Dockerfile"]
    for path, (_old, text) in first.changes.items():
        write_atomic(path, text)
    second = run_target(target, settings, fix=True)
    assert second.changes == {}
    assert [f.code for f in second.findings] == []


def test_pipeline_task_comes_only_from_a_card_that_sets_it(tmp_path: Path) -> None:
    snapshots = tmp_path / "cache" / "models--acme--one" / "snapshots"
    (snapshots / "r1").mkdir(parents=True)
    (snapshots / "r1" / "README.md").write_text("---\nlicense: mit\n---\npipeline_tag: nope\n")
    (snapshots / "r2").mkdir()
    (snapshots / "r2" / "README.md").write_text("---\npipeline_tag: 'fill-mask'  # set\n---\n")
    (tmp_path / "models--acme--two" / "snapshots" / "r").mkdir(parents=True)
    (tmp_path / "models--acme--two" / "snapshots" / "r" / "README.md").write_text("# no card\n")
    found = pipeline_tags(tmp_path, ["acme/one", "acme/two", "acme/three"])
    assert found == {"acme/one": ("fill-mask", "cache/models--acme--one/snapshots/r2/README.md")}
    assert front_matter_tag("\ufeff---\npipeline_tag: text-classification\n---\n") == (
        "text-classification"
    )


def test_the_rule_imports_libcst_only_to_build_its_fix() -> None:
    code = textwrap.dedent(
        """
        import sys
        import mlfix.rules
        assert "mlfix.weights.llama_rewrite" not in sys.modules
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_two_calls_in_one_file_are_both_rewritten_in_one_run(tmp_path: Path) -> None:
    """The scan reads the disk; the second pass must see the first rewrite's text."""
    root = _copy("fires-llama-from-pretrained", tmp_path)
    with (root / "app.py").open("a") as handle:
        handle.write('\nsmall = Llama.from_pretrained("acme/small-GGUF", "small.Q2_K.gguf")\n')
    target = Target(root / "Dockerfile", root, "Dockerfile")
    settings = Settings(select=("MLF301", "MLF305"), unsafe_fixes=True)
    result = run_target(target, settings, fix=True)
    assert result.error is None
    app = result.changes[root / "app.py"][1]
    assert app.count("from huggingface_hub import hf_hub_download\n") == 1
    assert "from_pretrained" not in app
    assert 'small = Llama(model_path=hf_hub_download(repo_id="acme/small-GGUF",' in app
    assert "ENV HF_HUB_OFFLINE=1\n" in result.changes[root / "Dockerfile"][1]
    assert [f.code for f in result.remaining] == []
