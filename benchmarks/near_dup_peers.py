"""Near-duplicate peers side by side: dqaudit, rensa, datatrove, text-dedup on one corpus and one shingle set.

Used by ``python benchmarks/near_dup.py --peers``. Every implementation runs in its own
process (``python benchmarks/near_dup_peers.py NAME INPUT OUTPUT``), so its wall time and
peak RSS are its own; it writes one cluster id per row (``.npy``) and prints a JSON line.

Same shingles: dqaudit shingles the raw texts itself (character 4-grams of the normalised
text, what ``shingle: auto`` picks for this corpus). The peers read a second JSONL in which
each text is replaced by that same shingle set, one hex token per shingle hash, and use each
token as one shingle (rensa: tokens; datatrove: ``get_shingles`` parses them; text-dedup:
``--ngram 1`` over them). So all four compare identical sets; the peers are spared the
shingling, which dqaudit's time includes. Each peer keeps its own MinHash and LSH (none of
them verifies candidates against exact Jaccard): rensa ``RMinHash`` + ``RMinHashLSH`` with
16 bands x 8 rows (it needs bands to divide 128; threshold about 0.71), candidates kept when
their estimated Jaccard reaches 0.7; datatrove's four-stage pipeline with 16 buckets x 8
hashes (every candidate is a duplicate); text-dedup's CLI with ``--threshold 0.7`` (its
optimal bands; every candidate is a duplicate). A peer that is not installed is skipped
with one line.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

THRESHOLD = 0.7
NUM_PERM = 128
PEERS = ("dqaudit", "rensa", "datatrove", "text-dedup")
#: The module each peer needs (not dqaudit dependencies: ``pip install rensa datatrove text-dedup``).
MODULES = {"dqaudit": "dqaudit", "rensa": "rensa", "datatrove": "datatrove", "text-dedup": "text_dedup"}


def write_shingle_tokens(texts: list[str], path: Path, shards: int = 2) -> list[Path]:
    """dqaudit's character 4-gram shingle hashes of each text as hex tokens, JSONL in ``shards`` files."""
    from dqaudit.dedup import minhash as mh
    from dqaudit.parallel import default_workers

    params = mh.MinHashParams("char", 4)
    flat, bounds = mh.shingle_table(texts, params, default_workers())
    paths = [path.with_name(f"{path.stem}_{k}.jsonl") for k in range(shards)]
    cuts = np.linspace(0, len(texts), shards + 1).astype(int)
    for k, out in enumerate(paths):
        with out.open("w", encoding="utf-8") as handle:
            for i in range(cuts[k], cuts[k + 1]):
                tokens = " ".join(f"{h:08x}" for h in flat[bounds[i]:bounds[i + 1]].tolist())
                handle.write(json.dumps({"id": str(i), "text": tokens}) + "\n")
    return paths


def _token_rows(paths: list[Path]) -> list[list[str]]:
    rows = []
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            rows.extend(json.loads(line)["text"].split() for line in handle)
    return rows


def run_dqaudit(corpus: Path, tokens: list[Path], work: Path) -> np.ndarray:
    """The checker's path on the raw texts: signatures, LSH, exact Jaccard, clusters."""
    from dqaudit.dedup import minhash as mh
    from dqaudit.parallel import default_workers

    with corpus.open(encoding="utf-8") as handle:
        texts = [json.loads(line)["text"] for line in handle]
    params = mh.MinHashParams().resolve(texts)
    sigs = mh.signatures(texts, params, default_workers())
    edges, _, _ = mh.near_duplicate_pairs(texts, sigs, params)
    return mh.clusters(len(texts), edges)


def run_rensa(corpus: Path, tokens: list[Path], work: Path) -> np.ndarray:
    """``RMinHash`` per text, ``RMinHashLSH`` insert then query; candidates whose estimated Jaccard
    (``RMinHash.jaccard``) reaches the threshold are edges, as rensa's examples filter them."""
    from rensa import RMinHash, RMinHashLSH

    from dqaudit.dedup import minhash as mh

    rows = _token_rows(tokens)
    hashes = RMinHash.from_token_sets(rows, NUM_PERM, 1)
    lsh = RMinHashLSH(THRESHOLD, NUM_PERM, 16)
    live = [i for i, row in enumerate(rows) if row]
    for i in live:
        lsh.insert(i, hashes[i])
    edges = [(i, j) for i in live for j in lsh.query(hashes[i])
             if j > i and hashes[i].jaccard(hashes[j]) >= THRESHOLD]
    return mh.clusters(len(rows), np.array(edges, np.int64).reshape(-1, 2))


def run_datatrove(corpus: Path, tokens: list[Path], work: Path) -> np.ndarray:
    """datatrove's four stages (signatures, buckets, clusters, filter) on the token files."""
    from datatrove.executor.local import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from near_dup_peers_datatrove import TokenSignature  # importable by the worker processes

    config = MinhashConfig(n_grams=1, num_buckets=16, hashes_per_bucket=8)
    folder = str(tokens[0].parent)
    pattern = f"{tokens[0].stem.rsplit('_', 1)[0]}_*.jsonl"
    common = {"workers": 2, "start_method": "fork"}
    stages = [
        ([JsonlReader(folder, glob_pattern=pattern), TokenSignature(str(work / "sigs"), config=config)],
         len(tokens)),
        ([MinhashDedupBuckets(str(work / "sigs"), str(work / "buckets"), config=config)], config.num_buckets),
        ([MinhashDedupCluster(str(work / "buckets"), str(work / "remove"), config=config,
                              save_cluster_id=True)], 1),
        ([JsonlReader(folder, glob_pattern=pattern), MinhashDedupFilter(str(work / "remove")),
          JsonlWriter(str(work / "kept"))], len(tokens)),
    ]
    for k, (pipeline, tasks) in enumerate(stages):
        LocalPipelineExecutor(pipeline, tasks=tasks, logging_dir=str(work / f"logs{k}"), **common).run()
    sizes = [sum(1 for _ in path.open(encoding="utf-8")) for path in tokens]
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    groups = np.arange(offsets[-1], dtype=np.int64)
    for k in range(len(tokens)):
        path = work / "remove" / f"{k:06d}.clusters"
        if path.exists():
            pairs = np.fromfile(path, dtype="<u4").reshape(-1, 2).astype(np.int64)
            groups[offsets[k] + pairs[:, 0]] = offsets[-1] + pairs[:, 1]
    return np.unique(groups, return_inverse=True)[1]


def run_text_dedup(corpus: Path, tokens: list[Path], work: Path) -> np.ndarray:
    """text-dedup's MinHash CLI (``python -m text_dedup.minhash``) over the tokens, ``--ngram 1``."""
    import pickle

    merged = work / "tokens.jsonl"
    with merged.open("w", encoding="utf-8") as out:
        for path in tokens:
            out.write(path.read_text(encoding="utf-8"))
    done = subprocess.run(
        [sys.executable, "-m", "text_dedup.minhash", "--path", "json", "--data_files", str(merged),
         "--split", "train", "--cache_dir", str(work / "hf_cache"), "--output", str(work / "out"),
         "--column", "text", "--ngram", "1", "--min_length", "0", "--num_perm", str(NUM_PERM),
         "--threshold", str(THRESHOLD), "--num_proc", "2", "--debug"],
        capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError((done.stderr.strip().splitlines() or ["text-dedup failed"])[-1])
    with (work / "out" / "uf.pkl").open("rb") as handle:
        union_find = pickle.load(handle)
    n = sum(1 for path in tokens for _ in path.open(encoding="utf-8"))
    return np.unique(np.array([union_find.find(i) for i in range(n)]), return_inverse=True)[1]


RUNNERS = {"dqaudit": run_dqaudit, "rensa": run_rensa, "datatrove": run_datatrove,
           "text-dedup": run_text_dedup}


def child(name: str, corpus: Path, tokens: list[Path], out: Path, work: Path) -> None:
    """Run one implementation; print seconds and peak RSS (this process and its children) as JSON."""
    began = time.perf_counter()
    groups = RUNNERS[name](corpus, tokens, work)
    seconds = time.perf_counter() - began
    np.save(out, np.asarray(groups, np.int64))
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mib": peak}))


def pair_agreement(reference: np.ndarray, other: np.ndarray) -> tuple[float, float]:
    """Pairwise precision and recall of ``other``'s co-clustered pairs against ``reference``'s."""
    import pandas as pd

    def pairs(counts: np.ndarray) -> float:
        return float((counts * (counts - 1) // 2).sum())

    both = pairs(pd.DataFrame({"r": reference, "o": other}).value_counts().to_numpy())
    found, truth = pairs(np.bincount(other)), pairs(np.bincount(reference))
    return (both / found if found else 1.0), (both / truth if truth else 1.0)


def compare(size: int, corpus: Path, texts: list[str], workdir: Path) -> None:
    """All peers on ``corpus`` (``texts``), one table row each."""
    import importlib.util
    import shutil

    tokens = write_shingle_tokens(texts, workdir / f"peer_tokens_{size}.jsonl")
    print(f"\n## Peers on {size:,} texts: same corpus, same character 4-gram shingles, "
          f"threshold {THRESHOLD}\n")
    print("| implementation | wall | peak RSS | rows flagged | rows flagged by dqaudit too | largest cluster "
          "| pair precision vs dqaudit | pair recall vs dqaudit |")
    print("|---|---|---|---|---|---|---|---|")
    reference: np.ndarray | None = None
    for name in PEERS:
        if importlib.util.find_spec(MODULES[name]) is None:
            print(f"| {name} | skipped: not installed (pip install {name}) | | | | | | |")
            continue
        work = workdir / f"peer_{name}_{size}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        out = work / "groups.npy"
        done = subprocess.run([sys.executable, str(Path(__file__)), name, str(corpus), str(out), str(work),
                               *map(str, tokens)], capture_output=True, text=True)
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or ["failed"])[-1]
            print(f"| {name} | failed: {reason[:120]} | | | | | | |")
            continue
        stats = json.loads(done.stdout.strip().splitlines()[-1])
        groups = np.load(out)
        flagged = np.bincount(groups)[groups] > 1
        if reference is None:
            reference = groups
        ref_flagged = np.bincount(reference)[reference] > 1
        precision, recall = pair_agreement(reference, groups)
        print(f"| {name} | {stats['seconds']:.1f} s | {stats['peak_rss_mib']:,.0f} MiB | "
              f"{int(flagged.sum()):,} | {int((flagged & ref_flagged).sum()):,} | "
              f"{np.bincount(groups).max():,} | {precision:.4f} | {recall:.4f} |")
        sys.stdout.flush()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    name, corpus_path, out, work, *token_paths = sys.argv[1:]
    child(name, Path(corpus_path), [Path(p) for p in token_paths], Path(out), Path(work))
