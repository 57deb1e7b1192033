"""``dqaudit split`` and ``dqaudit check-split``:
thin commands over :mod:`dqaudit.export` and :mod:`dqaudit.split`."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError
from ..io import atomic_write
from .options import SEED, FiniteRange, engine_options, handle_errors, safe_lines, split_list, with_budget


def _ratios(_: Any, __: Any, value: str | None) -> tuple[float, float, float] | None:
    if value is None:
        return None
    try:
        parts = tuple(float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter("expected three numbers such as 0.8,0.1,0.1") from None
    if len(parts) != 3:
        raise click.BadParameter("expected three numbers: train,val,test")
    return parts  # type: ignore[return-value]


@click.command("split")
@click.argument("data")  # a str, not a Path: with --engine spark also a glob or an s3a://, hdfs://... URI
@click.option("--out", required=True, help="Folder for the splits (replaced atomically; must not hold DATA). "
              "With --engine spark also an hdfs://, s3a://... URI.")
@click.option("--ratios", callback=_ratios,
              help="train,val,test shares (default: export.ratios, 0.8,0.1,0.1).")
@click.option("--max-seconds", type=FiniteRange(0, min_open=True), help="Time budget per check (see audit).")
@click.option("--seed", type=SEED, help="Override the config seed (0 <= seed < 2**32).")
@click.option("--by-time", "by_time", metavar="FIELD", help="Split by date: oldest rows train, newest test.")
@click.option("--chat", is_flag=True, help="Also write <split>.chat.jsonl in OpenAI chat fine-tuning format.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="dqaudit.yaml to use.")
@click.option("--checks", callback=split_list, help="Comma-separated checks to run (default: all enabled).")
@click.option("--no-cache", is_flag=True, help="Do not read or write the derived-data cache.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No summary, no progress bars.")
@engine_options
@handle_errors
def split(data: str, out: str, ratios: tuple[float, float, float] | None, max_seconds: float | None,
          seed: int | None, by_time: str | None, chat: bool, config_path: Path | None,
          checks: list[str] | None, no_cache: bool, as_json: bool, quiet: bool, engine: str | None,
          spark_master: str | None) -> None:
    """Audit DATA, clean it by the findings and write leakage-safe train/val/test splits to OUT.

    DATA is a file; with --engine spark also a folder, a glob or any path Spark reads.
    """
    from rich.console import Console

    from ..api import split as run_split
    from ..engines import with_engine
    from ..registry import load_config, parse_config
    from ..terminal import RichProgress

    config = load_config(config_path)
    raw = config.model_dump(mode="json")
    if ratios is not None:
        raw["export"]["ratios"] = list(ratios)
    if chat:
        raw["export"]["chat"] = True
    if seed is not None:
        raw["seed"] = seed
    if no_cache:
        raw["cache"]["enabled"] = False
    config = with_budget(with_engine(parse_config(raw), engine, spark_master), max_seconds)
    err = Console(stderr=True, quiet=quiet)
    with RichProgress(err) as progress:
        manifest = run_split(data, out, config, by_time=by_time, checks=checks, progress=progress)
    if as_json:
        click.echo(json.dumps(manifest, ensure_ascii=False, indent=2))
    elif not quiet:
        click.echo(safe_lines(_summary(manifest, out)))


def _summary(manifest: dict[str, Any], out: str) -> str:
    rows, ratios, leak = manifest["rows"], manifest["ratios"], manifest["leakage"]
    lines = [f"{out.rstrip('/')}/  ({manifest['strategy']}, seed {manifest['seed']}, "
             f"{manifest['groups']['count']} groups)"]
    for name in ("train", "val", "test"):
        lines.append(f"  {name + '.jsonl':<17}{rows[name]:>8} rows  share {ratios['achieved'][name]:.3f} "
                     f"(asked {ratios['asked'][name]:.3f})")
    lines.append(f"  {'quarantine.jsonl':<17}{rows['quarantine']:>8} rows")
    for reason, count in manifest["quarantine_reasons"].items():
        lines.append(f"    {reason:<40}{count:>7}")
    crossing = sum(leak["exact_pairs"].values()) + sum(leak["near_pairs"].values())
    lines.append(f"  leakage check: {crossing} duplicate pairs across splits "
                 f"(threshold {leak['threshold']}); test rows contaminated: "
                 f"{leak['contaminated_share']['test']:.2%}")
    for rare in manifest["rare_classes"]:
        lines.append(f"  rare class '{rare['label']}' ({rare['groups']} groups) is missing from "
                     f"{', '.join(rare['missing_from'])}")
    return "\n".join(lines)


@click.command("check-split")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--max-contamination", type=FiniteRange(0, 1), default=0.0, show_default=True,
              help="Exit 1 when the share of test rows (the last file) "
              "with a duplicate elsewhere exceeds this.")
@click.option("--threshold", type=FiniteRange(0, 1, min_open=True), help="Near-duplicate Jaccard "
              "threshold (default: the near_duplicates check's).")
@click.option("--examples", type=click.IntRange(0), default=5, show_default=True,
              help="Example pairs to show.")
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="dqaudit.yaml (field mapping).")
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable result, with every contaminated pair.")
@click.option("--out", type=click.Path(path_type=Path),
              help="Write every contaminated pair to this JSONL file "
              "(kind, similarity, a and b with part and id).")
@handle_errors
def check_split(files: tuple[Path, ...], max_contamination: float, threshold: float | None, examples: int,
                config_path: Path | None, as_json: bool, out: Path | None) -> None:
    """Exact and near-duplicate contamination between split FILES
    (train val test; the last is the test set)."""
    from ..registry import load_config
    from ..split import check_split as run

    if len(files) < 2:
        raise ConfigError("check-split needs at least two files (e.g. train.jsonl test.jsonl)")
    if out is not None and any(out.resolve() == f.resolve() for f in files):
        raise ConfigError(f"--out {out}: is one of the split files; choose another path")
    from ..masking import mask_deep, masker_for, report_masker

    config = load_config(config_path)
    report = run(files, config, threshold=threshold, max_examples=examples,
                 list_pairs=as_json or out is not None)
    mask = report_masker(config) or masker_for()
    report = replace(report, examples=mask_deep(report.examples, mask),
                     pairs=None if report.pairs is None else mask_deep(report.pairs, mask))
    if out is not None:
        atomic_write(out, "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in report.pairs or ()))
    test = report.parts[-1]
    share = report.share(test)
    verdict = "CONTAMINATED" if share > max_contamination else "CLEAN"
    if as_json:
        click.echo(json.dumps({**report.to_dict(), "test": test, "verdict": verdict,
                               "max_contamination": max_contamination}, ensure_ascii=False, indent=2))
    else:
        lines = [f"{pair}: {report.exact_pairs[pair]} exact, {report.near_pairs[pair]} near-duplicate pairs"
                 for pair in report.exact_pairs]
        lines += [f"  {ex['kind']} ({ex['similarity']:.2f}): {ex['a']['part']}:{ex['a']['id']} "
                  f"“{ex['a']['text']}” ~ {ex['b']['part']}:{ex['b']['id']} “{ex['b']['text']}”"
                  for ex in report.examples]
        lines.append(f"{test}: {report.contaminated[test]} of {report.rows[test]} rows ({share:.2%}) have a "
                     f"duplicate in another file (limit {max_contamination:.2%})")
        if out is not None:
            lines.append(f"pairs: {len(report.pairs or ())} written to {out}")
        lines.append(f"verdict: {verdict}")
        click.echo(safe_lines("\n".join(lines)))
    sys.exit(1 if verdict == "CONTAMINATED" else 0)
