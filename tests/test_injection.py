"""No value from scanned code can add a command to the build (issue 13, "Security").

The property: for arbitrary strings in every field of a download, either
`validate.download_problem` rejects it, or the `RUN` line MLF301 writes, read by BuildKit's
parser and run by `sh -c` with a stub `hf` first on PATH, runs exactly one `hf` process
with exactly those arguments, and nothing else.

Each property runs 300 examples (a few seconds); the longer run,
`MLFIX_HYPOTHESIS_EXAMPLES=3000 pytest tests/test_injection.py`, passed in about two CPU
minutes (nine wall-clock minutes on a busy two-core machine).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path

import dockerfile
import pytest
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from mlfix.weights import render, validate
from mlfix.weights.facts import Download, WeightFacts

HUB_DIR = "/opt/hf/hub"
NASTY = ["'", '"', "`", "$(", ")", "$", ";", "&", "|", "\\", "\n", "*", "~", " ", "#", "{", "-"]
STUB = '#!/bin/sh\nprintf "%s\\0" "$@" > "$HF_LOG/$$"\n'

# Plain names mixed with the characters a shell treats specially, so many examples pass
# validation and reach the shell; plain `st.text()` covers everything else.
_plain = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,10}", fullmatch=True)
_nasty = st.lists(st.one_of(_plain, st.sampled_from(NASTY)), min_size=1, max_size=6).map("".join)
# Starts plain, so more of them pass validation and reach the shell with their specials.
_hazard = st.builds(lambda a, b: a + b, _plain, _nasty)
field = st.one_of(_plain, _hazard, _hazard, _nasty, st.text(max_size=12))
repo = st.one_of(_plain, st.builds(lambda a, b: f"{a}/{b}", _plain, _plain), field)
repo_type = st.one_of(st.sampled_from(["model", "dataset", "space"]), field)
cache_dir = st.one_of(st.just(HUB_DIR), st.just(HUB_DIR), st.builds("/c/{}".format, _plain), field)


def expected_argv(download: Download, greedy: bool) -> list[str]:
    # Files right after the repo: the 0.x argparse CLI takes no positional after an option.
    argv = ["download", download.repo_id, *download.filenames]
    if download.repo_type != "model":
        argv += ["--repo-type", download.repo_type]
    if download.revision:
        argv += ["--revision", download.revision]
    if download.local:
        argv += ["--local-dir", download.cache_dir]
    elif download.cache_dir != HUB_DIR:
        argv += ["--cache-dir", download.cache_dir]
    patterns = list(download.include or ())
    if greedy and patterns:  # hub < 1.0: one flag, then every pattern
        return [*argv, "--include", *patterns]
    for pattern in patterns:
        argv += ["--include", pattern]
    return argv


def run_line(run: str, tmp: Path) -> tuple[list[list[str]], subprocess.CompletedProcess[str]]:
    """The RUN's command as BuildKit reads it, run by sh with only the stub `hf` on PATH."""
    (parsed,) = dockerfile.parse_string(run)
    assert parsed.cmd == "RUN" and not parsed.json, parsed
    bin_dir, log, work = tmp / "bin", tmp / "log", tmp / "work"
    for folder in (bin_dir, log, work):
        folder.mkdir(exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
    stub = bin_dir / "hf"
    stub.write_text(STUB)
    stub.chmod(0o755)
    env = {"PATH": str(bin_dir), "HF_LOG": str(log)}
    done = subprocess.run(
        ["/bin/sh", "-c", parsed.value[0]], cwd=work, env=env, capture_output=True, text=True
    )
    calls = [p.read_bytes().decode().split("\0")[:-1] for p in sorted(log.iterdir())]
    assert list(work.iterdir()) == [], "the line wrote files of its own"
    return calls, done


def download_of(
    repo_id: str, kind: str, revision: str | None, cache: str, names: list[str], pats: list[str]
) -> Download:
    return Download(repo_id, kind, revision, cache, tuple(pats) or None, tuple(names), ())


@settings(
    max_examples=int(os.environ.get("MLFIX_HYPOTHESIS_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(
    repo_id=repo,
    kind=repo_type,
    revision=st.one_of(st.none(), field),
    cache=cache_dir,
    names=st.lists(field, max_size=2),
    pats=st.lists(field, max_size=3),
    greedy=st.booleans(),
    local=st.booleans(),
)
@example("org/m", "model", "main`touch pwned`", HUB_DIR, [], [], False, False)
@example("org/m", "model", "$(id)", HUB_DIR, ["w.bin'; touch x; '"], ["`id`"], False, False)
@example("org/m", "model", "v1;id", HUB_DIR, ["w.bin'; touch x; '"], ["a'b\"c*"], True, False)
@example("org/m", "model", None, "/app/models/a b;$(id)", ["w.bin"], [], False, True)
@example("gpt2\n", "model", None, HUB_DIR, [], [], False, False)
@example("org/m", "*", None, HUB_DIR, [], [], False, False)
def test_a_download_line_runs_one_hf_with_exactly_its_arguments(
    tmp_path: Path,
    repo_id: str,
    kind: str,
    revision: str | None,
    cache: str,
    names: list[str],
    pats: list[str],
    greedy: bool,
    local: bool,
) -> None:
    # `local`: the loader reads a --local-dir (a start script's, a local_dir= argument).
    download = replace(download_of(repo_id, kind, revision, cache, names, pats), local=local)
    if validate.download_problem(download) is not None:
        event("rejected")
        return  # reported by MLF304 and never written
    event("written and run")
    facts = WeightFacts(app_stage=0, hub_dir=HUB_DIR, greedy_flags=greedy)
    calls, done = run_line(render.download_run([download], facts), tmp_path)
    assert done.returncode == 0 and done.stderr == "", done
    assert calls == [expected_argv(download, greedy)]


def _made_of(specials: str) -> st.SearchStrategy[str]:
    parts = st.lists(st.one_of(_plain, st.sampled_from(list(specials))), min_size=1, max_size=5)
    return st.builds(lambda head, tail: head + "".join(tail), _plain, parts)


@settings(
    max_examples=int(os.environ.get("MLFIX_HYPOTHESIS_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    revision=_made_of("'\"();&|{}#!<>%=,+"),
    names=st.lists(_made_of("'\"();&|*?[]{}~# !<>"), max_size=2),
    pats=st.lists(_made_of("'\"();&|*?[]{}~# !<>"), min_size=1, max_size=3),
    greedy=st.booleans(),
)
def test_values_the_hub_accepts_reach_hf_unchanged_whatever_the_shell_makes_of_them(
    tmp_path: Path, revision: str, names: list[str], pats: list[str], greedy: bool
) -> None:
    download = download_of("org/m", "dataset", revision, "/c/x", names, pats)
    assume(validate.download_problem(download) is None)
    facts = WeightFacts(app_stage=0, hub_dir=HUB_DIR, greedy_flags=greedy)
    calls, done = run_line(render.download_run([download], facts), tmp_path)
    assert done.returncode == 0 and done.stderr == "", done
    assert calls == [expected_argv(download, greedy)]


@pytest.mark.parametrize(
    ("field_name", "value", "why"),
    [
        ("repo_id", "gpt2\n", "control"),
        ("repo_id", "org/m`id`", "'`'"),
        ("repo_id", "org/m;id", "letters, digits"),
        ("repo_id", "a/b/c", "one '/'"),
        ("repo_id", "-org/m", "option"),
        ("repo_id", "org--m", "'--'"),
        ("repo_id", "x" * 97, "96"),
        ("revision", "main`touch pwned`", "'`'"),
        ("revision", "$(id)", "'$'"),
        ("filename", "w`id`.bin", "'`'"),
        ("revision", "a b", "space"),
        ("revision", "v1\n", "control"),
        ("revision", "a..b", "'..'"),
        ("revision", "x@{1}", "'@{'"),
        ("revision", "v1.lock", ".lock"),
        ("revision", "main/", "'/'"),
        ("repo_type", "*", "one of"),
        ("repo_type", "model\n", "one of"),
        ("filename", "../../etc/passwd", "'..'"),
        ("filename", "/etc/passwd", "'/'"),
        ("filename", "a\nb", "control"),
        ("cache_dir", "/opt/$(id)", "absolute"),
        ("cache_dir", "relative/dir", "absolute"),
    ],
)
def test_values_the_hub_refuses_are_rejected(field_name: str, value: str, why: str) -> None:
    fields: dict[str, object] = {
        "repo_id": "org/m",
        "repo_type": "model",
        "revision": None,
        "cache_dir": HUB_DIR,
        "include": None,
        "filenames": (),
        "refs": (),
    }
    if field_name == "filename":
        fields["filenames"] = (value,)
    else:
        fields[field_name] = value
    problem = validate.download_problem(Download(**fields))  # type: ignore[arg-type]
    assert problem is not None and why in problem, problem


@pytest.mark.parametrize("value", ["main", "refs/pr/1", "v1.2", "4f1a77b", "a;b|c&d", "it's"])
def test_revisions_git_accepts_pass_and_are_quoted(value: str, tmp_path: Path) -> None:
    download = download_of("org/m", "model", value, HUB_DIR, [], [])
    assert validate.download_problem(download) is None
    facts = WeightFacts(app_stage=0, hub_dir=HUB_DIR)
    calls, _ = run_line(render.download_run([download], facts), tmp_path)
    assert calls == [["download", "org/m", "--revision", value]]


def test_env_and_copy_paths_are_checked_where_they_are_written() -> None:
    with pytest.raises(ValueError, match="absolute"):
        render.path("/opt/$(id)")
    facts = WeightFacts(app_stage=0, cache_var=("HF_HOME", "/opt/hf x"))
    with pytest.raises(ValueError):
        render.weights_stage("python:3.11-slim", None, facts)
