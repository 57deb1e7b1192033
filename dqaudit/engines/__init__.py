"""Where the heavy stages run: ``local`` (this process) or ``spark`` (an Apache Spark cluster).

The engine only changes *where* loading, MinHash, clustering and duplicate grouping
run; the checkers, the split assignment and the reports are the same code on both,
so the same data, config and seed give the same clusters and splits. This module
never imports PySpark: :mod:`dqaudit.engines.spark` is imported only when the
config asks for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from ..config import AuditConfig
    from ..data import Dataset
    from ..pipeline import AuditContext, AuditResult
    from ..progress import Progress


class EngineConfig(BaseModel):
    """``engine:`` in dqaudit.yaml: ``engine: spark`` or a block with the master and extra Spark conf."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["local", "spark"] = Field("local", description="local: this process; spark: Apache Spark.")
    master: str | None = Field(
        None,
        description="Spark master URL (spark://host:7077, yarn, k8s://…); "
        "unset: local[*], or whatever spark-submit set.",
    )
    app_name: str = Field("dqaudit", description="Spark application name.")
    conf: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Extra Spark settings, e.g. spark.executor.memory: 8g."
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        """``engine: spark`` is short for ``engine: {name: spark}``."""
        return {"name": data} if isinstance(data, str) else data


def with_engine(config: AuditConfig, name: str | None, master: str | None) -> AuditConfig:
    """The config with the CLI's ``--engine``/``--spark-master`` applied (a master implies Spark)."""
    updates: dict[str, Any] = {}
    if name is not None:
        updates["name"] = name
    if master is not None:
        updates["master"] = master
        updates.setdefault("name", "spark")
    if not updates:
        return config
    return config.model_copy(update={"engine": config.engine.model_copy(update=updates)})


def open_context(
    data: str | Path,
    config: AuditConfig,
    *,
    progress: Progress | None = None,
    options: dict[str, Any] | None = None,
) -> AuditContext:
    """Load ``data`` on the configured engine into a context the checkers can run on."""
    from ..cache import Cache
    from ..data import load_dataset
    from ..pipeline import AuditContext

    cache = Cache(Path(config.cache.dir) if config.cache.enabled else None)
    if config.engine.name == "spark":
        from .spark import spark_context

        return spark_context(str(data), config, progress=progress, cache=cache, options=options)
    dataset = load_dataset(data, config.fields, config.input)
    return AuditContext(dataset, config, progress=progress, cache=cache, options=options)


def audit_data(
    data: str | Path,
    config: AuditConfig,
    *,
    checks: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> tuple[Dataset, AuditResult]:
    """``dqaudit audit`` on either engine: the dataset and the result, with where each stage ran."""
    from ..pipeline import run_audit

    ctx = open_context(data, config, progress=progress)
    result = run_audit(ctx.dataset, config, checks=checks, progress=progress, context=ctx)
    return ctx.dataset, with_engine_report(result, ctx)


def split_data(
    data: str | Path,
    out: str | Path,
    config: AuditConfig,
    *,
    by_time: str | None = None,
    checks: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """``dqaudit split`` on either engine; the manifest records where each stage ran."""
    if config.engine.name != "spark":
        from ..export import split_dataset

        return split_dataset(
            data, out, config, by_time=by_time, checks=list(checks) if checks else None, progress=progress
        )
    from .spark import spark_split

    return spark_split(str(data), str(out), config, by_time=by_time, checks=checks, progress=progress)


def with_engine_report(result: AuditResult, ctx: AuditContext) -> AuditResult:
    """Add ``run.engine`` (master, stage -> where, timings) to report.json when an engine recorded it."""
    engine = ctx.options.get("engine")
    if engine is None:
        return result
    return replace(result, run_extras={**result.run_extras, "engine": engine})


__all__ = ["EngineConfig", "audit_data", "open_context", "split_data", "with_engine", "with_engine_report"]
