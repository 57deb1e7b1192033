"""``dqaudit history`` and ``dqaudit diff``, and what ``dqaudit audit --history`` does after a run.

Exit codes: ``diff`` exits 1 when the later run regressed (like ``audit --fail-on-regression``),
0 otherwise, and 2 for a missing, locked or newer database or a bad argument.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..config import RegressionConfig
from ..findings import json_text
from ..history import HistoryStore, Run, dataset_key, snapshot
from ..masking import masker_for
from ..regressions import Diff, compare, html_section
from ..text import preview
from .options import CliError, handle_errors

if TYPE_CHECKING:
    from ..data import Dataset
    from ..pipeline import AuditResult

#: Runs drawn in report.html's trend charts.
TREND_RUNS = 30


@dataclass(frozen=True)
class Tracked:
    """A run just recorded in the history, the runs before it, and its diff with the previous one."""

    run_id: int
    runs: list[Run]
    diff: Diff | None

    @property
    def regressed(self) -> bool:
        return self.diff is not None and bool(self.diff.regressions)

    def annotate(self, result: AuditResult) -> AuditResult:
        """Put the diff into report.json's ``run`` block and the trend and diff into report.html."""
        extras: dict[str, Any] = {
            "history": {"run_id": self.run_id, "runs": [r.summary() for r in self.runs]},
            "regression": self.diff.to_dict() if self.diff else None,
        }
        return replace(result, run_extras={**result.run_extras, **extras},
                       html_sections=(*result.html_sections, html_section(self.runs, self.diff)))


def open_history(path: Path) -> None:
    """Create or upgrade the database before a long audit, so a bad path fails in the first second."""
    HistoryStore(path, create=True).close()


def track_run(path: Path, result: AuditResult, dataset: Dataset, config: RegressionConfig) -> Tracked:
    """Record ``result`` and compare it with the previous run of the same name."""
    with HistoryStore(path, create=True) as store:
        run_id = store.record(snapshot(result, dataset))
        current = store.run(run_id)
        previous = store.previous(run_id)
        runs = store.runs(name=current.name, limit=TREND_RUNS)
    return Tracked(run_id, runs, None if previous is None else compare(previous, current, config))


@click.command("history")
@click.argument("database", type=click.Path(path_type=Path))
@click.option("--name", help="Only runs of this dataset name "
              "(audit --name, dataset.name, else the file's stem).")
@click.option("--dataset", type=click.Path(path_type=Path), help="Only runs of this dataset file.")
@click.option("--limit", "-n", type=click.IntRange(1), default=20, show_default=True,
              help="Most recent runs shown.")
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON.")
@handle_errors
def history(database: Path, name: str | None, dataset: Path | None, limit: int, as_json: bool) -> None:
    """Show the trend recorded in DATABASE: date, rows, readiness and each check's score per run."""
    from rich.console import Console
    from rich.table import Table

    with HistoryStore(database) as store:
        runs = store.runs(dataset_key(str(dataset), "file") if dataset else None, limit=limit, name=name)
    if as_json:
        click.echo(json_text([r.summary() for r in runs]))
        return
    if not runs:
        wanted = " and ".join(str(w) for w in (name, dataset) if w)
        raise CliError(f"{database}: no runs recorded" + (f" for {masker_for()(wanted)}" if wanted else ""))
    checks = list(dict.fromkeys(n for r in runs for n in r.checks))
    several = len({r.name for r in runs}) > 1
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    for column in ("run", "started (UTC)", *(["dataset"] if several else []), "rows", "readiness", "verdict"):
        table.add_column(column, justify="right" if column in ("run", "rows", "readiness") else "left")
    for name in checks:
        table.add_column(name, justify="right")
    for r in runs:
        scores = [_score(r.checks[n].score if n in r.checks else None) for n in checks]
        where = [preview(r.name, 40)] if several else []
        table.add_row(str(r.id), r.started_at.replace("T", " ").rstrip("Z"), *where, str(r.rows),
                      f"{r.readiness:.1f}", r.verdict, *scores)
    console = Console()
    wanted = console.measure(table, options=console.options.update_width(1000)).maximum
    console.width = max(console.width, wanted)  # a log line may be long; a wrapped table cannot be read
    if not several:
        console.print(f"[dim]{preview(runs[-1].name, 100)} · {preview(runs[-1].dataset, 120)}[/dim]",
                      highlight=False)
    console.print(table)


@click.command("diff")
@click.argument("database", type=click.Path(path_type=Path))
@click.argument("runs", nargs=-1, type=int)
@click.option("--last", type=click.IntRange(2), help="Compare the oldest of the last N runs with the newest "
              "(default when no RUNS are given: 2, the latest run and the one before).")
@click.option("--name", help="Runs of this dataset name (default: the name of the latest run).")
@click.option("--dataset", type=click.Path(path_type=Path), help="Runs of this dataset file.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="dqaudit.yaml with the "
              "regression: thresholds (default: ./dqaudit.yaml when present).")
@click.option("--json", "as_json", is_flag=True, help="Print the diff as JSON.")
@handle_errors
def diff(database: Path, runs: tuple[int, ...], last: int | None, name: str | None, dataset: Path | None,
         config_path: Path | None, as_json: bool) -> None:
    """What changed between two runs in DATABASE:
    the last two of a dataset name, or RUNS (BEFORE AFTER) by id.

    Exits 1 when the later run regressed beyond the thresholds of the regression: config section.
    """
    from ..registry import load_config

    if runs and (last or dataset or name):
        raise CliError("give either two run ids or --last/--name/--dataset, not both")
    if runs and len(runs) != 2:
        raise CliError("give two run ids: BEFORE AFTER")
    config = load_config(config_path).regression
    with HistoryStore(database) as store:
        if runs:
            before, after = store.run(runs[0]), store.run(runs[1])
        else:
            key = dataset_key(str(dataset), "file") if dataset else None
            if not key and not name:
                name = _latest_name(store, database)
            recent = store.runs(key, limit=last or 2, name=name)
            if len(recent) < 2:
                raise CliError(f"{database}: {len(recent)} run(s) recorded for dataset '{name or dataset}'; "
                               "a diff needs two")
            before, after = store.run(recent[0].id or 0), store.run(recent[-1].id or 0)
    result = compare(before, after, config)
    if as_json:
        click.echo(json_text(result.to_dict()))
    else:
        _print_diff(result)
    sys.exit(1 if result.regressions else 0)


def _latest_name(store: HistoryStore, database: Path) -> str:
    latest = store.runs(limit=1)
    if not latest:
        raise CliError(f"{database}: no runs recorded")
    return latest[0].name


def _print_diff(d: Diff) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    b, a = d.before, d.after
    console.print(Text(f"{a.name}: run {b.id} ({b.started_at}, {b.rows} rows) -> "
                       f"run {a.id} ({a.started_at}, {a.rows} rows)", style="bold"))
    console.print(Text(f"readiness {b.readiness:.1f} -> {a.readiness:.1f} "
                       f"({a.readiness - b.readiness:+.1f}), verdict {b.verdict} -> {a.verdict}"))
    if b.config_hash != a.config_hash:
        console.print(Text("note: the configuration changed between the two runs", style="yellow"))
    if b.name != a.name:
        console.print(Text(f"note: different datasets ({b.name} vs {a.name})", style="yellow"))
    for o in d.outcomes:
        mark, style = ("REGRESSION", "bold red") if o.regressed else ("ok", "green")
        console.print(Text.assemble((f"{mark:>10} ", style), f"{o.check + ': ' if o.check else ''}",
                                    preview(o.describe(), 400)))
    checks = Table(show_edge=False, pad_edge=False, header_style="bold", title="check scores",
                   title_justify="left")
    for column in ("check", "before", "after", "change"):
        checks.add_column(column, justify="left" if column == "check" else "right")
    for name, scores in d.to_dict()["checks"].items():
        old, new = scores["before"], scores["after"]
        change = "" if old is None or new is None else f"{new - old:+.1f}"
        checks.add_row(name, _score(old), _score(new), change)
    console.print(checks)
    kinds = Table(show_edge=False, pad_edge=False, header_style="bold", title="findings",
                  title_justify="left")
    for column in ("check", "kind", "before", "after", "new", "resolved"):
        kinds.add_column(column, justify="left" if column in ("check", "kind") else "right")
    for k in d.kinds:
        if k.new or k.resolved or k.before != k.after:
            kinds.add_row(k.check, k.kind, str(k.before), str(k.after), str(k.new), str(k.resolved))
    if kinds.row_count:
        console.print(kinds)


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"
