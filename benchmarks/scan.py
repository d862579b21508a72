"""Benchmark the model scan against `grep -rl` on the same generated repository.

    python benchmarks/scan.py                 # 20,000 files, a few hundred load models
    python benchmarks/scan.py --files 2000    # quicker

Prints, from one run:
- mlfix's scan time vs `grep -rlE 'from_pretrained|SentenceTransformer|hf_hub_download'`
  on the same tree, with a warm page cache, measured side by side (interleaved runs,
  medians). Target: mlfix within 2x of grep.
- the scan's peak memory (RSS, each size in a fresh subprocess) as the repository doubles
  around the same model-loading files. Target: flat.

Absolute times depend on the machine; the targets are ratios.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mlfix.scan import scan_repo  # noqa: E402
from mlfix.scan.repo import default_jobs  # noqa: E402

GREP_PATTERN = "from_pretrained|SentenceTransformer|hf_hub_download"

# -- the generated repository ---------------------------------------------------------------

_PLAIN_FUNCTION = '''
def {name}(records: list[dict[str, float]], scale: float = {scale}) -> list[float]:
    """Normalise the {field} column of the records ({index})."""
    values = [row.get("{field}", 0.0) * scale for row in records]
    if not values:
        return []
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    result = []
    for value in values:
        result.append((value - low) / span)
    return result
'''

_PLAIN_CLASS = '''
@dataclass
class {name}:
    """A {field} record as read from the warehouse."""

    identifier: str
    amount: float = 0.0
    tags: list[str] = field(default_factory=list)

    def total(self, other: "{name}") -> float:
        return self.amount + other.amount
'''

_DATA_PIPELINE = '''
def run_pipeline(steps: list[str]) -> None:
    """Run the data pipeline steps in order (not a model pipeline)."""
    for step in steps:
        print("running", step)


def create_model_table(name: str) -> str:
    return f"CREATE TABLE {{name}} (id INTEGER PRIMARY KEY)"
'''

_CONFIG = """
import os

EMBEDDING_MODEL = os.getenv("EMBEDDING_MODEL", "acme/embedder-{n}")
RERANKER = "acme/reranker-{n}"
SUMMARY_MODEL = os.environ.get("SUMMARY_MODEL", "acme/summarizer-{n}")
"""

_MODEL_TEMPLATES = [
    # a FastAPI service loading at import time, names from the package's config module
    '''
from fastapi import FastAPI
from sentence_transformers import CrossEncoder, SentenceTransformer

from .config import EMBEDDING_MODEL, RERANKER

app = FastAPI()
embedder = SentenceTransformer(EMBEDDING_MODEL)
reranker = CrossEncoder(RERANKER)


@app.post("/embed")
def embed(texts: list[str]) -> list[list[float]]:
    """Embed the texts with the service's model."""
    return embedder.encode(texts).tolist()


@app.post("/rank")
def rank(query: str, docs: list[str]) -> list[float]:
    pairs = [(query, doc) for doc in docs]
    return reranker.predict(pairs).tolist()
''',
    # a class-based service
    '''
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

MODEL_NAME = "acme/classifier-{n}"


class Classifier:
    """Wraps a sequence classifier; loads once per process."""

    def __init__(self, name: str = MODEL_NAME, device: str = "cpu") -> None:
        self.name = name
        self.device = device
        self.tokenizer = AutoTokenizer.from_pretrained(self.name)
        self.model = AutoModelForSequenceClassification.from_pretrained(self.name, revision="v{n}")
        self.model.to(device)
        self.model.eval()

    @torch.inference_mode()
    def predict(self, texts: list[str]) -> list[int]:
        batch = self.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        logits = self.model(**batch.to(self.device)).logits
        return logits.argmax(dim=-1).tolist()

    def labels(self) -> dict[int, str]:
        return dict(self.model.config.id2label)
''',
    # a build-time download script
    '''
"""Download the weights: python download_model.py [--model NAME] OUT."""

import argparse

from huggingface_hub import hf_hub_download, snapshot_download


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="acme/encoder-{n}")
    parser.add_argument("out")
    args = parser.parse_args()
    snapshot_download(args.model, allow_patterns=["*.json", "*.safetensors"], local_dir=args.out)
    hf_hub_download("acme/vocab-{n}", "vocab.txt", local_dir=args.out)


if __name__ == "__main__":
    main()
''',
    # pipelines configured from the environment
    """
import os

from transformers import pipeline

from .config import SUMMARY_MODEL

sentiment = pipeline("sentiment-analysis")
summarizer = pipeline("summarization", model=SUMMARY_MODEL)
ner = pipeline("ner", model=os.environ["NER_MODEL"])


def analyse(text: str) -> dict[str, object]:
    return {{"sentiment": sentiment(text), "summary": summarizer(text), "entities": ner(text)}}
""",
]


def _plain_file(rng: random.Random, n: int) -> str:
    parts = [
        "from __future__ import annotations\n\nimport json\nimport math\n"
        "from dataclasses import dataclass, field\n"
    ]
    for i in range(rng.randint(2, 14)):
        template = _PLAIN_CLASS if i % 4 == 3 else _PLAIN_FUNCTION
        parts.append(
            template.format(
                name=f"{'Record' if template is _PLAIN_CLASS else 'normalise'}_{n}_{i}",
                field=rng.choice(["price", "weight", "score", "count"]),
                scale=rng.randint(1, 9),
                index=i,
            )
        )
    return "".join(parts)


def generate(
    root: Path, files: int, model_files: int, pipeline_mentions: int, seed: int = 7
) -> None:
    """Write `files` Python files under root: packages of 50 modules, some loading models."""
    rng = random.Random(seed)
    model_at = set(rng.sample(range(files), model_files))
    remaining = [i for i in range(files) if i not in model_at]
    mention_at = set(rng.sample(remaining, min(pipeline_mentions, len(remaining))))
    configs: set[Path] = set()
    for n in range(files):
        package = root / f"pkg{n // 1000:03d}" / f"sub{(n // 50) % 20:02d}"
        if package not in configs:
            package.mkdir(parents=True, exist_ok=True)
            (package / "__init__.py").write_text("")
            (package / "config.py").write_text(textwrap.dedent(_CONFIG).format(n=n))
            configs.add(package)
        if n in model_at:
            text = _MODEL_TEMPLATES[n % len(_MODEL_TEMPLATES)].format(n=n) + _plain_file(rng, n)
        elif n in mention_at:
            text = _plain_file(rng, n) + _DATA_PIPELINE
        else:
            text = _plain_file(rng, n)
        (package / f"module_{n:05d}.py").write_text(text)


# -- measuring ------------------------------------------------------------------------------


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (grep, scan workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def time_grep(root: Path) -> tuple[float, float]:
    cpu, start = _cpu(), time.perf_counter()
    subprocess.run(
        ["grep", "-rlE", GREP_PATTERN, str(root)], stdout=subprocess.DEVNULL, check=False
    )
    return time.perf_counter() - start, _cpu() - cpu


def time_scan(root: Path, jobs: int | None) -> tuple[float, float, int, int]:
    cpu, start = _cpu(), time.perf_counter()
    result = scan_repo(root, jobs=jobs)
    return time.perf_counter() - start, _cpu() - cpu, len(result.refs), result.files_parsed


_MEMORY_PROBE = """
import json, pathlib, resource, sys
sys.path.insert(0, {root!r})
from mlfix.scan import scan_repo


def status(key):
    try:
        with open("/proc/self/status") as lines:
            for line in lines:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


try:  # reset the peak to the current RSS, so the peak measured is the scan's (Linux)
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
except OSError:
    pass
start = status("VmRSS")
result = scan_repo(pathlib.Path({tree!r}), jobs={jobs})
print(json.dumps({{"start_kib": start, "peak_kib": status("VmHWM"), "refs": len(result.refs)}}))
"""


def peak_memory(tree: Path, jobs: int = 1) -> dict[str, int]:
    """Scan in a fresh process; its RSS before the scan and its peak during it.

    Linux's VmHWM starts afresh at exec (ru_maxrss does not: it keeps the parent's peak
    across fork+exec), and writing 5 to clear_refs resets it, so the peak is the scan's.
    """
    code = _MEMORY_PROBE.format(root=str(ROOT), tree=str(tree), jobs=jobs)
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return json.loads(output.stdout)  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--model-files", type=int, default=None, help="default: 1.5%% of --files")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--memory-sizes", type=int, default=3, help="sizes for the memory test, doubling"
    )
    parser.add_argument("--keep", type=Path, default=None, help="generate here and keep the tree")
    args = parser.parse_args(argv)
    model_files = (
        args.model_files if args.model_files is not None else max(1, args.files * 3 // 200)
    )
    mentions = model_files // 2

    base = args.keep or Path(tempfile.mkdtemp(prefix="mlfix-scan-bench-"))
    try:
        tree = base / "repo"
        if not tree.exists():
            generate(tree, args.files, model_files, mentions)
        size = sum(p.stat().st_size for p in tree.rglob("*.py"))
        print(
            f"repo: {args.files} Python files ({size / 1e6:.1f} MB), {model_files} load models,"
            f" {mentions} more mention 'pipeline'/'create_model' without loading anything"
        )
        print(f"parser: ast (CPython {sys.version.split()[0]}), each candidate file whole")

        # Warm the page cache and the interpreter (imports, regex compilation) first.
        time_grep(tree)
        _, _, refs, parsed = time_scan(tree, 1)
        jobs = default_jobs()
        grep: list[tuple[float, float]] = []
        serial: list[tuple[float, float]] = []
        parallel: list[tuple[float, float]] = []
        for _ in range(args.runs):  # side by side, interleaved
            grep.append(time_grep(tree))
            serial.append(time_scan(tree, 1)[:2])
            if jobs > 1:
                parallel.append(time_scan(tree, jobs)[:2])
        grep_wall = statistics.median(w for w, _ in grep)
        grep_cpu = statistics.median(c for _, c in grep)
        print(f"scan: {refs} model refs; {parsed} files passed the byte prefilter")
        print(f"medians of {args.runs} interleaved runs, warm cache (wall / CPU):")
        print(f"  grep -rlE '{GREP_PATTERN}': {grep_wall * 1000:.0f} ms / {grep_cpu * 1000:.0f} ms")
        rows = [("mlfix scan, 1 process", serial)]
        if parallel:
            rows.append((f"mlfix scan, {jobs} processes (default)", parallel))
        best = float("inf")
        for label, runs in rows:
            wall = statistics.median(w for w, _ in runs)
            cpu = statistics.median(c for _, c in runs)
            best = min(best, wall / grep_wall)
            print(
                f"  {label}: {wall * 1000:.0f} ms / {cpu * 1000:.0f} ms"
                f"  -> {wall / grep_wall:.2f}x grep's wall time, {cpu / grep_cpu:.2f}x its CPU time"
            )
        verdict = "met" if best <= 2 else "MISSED"
        print(f"ratio mlfix/grep (wall, best configuration): {best:.2f}x (target <= 2x: {verdict})")

        print(
            f"peak memory as the repo doubles ({model_files} model-loading files each time;"
            " a fresh process scanning with 1 process, RSS before the scan -> peak):"
        )
        sizes = [args.files >> shift for shift in range(args.memory_sizes - 1, -1, -1)]
        growth: list[int] = []
        for step, files in enumerate(sizes):
            # The same model-loading files each time: what grows is the rest of the repo.
            sized = tree if files == args.files else base / f"mem{files}"
            if not sized.exists():
                generate(sized, files, min(model_files, files), min(mentions, files), seed=step)
            probe = peak_memory(sized)
            growth.append(probe["peak_kib"] - probe["start_kib"])
            print(
                f"  {files:>6} files: {probe['start_kib'] / 1024:.1f}"
                f" -> {probe['peak_kib'] / 1024:.1f} MiB"
                f" (scan +{growth[-1] / 1024:.1f} MiB, {probe['refs']} refs)"
            )
        if len(growth) > 1:
            spread = max(growth) / max(growth[0], 1024)
            verdict = "met" if spread <= 1.5 else "MISSED"
            print(
                f"memory growth of the scan, largest/smallest repo: {spread:.2f}x"
                f" for {sizes[-1] // sizes[0]}x the files (target: flat, ~1x: {verdict})"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
