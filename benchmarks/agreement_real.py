"""The agreement checker on real multi-annotator sets: LeWiDi 2023 and 2025 (../shared/data, never copied).

    python benchmarks/agreement_real.py

For each set (all splits together) it runs ``dqaudit.audit(..., checks=["agreement"])``
and prints items, annotators, Krippendorff's nominal alpha, Fleiss' kappa (when every
item has the same number of ratings), mean pairwise Cohen's kappa, raw agreement, the
wall time of the check and the most-split label pairs. Ordinal scales (ConvAbuse
severity, Paraphrase Likert) are treated as nominal, as the checker does; VariErrNLI's
multi-label answers count as one label each (e.g. ``contradiction+neutral``).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SETS = {
    "HS-Brexit": ("lewidi2023", "HS-Brexit"),
    "MD-Agreement": ("lewidi2023", "MD-Agreement"),
    "ConvAbuse": ("lewidi2023", "ConvAbuse"),
    "Paraphrase": ("lewidi2025", "Paraphrase"),
    "VariErrNLI": ("lewidi2025", "VariErrNLI"),
}


def load(folder: str, name: str) -> pd.DataFrame:
    """One row per item with inline ``annotations`` [{annotator, label}] as dqaudit reads them."""
    rows: list[dict[str, Any]] = []
    for split in ("train", "dev", "test"):
        items = json.loads((SHARED / folder / f"{name}_{split}.json").read_text(encoding="utf-8"))
        for key, item in items.items():
            raw = item["annotations"]
            if isinstance(raw, dict):  # LeWiDi 2025: {"Ann1": "label[,label]"}
                pairs = [(a, "+".join(sorted(str(v).split(",")))) for a, v in raw.items()]
            else:  # LeWiDi 2023: parallel comma-separated strings
                pairs = list(zip(item["annotators"].split(","), raw.split(","), strict=True))
            text = (
                item["text"]
                if isinstance(item["text"], str)
                else json.dumps(item["text"], ensure_ascii=False)
            )
            rows.append(
                {
                    "id": f"{split}-{key}",
                    "text": text,
                    "annotations": [{"annotator": a.strip(), "label": str(v).strip()} for a, v in pairs],
                }
            )
    return pd.DataFrame(rows)


def main() -> None:
    if not SHARED.is_dir():
        sys.exit(f"{SHARED} not found (the LeWiDi sets live in ../shared/data, outside users' clones)")
    from dqaudit.api import audit
    from dqaudit.config import AuditConfig

    config = AuditConfig().model_copy(
        update={"cache": AuditConfig().cache.model_copy(update={"enabled": False})}
    )
    print(
        "| set | items | annotators | ratings | alpha | Fleiss | mean Cohen | raw agreement | time s "
        "| most-split pairs (items) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, (folder, name) in SETS.items():
        frame = load(folder, name)
        start = time.perf_counter()
        result = audit(frame, config, checks=["agreement"]).check("agreement")
        took = time.perf_counter() - start
        if result.error or result.skipped:
            print(f"| {label} | {result.error or result.skipped} |")
            continue
        m = result.metrics
        pairs = "; ".join(
            f"{' vs '.join(f.details['labels'])} ({f.details['items']})"
            for f in result.findings
            if f.kind == "split_class_pair"
        )[:200]

        def fmt(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.3f}"

        print(
            f"| {label} | {m['items']} | {m['annotators']} | {m['ratings']} | "
            f"{fmt(m['krippendorff_alpha'])} | "
            f"{fmt(m['fleiss_kappa'])} | {fmt(m['mean_cohen_kappa'])} | {fmt(m['percent_agreement'])} | "
            f"{took:.1f} | {pairs} |",
            flush=True,
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory {peak:.0f} MiB")


if __name__ == "__main__":
    main()
