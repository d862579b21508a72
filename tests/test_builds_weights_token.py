"""MLF303 with real builds: the token reaches the download, and no longer the image.

The unfixed Dockerfile passes the token as a build argument, and `docker history` of the
image shows it. After `mlfix --write --unsafe-fixes --select MLF303` the same download runs
with the token read from a BuildKit secret (`docker build --secret id=hf_token,env=HF_TOKEN`,
as the finding says), and neither the history, the image config (`docker inspect`) nor any
byte of any layer (`docker save`, every file of every layer tar) holds it. Docker 20.10's
built-in Dockerfile frontend has no `env=` mount option, so the fix reads the mounted file.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

from tests.support.docker import Docker, docker_bin, docker_env, run_docker, run_mlfix
from tests.support.hfserver import serve, tiny_model_repo

TOKEN = "hf_mlfixTestTokenThatMustNotLeak01234"
DOCKERFILE = """\
FROM python:3.11-slim
ARG HF_TOKEN
ARG HF_ENDPOINT=https://huggingface.co
RUN pip install --no-cache-dir huggingface_hub==2.4.0
RUN test -n "$HF_TOKEN" && hf download org/tiny-model config.json --token $HF_TOKEN
CMD ["python", "-c", "print('ok')"]
"""


def build(context: Path, tag: str, hub_url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [docker_bin(), "build", "--progress=plain", "--network", "host", "-t", tag,
           "--build-arg", f"HF_ENDPOINT={hub_url}", *extra, str(context)]  # fmt: skip
    env = {**docker_env(), "HF_TOKEN": TOKEN}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


def layer_hits(tag: str) -> list[str]:
    """Every file of every layer (and the config and manifest) of the saved image holding
    the token, as `layer/path`."""
    saved = subprocess.run(
        [docker_bin(), "save", tag], capture_output=True, env=docker_env(), timeout=600
    )
    assert saved.returncode == 0, saved.stderr
    hits: list[str] = []
    needle = TOKEN.encode()
    with tarfile.open(fileobj=io.BytesIO(saved.stdout)) as image:
        for member in image.getmembers():
            data = image.extractfile(member) if member.isfile() else None
            if data is None:
                continue
            content = data.read()
            if member.name.endswith(".tar"):
                with tarfile.open(fileobj=io.BytesIO(content)) as layer:
                    for entry in layer.getmembers():
                        inner = layer.extractfile(entry) if entry.isfile() else None
                        held = inner is not None and needle in inner.read()
                        if held or needle in entry.name.encode():
                            hits.append(f"{member.name}/{entry.name}")
            elif needle in content:
                hits.append(member.name)
    return hits


def history(tag: str) -> str:
    return run_docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", tag).stdout


def test_secret_replaces_the_build_argument(docker: Docker, tmp_path: Path) -> None:
    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir()
    (before / "Dockerfile").write_text(DOCKERFILE)
    shutil.copytree(before, after)
    fixed = run_mlfix("--write", "--unsafe-fixes", "--select", "MLF303", str(after))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    text = (after / "Dockerfile").read_text()
    assert "ARG HF_TOKEN" not in text and "--mount=type=secret,id=hf_token" in text

    old_tag, new_tag = docker.new_tag("token-before"), docker.new_tag("token-after")
    with serve([tiny_model_repo()]) as hub:
        old = build(before, old_tag, hub.url, "--build-arg", f"HF_TOKEN={TOKEN}")
        assert old.returncode == 0, old.stdout + old.stderr
        hub.clear()
        new = build(after, new_tag, hub.url, "--secret", "id=hf_token,env=HF_TOKEN")
        assert new.returncode == 0, new.stdout + new.stderr
        assert hub.fetched("org/tiny-model") == ["config.json"]  # the token was there
    assert TOKEN in history(old_tag)
    assert TOKEN not in history(new_tag)
    assert layer_hits(old_tag), "the check finds the token where it is"
    assert layer_hits(new_tag) == []
    assert TOKEN not in run_docker("inspect", new_tag).stdout
    files = run_docker("run", "--rm", "--network", "none", "--entrypoint", "sh", new_tag, "-c",
                       f"grep -rl {TOKEN} /root /etc /tmp 2>/dev/null || true").stdout  # fmt: skip
    assert files.strip() == ""


LOGIN_DOCKERFILE = f"""\
FROM python:3.11-slim
ARG HF_ENDPOINT=https://huggingface.co
RUN pip install --no-cache-dir huggingface_hub==2.4.0 && hf auth login --token {TOKEN}
RUN hf download org/tiny-model config.json
CMD ["python", "-c", "print('ok')"]
"""


def test_a_literal_login_is_cut_and_the_token_reaches_no_layer(
    docker: Docker, tmp_path: Path
) -> None:
    """The login (it would store `$HF_HOME/token`) goes; the download reads the secret."""
    (tmp_path / "Dockerfile").write_text(LOGIN_DOCKERFILE)
    fixed = run_mlfix("--write", "--unsafe-fixes", "--select", "MLF303", str(tmp_path))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert TOKEN not in fixed.stdout + fixed.stderr
    text = (tmp_path / "Dockerfile").read_text()
    assert TOKEN not in text and "login" not in text, text
    tag = docker.new_tag("token-login")
    with serve([tiny_model_repo()]) as hub:
        new = build(tmp_path, tag, hub.url, "--secret", "id=hf_token,env=HF_TOKEN")
        assert new.returncode == 0, new.stdout + new.stderr
        assert hub.fetched("org/tiny-model") == ["config.json"]
    assert layer_hits(tag) == []
    assert TOKEN not in run_docker("inspect", tag).stdout
