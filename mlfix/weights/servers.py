"""Model servers whose start command is the loader: the model is an argument, not code.

`ENTRYPOINT ["infinity_emb"]`, `CMD ["infinity_emb", "v2", "--model-id", "org/x"]`: the
server is an installed program, so no scanned Python names the model; its command line,
its environment or the server's own default does. Each row says how one server reads it.

infinity_emb (infinity-emb 0.0.77, `infinity_emb/cli.py` and `env.py`): with no subcommand,
or one it does not know, the CLI inserts `v2`; v2 serves every `--model-id`, else the
`;`-separated `INFINITY_MODEL_ID`, else `michaelfeil/bge-small-en-v1.5`. v1 reads
`--model-name-or-path` with the same fallback. Its engines (torch via
sentence-transformers, optimum's ONNX files, CTranslate2) read different files of the
repository, chosen at run time by `--engine`/`INFINITY_ENGINE`, so the whole repository
is baked.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from mlfix.scan import ModelRef, RefKind
from mlfix.scan.known import is_repo_id

INFINITY_DEFAULT = "michaelfeil/bge-small-en-v1.5"
INFINITY_ENV = "INFINITY_MODEL_ID"
_INFINITY_PROGRAMS = frozenset({"infinity_emb"})
_INFINITY_FLAGS = {"v1": ("--model-name-or-path",), "v2": ("--model-id",)}
NOTE = "the start command runs {program}, which downloads the model when it starts"


def _flag_values(args: Sequence[str], flags: tuple[str, ...]) -> list[str]:
    """Values of `--flag v` and `--flag=v`, in order."""
    found: list[str] = []
    for i, arg in enumerate(args):
        name, eq, value = arg.partition("=")
        if name in flags:
            if eq:
                found.append(value)
            elif i + 1 < len(args):
                found.append(args[i + 1])
    return found


def infinity_models(args: Sequence[str], env: Mapping[str, str]) -> tuple[list[str], str]:
    """(model ids, where they come from) for `infinity_emb ARGS` with the image's `env`."""
    command = args[0] if args and args[0] in _INFINITY_FLAGS else "v2"
    rest = args[1:] if args and args[0] in _INFINITY_FLAGS else args
    given = _flag_values(rest, _INFINITY_FLAGS[command])
    if given:
        return given, f"{_INFINITY_FLAGS[command][0]} of the start command"
    value = env.get(INFINITY_ENV)
    if value:
        names = [part for part in value.removesuffix(";").split(";") if part]
        return names[:1] if command == "v1" else names, f"env {INFINITY_ENV}"
    return [INFINITY_DEFAULT], "infinity_emb's default model"


def server_refs(
    argv: Sequence[str], env: Mapping[str, str], dockerfile: Path, line: int
) -> Iterator[ModelRef]:
    """The models a known server started by `argv` (wrappers removed) loads."""
    if not argv or posixpath.basename(argv[0]) not in _INFINITY_PROGRAMS:
        return
    program = posixpath.basename(argv[0])
    names, source = infinity_models(argv[1:], env)
    for name in names:
        if not is_repo_id(name):
            continue  # a local folder, or a value only known at run time
        yield ModelRef(
            kind=RefKind.HUB,
            repo_id=name,
            library="huggingface_hub",
            loader=program,
            path=dockerfile,
            line=line,
            column=1,
            raw=name,
            role="snapshot",
            env_vars=(INFINITY_ENV,) if source.startswith("env") else (),
            from_dockerfile_env=source.startswith("env"),
            via=(source,),
            notes=(NOTE.format(program=program),),
        )
