"""Runs the enabled checkers over a loaded context and assembles the :class:`AuditResult`."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .cache import Cache
from .cache import warn as cache_warning
from .config import AuditConfig, default_name
from .context import AuditContext
from .data import SourceInfo
from .errors import ConfigError, DqauditError
from .findings import CheckResult, Finding, Gate, Verdict, jsonable
from .masking import Masker, mask_known
from .registry import available_checkers, check_params, get_checker
from .scoring import FixItem, error_gates, fix_first, readiness, verdict

if TYPE_CHECKING:
    import pandas as pd

    from .checkers.base import Checker
    from .export import CleaningPlan
    from .reports.html import HtmlSection


@dataclass(frozen=True)
class AuditResult:
    """Everything one audit concluded; :func:`dqaudit.reports.json_report.report_dict` is report.json."""

    source: SourceInfo
    rows_loaded: int
    rows_quarantined: int
    results: tuple[CheckResult, ...]
    weights: dict[str, float]
    descriptions: dict[str, str]
    readiness_score: float | None  # None: nothing could be scored (an empty dataset)
    verdict: Verdict
    gates: tuple[Gate, ...]
    fix_first: tuple[FixItem, ...]
    config: AuditConfig
    started_at: str
    durations: dict[str, float] = field(default_factory=dict)
    #: Added after the run by features beside the checks (the nightly diff): merged into report.json's
    #: ``run`` block, and titled blocks appended to report.html.
    run_extras: dict[str, Any] = field(default_factory=dict)
    html_sections: tuple[HtmlSection, ...] = ()
    #: One row per physical input row with every per-record verdict (records.parquet, :mod:`dqaudit.records`);
    #: :func:`dqaudit.api.audit` fills it in.
    records: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    #: The cleaning plan records.parquet was built from, filled in beside it: ``split`` exports by this
    #: plan rather than making it again (~8 s CPU at 1M rows, and on Spark a second fetch of the texts).
    plan: CleaningPlan | None = field(default=None, compare=False, repr=False)
    #: The run's context (dataset, memoised derived data): what ``split`` exports from. Not in report.json.
    context: AuditContext | None = field(default=None, repr=False, compare=False)

    def check(self, name: str) -> CheckResult:
        for result in self.results:
            if result.check == name:
                return result
        raise KeyError(name)

    @property
    def name(self) -> str:
        """The dataset's name in the history and report folders: ``dataset.name``, else the file's stem."""
        return self.config.dataset.name or default_name(self.source.path)

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.results for f in r.findings]


def run_checks(ctx: AuditContext, *, checks: Sequence[str] | None = None) -> AuditResult:
    """Run the selected (or all enabled) checkers on a loaded context; a crashing checker becomes that
    check's error. Loading and engines are the front door's job (:func:`dqaudit.api.audit`)."""
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    dataset, config = ctx.dataset, ctx.config
    checkers = []
    for name in selected_checks(config, checks):
        cls = get_checker(name)
        cls.check_requirements()
        checkers.append(cls(check_params(config, name)))
    results, durations = [], {}
    for checker in checkers:
        began = time.perf_counter()
        with ctx.progress.task(f"check: {checker.name}", total=None):
            try:
                result = _run_check(checker, ctx)
            except DqauditError:
                raise
            except Exception as exc:  # failure is data: the audit goes on and the report says what broke
                result = CheckResult(checker.name, None, error=f"{type(exc).__name__}: {exc}")
        durations[checker.name] = round(time.perf_counter() - began, 3)
        results.append(result)
    try:
        ctx.cache.flush()
    except OSError as exc:  # a shard that could not be published: next run recomputes those rows
        cache_warning(f"cache: a shard could not be written ({exc.strerror or exc}); its rows will be "
                      "recomputed next run")
    maskers = [m for m in (c.masker(ctx) for c in checkers) if m is not None]
    if maskers:
        results = _mask_results(results, maskers, ctx.cache)
    weights = {c.name: c.weight for c in checkers}
    gates = tuple(g for r in results for g in r.gates if g.triggered) + tuple(error_gates(results))
    score = readiness(results, weights)
    if not dataset.source.rows:  # an empty file has nothing to score (checks would find nothing to fault)
        gates += (Gate("schema", "no_rows", True, "the dataset has no rows: nothing to train on"),)
        score = None
    return AuditResult(
        source=dataset.source, rows_loaded=len(dataset), rows_quarantined=len(dataset.problems),
        results=tuple(results), weights=weights, descriptions={c.name: c.description for c in checkers},
        readiness_score=score, verdict=verdict(score, gates, config.score), gates=gates,
        fix_first=tuple(fix_first(results, weights)), config=config, started_at=started, durations=durations,
        context=ctx,
    )


def _run_check(checker: Checker, ctx: AuditContext) -> CheckResult:
    """``checker.check(ctx)``, within its ``max_seconds`` when it has one.

    A check cannot be interrupted from outside, so a bounded one runs on a daemon thread; past its
    budget it is abandoned (left to finish or die with the process) and reported as an error, so a
    hung or pathological check cannot stall a nightly job.
    """
    seconds = checker.params.max_seconds
    if seconds is None:
        return checker.check(ctx)
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = checker.check(ctx)
        except BaseException as exc:  # re-raised below, in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=work, name=f"dqaudit-check-{checker.name}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        return CheckResult(checker.name, None, error=f"CheckTimeout: still running after its {seconds:g}s "
                           f"budget (checks.{checker.name}.max_seconds); abandoned")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def whole_text_columns(config: AuditConfig, checks: Sequence[str] | None) -> frozenset[str]:
    """The text columns the selected (or all enabled) checks read whole: what an engine must load
    into the frame; the others only ever reach the driver for the rows a check asks for."""
    return frozenset().union(*(get_checker(name)(check_params(config, name)).whole_columns(config)
                               for name in selected_checks(config, checks)))


def selected_checks(config: AuditConfig, checks: Sequence[str] | None) -> list[str]:
    """The names of ``checks`` (validated), or of every enabled check when none are given, in run order."""
    known = available_checkers()
    if checks:
        unknown = [c for c in checks if c not in known]
        if unknown:
            raise ConfigError(f"--checks: unknown check '{unknown[0]}' (known: {', '.join(known)})")
        return [name for name in known if name in checks]
    return [name for name, cls in known.items() if cls.is_enabled(check_params(config, name))]


def _mask_results(results: list[CheckResult], maskers: list[Masker], cache: Cache) -> list[CheckResult]:
    """Apply every masker to the text a report will show (messages and string details).

    The distinct strings go through each masker up front, in one pass through the cache
    (:func:`~dqaudit.masking.mask_known`): a nightly re-run's findings repeat most of the last night's
    strings (the details name many ids), and one masker call each was half a second of a 100k-row re-run.
    """
    details = [[jsonable(f.details) for f in r.findings] for r in results]
    strings = [f.message for r in results for f in r.findings]

    def walk(value: Any) -> None:
        if isinstance(value, str):
            strings.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(details)
    known = [mask_known(strings, m, cache) for m in maskers]

    def mask(value: Any) -> Any:
        if isinstance(value, str):
            for masker in known:
                value = masker(value)
            return value
        if isinstance(value, dict):
            return {k: mask(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [mask(v) for v in value]
        return value

    return [replace(r, findings=tuple(replace(f, message=mask(f.message), details=mask(d))
                                      for f, d in zip(r.findings, ds, strict=True)))
            for r, ds in zip(results, details, strict=True)]


__all__ = ["AuditResult", "run_checks", "selected_checks", "whole_text_columns"]
