"""Which models a project loads, found without importing or running any of its code.

`scan_repo` walks a build context (bytes prefilter, then a syntax-tree visitor on the few
files that can mention a loader) and returns `ModelRef` facts for the weight rules.
`scan_run_command` reads a Dockerfile `RUN` line for downloads that are already baked.
"""

from mlfix.scan.commands import parse_download_command, scan_run_command, start_script
from mlfix.scan.known import pipeline_default, sentence_transformers_repo
from mlfix.scan.models import scan_file, scan_source
from mlfix.scan.prefilter import iter_python_files, may_load_models
from mlfix.scan.refs import HubDownload, ModelRef, RefKind, RunFacts, ScanProblem, ScanResult
from mlfix.scan.repo import scan_repo

__all__ = [
    "HubDownload",
    "ModelRef",
    "RefKind",
    "RunFacts",
    "ScanProblem",
    "ScanResult",
    "iter_python_files",
    "may_load_models",
    "parse_download_command",
    "pipeline_default",
    "scan_file",
    "scan_repo",
    "scan_run_command",
    "scan_source",
    "sentence_transformers_repo",
    "start_script",
]
