"""Partial copies: dqaudit's ``contained_copies`` beside plain datasketch ``MinHashLSHEnsemble``, in one run.

Clough–Stevenson (../shared/data/clough_stevenson_plagiarism): 95 short answers to five
questions, each written by copying (``cut``), lightly or heavily revising (``light``,
``heavy``) a Wikipedia source, or independently (``non``), plus the five sources. A
plagiarised answer is *found* when it lands in the same cluster as its source; a ``non``
answer is *falsely clustered* when it lands in any cluster. dqaudit runs the
``near_duplicates`` check with its defaults (Jaccard near-copies plus partial copies) and
with a sweep of ``containment`` thresholds; the peer is datasketch's LSH Ensemble over the
same word 3-gram shingles, indexed with each text's size and queried with every text at the
same containment threshold, its answers taken as edges (no verification, as in its docs).

banking77 (../shared/data/banking77, train): clusters the check forms with partial copies
on and off; each new cluster is listed (``--show``) for judging, see
``benchmarks/judged/banking77_contained_copies.csv``.

    python benchmarks/containment.py
    python benchmarks/containment.py --spark            # also: the defaults on the Spark engine, local[2]
    python benchmarks/containment.py --spark-scale 20000  # long generated texts: both engines, same pairs?
    python benchmarks/containment.py --scale 1000000   # also: what the search adds at 1M (in-process)

``--scale N``: on the near-duplicate benchmark's corpus of N short requests, the seconds of
the near-duplicate path (signatures, LSH, exact Jaccard, clusters) and of the partial-copy
search after it, measured back to back ``--repeat`` times in one process, so both see the
same machine load.
"""

from __future__ import annotations

import argparse
import csv
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from dqaudit.config import AuditConfig
from dqaudit.context import AuditContext
from dqaudit.data import dataset_from_frame
from dqaudit.dedup import minhash as mh
from dqaudit.dedup.containment import ContainmentParams
from dqaudit.features.near_dups import near_duplicate_groups
from dqaudit.parallel import default_workers

SHARED = Path(__file__).resolve().parents[2] / "shared/data"
CATEGORIES = ("cut", "light", "heavy", "non")


def clough(path: Path) -> pd.DataFrame:
    """The 100 texts (Windows-1252 files decoded as such), their task and category."""
    rows, seen = [], set()
    with (path / "data/file_information.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["File"] in seen:
                continue
            seen.add(row["File"])
            raw = (path / "data" / row["File"]).read_bytes()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("cp1252")
            rows.append({"id": row["File"], "text": text, "label": f"task{row['Task']}",
                         "category": row["Category"]})
    return pd.DataFrame(rows)


def dqaudit_groups(frame: pd.DataFrame, checks: dict) -> tuple[np.ndarray, float]:  # type: ignore[type-arg]
    """``near_duplicate_groups`` under ``checks.near_duplicates`` settings, and the seconds it took."""
    ctx = AuditContext(dataset_from_frame(frame[["id", "text", "label"]]),
                       AuditConfig(checks={"near_duplicates": checks}))
    began = time.perf_counter()
    groups = near_duplicate_groups(ctx)
    return np.asarray(groups), time.perf_counter() - began


def spark_groups(frame: pd.DataFrame) -> tuple[np.ndarray, float]:
    """``near_duplicate_groups`` with the defaults on the Spark engine (local[2]), from a JSONL copy."""
    import json
    import tempfile

    from dqaudit.api import open_context
    from dqaudit.registry import parse_config

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clough.jsonl"
        rows = frame[["id", "text", "label"]].to_dict("records")
        path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
        config = parse_config({"engine": {"name": "spark", "master": "local[2]"}})
        open_context(str(path), config)  # Spark and its workers started outside the timing
        began = time.perf_counter()
        groups = near_duplicate_groups(open_context(str(path), config))
        return np.asarray(groups), time.perf_counter() - began


def datasketch_groups(texts: list[str], threshold: float, num_perm: int = 128,
                      num_part: int = 16) -> tuple[np.ndarray, float]:
    """Plain ``MinHashLSHEnsemble`` on dqaudit's word 3-gram shingle hashes: edges query -> every answer."""
    from datasketch import MinHash, MinHashLSHEnsemble

    began = time.perf_counter()
    params = ContainmentParams().minhash(mh.MinHashParams(seed=1))
    sets = mh.shingle_sets(texts, params)
    hashes = []
    for shingles in sets:
        m = MinHash(num_perm=num_perm, seed=1, hashfunc=int)
        m.update_batch(shingles.tolist())
        hashes.append(m)
    index = MinHashLSHEnsemble(threshold=threshold, num_perm=num_perm, num_part=num_part)
    index.index([(i, hashes[i], len(s)) for i, s in enumerate(sets) if len(s)])
    edges = [(i, j) for i, s in enumerate(sets) if len(s) for j in index.query(hashes[i], len(s)) if j != i]
    groups = mh.clusters(len(texts), np.array(edges, np.int64).reshape(-1, 2))
    return groups, time.perf_counter() - began


def score(frame: pd.DataFrame, groups: np.ndarray) -> dict[str, int]:
    """Per category: answers in their source's cluster; and ``non`` answers in any cluster."""
    source = {row.label: i for i, row in enumerate(frame.itertuples()) if row.category == "orig"}
    sizes = np.bincount(groups)
    out = {c: int(sum(groups[i] == groups[source[row.label]] for i, row in enumerate(frame.itertuples())
                      if row.category == c)) for c in CATEGORIES}
    out["non_clustered"] = int(sum(sizes[groups[i]] > 1 for i, row in enumerate(frame.itertuples())
                                   if row.category == "non"))
    return out


def clough_table(path: Path, spark: bool) -> None:
    frame = clough(path)
    total = {c: int((frame["category"] == c).sum()) for c in CATEGORIES}
    print(f"## Clough–Stevenson: {len(frame)} texts; found = in the same cluster as its source\n")
    print("| implementation | settings | cut | light | heavy | non (with source) | non in any cluster "
          "| seconds |")
    print("|---|---|---|---|---|---|---|---|")
    dqaudit_groups(frame.iloc[:3], {})  # load the compiled kernels outside the timings
    runs: list[tuple[str, str, np.ndarray, float]] = []
    groups, took = dqaudit_groups(frame, {"containment": 0})
    runs.append(("dqaudit", "Jaccard only (`containment: 0`, before)", groups, took))
    for threshold in (0.4, 0.45, 0.5, 0.6, 0.7, 0.8):
        groups, took = dqaudit_groups(frame, {"containment": threshold})
        default = threshold == ContainmentParams().threshold
        label = f"**defaults** (`containment: {threshold}`)" if default else f"`containment: {threshold}`"
        runs.append(("dqaudit", label, groups, took))
    if spark:
        local = runs[[label.startswith("**defaults") for _, label, _, _ in runs].index(True)][2]
        groups, took = spark_groups(frame)
        same = "the same clusters as locally" if np.array_equal(groups, local) else "**other clusters**"
        runs.append(("dqaudit on Spark (local[2], whole open)", f"defaults: {same}", groups, took))
    for threshold in (0.5, 0.8):
        groups, took = datasketch_groups(frame["text"].tolist(), threshold)
        runs.append(("datasketch MinHashLSHEnsemble", f"threshold {threshold}, 16 partitions", groups, took))
    for name, settings, groups, took in runs:
        s = score(frame, groups)
        print(f"| {name} | {settings} | {s['cut']}/{total['cut']} | {s['light']}/{total['light']} | "
              f"{s['heavy']}/{total['heavy']} | {s['non']}/{total['non']} | "
              f"{s['non_clustered']}/{total['non']} | "
              f"{took:.2f} |")


def banking77_table(path: Path, show: int) -> None:
    with (path / "train.csv").open(encoding="utf-8", newline="") as handle:
        frame = pd.DataFrame([{"id": f"b{i}", "text": r["text"], "label": r["category"]}
                              for i, r in enumerate(csv.DictReader(handle))])
    off, _ = dqaudit_groups(frame, {"containment": 0})
    print(f"\n## banking77 train ({len(frame):,} requests): clusters that partial copies add or grow\n")
    print("| `containment_min_words` | texts that long | new edges between clusters | clusters merged | "
          "of which same intent |")
    print("|---|---|---|---|---|")
    words = mh.word_counts(frame["text"].tolist(), ContainmentParams().minhash(mh.MinHashParams()))
    for min_words in (50, 40, 30):
        on, _ = dqaudit_groups(frame, {"containment_min_words": min_words})
        merged = pd.DataFrame({"off": off, "on": on}).groupby("on")["off"].nunique()
        grown = merged[merged > 1]
        labels = frame.groupby(on)["label"].nunique()
        same = int((labels[grown.index] == 1).sum())
        print(f"| {min_words} | {int((words >= min_words).sum()):,} | {int((grown - 1).sum())} | "
              f"{len(grown)} | "
              f"{same} |")
        if show and min_words == 30:
            for g in grown.index[:show]:
                members = frame[on == g]
                texts = " || ".join(f"[{r.label}] {r.text}" for r in members.itertuples())
                print(f"<!-- cluster {g}: " + texts
                      + " -->")


def long_corpus(n: int, seed: int = 3) -> list[str]:
    """``n`` long texts (60-900 words from 20,000 words): three in four written fresh, the rest a part of an
    earlier text cut out (half of them with 5% of words replaced, a third pasted between fresh words)."""
    import random

    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(20_000)]
    texts: list[list[str]] = []
    for _ in range(n):
        if texts and rng.random() < 0.25:
            words = rng.choice(texts)
            start = rng.randrange(max(1, len(words) // 3))
            part = words[start:start + max(50, int(len(words) * rng.uniform(0.25, 0.7)))]
            if rng.random() < 0.5:
                part = [rng.choice(vocabulary) if rng.random() < 0.05 else w for w in part]
            if rng.random() < 0.33:
                part = rng.choices(vocabulary, k=rng.randint(20, 200)) + part + rng.choices(vocabulary, k=40)
            texts.append(part)
        else:
            texts.append(rng.choices(vocabulary, k=rng.randint(60, 900)))
    return [" ".join(words) for words in texts]


def spark_scale(size: int) -> None:
    """The defaults on ``size`` long texts, on the local engine and on Spark local[2] (16 shuffle partitions,
    as ``benchmarks/spark.py``): the same partial copies and clusters? Seconds of each engine's search."""
    import json
    import tempfile

    from dqaudit.api import open_context
    from dqaudit.features.near_dups import near_duplicates
    from dqaudit.registry import parse_config

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "long.jsonl"
        rows = [json.dumps({"id": f"l{i}", "text": t}) + "\n" for i, t in enumerate(long_corpus(size))]
        path.write_text("".join(rows), encoding="utf-8")
        warm = Path(folder) / "warm.jsonl"
        warm.write_text("".join(rows[:300]), encoding="utf-8")
        spent, found = {}, {}
        off = {"checks": {"near_duplicates": {"containment": 0}}}
        for settings in (off, {}):  # the compiled kernels loaded outside the timings
            near_duplicates(open_context(warm, parse_config({"cache": {"enabled": False}, **settings})))
        for name, settings in (("local, partial copies off", off), ("local", {})):
            began = time.perf_counter()  # no cache: both runs compute every signature
            found[name] = near_duplicates(open_context(path, parse_config({"cache": {"enabled": False},
                                                                           **settings})))
            spent[name] = time.perf_counter() - began
        engine = {"name": "spark", "master": "local[2]", "conf": {"spark.sql.shuffle.partitions": "16"}}
        config = parse_config({"engine": engine})
        open_context(str(path), config)  # Spark and its workers started outside the timing
        began = time.perf_counter()
        ctx = open_context(str(path), config)
        found["spark"], spent["spark"] = near_duplicates(ctx), time.perf_counter() - began
        seconds = ctx.options["engine"]["seconds"]
        stage = next(v for k, v in seconds.items() if k.startswith("partial copies"))
    local, remote = found["local"], found["spark"]
    same = (np.array_equal(local.contained_pairs, remote.contained_pairs)
            and np.array_equal(local.groups, remote.groups))
    print(f"\n## Partial copies on both engines: {size:,} long texts (60-900 words)\n")
    print("| engine | near-duplicate path | partial-copy search | partial copies | clusters |")
    print("|---|---|---|---|---|")
    print(f"| local | {spent['local']:.1f} s | {spent['local'] - spent['local, partial copies off']:.1f} s "
          f"(the difference with `containment: 0`) | {len(local.contained_pairs):,} | "
          f"{int((np.bincount(local.groups) > 1).sum()):,} |")
    print(f"| Spark local[2] | {spent['spark']:.1f} s (whole open) | {stage:.1f} s (its stage) | "
          f"{len(remote.contained_pairs):,} | {int((np.bincount(remote.groups) > 1).sum()):,} |")
    print(f"\nthe same pairs, containments and clusters on both engines: {same}")


def scale_cost(size: int, repeat: int) -> None:
    """Seconds of the near-duplicate path and of the partial-copy search on ``size`` short requests."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from near_dup import corpus

    from dqaudit.dedup.containment import partial_copies

    texts = corpus(size)
    params = mh.MinHashParams().resolve(texts)
    workers = default_workers()
    warm = texts[:2000]
    partial_copies(warm, ContainmentParams(), params, None, workers)  # kernels loaded outside the timings
    mh.near_duplicate_pairs(warm, mh.signatures(warm, params), params)
    print(f"\n## What the partial-copy search adds: {size:,} short requests "
          f"({params.shingle} {params.ngram}-grams)\n")
    print("| run | near-duplicate path (signatures, LSH, Jaccard, clusters) | partial copies | added |")
    print("|---|---|---|---|")
    for k in range(repeat):
        began = time.perf_counter()
        sigs = mh.signatures(texts, params, workers)
        edges, _, _ = mh.near_duplicate_pairs(texts, sigs, params)
        mh.clusters(len(texts), edges)
        middle = time.perf_counter()
        pairs, _, candidates = partial_copies(texts, ContainmentParams(), params, None, workers)
        end = time.perf_counter()
        print(f"| {k + 1} | {middle - began:.2f} s | {end - middle:.2f} s ({len(pairs):,} pairs, "
              f"{candidates:,} candidates) | {(end - middle) / (middle - began):.1%} |")
        sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--show", type=int, default=0,
                        help="print this many new banking77 clusters (min_words 30)")
    parser.add_argument("--scale", type=int, default=0,
                        help="also time the search on this many short requests")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--spark", action="store_true", help="also run the defaults on the Spark engine")
    parser.add_argument("--spark-scale", type=int, default=0,
                        help="also compare both engines on this many generated long texts")
    args = parser.parse_args()
    cs = args.data / "clough_stevenson_plagiarism"
    if cs.is_dir():
        clough_table(cs, args.spark)
    else:
        print(f"(Clough–Stevenson skipped: {cs} not found)")
    if (args.data / "banking77").is_dir():
        banking77_table(args.data / "banking77", args.show)
    else:
        print(f"(banking77 skipped: {args.data / 'banking77'} not found)")
    if args.spark_scale:
        spark_scale(args.spark_scale)
    if args.scale:
        scale_cost(args.scale, args.repeat)
    print(f"\npeak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")


if __name__ == "__main__":
    main()
