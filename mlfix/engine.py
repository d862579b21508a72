"""The pipeline: load a target, gather facts, run rules, apply fixes to fixpoint.

Callable as a library for one target (`run_target`); `mlfix.runner.run` runs many
and owns the Report, and the CLI, stdin, the pre-commit hook and `mlfix pr` all go
through it to here. Nothing in this module writes files.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlfix import suppress
from mlfix.config import Settings
from mlfix.context import facts as context_facts
from mlfix.deps import system
from mlfix.deps.facts import Context, gather
from mlfix.discover import services_building
from mlfix.dockerfile import edit, tail
from mlfix.dockerfile.model import parse
from mlfix.errors import MlfixError
from mlfix.facts import Facts, Target
from mlfix.model import Applicability, Edit, Finding, Fix
from mlfix.patch import linked
from mlfix.regular import not_regular
from mlfix.rules import RULES, check_of
from mlfix.rules import mlf001_unused_suppression as unused_rule
from mlfix.textio import read_dockerfile, read_text
from mlfix.weights import facts as weights

MAX_PASSES = 12


class Documents:
    """The files of one target as rules see them: current text, loaded on first use.

    A rule that edits a file other than the Dockerfile (a `.dockerignore`, a compose
    file) reads it through here, so every pass sees the text earlier fixes produced.
    `cache` lets a fact provider keep expensive facts (a context walk) for the session.
    `warnings` is what a provider skipped and the user should know (a FIFO or an oversized
    `.py` the scan did not read): not a finding, not an error; the runner prints each once.
    """

    def __init__(self, texts: dict[Path, str | None], originals: dict[Path, str | None]):
        self._texts = texts
        self._originals = originals
        self.cache: dict[str, Any] = {}
        self.warnings: dict[str, None] = {}  # in order, each once

    def warn(self, message: str) -> None:
        self.warnings[message] = None

    def text(self, path: Path) -> str | None:
        if path not in self._texts:
            # A FIFO or device where a document belongs would block or never end, and
            # BuildKit could not read it either: one error, not a silent "absent".
            why = not_regular(path) if os.path.lexists(path) else None
            if why is not None:
                raise MlfixError(path, why.removesuffix("; skipped"))
            loaded = read_text(path) if path.is_file() else None
            self._texts[path] = loaded
            self._originals[path] = loaded
        return self._texts[path]


@dataclass
class TargetResult:
    """What mlfix found and would change for one target.

    `findings` are reported against the original text; `remaining` are those a
    `--write` would leave; `changes` maps each file to its old text (None: new file)
    and new text; `originals` holds the texts the findings' locations refer to;
    `warnings` is what the facts skipped (see `Documents`).
    """

    target: Target
    findings: list[Finding] = field(default_factory=list)
    remaining: list[Finding] = field(default_factory=list)
    changes: dict[Path, tuple[str | None, str]] = field(default_factory=dict)
    error: MlfixError | None = None
    passes: int = 0
    originals: dict[Path, str | None] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _through_link(finding: Finding) -> Finding:
    """A fix that would write through a link is shown, not applied (see `patch.linked`).

    The finding stays, so the run still says what is wrong (exit 1), but no `error:` and
    no exit 2: the repository builds, and the other files of the target are still fixed.
    """
    fix = finding.fix
    if fix is None or not fix.edits:
        return finding
    for path in dict.fromkeys(e.path for e in fix.edits):
        why = linked(path)
        if why is not None:
            note = (
                f"not fixed: `{os.path.relpath(path)}` {why}, and writing it would change "
                "that file too; make the change by hand where it belongs"
            )
            shown = Fix(fix.title, (), Applicability.DISPLAY_ONLY)
            return dataclasses.replace(finding, fix=shown, notes=(*finding.notes, note))
    return finding


def _applies(finding: Finding, settings: Settings) -> bool:
    fix = finding.fix
    if fix is None or not fix.edits:
        return False
    if fix.applicability is Applicability.SAFE:
        return True
    return fix.applicability is Applicability.UNSAFE and settings.unsafe_fixes


class Session:
    """One target's documents while rules rewrite them in memory."""

    def __init__(self, target: Target, settings: Settings, dockerfile_text: str | None = None):
        self.target = target
        self.settings = settings
        text = (
            dockerfile_text if dockerfile_text is not None else read_dockerfile(target.dockerfile)
        )
        self.context = Context(target.context, target.dockerfile, text)
        if not target.context.is_dir():
            raise MlfixError(target.context, "build context is not a readable directory")
        self.texts: dict[Path, str | None] = {target.dockerfile: text}
        self.originals: dict[Path, str | None] = dict(self.texts)
        self.documents = Documents(self.texts, self.originals)

    def facts(self) -> Facts:
        text = self.texts[self.target.dockerfile]
        assert text is not None
        model = parse(text, self.target.dockerfile)
        args = (self.target, self.documents, model, self.settings)
        # The families' facts first: they load the documents (compose files, the ignore
        # file) whose texts the rules then read from `texts`.
        system_facts = system.provide(*args)
        weight_facts = weights.provide(*args)
        ignore_facts = context_facts.provide(*args)
        return Facts(
            target=self.target,
            dockerfile=model,
            deps=gather(model, self.context),
            settings=self.settings,
            texts=dict(self.texts),
            system=system_facts,
            weights=weight_facts,
            ignore=ignore_facts,
        )

    def rules(self) -> Iterable[tuple[str, Callable[[Facts], Iterable[Finding]]]]:
        for code, module in RULES.items():
            if self.settings.enabled(code):
                yield code, check_of(module)

    def check(self) -> list[Finding]:
        facts = self.facts()
        findings: list[Finding] = []
        for _code, check in self.rules():
            findings.extend(_through_link(f) for f in check(facts))
        suppressions = suppress.parse(facts.dockerfile)
        kept = suppress.apply(suppressions, findings, self.target.dockerfile).kept
        return tail.guard(facts.dockerfile, kept + self._unused(facts, suppressions, findings))

    def _unused(
        self, facts: Facts, suppressions: list[suppress.Suppression], findings: list[Finding]
    ) -> list[Finding]:
        """MLF001: suppressions that cover nothing, judged with every rule they name."""
        if not suppressions or not self.settings.enabled(unused_rule.CODE):
            return []
        judged = suppress.judged_codes(suppressions)
        everything = list(findings)
        for code, module in RULES.items():
            if not self.settings.enabled(code) and (judged is None or code in judged):
                everything.extend(check_of(module)(facts))
        outcome = suppress.apply(suppressions, everything, self.target.dockerfile)
        items = suppress.unused(suppressions, outcome.used, RULES)
        report = [unused_rule.report(facts.dockerfile, item) for item in items]
        return suppress.apply(suppressions, report, self.target.dockerfile).kept

    def fix(self) -> int:
        """Apply fixes rule by rule until a whole pass changes nothing; returns passes.

        Suppressed findings are never fixed; unused suppressions are removed last.
        """
        for number in range(1, MAX_PASSES + 1):
            changed = False
            for _code, check in self.rules():
                facts = self.facts()
                suppressions = suppress.parse(facts.dockerfile)
                found = tail.guard(facts.dockerfile, [_through_link(f) for f in check(facts)])
                kept = suppress.apply(suppressions, found, self.target.dockerfile).kept
                findings = [f for f in kept if _applies(f, self.settings)]
                protected = _protected_spans(facts, [f for f in found if f not in kept])
                if self._apply(findings, protected):
                    changed = True
            if not changed:
                if self._remove_unused_suppressions():
                    continue
                return number
        raise MlfixError(
            self.target.dockerfile, f"fixes did not settle after {MAX_PASSES} passes (a bug)"
        )

    def _remove_unused_suppressions(self) -> bool:
        if not suppress.parse(self.facts().dockerfile):
            return False
        unused = [f for f in self.check() if f.code == unused_rule.CODE]
        return self._apply([f for f in unused if _applies(f, self.settings)])

    def _apply(
        self, findings: list[Finding], protected: dict[Path, list[tuple[int, int]]] | None = None
    ) -> bool:
        """Apply the fixes whose edits do not touch an earlier fix's; the rest wait a pass.

        A fix that would move or rewrite a `protected` span (the lines of a suppressed
        finding) is never applied: a suppression means "leave this instruction alone".
        """
        taken: dict[Path, list[tuple[int, int]]] = {}
        chosen: list[Edit] = []
        guard = protected or {}
        for finding in findings:
            assert finding.fix is not None
            edits = finding.fix.edits
            if any(_touches(taken.get(e.path, []), e) for e in edits):
                continue
            if any(_inside(guard.get(e.path, []), e) for e in edits):
                continue
            for e in edits:
                taken.setdefault(e.path, []).append((e.start, e.end))
            chosen.extend(edits)
        if not chosen:
            return False
        by_path: dict[Path, list[Edit]] = {}
        for e in chosen:
            by_path.setdefault(e.path, []).append(e)
        for path, path_edits in by_path.items():
            old = self.texts.get(path)
            self.texts[path] = edit.apply(old or "", path_edits)
        return True

    def changes(self) -> dict[Path, tuple[str | None, str]]:
        result: dict[Path, tuple[str | None, str]] = {}
        for path, new in self.texts.items():
            old = self.originals.get(path)
            if new is not None and new != old:
                result[path] = (old, new)
        return result


def _touches(spans: list[tuple[int, int]], e: Edit) -> bool:
    return any(e.start <= end and start <= e.end for start, end in spans)


def _inside(spans: list[tuple[int, int]], e: Edit) -> bool:
    """An edit that changes bytes strictly inside a span (inserting at its edges is fine)."""
    return any((e.start < end and start < e.end) or start < e.start < end for start, end in spans)


def _protected_spans(facts: Facts, suppressed: list[Finding]) -> dict[Path, list[tuple[int, int]]]:
    model = facts.dockerfile
    spans: list[tuple[int, int]] = []
    for finding in suppressed:
        location = finding.location
        if location.path != model.path:
            continue
        last = location.end_line or location.line
        lines = [line for line in model.lines if location.line <= line.number <= last]
        if lines:
            spans.append((lines[0].start, lines[-1].end))
    return {model.path: spans} if spans else {}


def run_target(
    target: Target, settings: Settings, *, fix: bool, dockerfile_text: str | None = None
) -> TargetResult:
    result = TargetResult(target)
    session: Session | None = None
    try:
        session = Session(target, settings, dockerfile_text)
        result.findings = session.check()
        if fix:
            result.passes = session.fix()
            final = session.texts[target.dockerfile]
            assert final is not None
            parse(final, target.dockerfile)  # our own output must parse, or nothing is written
            result.remaining = session.check()
            result.changes = session.changes()
        else:
            result.remaining = list(result.findings)
        result.originals = dict(session.originals)  # every text read, as it was on disk
    except MlfixError as exc:
        result.error = exc
        result.findings, result.remaining, result.changes = [], [], {}
        result.originals = {}
    if session is not None:
        result.warnings = list(session.documents.warnings)
    return result


def target_for(path: Path) -> Target:
    """A PATH argument: a build-context directory (its Dockerfile) or a Dockerfile.

    A compose service that builds that Dockerfile with that context names the target's
    service and the stage it builds (`build.target`), as the CLI's discovery does.
    """
    if path.is_dir():
        dockerfile = path / "Dockerfile"
        if not dockerfile.exists():
            raise MlfixError(path, "no Dockerfile in this directory")
        return _with_service(Target(dockerfile, path, str(dockerfile)))
    if not path.exists() and not path.is_symlink():
        raise MlfixError(path, "does not exist")
    return _with_service(Target(path, path.parent, str(path)))


def _with_service(target: Target) -> Target:
    if not target.dockerfile.is_file():
        return target
    for service in services_building(target.dockerfile):
        if service.context.resolve() == target.context.resolve():
            return dataclasses.replace(
                target,
                compose_service=service.compose_service,
                build_target=service.build_target,
            )
    return target
