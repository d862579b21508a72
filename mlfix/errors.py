"""Errors that stop one target and are shown to the user as one line naming the file."""

from __future__ import annotations

from pathlib import Path


class MlfixError(Exception):
    """Bad input: the CLI prints `path: message` and exits 2, writing nothing for the target."""

    def __init__(self, path: Path | str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = Path(path)
        self.message = message


class BinaryFileError(MlfixError):
    """A file mlfix must read as text holds a NUL byte."""


class DockerfileSyntaxError(MlfixError):
    """BuildKit would refuse the Dockerfile; mlfix refuses it too rather than guess."""
