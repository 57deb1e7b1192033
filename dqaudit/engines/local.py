"""The local engine: everything in this process (the default)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..cache import Cache
from ..config import AuditConfig
from ..context import AuditContext
from ..data import load_dataset
from ..export import export_splits, owned_names
from ..pipeline import AuditResult
from ..progress import Progress
from ..publish import check_destination


class LocalEngine:
    """Loads with :func:`~dqaudit.data.load_dataset`; features compute on demand;
    the exporter writes locally."""

    def open(self, data: str | Path, config: AuditConfig, *, progress: Progress | None, cache: Cache,
             for_export: bool, texts: frozenset[str]) -> AuditContext:
        """Every column is loaded: the texts are in this process anyway."""
        dataset = load_dataset(data, config.fields, config.input)
        return AuditContext(dataset, config, progress=progress, cache=cache)

    def check_destination(self, data: str | Path, out: str | Path, config: AuditConfig) -> None:
        check_destination(Path(data), Path(out), owned_names(config.export.chat))

    def export(self, result: AuditResult, out: str | Path, *, by_time: str | None) -> dict[str, Any]:
        assert result.context is not None, "export needs the audited context (AuditResult.context)"
        return export_splits(result.context, result, out, by_time=by_time)
