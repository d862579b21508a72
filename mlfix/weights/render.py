"""The Dockerfile text MLF301 adds: a `weights` stage of `hf download` lines, and its COPY.

All text is built with LF; `mlfix.dockerfile.edit` converts it to the file's line ending.
Every value here passed `mlfix.weights.validate` when the facts were gathered; shell words
are still quoted with `validate.word` (single quotes), and the paths written into `ENV` and
`COPY` (which are not shell) are checked again, since a mistake there is an injection.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlfix.weights.facts import WEIGHTS_STAGE, Download, WeightFacts
from mlfix.weights.validate import image_path, word

INDENT = "        "
WIDTH = 88
# A build can point the download at a mirror (or a test endpoint) with
# `--build-arg HF_ENDPOINT=...`; the stage's ARG keeps it out of the final image.
ENDPOINT_ARG = "ARG HF_ENDPOINT=https://huggingface.co"


def path(value: str) -> str:
    why = image_path(value)
    if why is not None:
        raise ValueError(f"{value!r}: {why}")
    return value


def _wrap(first: str, pieces: Sequence[str]) -> str:
    lines = [first]
    for piece in pieces:
        if len(lines[-1]) + 1 + len(piece) > WIDTH and lines[-1].strip():
            lines[-1] += " \\"
            lines.append(INDENT + piece)
        else:
            lines[-1] += " " + piece
    return "\n".join(lines)


def download_command(
    download: Download, facts: WeightFacts, cli: str | None = None, prefix: str = ""
) -> str:
    """`hf download org/name --revision R --include a --include b` for one download."""
    tool = cli or facts.cli or "hf"
    head = f"{prefix}{tool} download {word(download.repo_id)}"
    # Files right after the repo: the 0.x argparse CLI takes no positional after an option.
    pieces: list[str] = [word(name) for name in download.filenames]
    if download.repo_type != "model":
        pieces.append(f"--repo-type {word(download.repo_type)}")
    if download.revision:
        pieces.append(f"--revision {word(download.revision)}")
    if download.local:
        pieces.append(f"--local-dir {word(download.cache_dir)}")
    elif download.cache_dir != facts.hub_dir:
        pieces.append(f"--cache-dir {word(download.cache_dir)}")
    patterns = download.include or ()
    if facts.greedy_flags and patterns:
        pieces.append("--include " + word(patterns[0]))
        pieces.extend(word(p) for p in patterns[1:])
    else:
        pieces.extend(f"--include {word(p)}" for p in patterns)
    return _wrap(head, pieces)


# When the project passes a Hugging Face token (MLF303 turns it into this secret), the
# downloads read it too: gated and private repos need it.
SECRET_MOUNT = "--mount=type=secret,id=hf_token"
SECRET_ENV = 'HF_TOKEN="$(cat /run/secrets/hf_token 2>/dev/null)" '


def download_run(downloads: Sequence[Download], facts: WeightFacts) -> str:
    prefix = SECRET_ENV if facts.tokens else ""
    commands = [download_command(d, facts, prefix=prefix) for d in downloads]
    body = f" \\\n{INDENT[:4]}&& ".join(commands)
    mount = f"{SECRET_MOUNT} \\\n{INDENT[:4]}" if facts.tokens else ""
    return f"RUN {mount}{body}\n"


def chained(downloads: Sequence[Download], facts: WeightFacts) -> str:
    """The downloads as `&& hf download ...` continuations of an existing download RUN."""
    return "".join(f" \\\n{INDENT[:4]}&& " + download_command(d, facts) for d in downloads)


def from_line(base: str, platform: str | None) -> str:
    flag = f"--platform={platform} " if platform else ""
    return f"FROM {flag}{base} AS {WEIGHTS_STAGE}\n"


def weights_stage(base: str, platform: str | None, facts: WeightFacts) -> str:
    name, value = facts.cache_var
    return (
        from_line(base, platform)
        + f'RUN pip install --no-cache-dir "{facts.hub_requirement}"\n'
        + ENDPOINT_ARG
        + "\n"
        + f"ENV {name}={path(value)}\n"
        + download_run(facts.missing, facts)
        + "\n"
    )


def copy_lines(facts: WeightFacts) -> str:
    chown = f" --chown={facts.chown}" if facts.chown else ""
    return "".join(
        f"COPY --from={WEIGHTS_STAGE}{chown} {path(d)} {path(d)}\n" for d in facts.copy_dirs
    )
