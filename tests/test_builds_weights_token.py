"""MLF303 with real builds: the token reaches the download, and no longer the image.

The unfixed Dockerfile passes the token as a build argument, and `docker history` of the
image shows it. After `mlfix --write --unsafe-fixes --select MLF303` the same download runs
with the token read from a BuildKit secret (`docker build --secret id=hf_token,env=HF_TOKEN`,
as the finding says), and neither the history nor the image's files hold it. Docker 20.10's
built-in Dockerfile frontend has no `env=` mount option, so the fix reads the mounted file.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support.docker import Docker, docker_bin, docker_env, run_docker, run_mlfix
from tests.support.hfserver import serve, tiny_model_repo

TOKEN = "hf_mlfixTestTokenThatMustNotLeak"
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
    files = run_docker("run", "--rm", "--network", "none", "--entrypoint", "sh", new_tag, "-c",
                       f"grep -rl {TOKEN} /root /etc /tmp 2>/dev/null || true").stdout  # fmt: skip
    assert files.strip() == ""
