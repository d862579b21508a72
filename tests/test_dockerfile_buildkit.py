"""What BuildKit refuses, mlfix refuses with BuildKit's words: one `error:` line, exit 2.

Each message was read from `docker build` on Docker Engine 20.10; where the `dockerfile`
package (BuildKit's parser) refuses the input too, the test checks that it does.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dockerfile
import pytest

REFUSED = {
    "bare-env": (b"FROM python:3.11-slim\nENV\n", "line 2: ENV requires at least one argument"),
    "bare-label": (
        b"FROM python:3.11-slim\nLABEL\n",
        "line 2: LABEL requires at least one argument",
    ),
    "bare-arg": (b"FROM python:3.11-slim\nARG\n", "line 2: ARG requires at least one argument"),
    "label-variable": (
        b"FROM python:3.11-slim\nLABEL a=1 $VAR\n",
        'line 2: Syntax error - can\'t find = in "$VAR". Must be of the form: name=value',
    ),
    "env-one-word": (b"FROM python:3.11-slim\nENV foo\n", "line 2: ENV must have two arguments"),
    "env-pair-then-word": (
        b"FROM python:3.11-slim\nENV a=1 b\n",
        'line 2: Syntax error - can\'t find = in "b". Must be of the form: name=value',
    ),
    "empty": (b"", "the Dockerfile cannot be empty"),
    "blank-lines": (b"\n\n  \n", "the Dockerfile cannot be empty"),
    "comments-only": (b"# nothing here\n\n# at all\n", "file with no instructions"),
    "bare-from": (b"FROM\n", "line 1: FROM requires either one or three arguments"),
    "copy-one-word": (
        b"FROM python:3.11-slim\nCOPY app.py\n",
        "line 2: COPY requires at least two arguments, but only one was provided. "
        "Destination could not be determined",
    ),
    "bare-workdir": (
        b"FROM python:3.11-slim\nWORKDIR\n",
        "line 2: WORKDIR requires exactly one argument",
    ),
}
ACCEPTED = {
    "arg-names": b'FROM python:3.11-slim\nARG a="1 2" b\nRUN echo $a $b\n',
    "non-utf8-run": b"FROM python:3.11-slim\nRUN echo caf\xe9 \xff\nENV A=caf\xe9\n",
    "bom": b"\xef\xbb\xbfFROM python:3.11-slim\nRUN echo hi\n",
}


def _mlfix(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlfix", *map(str, args)],
        capture_output=True,
        text=True,
        errors="replace",
    )


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_with_buildkits_message(name: str, tmp_path: Path) -> None:
    data, message = REFUSED[name]
    (tmp_path / "Dockerfile").write_bytes(data)
    for args in ((), ("--diff",), ("--write",), ("--output-format", "json")):
        result = _mlfix(*args, tmp_path / "Dockerfile")
        assert result.returncode == 2, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert errors == [f"error: {tmp_path / 'Dockerfile'}: {message}"]
        assert (tmp_path / "Dockerfile").read_bytes() == data


@pytest.mark.parametrize("name", ["label-variable", "env-one-word", "empty", "comments-only"])
def test_buildkits_parser_refuses_them_too(name: str) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the Go parser's error, wrapped
        dockerfile.parse_string(REFUSED[name][0].decode())


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_accepted_without_error_and_bytes_kept(name: str, tmp_path: Path) -> None:
    data = ACCEPTED[name]
    (tmp_path / "requirements.txt").write_text("six==1.17.0\n")
    (tmp_path / "app.py").write_text("print('hi')\n")
    body = data + b"COPY . .\nRUN pip install -r requirements.txt\n"
    (tmp_path / "Dockerfile").write_bytes(body)
    for args in ((), ("--output-format", "full"), ("--output-format", "json"), ("--diff",)):
        result = _mlfix(*args, tmp_path)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "error:" not in result.stderr and "Traceback" not in result.stderr
    assert _mlfix("--write", tmp_path).returncode == 0
    after = (tmp_path / "Dockerfile").read_bytes()
    assert after.startswith(data.split(b"\n", 1)[0])
    assert all(line in after.split(b"\n") for line in data.split(b"\n"))
