"""The ``dqaudit`` command: a thin layer over the library.

Each command parses its flags, makes one library call and turns a
:class:`~dqaudit.errors.DqauditError` into ``Error: <message>`` with exit code 2.
Exit codes: 0 success, 1 verdict below ``--fail-under`` or a blocking gate, 2 usage or input error.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import click

from . import __version__
from .commands.options import (
    SEED,
    CliError,
    FiniteRange,
    dataset_name,
    engine_options,
    handle_errors,
    safe_lines,
    safe_message,
    split_list,
    with_budget,
)


class _OneLineErrors(click.Group):
    """Usage errors as one ``Error:`` line too (click prints the usage and a hint above it)."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            return super().main(*args, standalone_mode=False, **kwargs)
        except click.UsageError as exc:
            click.echo(f"Error: {safe_message(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)


@click.group(cls=_OneLineErrors,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="dqaudit")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Is this text dataset ready to fine-tune on? Audit it, score it, export clean splits."""
    from .memory import full_collections_deferred

    warnings.formatwarning = _one_line_warning
    ctx.with_resource(full_collections_deferred())  # the whole command: reports and history too


def _one_line_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> str:
    """Warnings on stderr as one line each, without the source line Python shows by default."""
    return f"Warning: {safe_message(str(message))}\n"


@cli.command()
@click.argument("data", type=click.Path())
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="dqaudit.yaml to use "
              "(default: ./dqaudit.yaml when present).")
@click.option("--out", type=click.Path(path_type=Path),
              help="Base folder for reports (default: output.dir, 'reports').")
@click.option("--fail-under", type=FiniteRange(0, 100), help="Exit 1 when readiness is below this.")
@click.option("--checks", callback=split_list, help="Comma-separated checks to run (default: all enabled).")
@click.option("--json", "as_json", is_flag=True, help="Print only report.json on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No summary, no progress bars.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the derived-data cache.")
@click.option("--max-seconds", type=FiniteRange(0, min_open=True), help="Time budget per check: a check "
              "still running after this many seconds is reported as an error and the audit goes on.")
@click.option("--seed", type=SEED, help="Override the config seed (0 <= seed < 2**32).")
@click.option("--policies", "policies_path", type=click.Path(path_type=Path),
              help="policies.yaml for the stale_policy check (overrides checks.stale_policy.policies).")
@click.option("--annotations", "annotations_path", type=click.Path(path_type=Path),
              help="Long-format annotations (item_id, annotator, label; CSV or JSONL) "
              "for the agreement check.")
@click.option("--history", "history_path", type=click.Path(path_type=Path),
              help="Record the run in this SQLite history (created if missing; its folder must exist).")
@click.option("--fail-on-regression", is_flag=True, help="Exit 1 when the run regressed since the previous "
              "recorded run of this dataset name (needs --history; thresholds: regression: in dqaudit.yaml).")
@click.option("--name", callback=dataset_name,
              help="The dataset's name in the history and report folders; runs "
              "of one name are compared (default: dataset.name, else DATA's stem: dated files need --name).")
@click.option("--keep", type=click.IntRange(1), help="Keep the newest N report folders of this dataset and "
              "remove older ones dqaudit wrote (default: output.keep, else keep all).")
@engine_options
@handle_errors
def audit(data: str, config_path: Path | None, out: Path | None, fail_under: float | None,
          checks: list[str] | None, as_json: bool, quiet: bool, no_cache: bool, seed: int | None,
          policies_path: Path | None, annotations_path: Path | None, history_path: Path | None,
          fail_on_regression: bool, name: str | None, keep: int | None, max_seconds: float | None,
          engine: str | None, spark_master: str | None) -> None:
    """Audit DATA (JSONL, CSV or Parquet) and write reports/<name>-<UTC timestamp>/.

    Whenever the exit code is 1 (a regression with --fail-on-regression, a blocking gate, readiness
    under --fail-under) a short alert saying why goes to stderr, also with --quiet.
    """
    from rich.console import Console
    from rich.text import Text

    from .alerts import alert_text, below_threshold
    from .api import audit as run_audit
    from .commands.history import open_history, track_run
    from .config import DatasetConfig
    from .engines import with_engine
    from .registry import load_config
    from .reports import prune_reports, report_dir, write_reports
    from .terminal import RichProgress, print_summary

    config = load_config(config_path)
    updates: dict[str, Any] = {}
    if seed is not None:
        updates["seed"] = seed
    if name is not None:
        updates["dataset"] = DatasetConfig(name=name)
    if keep is not None:
        updates["output"] = config.output.model_copy(update={"keep": keep})
    if no_cache:
        updates["cache"] = config.cache.model_copy(update={"enabled": False})
    config = with_engine(config.model_copy(update=updates), engine, spark_master)
    if policies_path is not None:
        config = config.with_check("stale_policy", policies=str(policies_path))
    if annotations_path is not None:
        config = config.with_check("agreement", annotations_file=str(annotations_path))
    config = with_budget(config, max_seconds)
    threshold = fail_under if fail_under is not None else config.score.fail_under
    if fail_on_regression and history_path is None:
        raise CliError("--fail-on-regression needs --history PATH")
    if history_path is not None:
        open_history(history_path)
    err = Console(stderr=True, quiet=quiet)
    with RichProgress(err) as progress:
        result = run_audit(data, config, checks=checks, progress=progress)
    dataset = result.context.dataset
    base = out or config.output.dir
    directory = report_dir(base, result.name)
    tracked = track_run(history_path, result, dataset, config.regression) if history_path else None
    if tracked is not None:
        result = tracked.annotate(result)
    written = write_reports(result, directory, config.output.formats)
    removed = prune_reports(base, result.name, config.output.keep) if config.output.keep else []
    if as_json:
        from .findings import json_text
        from .masking import mask_result
        from .reports.json_report import report_dict

        click.echo(json_text(report_dict(mask_result(result))))
    if not quiet:
        summary = err if as_json else Console()
        print_summary(result, summary, fail_under=threshold)
        files = ", ".join(p.name for p in written.values())
        pruned = f"; removed {len(removed)} older report folder(s)" if removed else ""
        summary.print(Text(f"reports: {safe_message(str(directory))}/ ({safe_message(files)}){pruned}",
                           style="dim"))
    if tracked is not None:
        err.print(Text(f"history: run {tracked.run_id} in {safe_message(str(history_path))}", style="dim"))
    alert = alert_text(result, threshold=threshold, diff=tracked.diff if tracked else None,
                       report=f"{directory}/")
    if alert is not None:
        click.echo(safe_lines(alert), err=True)
    failed = bool(result.gates) or below_threshold(result, threshold)
    failed = failed or (fail_on_regression and tracked is not None and tracked.regressed)
    sys.exit(1 if failed else 0)


@cli.command()
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--output", "-o", type=click.Path(path_type=Path), default=Path("dqaudit.yaml"),
              show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "parquet"]), help="Pin input.format "
              "(default: auto, by file extension, so the config also reads files of another format).")
@handle_errors
def init(data: Path, output: Path, force: bool, fmt: str | None) -> None:
    """Write a commented dqaudit.yaml for DATA, guessing field names from its records."""
    from .scaffold import write_starter_config

    written = write_starter_config(data, output, force=force, fmt=fmt)
    for path in written:
        click.echo(f"wrote {path}")


@cli.command("checks")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable listing.")
@handle_errors
def list_checks(as_json: bool) -> None:
    """List the checkers: what each finds, its weight and its config keys."""
    from rich.console import Console
    from rich.table import Table

    from .registry import available_checkers

    rows = []
    for name, cls in available_checkers().items():
        keys = {k: {"default": _default(f), "description": f.description or ""}
                for k, f in cls.Params.model_fields.items()}
        rows.append({"name": name, "description": cls.description, "default_weight": cls.default_weight,
                     "enabled_by_default": cls.default_enabled, "config": keys})
    if as_json:
        from .findings import json_text

        click.echo(json_text(rows, default=str))
        return
    table = Table(show_lines=True, header_style="bold")
    for column in ("check", "what it finds", "weight", "config keys (checks.<check>.*)"):
        table.add_column(column)
    for row in rows:
        keys = "\n".join(f"{k} = {v['default']!r}" for k, v in row["config"].items())
        name = row["name"] + ("" if row["enabled_by_default"] else "\n(off by default)")
        table.add_row(name, row["description"], f"{row['default_weight']:g}", keys)
    Console().print(table)


def _default(field: Any) -> Any:
    return None if field.is_required() else field.get_default(call_default_factory=True)


def main() -> None:
    """Console-script entry point."""
    try:
        cli(prog_name="dqaudit")
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)


from .commands.split import check_split, split  # noqa: E402

cli.add_command(split)
cli.add_command(check_split)

from .commands.history import diff, history  # noqa: E402

cli.add_command(history)
cli.add_command(diff)
