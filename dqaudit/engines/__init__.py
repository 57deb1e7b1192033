"""Where loading and the heavy derived data run: ``local`` (this process) or ``spark`` (Apache Spark).

An :class:`Engine` turns a path into an :class:`~dqaudit.context.AuditContext` (the canonical table,
plus any derived data it computed itself, handed over with ``ctx.provide`` under the feature
function that would otherwise compute it) and writes the export of an audited context. The
checkers, the cleaning plan and the split assignment are the same code on both, so the same data,
config and seed give the same clusters and splits. This module never imports PySpark.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..cache import Cache
    from ..config import AuditConfig
    from ..context import AuditContext
    from ..pipeline import AuditResult
    from ..progress import Progress


class Engine(Protocol):
    """What the front door (:mod:`dqaudit.api`) needs from an engine."""

    def open(self, data: str | Path, config: AuditConfig, *, progress: Progress | None, cache: Cache,
             for_export: bool, texts: frozenset[str]) -> AuditContext:
        """Load ``data`` into a context (``for_export``: keep what :meth:`export` needs to write the rows).

        ``texts``: the text columns some check reads whole; the others may stay where the engine
        keeps them, fetched row by row through :meth:`~dqaudit.context.AuditContext.texts`.
        """

    def check_destination(self, data: str | Path, out: str | Path, config: AuditConfig) -> None:
        """Refuse an export destination before any work starts."""

    def export(self, result: AuditResult, out: str | Path, *, by_time: str | None) -> dict[str, Any]:
        """Write the cleaned splits of an audited context; returns the manifest."""


def get_engine(config: AuditConfig) -> Engine:
    """The engine ``config.engine`` names (Spark imported only when asked for)."""
    if config.engine.name == "spark":
        from .spark import SparkEngine

        return SparkEngine()
    from .local import LocalEngine

    return LocalEngine()


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


def with_engine_report(result: AuditResult, ctx: AuditContext) -> AuditResult:
    """Add ``run.engine`` (master, stage -> where, timings) to report.json when an engine recorded it."""
    engine = ctx.options.get("engine")
    if engine is None:
        return result
    return replace(result, run_extras={**result.run_extras, "engine": engine})


__all__ = ["Engine", "get_engine", "with_engine", "with_engine_report"]
