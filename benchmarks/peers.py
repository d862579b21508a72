"""Run mlfix over the Dockerfiles in other projects' test suites and count what breaks.

    python benchmarks/peers.py PEERS_DIR [--limit N] [--jobs J] [--json OUT] [--only SOURCE]

PEERS_DIR holds checkouts (or exports) of other projects' tests, kept OUTSIDE this
repository; nothing from them enters it. Three sources are recognised by their shape:

- BuildKit's parser test files: every `Dockerfile` under a `testfiles*` directory
  (`frontend/dockerfile/parser/testfiles/<case>/Dockerfile`, `testfiles-negative/...`);
- hadolint's specs: Dockerfile string literals in the Haskell files under `test/`
  (one string, or a `[ "line", ... ]` list that the spec joins with `Text.unlines`);
- dockerfile-parse's tests: Dockerfile string literals (and lists of lines) in its
  `tests/*.py`.

Each Dockerfile is placed, as written, in a small ML context (requirements.txt, an
app.py that loads a model, and an empty file for every plain COPY/ADD source it names;
hadolint snippets without FROM get `FROM python:3.11-slim` above them), and mlfix runs
in-process: `--output-format json`, `--diff`, `--write --unsafe-fixes`, then
`--diff --unsafe-fixes` again. The written Dockerfile is checked with BuildKit's parser
(PyPI `dockerfile`) and hadolint. Printed: counts per source (crashes = tracebacks,
hangs, exit 2, rewrites, output parse failures, boundary mismatches with mlfix's model,
new hadolint findings, second-run changes), exit-2 reasons grouped, and the crash and
failure classes, each with its smallest reproduction.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import multiprocessing
import re
import sys
import tempfile
import textwrap
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

KEYWORDS = {
    "FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "WORKDIR", "USER", "CMD", "ENTRYPOINT",
    "LABEL", "EXPOSE", "VOLUME", "HEALTHCHECK", "SHELL", "ONBUILD", "STOPSIGNAL", "MAINTAINER",
}  # fmt: skip
REQUIREMENTS = b"transformers==4.40.0\ntorch\n"
APP = b'from transformers import AutoModel\nm = AutoModel.from_pretrained("bert-base-uncased")\n'
DEFAULT_FROM = "FROM python:3.11-slim\n"


@dataclass(frozen=True)
class Case:
    source: str  # buildkit | hadolint | dockerfile-parse
    origin: str  # file (and, for extracted strings, the spec) it came from
    text: str
    added_from: bool = False


# ---------------------------------------------------------------- collecting


def looks_like_dockerfile(text: str) -> bool:
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        return stripped.split()[0].upper() in KEYWORDS
    return False


def has_from(text: str) -> bool:
    return any(line.strip().upper().startswith("FROM") for line in text.splitlines())


HASKELL_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "r": "\r", "&": ""}


def haskell_strings(source: str) -> Iterator[tuple[int, str, str]]:
    """(offset, kind, value): string literals and list brackets, comments skipped."""
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if source.startswith("--", i) and (i == 0 or not source[i - 1].isalnum()):
            i = source.find("\n", i)
            i = n if i < 0 else i
            continue
        if c in "[]":
            yield i, c, c
            i += 1
            continue
        if c == "'" and i + 2 < n and (source[i + 2] == "'" or source[i + 1] == "\\"):
            end = source.find("'", i + 2)  # a char literal such as '\n' or 'x'
            i = end + 1 if 0 < end - i <= 4 else i + 1
            continue
        if c != '"':
            i += 1
            continue
        i += 1
        out: list[str] = []
        while i < n and source[i] != '"':
            if source[i] == "\\":
                nxt = source[i + 1] if i + 1 < n else ""
                if nxt.isspace():  # a string gap: backslash, whitespace, backslash
                    close = source.find("\\", i + 1)
                    i = close + 1
                    continue
                if nxt.isdigit():
                    digits = re.match(r"\d+", source[i + 1 :])
                    assert digits is not None
                    out.append(chr(int(digits.group(0))))
                    i += 1 + len(digits.group(0))
                    continue
                if nxt == "x":
                    hexa = re.match(r"[0-9a-fA-F]+", source[i + 2 :])
                    if hexa:
                        out.append(chr(int(hexa.group(0), 16)))
                        i += 2 + len(hexa.group(0))
                        continue
                out.append(HASKELL_ESCAPES.get(nxt, nxt))
                i += 2
                continue
            out.append(source[i])
            i += 1
        yield i, "str", "".join(out)
        i += 1


def from_haskell(path: Path) -> Iterator[str]:
    source = path.read_text(errors="replace")
    for block in re.split(r"\n\s*(?=it \")", source):
        tokens = list(haskell_strings(block))
        depth, current, skip_first = 0, [], block.lstrip().startswith("it ")
        for _, kind, value in tokens:
            if kind == "[":
                depth += 1
                current = []
            elif kind == "]":
                if depth == 1 and current:
                    joined = "\n".join(current) + "\n"
                    if looks_like_dockerfile(joined):
                        yield joined
                depth = max(0, depth - 1)
            elif depth:
                current.append(value)
            elif skip_first:
                skip_first = False  # the spec's description
            elif not re.fullmatch(r"(DL|SC)\d+", value) and looks_like_dockerfile(value):
                yield value


def from_python(path: Path) -> Iterator[str]:
    try:
        tree = ast.parse(path.read_bytes())
    except SyntaxError:
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.List | ast.Tuple):
            items = [e.value for e in node.elts if isinstance(e, ast.Constant)]
            if len(items) == len(node.elts) and items and all(isinstance(x, str) for x in items):
                lines = [str(x) for x in items]
                if all(x.endswith("\n") for x in lines):
                    joined = "".join(lines)
                    if looks_like_dockerfile(joined):
                        yield joined
        if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
            value = node.value
            text = value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value
            text = textwrap.dedent(text)  # the tests dedent their triple-quoted Dockerfiles
            short_or_lines = "\n" in text.strip() or len(text) < 200
            if short_or_lines and looks_like_dockerfile(text) and len(text.split()) > 1:
                yield text


def collect(peers: Path) -> list[Case]:
    found: dict[tuple[str, str], Case] = {}

    def add(source: str, origin: str, text: str) -> None:
        added = source == "hadolint" and not has_from(text)
        if added:
            text = DEFAULT_FROM + text
        found.setdefault((source, text), Case(source, origin, text, added))

    for path in sorted(peers.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(peers).as_posix()
        if path.name == "Dockerfile" and "/testfile" in "/" + rel:
            add("buildkit", rel, path.read_bytes().decode("utf-8", "surrogateescape"))
        elif path.suffix == ".hs" and "/test/" in "/" + rel:
            for text in from_haskell(path):
                add("hadolint", rel, text)
        elif path.suffix == ".py" and "/tests/" in "/" + rel:
            for text in from_python(path):
                add("dockerfile-parse", rel, text)
    return list(found.values())


# ---------------------------------------------------------------- running


@dataclass
class Result:
    source: str
    origin: str
    text: str
    input_rejected: str | None = None  # what BuildKit's parser says of the input
    frontend_rejects: str | None = None  # what its frontend would say though the parser accepts
    crash: str | None = None  # exception type and where, for a traceback
    hang: bool = False
    exit2: list[str] = field(default_factory=list)
    rewritten: bool = False
    output_parse_failure: str | None = None
    boundary_mismatch: bool = False
    new_hadolint: dict[str, int] = field(default_factory=dict)
    second_run_changes: bool = False


def _context_files(text: str) -> dict[str, bytes]:
    files = {"requirements.txt": REQUIREMENTS, "app.py": APP}
    for line in text.splitlines():
        words = line.strip().split()
        if len(words) < 3 or words[0].upper() not in ("COPY", "ADD"):
            continue
        if any(w.startswith("--from") for w in words) or words[1].startswith("["):
            continue
        for source in [w for w in words[1:-1] if not w.startswith("--")]:
            if re.search(r"[$*?\[\]{}<>|;&\\\"']|://|^\.\.?/?$", source) or ".." in source:
                continue
            rel = source.lstrip("/")
            if rel and len(rel) < 100 and rel not in files:
                files[rel.rstrip("/") + ("/.keep" if source.endswith("/") else "")] = b""
    return files


def frontend_rejection(text: str) -> str | None:
    """What BuildKit's frontend refuses after its parser accepted the file.

    The `dockerfile` package wraps the parser only; the frontend then rejects unknown
    instructions, a file with no FROM and any instruction but ARG before the first FROM.
    """
    import dockerfile

    from tests.hostile import _valid_unicode

    try:
        commands = dockerfile.parse_string(_valid_unicode(text))
    except dockerfile.GoParseError:
        return None
    for command in commands:
        if command.cmd.upper() not in KEYWORDS:
            return f"unknown instruction: {command.cmd}"
    if not any(c.cmd.upper() == "FROM" for c in commands):
        return "no FROM instruction"
    for command in commands:
        if command.cmd.upper() == "FROM":
            break
        if command.cmd.upper() != "ARG":
            return f"{command.cmd.upper()} before the first FROM"
    return None


def _where(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/mlfix/" in f.filename]
    last = frames[-1] if frames else None
    inner = traceback.extract_tb(exc.__traceback__)[-1:]
    at = f"{Path(last.filename).name}:{last.name}" if last else "?"
    deepest = f" <- {Path(inner[0].filename).name}:{inner[0].name}" if inner else ""
    return f"{type(exc).__name__} in {at}{deepest}"


def run_case(case: Case) -> Result:
    from tests.hostile import (
        Hang,
        buildkit,
        buildkit_error,
        invoke,
        new_hadolint_findings,
        ours,
        snapshot,
        write_tree,
    )

    result = Result(case.source, case.origin, case.text)
    result.input_rejected = buildkit_error(case.text)
    result.frontend_rejects = frontend_rejection(case.text)
    with tempfile.TemporaryDirectory(prefix="mlfix-peers-") as tmp:
        root = Path(tmp) / "ctx"
        root.mkdir()
        with contextlib.suppress(OSError):  # a source name the file system refuses
            write_tree(root, _context_files(case.text))
        dockerfile = root / "Dockerfile"
        dockerfile.write_bytes(case.text.encode("utf-8", "surrogateescape"))
        before = snapshot(root)
        runs = [("--output-format", "json"), ("--diff",), ("--write", "--unsafe-fixes")]
        for args in runs:
            try:
                outcome = invoke(*args, root, timeout=60)
            except Hang:
                result.hang = True
                return result
            if outcome.exception is not None:
                result.crash = _where(outcome.exception)
                return result
            if outcome.code == 2:
                result.exit2 = outcome.errors or [outcome.stderr.strip()[:200]]
                if snapshot(root) != before:
                    result.crash = "files changed on exit 2"
                return result
        after = dockerfile.read_bytes().decode("utf-8", "surrogateescape")
        result.rewritten = snapshot(root) != before
        if after == case.text:
            return result
        result.output_parse_failure = buildkit_error(after)
        if result.output_parse_failure is None:
            try:
                result.boundary_mismatch = ours(after) != buildkit(after)
            except Exception:
                result.boundary_mismatch = True
            result.new_hadolint = new_hadolint_findings(case.text, after)
        again = invoke("--diff", "--unsafe-fixes", root, timeout=60)
        result.second_run_changes = bool(again.stdout) or again.code == 2
    return result


# ---------------------------------------------------------------- reporting


def reason(line: str) -> str:
    """An error line without its path, numbers and quoted names: one class per cause."""
    text = re.sub(r"^error: ", "", line)
    path = r"^(/[^:]*|[^:\s]*Dockerfile[^:]*|[^:\s]+\.(txt|toml|py|lock|yaml|yml)):\s*"
    text = re.sub(path, "", text)
    text = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`", "'…'", text)
    text = re.sub(r"/tmp/mlfix-peers-[^ )]*", "<ctx>", text)
    text = re.sub(r"\d+", "N", text)
    return text[:110]


def _rejected(r: Result) -> bool:
    return r.input_rejected is not None or r.frontend_rejects is not None


def _accepted_rejected(r: Result) -> bool:
    return not r.exit2 and _rejected(r) and r.crash is None and not r.hang


def table(results: list[Result]) -> str:
    sources = ["buildkit", "hadolint", "dockerfile-parse"]
    rows = [
        ("Dockerfiles", lambda r: True),
        ("BuildKit's parser rejects the input", lambda r: r.input_rejected is not None),
        ("  its frontend rejects what the parser took", lambda r: r.frontend_rejects is not None),
        ("crashes (tracebacks)", lambda r: r.crash is not None),
        ("hangs", lambda r: r.hang),
        ("exit 2", lambda r: bool(r.exit2)),
        ("  exit 2 where BuildKit builds", lambda r: bool(r.exit2) and not _rejected(r)),
        ("  exit 0/1 where BuildKit rejects", _accepted_rejected),
        ("rewrites (--write --unsafe-fixes)", lambda r: r.rewritten),
        ("output parse failures (BuildKit)", lambda r: r.output_parse_failure is not None),
        ("output boundaries differ from mlfix's", lambda r: r.boundary_mismatch),
        ("new hadolint findings", lambda r: bool(r.new_hadolint)),
        ("second-run changes", lambda r: r.second_run_changes),
    ]  # fmt: skip
    lines = ["| | " + " | ".join(sources) + " | total |", "|---" * (len(sources) + 2) + "|"]
    for name, test in rows:
        counts = [sum(1 for r in results if r.source == s and test(r)) for s in sources]
        lines.append(f"| {name} | " + " | ".join(map(str, counts)) + f" | {sum(counts)} |")
    return "\n".join(lines)


def smallest(results: list[Result]) -> Result:
    return min(results, key=lambda r: (len(r.text), r.text))


def classes(results: list[Result]) -> str:
    out: list[str] = []
    groups: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        if r.crash:
            groups[f"crash: {r.crash}"].append(r)
        if r.hang:
            groups["hang"].append(r)
        for line in r.exit2[:1]:
            accepted = "BuildKit builds it" if not _rejected(r) else "BuildKit rejects too"
            groups[f"exit 2 ({accepted}): {reason(line)}"].append(r)
        if r.output_parse_failure:
            groups[f"output rejected by BuildKit: {reason(r.output_parse_failure)}"].append(r)
        if r.boundary_mismatch:
            groups["output boundaries differ from mlfix's model"].append(r)
        for code in r.new_hadolint:
            groups[f"new hadolint finding {code}"].append(r)
        if r.second_run_changes:
            groups["second run changes the output"].append(r)
        if _accepted_rejected(r):
            said = r.input_rejected or r.frontend_rejects or ""
            groups[f"accepted, BuildKit rejects: {reason(said)}"].append(r)
    for name, members in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        by_source = Counter(m.source for m in members)
        example = smallest(members)
        shown = example.text if len(example.text) < 600 else example.text[:600] + "…"
        out.append(
            f"### {len(members)} x {name}\n"
            f"sources: {dict(by_source)}; smallest: {example.source} {example.origin}\n"
            "```dockerfile\n" + shown.rstrip("\n") + "\n```"
        )
    return "\n\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("peers", type=Path)
    parser.add_argument("--limit", type=int, default=0, help="at most N Dockerfiles per source")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write every result here")
    parser.add_argument("--only", choices=["buildkit", "hadolint", "dockerfile-parse"])
    parser.add_argument("--from-json", type=Path, help="re-render results a run wrote")
    args = parser.parse_args()
    if args.from_json:
        loaded = [Result(**r) for r in json.loads(args.from_json.read_text())]
        for r in loaded:
            r.frontend_rejects = frontend_rejection(r.text)
        print(table(loaded) + "\n\n" + classes(loaded))
        return 0
    peers = args.peers.resolve()
    if ROOT in (peers, *peers.parents):
        parser.error("PEERS_DIR must be outside the project")
    cases = collect(peers)
    if args.only:
        cases = [c for c in cases if c.source == args.only]
    if args.limit:
        kept: list[Case] = []
        for source in {c.source for c in cases}:
            kept += [c for c in cases if c.source == source][: args.limit]
        cases = kept
    started = time.monotonic()
    print(f"{len(cases)} Dockerfiles: {dict(Counter(c.source for c in cases))}", file=sys.stderr)
    if args.jobs > 1:
        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            results = pool.map(run_case, cases, chunksize=4)
    else:
        results = [run_case(c) for c in cases]
    elapsed = time.monotonic() - started
    print(f"## mlfix over peers' test Dockerfiles ({len(results)} files, {elapsed:.0f} s)\n")
    print(table(results))
    print(f"\nadded `{DEFAULT_FROM.strip()}` above {sum(c.added_from for c in cases)} snippets\n")
    print(classes(results))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
