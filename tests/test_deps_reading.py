"""Manifests are read the way their installer reads them, and named so a user finds them."""

from __future__ import annotations

import codecs
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlfix.deps.facts import Context
from mlfix.deps.manifests import is_manifest
from mlfix.errors import BinaryFileError, MlfixError
from mlfix.textio import decode_manifest

TEXT = "six==1.17.0\n-r extra.txt\n"


@pytest.mark.parametrize(
    "data",
    [
        codecs.BOM_UTF8 + TEXT.encode(),
        codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
        codecs.BOM_UTF32_LE + TEXT.encode("utf-32-le"),
        codecs.BOM_UTF32_BE + TEXT.encode("utf-32-be"),
        b"# -*- coding: latin-1 -*-\n" + "caf\xe9\n".encode("latin-1"),
    ],
    ids=["utf-8-bom", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "pep263"],
)
def test_requirements_decode_as_pip_decodes_them(data: bytes) -> None:
    text = decode_manifest(data, Path("requirements.txt"))
    assert text in (TEXT, "# -*- coding: latin-1 -*-\ncafé\n")


def test_nul_bytes_without_a_byte_order_mark_are_still_binary() -> None:
    with pytest.raises(BinaryFileError):
        decode_manifest(TEXT.encode("utf-16-le"), Path("requirements.txt"))


def test_pip_itself_reads_a_utf16_requirements_file(tmp_path: Path) -> None:
    """The premise: pip accepts what PowerShell's `>` writes (so mlfix must too)."""
    path = tmp_path / "requirements.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + "six==1.17.0\n".encode("utf-16-le"))
    code = (
        "import sys; from pip._internal.req.req_file import get_file_content;"
        "print(get_file_content(sys.argv[1], None)[1].strip())"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    assert out.stdout.strip() == "six==1.17.0", out.stderr


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("requirements.txt", True),
        ("requirements/prod.txt", True),
        ("requirements-dev.in", True),
        ("pyproject.toml", True),
        ("poetry.lock", True),
        ("uv.lock", True),
        ("Pipfile.lock", True),
        ("environment.yml", True),
        ("src", False),
        ("app.py", False),
        ("setup.py", False),
        (".", False),
    ],
)
def test_manifests_by_name(path: str, expected: bool) -> None:
    assert is_manifest(path) is expected


def test_a_fifo_manifest_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "requirements.txt")
    context = Context(tmp_path)
    with pytest.raises(MlfixError, match="not a regular file"):
        context.read_text("requirements.txt")


def test_an_editable_vcs_url_is_not_a_local_path() -> None:
    """`-e git+https://...#egg=x` in a conda `pip:` list (a real repository had two) is
    fetched by pip, not read from the context: it needs no COPY."""
    from mlfix.deps.manifests import parse_environment, parse_requirements

    text = "dependencies:\n  - pip:\n    - -e git+https://github.com/o/r.git#egg=r\n    - -e .\n"
    assert parse_environment(text).local_paths == (".",)
    assert parse_requirements("-e git+ssh://git@github.com/o/r.git#egg=r\n").local_paths == ()
