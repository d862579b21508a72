"""The rule registry: every code mlfix knows, in the order the engine runs them.

Each rule is a module with `CODE`, `NAME`, `SUMMARY`, a docstring that is its docs
page, and a pure `check(facts)`. Order matters only for speed: each rule sees the
text the previous one produced, and the engine repeats passes until nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType

from mlfix.facts import Facts
from mlfix.model import Finding
from mlfix.rules import (
    mlf001_unused_suppression,
    mlf101_dockerignore_missing,
    mlf102_junk_not_ignored,
    mlf103_ignored_copy_source,
    mlf201_dependency_layer_order,
    mlf202_pip_cache_in_layer,
    mlf203_system_packages,
    mlf301_model_downloaded_at_runtime,
    mlf302_hub_cli_version,
    mlf303_hf_token_in_image,
    mlf304_unresolved_model_name,
    mlf305_never_offline_loader,
)

Check = Callable[[Facts], Iterator[Finding]]

RULES: dict[str, ModuleType] = {
    mlf001_unused_suppression.CODE: mlf001_unused_suppression,
    mlf101_dockerignore_missing.CODE: mlf101_dockerignore_missing,
    mlf102_junk_not_ignored.CODE: mlf102_junk_not_ignored,
    mlf103_ignored_copy_source.CODE: mlf103_ignored_copy_source,
    mlf201_dependency_layer_order.CODE: mlf201_dependency_layer_order,
    mlf202_pip_cache_in_layer.CODE: mlf202_pip_cache_in_layer,
    mlf203_system_packages.CODE: mlf203_system_packages,
    mlf301_model_downloaded_at_runtime.CODE: mlf301_model_downloaded_at_runtime,
    mlf302_hub_cli_version.CODE: mlf302_hub_cli_version,
    mlf303_hf_token_in_image.CODE: mlf303_hf_token_in_image,
    mlf304_unresolved_model_name.CODE: mlf304_unresolved_model_name,
    mlf305_never_offline_loader.CODE: mlf305_never_offline_loader,
}


def check_of(module: ModuleType) -> Check:
    check: Check = module.check
    return check
