"""The terminal side: rich progress bars on stderr and the audit summary.

Dataset text reaches the terminal only through :func:`dqaudit.text.preview`
(control characters stripped) inside rich ``Text`` objects (markup not parsed).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from .alerts import below_threshold
from .pipeline import AuditResult
from .progress import Advance
from .scoring import not_run, shown
from .text import preview

VERDICT_STYLE = {"READY": "bold green", "NEEDS WORK": "bold yellow", "NOT READY": "bold red"}


class RichProgress:
    """Progress bars on stderr for steps that may take more than a second."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                  MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True)

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Advance]:
        task_id = self._progress.add_task(description, total=total)
        try:
            yield lambda n=1: self._progress.advance(task_id, n)
        finally:
            self._progress.remove_task(task_id)


def print_summary(result: AuditResult, console: Console, top: int = 8,
                  fail_under: float | None = None) -> None:
    """The verdict, the check table and what to fix first; ``fail_under`` is the run's threshold, if any."""
    from .masking import mask_result

    r = mask_result(result)
    head = Text.assemble(("Readiness ", "bold"), (f"{shown(r.readiness_score)}/100", "bold"), "  ",
                         (r.verdict.value, VERDICT_STYLE[r.verdict.value]))
    if below_threshold(r, fail_under):
        head.append(f"  FAILED: under --fail-under {fail_under:g}", style="bold red")
    console.print(head)
    console.print(Text(f"{preview(r.source.path, 120)}: {r.source.rows} rows, {r.rows_loaded} loaded, "
                       f"{r.rows_quarantined} quarantined", style="dim"))
    for gate in r.gates:
        console.print(Text.assemble(("BLOCKING ", "bold red"), f"{gate.check}: ", preview(gate.message, 160)))
    for reason, checks in not_run(r.results):
        console.print(Text.assemble(("NOT RUN ", "bold yellow"), f"{', '.join(checks)}: ",
                                    preview(reason, 160)))
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("check")
    table.add_column("score", justify="right")
    table.add_column("weight", justify="right")
    table.add_column("findings", justify="right")
    table.add_column("note")
    for c in r.results:
        score = "—" if c.score is None else f"{c.score:.1f}"
        note = preview(c.error or c.skipped or "", 60)
        style = "red" if c.error else "dim" if c.skipped else ""
        table.add_row(c.check, score, f"{r.weights[c.check]:g}", str(len(c.findings)),
                      Text(note, style=style))
    console.print(table)
    if r.fix_first:
        console.print(Text("What to fix first", style="bold"))
        for i, item in enumerate(r.fix_first[:top], 1):
            f = item.finding
            console.print(Text.assemble(f"{i:>2}. ", (f"+{item.gain:.2f} ", "green"),
                                        (f"[{f.check}] ", "cyan"), (f"{f.action.value}: ", "bold"),
                                        preview(f.message, 140),
                                        (" (blocking)", "red") if item.blocking else ""))
