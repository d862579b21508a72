"""Reading Dockerfile RUN lines for models that are already baked."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlfix.scan import HubDownload, RefKind, parse_download_command, scan_run_command
from mlfix.scan.commands import split_commands

DOCKERFILE = Path("Dockerfile")


def downloads(command: str, **kwargs: object) -> list[HubDownload]:
    return list(scan_run_command(command, path=DOCKERFILE, **kwargs).downloads)  # type: ignore[arg-type]


def test_hf_download_with_every_flag() -> None:
    [d] = downloads(
        "hf download org/model --revision v2 --include '*.json' --include=*.safetensors"
        " --exclude '*.onnx' --local-dir /models/m --repo-type model --max-workers 4 --quiet"
    )
    assert d == HubDownload(
        tool="hf",
        repo_id="org/model",
        raw=d.raw,
        revision="v2",
        include=("*.json", "*.safetensors"),
        exclude=("*.onnx",),
        local_dir="/models/m",
    )


def test_hf_download_explicit_files_and_cache_dir() -> None:
    [d] = downloads("hf download org/model config.json tokenizer.json --cache-dir /hf")
    assert (d.filenames, d.cache_dir, d.local_dir) == (
        ("config.json", "tokenizer.json"),
        "/hf",
        None,
    )


def test_hub_1x_takes_one_value_per_include() -> None:
    [d] = downloads("hf download org/m --include '*.json' '*.txt'")
    assert d.include == ("*.json",) and d.filenames == ("*.txt",)


def test_huggingface_cli_and_old_hub_take_several_values() -> None:
    [old] = downloads("huggingface-cli download org/m --include '*.json' '*.txt' --exclude a b")
    assert (old.tool, old.include, old.exclude, old.filenames) == (
        "huggingface-cli",
        ("*.json", "*.txt"),
        ("a", "b"),
        (),
    )
    [pinned] = downloads(
        "hf download org/m --include '*.json' '*.txt'", versions={"huggingface-hub": "0.36.0"}
    )
    assert pinned.include == ("*.json", "*.txt")


def test_hf_uri_and_dataset_type() -> None:
    [d] = downloads("hf download hf://datasets/org/data@v1/train/ --local-dir /data")
    assert (d.repo_id, d.repo_type, d.revision) == ("org/data", "dataset", "v1")
    [t] = downloads("hf download org/data --type dataset")
    assert t.repo_type == "dataset"


def test_variables_expand_from_the_stage_env() -> None:
    env = {"MODEL_ID": "org/from-arg", "REV": "abc"}
    [d] = downloads(
        'hf download "$MODEL_ID" --revision ${REV} --local-dir ${DIR:-/models}', env=env
    )
    assert (d.repo_id, d.revision, d.local_dir) == ("org/from-arg", "abc", "/models")


def test_variable_without_value_leaves_the_repo_unresolved() -> None:
    [d] = downloads("hf download $MODEL_ID")
    assert d.repo_id is None and "$MODEL_ID" in (d.unresolved_reason or "")


def test_single_quotes_do_not_expand() -> None:
    [command] = split_commands("echo '$HOME' \"$HOME\"", {"HOME": "/root"})
    assert [w.text for w in command.words] == ["echo", "$HOME", "/root"]


def test_command_lists_wrappers_comments_and_redirections() -> None:
    facts = scan_run_command(
        "pip install -U 'huggingface_hub[cli]' \\\n"
        " && HF_HUB_ENABLE_HF_TRANSFER=1 uv run hf download org/a >/dev/null 2>&1 \\\n"
        " ; env HF_HOME=/hf sudo -E hf download org/b || true # done\n",
        path=DOCKERFILE,
    )
    assert [d.repo_id for d in facts.downloads] == ["org/a", "org/b"]


@pytest.mark.parametrize(
    "command",
    ["hf upload org/a .", "pip download torch", "hf auth login", "echo hf download org/a", "hf"],
)
def test_other_commands_are_not_downloads(command: str) -> None:
    assert downloads(command) == []


def test_python_c_snippet_is_scanned_with_the_dockerfile_position() -> None:
    facts = scan_run_command(
        'python -c "from transformers import AutoTokenizer; '
        "AutoTokenizer.from_pretrained('org/tok')\"",
        path=DOCKERFILE,
        line=12,
    )
    [ref] = facts.refs
    assert (ref.repo_id, ref.role, ref.path, ref.line) == ("org/tok", "tokenizer", DOCKERFILE, 12)


def test_python_c_snippet_uses_the_stage_env() -> None:
    facts = scan_run_command(
        'python3 -c "import os; from sentence_transformers import SentenceTransformer; '
        "SentenceTransformer(os.environ['EMBED'])\"",
        path=DOCKERFILE,
        env={"EMBED": "all-MiniLM-L6-v2"},
    )
    [ref] = facts.refs
    assert ref.repo_id == "sentence-transformers/all-MiniLM-L6-v2" and ref.from_dockerfile_env


def test_python_scripts_and_modules_are_reported_for_the_caller_to_scan() -> None:
    facts = scan_run_command(
        "python -u scripts/download_model.py --out /m"
        " && python3.11 -m app.warmup && python -W ignore x.py",
        path=DOCKERFILE,
    )
    assert facts.scripts == ("scripts/download_model.py", "x.py")
    assert facts.modules == ("app.warmup",)


def test_exec_form_and_sh_c() -> None:
    [a] = scan_run_command(["hf", "download", "org/a"], path=DOCKERFILE).downloads
    [b] = scan_run_command(
        ["/bin/sh", "-c", "hf download org/b && true"], path=DOCKERFILE
    ).downloads
    assert (a.repo_id, b.repo_id) == ("org/a", "org/b")


def test_snippet_with_a_syntax_error_is_a_problem() -> None:
    facts = scan_run_command("python -c 'pipeline(('", path=DOCKERFILE, line=3)
    assert facts.refs == () and facts.problems[0].path == DOCKERFILE


def test_parse_download_command_accepts_plain_argv() -> None:
    d = parse_download_command(["huggingface-cli", "download", "gpt2", "config.json"])
    assert d is not None and (d.repo_id, d.filenames) == ("gpt2", ("config.json",))
    assert parse_download_command(["ls", "-la"]) is None


def test_unresolved_ref_in_snippet_keeps_its_reason() -> None:
    facts = scan_run_command(
        'python -c "import sys; from transformers import AutoModel;'
        ' AutoModel.from_pretrained(sys.argv[1])" x',
        path=DOCKERFILE,
    )
    [ref] = facts.refs
    assert ref.kind is RefKind.UNRESOLVED and "sys.argv" in (ref.unresolved_reason or "")


def test_a_script_run_by_the_dockerfile_is_scanned_with_scan_file() -> None:
    from mlfix.scan import scan_file

    root = Path(__file__).resolve().parent.parent / "fixtures" / "scan" / "argparse-script"
    facts = scan_run_command("python download_model.py /models", path=DOCKERFILE, line=9)
    [script] = facts.scripts
    [ref] = scan_file(root / script, root=root).refs
    assert (ref.repo_id, ref.path, ref.exact) == ("acme/downloaded-at-build", Path(script), False)


def test_a_python_c_snippet_reports_the_modules_it_imports() -> None:
    """`python -c "from app.model import load; load()"` runs app/model.py: the caller scans
    it (if the context holds it) so the model it loads counts as baked."""
    facts = scan_run_command(
        'python -c "import json; from app.model import load; load()"', path=Path("Dockerfile")
    )
    assert facts.scripts == ("json.py", "json/__init__.py", "app/model.py", "app/model/__init__.py")
    relative = scan_run_command('python -c "from .x import y"', path=Path("Dockerfile"))
    assert relative.scripts == ()
    broken = scan_run_command('python -c "from app import ("', path=Path("Dockerfile"))
    assert broken.scripts == ()
