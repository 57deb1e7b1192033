"""Report writers: report.json (the contract scripts read), report.md (for a pull request), report.html."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from ..io import atomic_write
from ..pipeline import AuditResult
from .html import render_html
from .json_report import render_json
from .markdown import render_markdown

RENDERERS = {"json": ("report.json", render_json), "md": ("report.md", render_markdown),
             "html": ("report.html", render_html)}


def report_dir(base: str | Path, dataset_path: str, when: datetime | None = None) -> Path:
    """``<base>/<dataset stem>-<UTC timestamp>/``; a clash within the same second gets a suffix."""
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    stem = Path(dataset_path).name.split(".")[0] or "dataset"
    target = Path(base) / f"{stem}-{stamp}"
    suffix = 1
    while target.exists():
        suffix += 1
        target = Path(base) / f"{stem}-{stamp}-{suffix}"
    return target


def write_reports(result: AuditResult, directory: str | Path, formats: Iterable[str]) -> dict[str, Path]:
    """Write each requested format, and the files checks attached, atomically into ``directory``."""
    directory = Path(directory)
    written = {}
    for fmt in formats:
        filename, render = RENDERERS[fmt]
        written[fmt] = atomic_write(directory / filename, render(result))
    for check in result.results:
        for name, text in sorted(check.files.items()):
            written[name] = atomic_write(directory / Path(name).name, text)
    return written


__all__ = ["RENDERERS", "render_html", "render_json", "render_markdown", "report_dir", "write_reports"]
