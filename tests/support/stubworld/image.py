"""The stub base image: the tests' Debian rootfs with every package manager replaced by a
stub tool (``image/lib/stubtools``) and ``/bin/sh`` by a bash whose command-not-found
handler succeeds.

Built from the rootfs image ``ensure_base_image`` imports, so it needs no registry and
takes a few seconds; rebuilt when a file under ``image/`` changes (label digest).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from tests.support.docker import (
    ROOTFS_REPO,
    build,
    ensure_base_image,
    image_label,
    rootfs_hash,
)
from tests.support.wheels import cache_dir, file_lock

IMAGE_DIR = Path(__file__).resolve().parent / "image"
STUB_REPO = "mlfix-tests/stubworld"
STUB_LABEL = "org.mlfix.tests.stubworld"
READS_LOG = "/.stubworld/reads.log"

_DOCKERFILE = """\
FROM {rootfs}
COPY stubworld/ /.stubworld/
RUN sh /.stubworld/install.sh
LABEL {label}={digest}
"""


def _sources() -> list[Path]:
    return sorted(p for p in IMAGE_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def stub_hash() -> str:
    """Covers every file of the stub tools and the rootfs they sit on."""
    digest = hashlib.sha256(rootfs_hash().encode())
    for path in _sources():
        digest.update(str(path.relative_to(IMAGE_DIR)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def ensure_stub_image() -> str:
    """The stub image's tag (``mlfix-tests/stubworld:<hash>``), built once per change."""
    digest = stub_hash()
    tag = f"{STUB_REPO}:{digest}"
    if image_label(tag, STUB_LABEL) == digest:
        return tag
    with file_lock("stubworld"):
        if image_label(tag, STUB_LABEL) == digest:
            return tag
        ensure_base_image()
        with tempfile.TemporaryDirectory(prefix="stubworld-ctx-", dir=cache_dir()) as tmp:
            context = Path(tmp)
            for path in _sources():
                dest = context / "stubworld" / path.relative_to(IMAGE_DIR)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dest)
            (context / "Dockerfile").write_text(
                _DOCKERFILE.format(
                    rootfs=f"{ROOTFS_REPO}:{rootfs_hash()}", label=STUB_LABEL, digest=digest
                )
            )
            build(context, tag, network="none", check=True)
    return tag
