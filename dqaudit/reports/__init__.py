"""Report writers: report.json (the contract scripts read), report.md (for a pull request), report.html."""

from __future__ import annotations

import json
import re
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


#: Written last into every report folder: the dataset's name and the files dqaudit put there, so pruning
#: (``--keep``) removes only folders dqaudit wrote, and only the files it wrote.
MARKER = ".dqaudit-report.json"


def report_dir(base: str | Path, name: str, when: datetime | None = None) -> Path:
    """``<base>/<dataset name>-<UTC timestamp>/``; a clash within the same second gets a suffix."""
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    name = _folder_stem(name)
    target = Path(base) / f"{name}-{stamp}"
    suffix = 1
    while target.exists():
        suffix += 1
        target = Path(base) / f"{name}-{stamp}-{suffix}"
    return target


def write_reports(result: AuditResult, directory: str | Path, formats: Iterable[str]) -> dict[str, Path]:
    """Write each requested format, and the files checks attached, atomically into ``directory``."""
    from ..masking import mask_result

    directory = Path(directory)
    result = mask_result(result)  # ids, labels, names and paths too, not only the texts the checks quote
    written = {}
    for fmt in formats:
        filename, render = RENDERERS[fmt]
        written[fmt] = atomic_write(directory / filename, render(result))
    for check in result.results:
        for name, text in sorted(check.files.items()):
            written[name] = atomic_write(directory / Path(name).name, text)
    if result.records is not None:
        from ..masking import report_masker
        from ..records import FILENAME, parquet_bytes

        cache = result.context.cache if result.context is not None else None
        written["records"] = atomic_write(directory / FILENAME,
                                          parquet_bytes(result.records, report_masker(result.config), cache))
    marker = {"name": _folder_stem(result.name), "files": sorted(p.name for p in written.values())}
    atomic_write(directory / MARKER, json.dumps(marker) + "\n")
    return written


def _folder_stem(name: str) -> str:
    """The dataset's name as report folders carry it: masked, no control characters, no ``<`` or ``>``."""
    from ..masking import masker_for
    from ..text import strip_control

    return strip_control(masker_for()(name)).replace("<", "").replace(">", "") or "dataset"


def prune_reports(base: str | Path, name: str, keep: int) -> list[Path]:
    """Remove all but the newest ``keep`` report folders of ``name`` under ``base``; returns those removed.

    A folder is removed only when its name is ``<name>-<timestamp>[-n]``, its marker names the same
    dataset, and it holds nothing but the files the marker lists; anything else is left alone.
    """
    name = _folder_stem(name)
    pattern = re.compile(re.escape(name) + r"-(\d{8}T\d{6}Z)(?:-(\d+))?")
    ours = []
    for folder in Path(base).iterdir() if Path(base).is_dir() else ():
        match = pattern.fullmatch(folder.name)
        files = _written_files(folder, name) if match and not folder.is_symlink() else None
        if files is not None:
            ours.append(((match[1], int(match[2] or 1)), folder, files))
    removed = []
    for _, folder, files in sorted(ours, reverse=True)[keep:]:
        for file in files:
            (folder / file).unlink(missing_ok=True)
        (folder / MARKER).unlink()
        folder.rmdir()
        removed.append(folder)
    return removed


def _written_files(folder: Path, name: str) -> list[str] | None:
    """The files dqaudit wrote into ``folder`` when that is all it holds, else None."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        present = {entry.name for entry in folder.iterdir()}
    except (OSError, ValueError):
        return None
    files = marker.get("files") if isinstance(marker, dict) and marker.get("name") == name else None
    if not isinstance(files, list) or not all(isinstance(f, str) and "/" not in f for f in files):
        return None
    if present - {MARKER, *files} or any((folder / f).is_symlink() or (folder / f).is_dir() for f in files):
        return None
    return files


__all__ = ["MARKER", "RENDERERS", "prune_reports", "render_html", "render_json", "render_markdown",
           "report_dir", "write_reports"]
