"""Decode files so that writing them back gives the same bytes.

Text is decoded as UTF-8 with `surrogateescape`: any byte that is not UTF-8 survives
the round trip, so mlfix never rewrites a line it did not mean to change.
"""

from __future__ import annotations

from pathlib import Path

from mlfix.errors import BinaryFileError, MlfixError

ENCODING = "utf-8"
ERRORS = "surrogateescape"


def decode(data: bytes, path: Path) -> str:
    if b"\x00" in data:
        raise BinaryFileError(path, "is a binary file (NUL byte), not a text file")
    return data.decode(ENCODING, ERRORS)


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
