"""The front door: :func:`audit` and :func:`split`, which the CLI commands and the Python API both call.

Loading, the engine, the cache and the checks are put together here and nowhere else:

>>> result = dqaudit.audit("sample_data/bank_support.jsonl")            # doctest: +SKIP
>>> result.readiness_score, result.verdict
>>> dqaudit.split("sample_data/bank_support.jsonl", "out/")             # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from .cache import Cache
from .config import TEXT_COLUMNS, AuditConfig
from .context import AuditContext
from .data import Dataset, dataset_from_frame
from .engines import get_engine, with_engine_report
from .errors import ConfigError
from .export import cleaning_plan, settle_representatives
from .features.near_dups import near_duplicate_groups
from .masking import report_masker
from .memory import full_collections_deferred
from .pipeline import AuditResult, run_checks, selected_checks, whole_text_columns
from .progress import NullProgress, Progress
from .records import build_records, id_index, rolled_up_rows
from .registry import cleaning_rules, load_config, validate_checks
from .scoring import fix_first


def resolve_config(config: AuditConfig | str | Path | None) -> AuditConfig:
    """A config object as it is (checker blocks validated), a YAML path, or ./dqaudit.yaml / the defaults."""
    return validate_checks(config) if isinstance(config, AuditConfig) else load_config(config)


def cache_of(config: AuditConfig) -> Cache:
    """The run's per-record cache (``cache.enabled: false``: nothing on disk)."""
    return Cache(Path(config.cache.dir) if config.cache.enabled else None)


def open_context(data: str | Path | pd.DataFrame | Dataset, config: AuditConfig | str | Path | None = None, *,
                 progress: Progress | None = None, for_export: bool = False,
                 checks: Sequence[str] | None = None) -> AuditContext:
    """Load ``data`` on the configured engine into the context the checkers run on (no check runs yet).

    ``checks``: the checks that will run; an engine may keep the text columns none of them reads
    whole off the driver (:func:`~dqaudit.pipeline.whole_text_columns`). None: not known, so every
    column is loaded (what :func:`audit` runs it always knows).
    """
    config = resolve_config(config)
    progress = progress or NullProgress()
    if isinstance(data, (pd.DataFrame, Dataset)):
        if config.engine.name != "local":
            raise ConfigError("engine: an in-memory DataFrame or Dataset is audited locally; pass a path")
        dataset = data if isinstance(data, Dataset) else dataset_from_frame(data, config.fields)
        return AuditContext(dataset, config, progress=progress, cache=cache_of(config))
    with progress.task(f"loading {Path(str(data)).name}"):
        # the columns the checks read whole: the export reads the others where the engine keeps them
        texts = TEXT_COLUMNS if checks is None else whole_text_columns(config, checks)
        return get_engine(config).open(data, config, progress=progress, cache=cache_of(config),
                                       for_export=for_export, texts=texts)


def audit(data: str | Path | pd.DataFrame | Dataset, config: AuditConfig | str | Path | None = None, *,
          checks: Sequence[str] | None = None, progress: Progress | None = None,
          for_export: bool = False) -> AuditResult:
    """Audit a file path (on the configured engine), a DataFrame or a loaded Dataset.

    ``for_export``: the engine keeps what :func:`split`'s writer needs (Spark: the cached source rows).
    Full garbage collections are deferred meanwhile (:mod:`dqaudit.memory`).
    """
    with full_collections_deferred():
        return _audit(data, resolve_config(config), checks, progress, for_export)


def _audit(data: str | Path | pd.DataFrame | Dataset, config: AuditConfig, checks: Sequence[str] | None,
           progress: Progress | None, for_export: bool) -> AuditResult:
    ctx = open_context(data, config, progress=progress, for_export=for_export,
                       checks=selected_checks(config, checks))
    result = with_engine_report(run_checks(ctx, checks=checks), ctx)
    rules = {**cleaning_rules(), **ctx.config.export.rules}
    index = id_index(ctx.frame)  # one hash table of the ids for the three lookups below
    plan = cleaning_plan(ctx.frame, result.findings, rules, lambda: near_duplicate_groups(ctx),
                         rolled_up_rows(result.results), texts=ctx.texts, index=index)
    results = settle_representatives(result.results, plan, ctx.frame, rules, report_masker(ctx.config),
                                     index=index)
    return replace(result, results=tuple(results), fix_first=tuple(fix_first(results, result.weights)),
                   records=build_records(ctx.dataset, results, plan, index), plan=plan)


def split(data: str | Path, out: str | Path, config: AuditConfig | str | Path | None = None, *,
          by_time: str | None = None, checks: Sequence[str] | None = None,
          progress: Progress | None = None) -> dict[str, Any]:
    """Audit ``data``, clean it by the findings, split it and write ``out/``; returns the manifest.

    The destination is checked before any work starts; the export writes the audited context itself,
    cleaned by the audit's own cleaning plan (``result.plan``: made once per split). Full garbage
    collections are deferred throughout, as in :func:`audit`.
    """
    config = resolve_config(config)
    engine = get_engine(config)
    engine.check_destination(data, out, config)
    with full_collections_deferred():
        result = audit(data, config, checks=checks, progress=progress, for_export=True)
        return engine.export(result, out, by_time=by_time)


__all__ = ["audit", "cache_of", "open_context", "resolve_config", "split"]
