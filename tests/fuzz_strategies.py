"""Hypothesis strategies for hostile-input tests: Dockerfiles, small ML contexts, field values.

A generated Dockerfile is built from parts (directives, instructions, comments, blank
lines) and then rendered in one *style*: line ending, BOM, escape character,
indentation of continuation lines, final newline or not. The parts cover what real
ML Dockerfiles hold (FROM/WORKDIR/COPY/ADD/RUN pip|poetry|uv|apt-get/ENV/ARG/USER/CMD/
ENTRYPOINT, heredocs, JSON forms, continuations with comments inside) so the rules
fire and their fixes run; the style covers the bytes a fix must never disturb.

`Features` switches shapes on and off: `VALID` is what every property must hold for
today; features listed in `KNOWN_BROKEN` are generated only by the xfail-strict
properties in tests/test_fuzz.py, so a fix by the owner flips them (then move the
feature into `VALID`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hypothesis import strategies as st

IMAGES = (
    "python:3.11-slim",
    "python:3.12",
    "python:3.10-slim-bookworm",
    "nvidia/cuda:12.1.0-runtime-ubuntu22.04",
    "ubuntu:22.04",
    "busybox:1.36",
    "node:20",
)


@dataclass(frozen=True)
class Features:
    """Which shapes a strategy may generate (all valid for BuildKit)."""

    crlf: bool = True
    bom: bool = True
    backtick_escape: bool = True
    tabs: bool = True
    no_final_newline: bool = True
    heredocs: bool = True
    json_forms: bool = True
    comments_in_continuation: bool = True
    trailing_shell_comment: bool = True
    open_continuation_at_eof: bool = True
    non_utf8: bool = True
    tokens: bool = False
    unpinned_project_dependencies: bool = True


# What every property holds for today.
VALID = Features()
# Shapes the issue (#13) lists as broken, with the module owner who fixes them.
KNOWN_BROKEN: dict[str, str] = {}
EVERYTHING = Features(**{name: True for name in Features.__dataclass_fields__})


@dataclass(frozen=True)
class Style:
    newline: str
    bom: bool
    escape: str
    indent: str
    final_newline: bool


@dataclass(frozen=True)
class Generated:
    """A Dockerfile as bytes, with the parts it was made from (for failure messages)."""

    data: bytes
    style: Style

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "surrogateescape")


# ---------------------------------------------------------------- field values

REPO_IDS = st.sampled_from(
    (
        "gpt2",
        "bert-base-uncased",
        "distilbert-base-uncased-finetuned-sst-2-english",
        "sentence-transformers/all-MiniLM-L6-v2",
        "openai/whisper-small",
        "google/flan-t5-small",
        "meta-llama/Llama-2-7b-hf",
        "BAAI/bge-small-en-v1.5",
    )
)
PLAIN_NAME = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_.-]{0,20}\Z")
# Every character class a shell or the hub cares about, plus arbitrary text.
NASTY = st.one_of(
    st.sampled_from(
        (
            "main`touch pwned`",
            "$(touch pwned)",
            "a'b",
            'a"b',
            "a\\",
            "x\n",
            "*",
            "--help",
            "-rf",
            "a b",
            "$HOME",
            "${X:-y}",
            ";id",
            "|id",
            "&&id",
            "\t",
            "\r",
            "",
            "é",
            "org/name@rev",
        )
    ),
    st.text(min_size=0, max_size=24),
)
FIELD_VALUE = st.one_of(REPO_IDS, PLAIN_NAME, NASTY)
# Values the hub accepts for every field: what the output properties run with (the
# nasty ones belong to the injection property).
SAFE_VALUE = st.one_of(REPO_IDS, PLAIN_NAME)


# ---------------------------------------------------------------- Dockerfile parts


def _words(draw: st.DrawFn, words: list[str], features: Features) -> list[str]:
    """A shell command as lines: split after some words with a continuation."""
    lines: list[str] = []
    current: list[str] = []
    for word in words:
        current.append(word)
        if draw(st.integers(0, 5)) == 0:
            lines.append(" ".join(current))
            current = []
            if features.comments_in_continuation and draw(st.integers(0, 4)) == 0:
                lines.append("\0COMMENT")
    if current:
        lines.append(" ".join(current))
    return lines


PIP = (
    "pip install -r requirements.txt",
    "pip install --no-cache-dir -r requirements.txt",
    "pip install torch transformers",
    "python -m pip install .",
    "pip3 install -U pip && pip3 install -r requirements.txt",
    "pip install -e .",
    "poetry install --no-root",
    "poetry config virtualenvs.create false && poetry install --only main",
    "uv pip install --system -r requirements.txt",
    "uv sync --frozen",
    "pip install huggingface_hub",
)
APT = (
    "apt-get update && apt-get install -y --no-install-recommends git curl "
    "&& rm -rf /var/lib/apt/lists/*",
    "apt-get update && apt-get install -y build-essential",
    "apt-get install -y ffmpeg",
)
OTHER_RUN = (
    "echo hello",
    "mkdir -p /data",
    "python -c 'import transformers'",
    "huggingface-cli download gpt2",
    "useradd -m app",
    "chmod +x entrypoint.sh",
    "./setup.sh",
    "python download.py",
)


@st.composite
def run_instruction(draw: st.DrawFn, features: Features) -> list[str]:
    kind = draw(st.sampled_from(("pip", "pip", "apt", "other", "chain", "mount")))
    flags: list[str] = []
    if kind == "pip":
        command = draw(st.sampled_from(PIP))
    elif kind == "apt":
        command = draw(st.sampled_from(APT))
    elif kind == "chain":
        command = " && ".join(
            draw(st.lists(st.sampled_from(PIP + APT + OTHER_RUN), min_size=2, max_size=3))
        )
    elif kind == "mount":
        flags.append("--mount=type=cache,target=/root/.cache/pip")
        command = draw(st.sampled_from(PIP))
    else:
        command = draw(st.sampled_from(OTHER_RUN))
    if features.heredocs and draw(st.integers(0, 9)) == 0:
        marker = draw(st.sampled_from(("EOF", "SCRIPT")))
        return [" ".join(["RUN", *flags, f"<<{marker}"]), command, marker]
    if features.json_forms and kind in ("pip", "other") and draw(st.integers(0, 7)) == 0:
        args = ", ".join(f'"{w}"' for w in command.split() if w != "&&")
        return [" ".join(["RUN", *flags, f"[{args}]"])]
    if features.trailing_shell_comment and draw(st.integers(0, 4)) == 0:
        command += " # deps"
    if features.tokens and draw(st.integers(0, 6)) == 0:
        command = f"HF_TOKEN=hf_{'a' * 34} {command}"
    words = [*flags, *command.split()]
    parts = _words(draw, words, features)
    parts[0] = "RUN " + parts[0]
    return parts


@st.composite
def copy_instruction(draw: st.DrawFn, features: Features) -> list[str]:
    keyword = draw(st.sampled_from(("COPY", "COPY", "COPY", "ADD")))
    flag = draw(st.sampled_from(("", "", "", "--chown=1000:1000 ", "--link ")))
    sources = draw(
        st.sampled_from(
            (
                ". .",
                ". /app",
                "requirements.txt .",
                "requirements.txt ./",
                "pyproject.toml poetry.lock ./",
                "pyproject.toml uv.lock ./",
                "app.py .",
                "src/ ./src/",
                "models/ /models/",
            )
        )
    )
    if features.json_forms and draw(st.integers(0, 7)) == 0:
        *srcs, dest = sources.split()
        return [f"{keyword} {flag}[{', '.join(f'{chr(34)}{s}{chr(34)}' for s in [*srcs, dest])}]"]
    if features.heredocs and keyword == "COPY" and draw(st.integers(0, 12)) == 0:
        return [f"COPY {flag}<<EOF /app/config.txt", "key=value", "EOF"]
    return [f"{keyword} {flag}{sources}"]


@st.composite
def simple_instruction(draw: st.DrawFn, features: Features) -> list[str]:
    choices = [
        "WORKDIR /app",
        "WORKDIR /srv/app",
        "WORKDIR app",
        "ENV PYTHONUNBUFFERED=1",
        "ENV HF_HOME=/models",
        "ENV MODEL_NAME=gpt2",
        "ENV PIP_NO_CACHE_DIR=1",
        "ENV A=1 B=2",
        "ENV LEGACY value",
        "ARG MODEL=bert-base-uncased",
        "ARG VERSION",
        "USER app",
        "USER 1000:1000",
        "EXPOSE 8000",
        'LABEL org.opencontainers.image.title="demo"',
        "CMD python app.py",
        'CMD ["python", "app.py"]',
        'CMD ["python", "app.py", "--model", "gpt2"]',
        'ENTRYPOINT ["python", "-m", "app"]',
        "ENTRYPOINT python app.py",
        'CMD ["uvicorn", "app:app", "--host", "0.0.0.0"]',
    ]
    if features.tokens:
        choices += [f"ARG HF_TOKEN=hf_{'b' * 34}", f"ENV HF_TOKEN=hf_{'c' * 34}"]
    line = draw(st.sampled_from(choices))
    if not features.json_forms and "[" in line:
        line = line.replace("[", "").replace("]", "").replace('"', "").replace(",", "")
    return [line]


def body_instruction(features: Features) -> st.SearchStrategy[list[str]]:
    return st.one_of(
        run_instruction(features),
        copy_instruction(features),
        copy_instruction(features),
        simple_instruction(features),
    )


@st.composite
def style(draw: st.DrawFn, features: Features) -> Style:
    return Style(
        newline="\r\n" if features.crlf and draw(st.booleans()) else "\n",
        bom=features.bom and draw(st.integers(0, 3)) == 0,
        escape="`" if features.backtick_escape and draw(st.integers(0, 3)) == 0 else "\\",
        indent=draw(st.sampled_from(("    ", "  ", "\t") if features.tabs else ("    ", "  "))),
        final_newline=not (features.no_final_newline and draw(st.integers(0, 4)) == 0),
    )


def render(parts: list[list[str]], s: Style, header: list[str]) -> str:
    """Instructions as physical lines, continuation lines marked with the escape char."""
    out: list[str] = list(header)
    if s.escape == "`":
        out.insert(0, "# escape=`")
    for part in parts:
        if len(part) == 1 or "<<" in part[0]:  # one line, or a heredoc with its body
            out.extend(part)
            continue
        last_real = max(i for i, p in enumerate(part) if p != "\0COMMENT")
        for i, line in enumerate(part):
            if line == "\0COMMENT":
                out.append(f"{s.indent}# a note inside the continuation")
                continue
            text = line if i == 0 else s.indent + line
            out.append(text + (f" {s.escape}" if i != last_real else ""))
    text = s.newline.join(out)
    if s.final_newline:
        text += s.newline
    if s.bom:
        text = "\ufeff" + text
    return text


@st.composite
def dockerfiles(draw: st.DrawFn, features: Features = VALID) -> Generated:
    """A Dockerfile BuildKit accepts, in the shapes `features` allows."""
    s = draw(style(features))
    header: list[str] = []
    if draw(st.booleans()):
        header.append("# syntax=docker/dockerfile:1")
    if draw(st.integers(0, 3)) == 0:
        header.append("# a leading comment")
    parts: list[list[str]] = []
    if draw(st.integers(0, 5)) == 0:
        parts.append(["ARG BASE=python:3.11-slim"])
    stages = draw(st.integers(1, 2))
    for number in range(stages):
        image = draw(st.sampled_from(IMAGES))
        name = f" AS stage{number}" if stages > 1 and number < stages - 1 else ""
        if number and draw(st.booleans()):
            image = "stage0"
        parts.append([f"FROM {image}{name}"])
        for instruction in draw(st.lists(body_instruction(features), min_size=0, max_size=8)):
            parts.append(instruction)
            if draw(st.integers(0, 6)) == 0:
                parts.append(["# step comment"])
            if draw(st.integers(0, 6)) == 0:
                parts.append([""])
    text = render(parts, s, header)
    # A continuation after a heredoc's terminator hides it (blank and comment parts aside).
    last_part = next(p for p in reversed(parts) if p[0] and not p[0].startswith("#"))
    heredoc_last = "<<" in last_part[0]
    if features.open_continuation_at_eof and not heredoc_last and draw(st.integers(0, 4)) == 0:
        text = text.rstrip("\r\n") + f" {s.escape}{s.newline}"
    data = text.encode("utf-8")
    if features.non_utf8 and draw(st.integers(0, 3)) == 0:
        data = data.replace(b"# step comment", b"# step \xff comment")
        data = data.replace(b"echo hello", b"echo h\xe9llo")
    return Generated(data, s)


# ---------------------------------------------------------------- contexts

REQUIREMENTS = st.lists(
    st.sampled_from(
        (
            "torch",
            "transformers==4.40.0",
            "sentence-transformers>=2.2",
            "huggingface_hub==0.23.0",
            "huggingface_hub>=0.34",
            "fastapi",
            "numpy<2",
            "# a comment",
            "-e .",
            "--extra-index-url https://download.example.invalid/whl",
            "",
        )
    ),
    max_size=6,
)


@st.composite
def app_py(draw: st.DrawFn, value: st.SearchStrategy[str] = FIELD_VALUE) -> str:
    """A small app that loads models the way real projects do."""
    lines = ["import os"]
    loads = draw(st.integers(0, 3))
    for n in range(loads):
        kind = draw(st.integers(0, 6))
        name = draw(st.one_of(REPO_IDS, REPO_IDS, value))
        if kind == 0:
            lines += [
                "from transformers import AutoModel",
                f"m{n} = AutoModel.from_pretrained({name!r})",
            ]
        elif kind == 1:
            lines += [
                "from sentence_transformers import SentenceTransformer",
                f"m{n} = SentenceTransformer({name!r})",
            ]
        elif kind == 2:
            lines += [
                "from transformers import pipeline",
                f"m{n} = pipeline('text-classification', model={name!r})",
            ]
        elif kind == 3:
            lines += [
                "from transformers import AutoTokenizer",
                f"m{n} = AutoTokenizer.from_pretrained(os.getenv('MODEL_NAME', {name!r}))",
            ]
        elif kind == 4:
            revision = draw(value)
            lines += [
                "from transformers import AutoModel",
                f"m{n} = AutoModel.from_pretrained({name!r}, revision={revision!r})",
            ]
        elif kind == 5:
            filename = draw(value)
            lines += [
                "from huggingface_hub import hf_hub_download",
                f"p{n} = hf_hub_download(repo_id={name!r}, filename={filename!r})",
            ]
        else:
            lines += ["import sys", f"m{n} = sys.argv[1] if len(sys.argv) > 1 else {name!r}"]
    return "\n".join(lines) + "\n"


JUNK: dict[str, bytes] = {
    ".git/HEAD": b"ref: refs/heads/main\n",
    ".venv/pyvenv.cfg": b"home = /usr/bin\n",
    "__pycache__/app.cpython-311.pyc": b"\x00\x01",
    "data/train.csv": b"a,b\n1,2\n",
    "models/model.bin": b"\x00" * 64,
    "wandb/run-1/log.txt": b"x\n",
    ".env": b"SECRET=1\n",
    "notebooks/explore.ipynb": b"{}\n",
    "chroma_db/0/header.bin": b"\x00",
}


@st.composite
def contexts(
    draw: st.DrawFn, value: st.SearchStrategy[str] = FIELD_VALUE, features: Features = VALID
) -> dict[str, bytes]:
    """Files of a build context next to the Dockerfile (relative path -> bytes)."""
    files: dict[str, bytes] = {}
    if draw(st.integers(0, 7)):
        files["requirements.txt"] = ("\n".join(draw(REQUIREMENTS)) + "\n").encode()
    dependency = (
        b"transformers" if features.unpinned_project_dependencies else b"transformers==4.40.0"
    )
    if draw(st.booleans()):
        files["pyproject.toml"] = draw(
            st.sampled_from(
                (
                    b'[project]\nname = "app"\nversion = "0.1"\ndependencies = ["'
                    + dependency
                    + b'"]\n',
                    b'[tool.poetry]\nname = "app"\nversion = "0.1"\n\n'
                    b'[tool.poetry.dependencies]\npython = "^3.11"\n',
                )
            )
        )
        if draw(st.booleans()):
            files[draw(st.sampled_from(("poetry.lock", "uv.lock")))] = b"# lock\n"
    files["app.py"] = draw(app_py(value)).encode()
    if draw(st.booleans()):
        files["src/worker.py"] = draw(app_py(value)).encode()
    for name in draw(st.lists(st.sampled_from(sorted(JUNK)), max_size=4, unique=True)):
        files[name] = JUNK[name]
    if draw(st.integers(0, 3)) == 0:
        files[".dockerignore"] = draw(
            st.sampled_from((b".git\n", b"*\n!app.py\n", b"# nothing\n", b".venv\n__pycache__\n"))
        )
    return files


def with_features(**changes: bool) -> Features:
    return replace(VALID, **changes)
