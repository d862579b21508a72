"""MLF305 end to end: after the rewrite, the app starts with no network at all.

llama-cpp-python is not in the test wheel set, so the image gets a stand-in `llama_cpp`
whose `from_pretrained` does what the real one does first (list the repo with
`HfFileSystem().ls`, then `hf_hub_download`) and whose `Llama(model_path=...)` reads the
file. MLF301 alone bakes the file, but the listing still needs the hub, so that image fails
under `--network none`; with MLF305's rewrite the same image starts.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.docker import Docker, run_mlfix
from tests.support.hfserver import TinyRepo, serve

REPO = "acme/tiny-llm-GGUF"
GGUF = b"GGUF" + b"\0" * 60
DOCKERFILE = """\
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
ENV PYTHONPATH=/opt/stub
COPY llama_stub/ /opt/stub/llama_cpp/
COPY app.py .
CMD ["python", "app.py"]
"""
STUB = """\
from huggingface_hub import HfFileSystem, hf_hub_download


class Llama:
    def __init__(self, model_path, **kwargs):
        with open(model_path, "rb") as handle:
            self.magic = handle.read(4).decode()
        self.kwargs = kwargs

    @classmethod
    def from_pretrained(cls, repo_id, filename, **kwargs):
        names = HfFileSystem().ls(repo_id, detail=False)  # as llama-cpp-python does
        assert any(name.endswith("/" + filename) for name in names)
        return cls(model_path=hf_hub_download(repo_id=repo_id, filename=filename), **kwargs)
"""
APP = f"""\
from llama_cpp import Llama

llm = Llama.from_pretrained(
    repo_id="{REPO}",
    filename="tiny.Q4_K_M.gguf",
    n_ctx=64,
)
print("loaded", llm.magic, llm.kwargs)
"""


def _project(root: Path) -> Path:
    (root / "llama_stub").mkdir(parents=True)
    (root / "llama_stub" / "__init__.py").write_text(STUB)
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / "requirements.txt").write_text("huggingface_hub==2.4.0\n")
    (root / "app.py").write_text(APP)
    return root


def test_rewritten_loader_starts_offline(docker: Docker, tmp_path: Path) -> None:
    baked_only = _project(tmp_path / "mlf301")
    rewritten = _project(tmp_path / "mlf305")
    args = ("--write", "--unsafe-fixes", "--select")
    assert run_mlfix(*args, "MLF301", str(baked_only)).returncode == 0
    fixed = run_mlfix(*args, "MLF301,MLF305", str(rewritten))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "hf_hub_download(" in (rewritten / "app.py").read_text()
    repo = TinyRepo(REPO, {"tiny.Q4_K_M.gguf": GGUF, "tiny.Q8_0.gguf": GGUF * 2})
    with serve([repo]) as hub:
        build_args = {"HF_ENDPOINT": hub.url}
        old = docker.build(baked_only, network_host=True, build_args=build_args)
        new = docker.build(rewritten, network_host=True, build_args=build_args)
        fetched = hub.fetched(REPO)
    # Only the named file (the second build reuses the identical weights stage's cache).
    assert set(fetched) == {"tiny.Q4_K_M.gguf"}
    started = docker.run(new.tag, "python", "app.py", check=False)
    assert started.returncode == 0, started.stdout + started.stderr
    assert started.stdout.strip() == "loaded GGUF {'n_ctx': 64}"
    listing = docker.run(old.tag, "python", "app.py", check=False)
    assert listing.returncode != 0
    assert "loaded" not in listing.stdout
