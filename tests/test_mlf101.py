"""MLF101 on generated contexts: what it catches, what it leaves alone, where the file goes.

Trees with a `.git` directory, symlink loops or unreadable directories cannot live in
`fixtures/` (git keeps none of them), so they are made here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlfix.config import Settings
from mlfix.context import baseline
from mlfix.context.dockerignore import DockerIgnore, Engine
from mlfix.context.tree import walk
from mlfix.engine import TargetResult, run_target
from mlfix.facts import Target
from mlfix.model import Applicability
from mlfix.patch import write_atomic

APP = 'FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nCMD ["python", "serve.py"]\n'


def make(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def run(
    root: Path,
    *,
    dockerfile: Path | None = None,
    unsafe: bool = False,
    select: tuple[str, ...] = ("MLF101",),
) -> TargetResult:
    target = Target(dockerfile or root / "Dockerfile", root, "Dockerfile")
    result = run_target(target, Settings(select=select, unsafe_fixes=unsafe), fix=True)
    assert result.error is None, result.error
    return result


def written(result: TargetResult, path: Path) -> str:
    old, new = result.changes[path]
    assert old is None
    return new


def entries(text: str) -> list[str]:
    """The lines written for what the context holds (the baseline block is `grown`)."""
    held = text.split(f"# {baseline.TITLE}", 1)[0]
    return [line for line in held.splitlines() if line and not line.startswith("#")]


def grown(text: str) -> list[str]:
    """The baseline lines: for what a working tree grows later."""
    if f"# {baseline.TITLE}" not in text:
        return []
    tail = text.split(f"# {baseline.TITLE}", 1)[1]
    return [line for line in tail.splitlines() if line and not line.startswith("#")]


def apply(result: TargetResult) -> None:
    for path, (_old, new) in result.changes.items():
        write_atomic(path, new)


def test_git_directory_at_the_root(tmp_path: Path) -> None:
    make(tmp_path, {"Dockerfile": APP, "serve.py": "", ".git/HEAD": "ref: main\n"})
    make(tmp_path, {".git/objects/pack/pack-1.pack": b"\0" * 5000})
    result = run(tmp_path)
    assert entries(written(result, tmp_path / ".dockerignore")) == [".git"]
    (finding,) = result.findings
    assert "`.git/`  5.0 kB, 2 files (git history)" in finding.notes
    assert finding.saves is not None and finding.saves.bytes == 5000 + len("ref: main\n")


def test_nested_git_directories_and_a_worktree_git_file(tmp_path: Path) -> None:
    make(tmp_path, {"Dockerfile": APP, "serve.py": "", ".git": "gitdir: /elsewhere\n"})
    make(tmp_path, {"vendor/lib/.git/HEAD": "ref: main\n", "vendor/lib/lib.py": ""})
    text = written(run(tmp_path), tmp_path / ".dockerignore")
    assert entries(text) == ["**/.git"]
    ignore = DockerIgnore.parse(text)
    assert ignore.excludes(".git") and ignore.excludes("vendor/lib/.git/HEAD")
    assert not ignore.excludes("vendor/lib/lib.py")


def test_a_venv_is_known_by_its_content_not_its_name(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "Dockerfile": APP,
            "serve.py": "from env import settings\n",
            "env/__init__.py": "",
            "env/settings.py": "",
            "tools/py/pyvenv.cfg": "home = /usr/bin\n",
            "tools/py/lib/x.py": "",
        },
    )
    text = written(run(tmp_path), tmp_path / ".dockerignore")
    assert entries(text) == ["tools/py"]
    assert not DockerIgnore.parse(text).excludes("env/settings.py")


def test_a_clean_checkout_copied_whole_gets_the_baseline(tmp_path: Path) -> None:
    """A fresh clone holds no junk yet; a developer's tree will, and `COPY . .` sends it."""
    make(
        tmp_path, {"Dockerfile": APP, "serve.py": "", "env/__init__.py": "", "data/__init__.py": ""}
    )
    result = run(tmp_path)
    (finding,) = result.findings
    assert finding.fix is not None and finding.fix.applicability is Applicability.SAFE
    text = written(result, tmp_path / ".dockerignore")
    assert entries(text) == []
    assert grown(text) == [line.text for line in baseline.BASELINE]
    assert finding.saves is not None and finding.saves.bytes == 0
    assert "does not hold yet" in " ".join(finding.notes)


def test_the_baseline_keeps_what_the_context_or_a_copy_has(tmp_path: Path) -> None:
    """A `wandb/` package that exists stays (the walk decides by content), and a COPY that
    names `.env` keeps the `.env` line out."""
    dockerfile = "FROM python:3.11-slim\nWORKDIR /app\nCOPY .env .\nCOPY . .\n"
    make(tmp_path, {"Dockerfile": dockerfile, "wandb/__init__.py": "", ".env": "A=1\n"})
    result = run(tmp_path, unsafe=True)
    text = written(result, tmp_path / ".dockerignore")
    assert "wandb" not in grown(text) and ".env" not in grown(text)
    assert ".env" not in entries(text)
    assert "**/__pycache__" in grown(text)


def test_named_copies_only_get_no_baseline(tmp_path: Path) -> None:
    dockerfile = 'FROM python:3.11-slim\nCOPY serve.py /app/\nCMD ["python", "/app/serve.py"]\n'
    make(tmp_path, {"Dockerfile": dockerfile, "serve.py": ""})
    result = run(tmp_path)
    assert result.findings == [] and result.changes == {}


def test_compose_context_above_the_dockerfile(tmp_path: Path) -> None:
    """`context: ..` with `dockerfile: docker/Dockerfile`: the file goes to the context root."""
    make(
        tmp_path,
        {
            "docker/Dockerfile": APP,
            "docker/.dockerignore": ".venv\n",  # beside the Dockerfile: never read
            "serve.py": "",
            ".venv/pyvenv.cfg": "",
            ".venv/lib/six.py": "x" * 100,
        },
    )
    result = run(tmp_path, dockerfile=tmp_path / "docker" / "Dockerfile")
    assert set(result.changes) == {tmp_path / ".dockerignore"}
    assert entries(written(result, tmp_path / ".dockerignore")) == [".venv"]
    misplaced = [f for f in result.findings if f.location.path == tmp_path / "docker/.dockerignore"]
    assert len(misplaced) == 1
    assert "does not read `docker/.dockerignore`" in misplaced[0].message
    assert misplaced[0].applicability is Applicability.DISPLAY_ONLY


def test_per_dockerfile_ignore_file_means_no_mlf101(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "docker/Dockerfile": APP,
            "docker/Dockerfile.dockerignore": ".venv\n",
            "serve.py": "",
            ".venv/pyvenv.cfg": "",
        },
    )
    assert run(tmp_path, dockerfile=tmp_path / "docker" / "Dockerfile").findings == []


@pytest.mark.parametrize(
    ("name", "right"),
    [
        (".Dockerignore", ".dockerignore"),
        ("dockerignore", ".dockerignore"),
        (".dockerignore.txt", ".dockerignore"),
        ("Dockerfile.Dockerignore", "Dockerfile.dockerignore"),
    ],
)
def test_misnamed_file_is_copied_to_the_right_name_as_an_unsafe_fix(
    tmp_path: Path, name: str, right: str
) -> None:
    make(tmp_path, {"Dockerfile": APP, "serve.py": "", name: "secrets/\n"})
    result = run(tmp_path, unsafe=True)
    (finding,) = result.findings
    assert finding.location.path == tmp_path / name
    assert finding.applicability is Applicability.UNSAFE
    assert result.changes[tmp_path / right] == (None, "secrets/\n")


def test_misnamed_file_beside_a_real_one_is_display_only(tmp_path: Path) -> None:
    make(tmp_path, {"Dockerfile": APP, "serve.py": "", ".dockerignore": ".git\n"})
    make(tmp_path, {".DockerIgnore": ".venv\n"})
    (finding,) = run(tmp_path).findings
    assert finding.applicability is Applicability.DISPLAY_ONLY
    assert "never reads `.DockerIgnore`" in finding.message


def test_junk_dir_a_copy_names_stays_whole_even_from_name_lines(tmp_path: Path) -> None:
    """`COPY .venv /opt/venv`: the venv stays, and `**/*.bin` gets a twin keeping it out."""
    dockerfile = APP.replace("COPY . .\n", "COPY .venv /opt/venv\nCOPY . .\n")
    make(
        tmp_path,
        {
            "Dockerfile": dockerfile,
            "serve.py": "",
            ".venv/pyvenv.cfg": "",
            ".venv/lib/tokenizer.bin": "t",
            "weights/model.bin": "w" * 50,
        },
    )
    result = run(tmp_path)
    text = written(result, tmp_path / ".dockerignore")
    assert entries(text) == ["**/*.bin", "!.venv/**/*.bin"]
    ignore = DockerIgnore.parse(text)
    assert ignore.sends_file(".venv/lib/tokenizer.bin")
    assert not ignore.sends_file("weights/model.bin")
    (finding,) = result.findings
    assert any("`.venv/` (" not in n and "copies it" in n for n in finding.notes)


def test_many_copied_weights_become_one_reinclude(tmp_path: Path) -> None:
    dockerfile = APP.replace("COPY . .\n", "COPY models/ /models/\nCOPY . .\n")
    files: dict[str, str | bytes] = {"Dockerfile": dockerfile, "serve.py": "", "ckpt/a.pt": "x"}
    files.update({f"models/shard-{i:02d}.pt": "w" for i in range(12)})
    make(tmp_path, files)
    text = written(run(tmp_path), tmp_path / ".dockerignore")
    assert entries(text) == ["**/*.pt", "!models/**/*.pt"]
    for engine in Engine:
        ignore = DockerIgnore.parse(text, engine=engine)
        assert all(ignore.sends_file(f"models/shard-{i:02d}.pt") for i in range(12))
        assert not ignore.sends_file("ckpt/a.pt")


def _sent(root: Path, text: str) -> set[str]:
    ignore = DockerIgnore.parse(text)
    return {n.path for n in walk(root, ignore=ignore) if n.sent and n.kind.value != "dir"}


def test_every_removed_path_is_listed_and_nothing_else_is_removed(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "Dockerfile": APP.replace("COPY . .\n", "COPY ./models /models\nCOPY . .\n"),
            "serve.py": "",
            "models/model.safetensors": "m" * 10,
            "models/config.json": "{}",
            "ckpt/last.safetensors": "c" * 20,
            ".venv/pyvenv.cfg": "",
            "a/__pycache__/x.pyc": "p",
            "b/c/__pycache__/y.pyc": "q",
        },
    )
    result = run(tmp_path)
    text = written(result, tmp_path / ".dockerignore")
    everything = {n.path for n in walk(tmp_path) if n.kind.value != "dir"}
    gone = everything - _sent(tmp_path, text)
    (finding,) = result.findings
    listed = " ".join(finding.notes)
    shown = ("ckpt/last.safetensors", ".venv/", "a/__pycache__/", "b/c/__pycache__/")
    for path in gone:
        top = next(p for p in shown if path.startswith(p.rstrip("/")))
        assert top in listed, path
    assert "models/model.safetensors" not in gone and "models/config.json" not in gone
    assert finding.saves is not None and finding.saves.files == len(gone)


@pytest.mark.parametrize(
    "source",
    [
        'open("data/train.csv")',
        "Path('data') / 'train.csv'",
        'os.path.join(ROOT, "data", "train.csv")',
        'f"{ROOT}/data/train.csv"',
        "pd.read_csv('./data/train.csv')",
    ],
)
def test_code_that_names_a_dataset_makes_its_line_unsafe(tmp_path: Path, source: str) -> None:
    make(
        tmp_path,
        {
            "Dockerfile": APP,
            "serve.py": f"x = {source}\n",
            "data/train.csv": "a,b\n",
            ".venv/pyvenv.cfg": "",
        },
    )
    result = run(tmp_path)
    text = written(result, tmp_path / ".dockerignore")
    assert entries(text) == [".venv"]
    (finding,) = result.findings
    assert any("left to --unsafe-fixes: serve.py:1 names `data`" in n for n in finding.notes)
    unsafe = run(tmp_path, unsafe=True)
    assert entries(written(unsafe, tmp_path / ".dockerignore")) == [".venv", "data"]
    assert unsafe.findings[0].applicability is Applicability.UNSAFE


def test_a_comment_or_an_unrelated_word_does_not_name_it(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "Dockerfile": APP,
            "serve.py": "# reads data/ at startup\nmetadata = 'x'\nDATA = 1\n",
            "data/train.csv": "a,b\n",
        },
    )
    result = run(tmp_path)
    assert entries(written(result, tmp_path / ".dockerignore")) == ["data"]
    assert result.findings[0].applicability is Applicability.SAFE


def test_a_dockerfile_command_that_reads_it_makes_it_unsafe(tmp_path: Path) -> None:
    dockerfile = APP.replace("CMD", "RUN python prep.py --input data/raw\nCMD")
    make(tmp_path, {"Dockerfile": dockerfile, "prep.py": "", "data/raw/a.csv": "1"})
    (finding,) = run(tmp_path).findings
    assert finding.applicability is Applicability.UNSAFE
    assert any("Dockerfile:" in n and "names `data`" in n for n in finding.notes)


def test_code_naming_junk_that_no_copy_brings_in_is_still_safe(tmp_path: Path) -> None:
    dockerfile = "FROM python:3.11-slim\nCOPY app/ /app/\n"
    make(tmp_path, {"Dockerfile": dockerfile, "app/serve.py": "open('data/x.csv')\n"})
    make(tmp_path, {"data/x.csv": "1"})
    result = run(tmp_path)
    assert result.findings[0].applicability is Applicability.SAFE
    assert entries(written(result, tmp_path / ".dockerignore")) == ["data"]
    assert any("copies named paths only" in n for n in result.findings[0].notes)


def test_secrets_are_called_a_leak(tmp_path: Path) -> None:
    make(tmp_path, {"Dockerfile": APP, "serve.py": "", ".env": "T=1\n", "keys/id_rsa": "k"})
    (finding,) = run(tmp_path).findings
    assert "secret" in finding.message
    assert any("a leak" in n and "`.env`, `keys/id_rsa` are secrets" in n for n in finding.notes)


def test_symlink_loops_and_unreadable_dirs_are_notes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make(tmp_path, {"Dockerfile": APP, "serve.py": "", ".venv/pyvenv.cfg": "", "locked/a": "1"})
    os.symlink("loop", tmp_path / "loop")
    locked = str(tmp_path / "locked")
    real_scandir = os.scandir

    def deny(path: str) -> object:
        if str(path) == locked:
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", deny)
    (finding,) = run(tmp_path).findings
    notes = " ".join(finding.notes)
    assert "`loop`: symbolic link loop" in notes
    assert "`locked`: cannot be listed (Permission denied)" in notes


def test_second_run_with_both_blocks_changes_nothing(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "Dockerfile": APP,
            "serve.py": "open('data/labels.json')\n",
            "data/labels.json": "[]",
            ".venv/pyvenv.cfg": "",
        },
    )
    first = run(tmp_path, unsafe=True, select=("MLF1",))
    apply(first)
    text = (tmp_path / ".dockerignore").read_text()
    assert entries(text) == [".venv", "data"]
    again = run(tmp_path, unsafe=True, select=("MLF1",))
    assert again.changes == {} and again.findings == []


def test_without_unsafe_fixes_mlf102_offers_the_rest_after_mlf101(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "Dockerfile": APP,
            "serve.py": "open('data/labels.json')\n",
            "data/labels.json": "[]",
            ".venv/pyvenv.cfg": "",
        },
    )
    result = run(tmp_path, select=("MLF1",))
    assert entries(written(result, tmp_path / ".dockerignore")) == [".venv"]
    (left,) = result.remaining
    assert left.code == "MLF102" and left.applicability is Applicability.UNSAFE
    assert result.passes <= 3


def test_many_removed_paths_are_named_by_their_directories(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {"Dockerfile": APP, "serve.py": ""}
    files.update({f"ckpt/epoch-{i:02d}.ckpt": "c" for i in range(45)})
    files["other/last.ckpt"] = "l"
    make(tmp_path, files)
    (finding,) = run(tmp_path).findings
    assert "`**/*.ckpt`  46 B, 46 files: ckpt/ (45 of them), other/last.ckpt" in finding.notes


def test_image_paths_in_workdir_do_not_make_a_line_unsafe(tmp_path: Path) -> None:
    dockerfile = APP.replace("WORKDIR /app", "WORKDIR /app/models")
    make(tmp_path, {"Dockerfile": dockerfile, "serve.py": "", "app/models/x.pt": "w"})
    assert run(tmp_path).findings[0].applicability is Applicability.SAFE
    cmd = dockerfile.replace(
        'CMD ["python", "serve.py"]', 'CMD ["python", "serve.py", "app/models"]'
    )
    make(tmp_path, {"Dockerfile": cmd})
    assert run(tmp_path).findings[0].applicability is Applicability.UNSAFE
