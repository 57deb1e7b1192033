"""Draw 240 more uniform banking77 train rows for blind judging, and summarise the judged rates.

    python benchmarks/judged/draw_banking77_random.py --blind /tmp/judge/blind.jsonl   # once, before judging
    python benchmarks/judged/draw_banking77_random.py --summary                      # after judging

The 60 uniform rows of ``banking77_train_judged.jsonl`` (stratum ``random``) are too few to
bound the rate of wrong labels. This draws 240 more rows uniformly from the 10,003 data rows
of ``train.csv`` (``row`` = 0-based position as ``pandas.read_csv`` gives), leaving out every
row already judged, and writes only row, text and given label: no tool ran on them before
they were judged. ``--summary`` counts the judgements of ``banking77_train_random_judged.jsonl``
alone and pooled with the earlier uniform stratum (300 uniform rows), with 95 % Wilson intervals.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[2] / "shared" / "data" / "banking77" / "train.csv"
EARLIER = HERE / "banking77_train_judged.jsonl"
JUDGED = HERE / "banking77_train_random_judged.jsonl"
SIZE = 240
SEED = 2077


def read_jsonl(path: Path) -> list[dict]:
    """One dict per non-blank line of a JSON Lines file."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def draw(data: Path, size: int, seed: int) -> list[dict]:
    """``size`` rows drawn uniformly without replacement from the rows not judged before, in draw order."""
    base = pd.read_csv(data)
    taken = {record["row"] for record in read_jsonl(EARLIER)}
    pool = np.array([r for r in range(len(base)) if r not in taken])
    rows = np.random.default_rng(seed).choice(pool, size, replace=False).tolist()
    return [{"row": int(r), "text": base["text"][r], "label": base["category"][r]} for r in rows]


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95 % Wilson score interval for k successes in n trials (sound near 0, unlike the normal one)."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))


def rates(records: list[dict]) -> dict:
    """Counts, and the wrong and wrong-or-ambiguous shares with their Wilson intervals."""
    counts = Counter(record["judgement"] for record in records)
    n = len(records)
    out: dict = {"n": n, "counts": {k: counts.get(k, 0) for k in ("wrong", "ambiguous", "right")}}
    wrong, ambiguous = counts["wrong"], counts["ambiguous"]
    for name, k in (("wrong", wrong), ("wrong_or_ambiguous", wrong + ambiguous)):
        low, high = wilson(k, n)
        out[f"{name}_rate"] = {"rate": round(k / n, 4), "wilson95": [round(low, 4), round(high, 4)]}
    return out


def summary() -> dict:
    """The new sample alone, and pooled with the uniform stratum of the earlier judged file."""
    new = read_jsonl(JUDGED)
    earlier = [record for record in read_jsonl(EARLIER) if record["stratum"] == "random"]
    return {"new_240": rates(new), "earlier_random_60": rates(earlier), "pooled_300": rates(new + earlier)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blind", type=Path, help="write the rows to judge (row, text, label) here")
    parser.add_argument("--summary", action="store_true", help="print counts and rates of the judged file")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    if args.blind:
        args.blind.parent.mkdir(parents=True, exist_ok=True)
        with args.blind.open("w") as out:
            for record in draw(args.data, SIZE, SEED):
                out.write(json.dumps(record) + "\n")
    if args.summary:
        print(json.dumps(summary()))


if __name__ == "__main__":
    main()
