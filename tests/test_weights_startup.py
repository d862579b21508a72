"""The start command Docker runs, the scripts it runs, and the downloads in them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlfix.config import Settings
from mlfix.dockerfile.model import Stage, parse
from mlfix.engine import run_target
from mlfix.facts import Target
from mlfix.weights import servers
from mlfix.weights.facts import _parent_stage
from mlfix.weights.startup import Start, StartScan, assignments, runs, start_command, unwrap


def _argv(text: str) -> tuple[str, ...] | None:
    model = parse(text, Path("Dockerfile"))

    def parent(stage: Stage) -> Stage | None:
        return _parent_stage(model, stage)

    found = start_command(model.stages[-1], parent)
    return None if found is None else found[1]


@pytest.mark.parametrize(
    ("dockerfile", "argv"),
    [
        ('FROM a\nCMD ["./start.sh"]\n', ("./start.sh",)),
        ("FROM a\nCMD sh scripts/run.sh\n", ("/bin/sh", "-c", "sh scripts/run.sh")),
        (
            'FROM a\nENTRYPOINT ["bash", "e.sh"]\nCMD ["--port", "1"]\n',
            ("bash", "e.sh", "--port", "1"),
        ),
        ('FROM a\nENTRYPOINT ./e.sh\nCMD ["ignored"]\n', ("/bin/sh", "-c", "./e.sh")),
        ('FROM a\nCMD ["x"]\nCMD ["y"]\n', ("y",)),
        # Inherited from the stage it builds on; an ENTRYPOINT resets the CMD below it.
        ('FROM a AS base\nCMD ["./start.sh"]\nFROM base\nRUN true\n', ("./start.sh",)),
        ('FROM a AS base\nCMD ["old"]\nFROM base\nENTRYPOINT ["e"]\n', ("e",)),
        ("FROM a\nRUN true\n", None),
    ],
)
def test_start_command_follows_docker(dockerfile: str, argv: tuple[str, ...] | None) -> None:
    assert _argv(dockerfile) == argv


@pytest.mark.parametrize(
    ("argv", "found"),
    [
        (["./start.sh"], (["./start.sh"], [])),
        (["bash", "-eu", "entrypoint.sh", "x"], (["entrypoint.sh"], [])),
        (["tini", "-g", "--", "/usr/local/bin/run.sh"], (["/usr/local/bin/run.sh"], [])),
        (["gosu", "app", "env", "A=1", "sh", "go.sh"], (["go.sh"], [])),
        (
            ["/bin/sh", "-c", "hf download a/b && python x.py"],
            ([], ["hf download a/b && python x.py"]),
        ),
        (["python", "app.py"], ([], [])),
        (["/usr/local/bin/uvicorn", "app:app"], ([], [])),
        ([".", "env.sh"], (["env.sh"], [])),
    ],
)
def test_runs_finds_scripts_through_wrappers(
    argv: list[str], found: tuple[list[str], list[str]]
) -> None:
    assert runs(argv) == found


def test_assignments_read_defaults_and_the_image_env() -> None:
    text = 'A="org/${NAME:-one}"\nexport B=$A\nC=$(date)\n'
    assert assignments(text, {})["B"] == "org/one"
    assert assignments(text, {"NAME": "two"})["A"] == "org/two"
    assert "C" not in assignments(text, {})


def test_nested_scripts_are_followed_and_lines_point_at_each_download(tmp_path: Path) -> None:
    (tmp_path / "start.sh").write_text("#!/bin/sh\n./scripts/fetch.sh\nexec python app.py\n")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "fetch.sh").write_text(
        "set -e\nhf download org/one config.json\n\nhf download org/two \\\n  --revision v1\n"
    )
    files = {"/app/start.sh": "start.sh", "/app/scripts/fetch.sh": "scripts/fetch.sh"}
    model = parse('FROM a\nCMD ["./start.sh"]\n', Path("Dockerfile"))
    scan = StartScan(
        tmp_path, {}, {}, lambda rel: (tmp_path / rel).read_text(), lambda p: files.get(p)
    )
    start = Start(model.instructions[-1], ("./start.sh",), "/app")
    refs = list(scan.refs(start, tmp_path / "Dockerfile"))
    found = [(r.repo_id, r.role, r.filename, r.revision, r.path.name, r.line) for r in refs]
    assert found == [
        ("org/one", "file", "config.json", None, "fetch.sh", 2),
        ("org/two", "snapshot", None, "v1", "fetch.sh", 4),
    ]


def test_a_download_the_code_reads_from_local_dir_is_matched_by_that_dir(tmp_path: Path) -> None:
    """`snapshot_download(local_dir=...)` in the code, baked by the Dockerfile into the same
    folder: nothing to add (it used to be 'baked where the loader won't look')."""
    (tmp_path / "requirements.txt").write_text("huggingface_hub==2.4.0\n")
    (tmp_path / "app.py").write_text(
        "from huggingface_hub import snapshot_download\n"
        'snapshot_download("org/tiny", local_dir="models/tiny")\n'
    )
    (tmp_path / "Dockerfile").write_text(
        "FROM python:3.11-slim\nWORKDIR /app\nCOPY requirements.txt .\n"
        "RUN pip install --no-cache-dir -r requirements.txt\n"
        "RUN hf download org/tiny --local-dir models/tiny\n"
        'COPY . .\nCMD ["python", "app.py"]\n'
    )
    target = Target(tmp_path / "Dockerfile", tmp_path, "Dockerfile")
    result = run_target(target, Settings(select=("MLF301",), unsafe_fixes=True), fix=True)
    assert result.error is None
    assert [f.message for f in result.findings] == []


def test_a_binary_start_command_is_not_read_as_a_script(tmp_path: Path) -> None:
    (tmp_path / "server").write_bytes(b"\x7fELF\x00\x01hf download org/x\n")
    (tmp_path / "Dockerfile").write_text(
        'FROM python:3.11-slim\nCOPY server /server\nCMD ["/server"]\n'
    )
    target = Target(tmp_path / "Dockerfile", tmp_path, "Dockerfile")
    result = run_target(target, Settings(select=("MLF301",), unsafe_fixes=True), fix=True)
    assert result.error is None
    assert result.findings == []


@pytest.mark.parametrize("skipped", ["syntax", "fifo"])
def test_a_file_the_scan_skips_keeps_offline_mode_off(tmp_path: Path, skipped: str) -> None:
    """The model a skipped file loads is not baked: with HF_HUB_OFFLINE=1 it could not
    download at start either, so the bake goes in and offline mode stays unset."""
    (tmp_path / "requirements.txt").write_text("transformers==4.44.2\n")
    (tmp_path / "app.py").write_text(
        'from transformers import AutoModel\nm = AutoModel.from_pretrained("gpt2")\n'
    )
    if skipped == "fifo":
        os.mkfifo(tmp_path / "extra.py")
    else:
        (tmp_path / "extra.py").write_text(  # it names a loader, but does not parse
            "from transformers import AutoModel\nAutoModel.from_pretrained(\n"
        )
    (tmp_path / "Dockerfile").write_text(
        "FROM python:3.11-slim\nWORKDIR /app\nCOPY requirements.txt .\n"
        "RUN pip install --no-cache-dir -r requirements.txt\n"
        'COPY . .\nCMD ["python", "app.py"]\n'
    )
    target = Target(tmp_path / "Dockerfile", tmp_path, "Dockerfile")
    result = run_target(target, Settings(select=("MLF301",), unsafe_fixes=True), fix=True)
    assert result.error is None
    fixed = next(new for path, (_old, new) in result.changes.items() if path.name == "Dockerfile")
    assert "hf download gpt2" in fixed
    assert "HF_HUB_OFFLINE" not in fixed
    notes = [n for f in result.findings for n in f.notes]
    assert any("HF_HUB_OFFLINE stays unset" in n and "extra.py" in n for n in notes), notes


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ((), {}, ["michaelfeil/bge-small-en-v1.5"]),
        (("v2", "--model-id", "org/a", "--model-id=org/b"), {}, ["org/a", "org/b"]),
        (("--port", "80"), {"INFINITY_MODEL_ID": "org/a;org/b;"}, ["org/a", "org/b"]),
        (("v1", "--model-name-or-path", "org/c"), {"INFINITY_MODEL_ID": "org/a"}, ["org/c"]),
        (("v1",), {"INFINITY_MODEL_ID": "org/a;org/b"}, ["org/a"]),
    ],
)
def test_infinity_serves_its_flags_then_its_env_then_its_default(
    args: tuple[str, ...], env: dict[str, str], expected: list[str]
) -> None:
    assert servers.infinity_models(args, env)[0] == expected


def test_a_server_behind_a_wrapper_or_at_a_path_is_seen_and_local_folders_are_not(
    tmp_path: Path,
) -> None:
    refs = list(
        servers.server_refs(
            unwrap(["tini", "--", "infinity_emb", "v2", "--model-id", "./m"]),
            {},
            tmp_path / "Dockerfile",
            3,
        )
    )
    assert refs == []  # a local folder is not a hub repo
    refs = list(
        servers.server_refs(
            ["/venv/bin/infinity_emb", "v2", "--model-id", "org/x"], {}, tmp_path / "Dockerfile", 3
        )
    )
    assert [(r.repo_id, r.role, r.line) for r in refs] == [("org/x", "snapshot", 3)]
