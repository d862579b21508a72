"""Decode files so that writing them back gives the same bytes.

Text is decoded as UTF-8 with `surrogateescape`: any byte that is not UTF-8 survives
the round trip, so mlfix never rewrites a line it did not mean to change.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from mlfix.errors import BinaryFileError, MlfixError
from mlfix.regular import not_regular, read_regular

ENCODING = "utf-8"
ERRORS = "surrogateescape"
# pip's own list (pip._internal.utils.encoding), UTF-32 first so that its little-endian BOM
# is not taken for UTF-16's, which it starts with.
BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
CODING_RE = re.compile(rb"coding[:=]\s*([-\w.]+)")


def decode(data: bytes, path: Path) -> str:
    if b"\x00" in data:
        raise BinaryFileError(path, "is a binary file (NUL byte), not a text file")
    return data.decode(ENCODING, ERRORS)


def decode_manifest(data: bytes, path: Path) -> str:
    """A file an installer reads (requirements, environment.yml), decoded the way pip does.

    pip honours a UTF-8/16/32 byte order mark (what Windows PowerShell's `>` writes) and a
    PEP 263 `coding:` comment in the first two lines; mlfix never writes these files, so
    they need no byte-exact round trip.
    """
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding)
            except UnicodeDecodeError:
                raise MlfixError(
                    path, f"is not valid {encoding.upper()} after its byte order mark"
                ) from None
    for line in data.split(b"\n")[:2]:
        match = CODING_RE.search(line) if line[:1] == b"#" else None
        if match:
            try:
                return data.decode(match.group(1).decode("ascii"))
            except (LookupError, UnicodeDecodeError):
                break
    return decode(data, path)


def encode(text: str) -> bytes:
    return text.encode(ENCODING, ERRORS)


def read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise MlfixError(path, "is a directory, expected a file") from None
    except FileNotFoundError:
        raise MlfixError(path, "does not exist") from None
    except PermissionError:
        raise MlfixError(path, "cannot be read (permission denied)") from None
    except OSError as exc:
        raise MlfixError(path, f"cannot be read ({exc.strerror or exc})") from None
    return decode(data, path)


# BuildKit receives the Dockerfile in one gRPC message, 16 MiB at most ("received message
# larger than max (... vs. 16777216)"); buildx refuses a Dockerfile URL over 2 MB. Past
# this size the file is no Dockerfile a build reads, and is never read whole.
MAX_DOCKERFILE = 16 << 20


def read_dockerfile(path: Path) -> str:
    """A Dockerfile's text, read only when it is a regular file of at most MAX_DOCKERFILE."""
    if path.is_dir():
        raise MlfixError(path, "is a directory, expected a file")
    if not path.exists():
        raise MlfixError(path, "does not exist")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise MlfixError(path, f"cannot be read ({exc.strerror or exc})") from None
    if size > MAX_DOCKERFILE and not_regular(path) is None:
        raise MlfixError(
            path,
            f"is {size >> 20} MiB, over the {MAX_DOCKERFILE >> 20} MiB BuildKit accepts"
            " for a Dockerfile; not read",
        )
    data = read_regular(path, MAX_DOCKERFILE)
    if len(data) > MAX_DOCKERFILE:  # it grew while being read
        raise MlfixError(path, f"is over {MAX_DOCKERFILE >> 20} MiB; not read")
    return decode(data, path)


def newline_of(text: str) -> str:
    """The line ending new lines should use: the file's first one, LF for a new file."""
    index = text.find("\n")
    if index > 0 and text[index - 1] == "\r":
        return "\r\n"
    return "\n"


def with_newline(text: str, newline: str) -> str:
    """Turn LF-built text into the file's own line ending."""
    if newline == "\n":
        return text
    return text.replace("\r\n", "\n").replace("\n", newline)
