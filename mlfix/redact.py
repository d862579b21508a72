"""Hugging Face tokens never leave mlfix: every line it prints goes through `redact`.

A token written in a Dockerfile is already a leak, but mlfix must not make it a second
one: findings quote instruction text (`--output-format full` showed an `ARG` default six
times), diffs carry the removed lines, and CI logs keep both. The runner's two writers
(`runner.out`, `runner.err`), the step summary and the bot's PR body and commit message
call `redact`, so every format is covered in one place. The one exception is the fixed
file itself in stdin mode: it is the user's file.
"""

from __future__ import annotations

import re

# User access tokens: `hf_` and 34 letters or digits today; 30 or more is enough to be one.
TOKEN = re.compile(r"(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{30,}(?![A-Za-z0-9_])")
MASK = "hf_****"


def redact(text: str) -> str:
    return TOKEN.sub(MASK, text)
