"""Model weights in the image: what the code loads, what is baked, and the fix's plan.

`facts.provide` is the fact provider the engine runs for MLF301-MLF304; `render` writes
the Dockerfile text the fix adds; `compose` edits a compose file for `weights = "volume"`.
"""

from mlfix.weights.facts import (
    Bake,
    CliCommand,
    ComposeService,
    Download,
    TokenDef,
    WeightFacts,
    provide,
)

__all__ = [
    "Bake",
    "CliCommand",
    "ComposeService",
    "Download",
    "TokenDef",
    "WeightFacts",
    "provide",
]
