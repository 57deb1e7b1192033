"""Near-duplicate benchmark: dqaudit's vectorised MinHash against a plain datasketch loop.

Builds a deterministic corpus of short support-style requests (English and Russian)
in which about a fifth of the texts are edited copies of another (word swaps,
insertions, deletions, typos, punctuation and greeting changes) and prints, per
size: signature docs/s, end-to-end docs/s (signatures + LSH + verification +
clusters), peak memory, and on the 10k set precision/recall of the found pairs
against exact Jaccard ground truth computed over every pair.

Baseline: ``datasketch.MinHash()`` with ``update()`` per shingle and
``MinHashLSH(threshold)`` insert/query, on the same shingles.

Also measures, on banking77 (../shared/data/banking77) with planted edits, which
share of edited copies each shingling keeps at Jaccard >= threshold, and how many
pairs of *different* original requests it wrongly puts there.

    python benchmarks/near_dup.py                   # 10k, 100k, 1M + banking77
    python benchmarks/near_dup.py --sizes 10000     # quick
    python benchmarks/near_dup.py --peers 100000    # dqaudit, rensa, datatrove, text-dedup side by side
    python benchmarks/near_dup.py --check-stages 1000000  # where the check's time goes (in-process)
"""

from __future__ import annotations

import argparse
import csv
import gc
import hashlib
import random
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

from dqaudit.dedup import minhash as mh
from dqaudit.parallel import default_workers

GREETINGS = [
    "",
    "",
    "",
    "hi, ",
    "hello, ",
    "good morning, ",
    "hey there, ",
    "здравствуйте, ",
    "добрый день, ",
]
CLOSINGS = ["", "", "", " thanks", " thank you!", " please help", " asap", " спасибо", " заранее спасибо"]
REQUESTS_EN = [
    "i want to",
    "how can i",
    "please help me",
    "i need to",
    "is it possible to",
    "can you",
    "why can't i",
    "what do i need to",
    "where can i",
    "i would like to",
    "how long does it take to",
    "i tried to",
]
ACTIONS_EN = [
    "reset my password for",
    "block",
    "unblock",
    "top up",
    "close",
    "open a new",
    "change the limit on",
    "get a refund for",
    "cancel the transfer from",
    "dispute a charge on",
    "order a replacement",
    "activate",
    "link my phone to",
    "update the address on",
    "see the statement for",
    "report fraud on",
]
OBJECTS_EN = [
    "my debit card",
    "my credit card",
    "the savings account",
    "my virtual card",
    "the joint account",
    "my business account",
    "the card ending in {d4}",
    "account number {d8}",
    "my deposit",
    "the mortgage account",
    "my kid's card",
    "the travel card",
    "my salary card",
    "the euro account",
]
_SYLLABLES = [
    "ka",
    "zan",
    "mar",
    "tel",
    "bo",
    "sha",
    "ri",
    "lu",
    "nek",
    "do",
    "vi",
    "pro",
    "min",
    "al",
    "ter",
]
MERCHANTS = sorted({a + b + c for a in _SYLLABLES for b in _SYLLABLES for c in ["", "x", " market", " pay"]})
DETAILS_EN = [
    "at {shop}",
    "paying {shop} online",
    "when i paid {amt} to {shop}",
    "for my {shop} subscription",
    "since {day}",
    "after the payment of {amt} tenge",
    "because it was stolen in {city}",
    "on {day}",
    "from the app",
    "at the atm in {city}",
    "for order {d6}",
    "it says error {d3}",
    "before my trip to {city}",
    "it was charged {amt} twice",
    "and i still have not received an sms",
    "while abroad in {city}",
]
REQUESTS_RU = ["я хочу", "как мне", "помогите", "мне нужно", "можно ли", "почему я не могу", "подскажите как"]
ACTIONS_RU = [
    "заблокировать",
    "разблокировать",
    "пополнить",
    "закрыть",
    "перевыпустить",
    "активировать",
    "оспорить платёж по",
    "изменить лимит по",
    "получить выписку по",
    "привязать телефон к",
]
OBJECTS_RU = [
    "мою карту",
    "кредитную карту",
    "сберегательный счёт",
    "виртуальную карту",
    "счёт {d8}",
    "карту на {d4}",
    "депозит",
    "зарплатную карту",
    "детскую карту",
]
DETAILS_RU = [
    "в {shop}",
    "при оплате {shop}",
    "подписка {shop}",
    "с {day}",
    "после платежа {amt} тенге",
    "её украли в {city}",
    "в приложении пишет ошибку {d3}",
    "по заказу {d6}",
    "перед поездкой в {city}",
    "деньги списали дважды",
    "смс так и не пришло",
]
CITIES = [
    "almaty",
    "astana",
    "shymkent",
    "karaganda",
    "aktobe",
    "taraz",
    "pavlodar",
    "moscow",
    "dubai",
    "istanbul",
    "tbilisi",
    "bishkek",
    "tashkent",
    "seoul",
    "berlin",
    "london",
]
DAYS = ["monday", "tuesday", "yesterday", "last week", "the 3rd of may", "friday night", "this morning"]
FILLERS = ["really", "urgently", "please", "today", "now", "again", "actually", "also", "just", "still"]


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        d3=rng.randint(100, 999),
        d4=rng.randint(1000, 9999),
        d6=rng.randint(100000, 999999),
        d8=rng.randint(10**7, 10**8 - 1),
        amt=rng.randint(1, 500) * 100,
        city=rng.choice(CITIES),
        day=rng.choice(DAYS),
        shop=rng.choice(MERCHANTS),
    )


def base_text(rng: random.Random) -> str:
    """One fresh request: greeting + request + action + object + two details + closing."""
    if rng.random() < 0.25:
        parts = [
            rng.choice(REQUESTS_RU),
            rng.choice(ACTIONS_RU),
            _fill(rng.choice(OBJECTS_RU), rng),
            _fill(rng.choice(DETAILS_RU), rng),
            _fill(rng.choice(DETAILS_RU), rng),
        ]
    else:
        parts = [
            rng.choice(REQUESTS_EN),
            rng.choice(ACTIONS_EN),
            _fill(rng.choice(OBJECTS_EN), rng),
            _fill(rng.choice(DETAILS_EN), rng),
        ]
        parts.append("and " + _fill(rng.choice(DETAILS_EN), rng))
    text = rng.choice(GREETINGS) + " ".join(parts) + rng.choice(CLOSINGS)
    return text[0].upper() + text[1:] + rng.choice(["", "?", ".", "!"])


def edit(text: str, rng: random.Random, edits: int) -> str:
    """Planted edits a person or a re-send makes: swap, insert, delete, typo, greeting, punctuation."""
    words = text.split()
    for _ in range(edits):
        kind = rng.choice(["swap", "insert", "delete", "typo", "greeting", "punct"])
        if kind == "swap" and len(words) > 2:
            i = rng.randrange(len(words) - 1)
            words[i], words[i + 1] = words[i + 1], words[i]
        elif kind == "insert":
            words.insert(rng.randrange(len(words) + 1), rng.choice(FILLERS))
        elif kind == "delete" and len(words) > 3:
            del words[rng.randrange(len(words))]
        elif kind == "typo":
            i = rng.randrange(len(words))
            w = words[i]
            if len(w) > 3:
                j = rng.randrange(1, len(w) - 1)
                words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :] if rng.random() < 0.5 else w[:j] + w[j + 1 :]
        elif kind == "greeting":
            words.insert(0, rng.choice(["Hi,", "Hello!", "Здравствуйте,", "Dear support,"]))
        else:
            words[-1] = words[-1].rstrip("?.!") + rng.choice(["??", "!", "...", ""])
    return " ".join(words)


def corpus(n: int, seed: int = 0) -> list[str]:
    """``n`` requests: ~77% fresh, ~20% edited copies (1-3 edits) of an earlier one, ~3% exact copies."""
    rng = random.Random(seed)
    texts: list[str] = []
    for _ in range(n):
        roll = rng.random()
        if texts and roll < 0.20:
            texts.append(edit(rng.choice(texts), rng, rng.randint(1, 3)))
        elif texts and roll < 0.23:
            texts.append(rng.choice(texts))
        else:
            texts.append(base_text(rng))
    return texts


# --- reference shingles (plain Python), exact ground truth ---------------------------


def reference_shingles(text: str, kind: str, n: int) -> set[str]:
    """The shingle definition dqaudit hashes, written out in plain Python."""
    words = mh.normalize_for_shingles(text).split()
    if len(words) < mh.MIN_WORDS:
        return set()
    if kind == "word":
        return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)} or {" ".join(words)}
    joined = " ".join(words)
    return {joined[i : i + n] for i in range(len(joined) - n + 1)} or {joined}


def exact_pairs(sets: list[set[str]], threshold: float) -> set[tuple[int, int]]:
    """Every pair with exact Jaccard >= threshold (sparse products in row blocks, no n x n matrix)."""
    from scipy.sparse import csr_matrix

    vocab: dict[str, int] = {}
    indptr, indices = [0], []
    for s in sets:
        indices.extend(vocab.setdefault(x, len(vocab)) for x in s)
        indptr.append(len(indices))
    matrix = csr_matrix((np.ones(len(indices), np.int32), indices, indptr), shape=(len(sets), len(vocab)))
    sizes = np.diff(matrix.indptr)
    found: set[tuple[int, int]] = set()
    for lo in range(0, len(sets), 1000):
        inter = (matrix[lo : lo + 1000] @ matrix.T).toarray()
        union = sizes[lo : lo + 1000, None] + sizes[None, :] - inter
        sim = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
        rows, cols = np.nonzero(sim >= threshold - 1e-12)
        found.update((lo + r, c) for r, c in zip(rows.tolist(), cols.tolist(), strict=True) if lo + r < c)
    return found


def precision_recall(found: set[tuple[int, int]], truth: set[tuple[int, int]]) -> tuple[float, float]:
    hit = len(found & truth)
    return hit / max(1, len(found)), hit / max(1, len(truth))


# --- the two implementations ----------------------------------------------------------


def dqaudit_run(texts: list[str], params: mh.MinHashParams, workers: int) -> dict[str, object]:
    """The checker's path:
    signatures, then ``near_duplicate_pairs`` (LSH, estimate, exact check) and clusters.

    ``near_duplicate_pairs`` links rows with identical signatures to one representative instead
    of pairing them all; for precision/recall every pair those edges imply is counted.
    """
    began = time.perf_counter()
    sigs = mh.signatures(texts, params, workers=workers)
    sig_s = time.perf_counter() - began
    edges, _, candidates = mh.near_duplicate_pairs(texts, sigs, params)
    labels = mh.clusters(len(texts), edges)
    total_s = time.perf_counter() - began
    return {
        "sig_s": sig_s,
        "total_s": total_s,
        "candidates": candidates,
        "pairs": implied_pairs(sigs, edges) if len(texts) <= 20_000 else set(),
        "edges": len(edges),
        "clusters": int(labels.max() + 1) if len(labels) else 0,
        "labels_sha": hashlib.sha256(labels.astype("<i8").tobytes()).hexdigest()[:16],
    }


def implied_pairs(sigs: np.ndarray, edges: np.ndarray) -> set[tuple[int, int]]:
    """All pairs the edges stand for: rows with identical signatures pair with each other and
    with every row their representative is verified against."""
    live = (sigs != mh.EMPTY).any(axis=1)
    groups: dict[bytes, list[int]] = {}
    for i in np.flatnonzero(live):
        groups.setdefault(sigs[i].tobytes(), []).append(int(i))
    copies = {i: members for members in groups.values() for i in members}
    pairs = set()
    for a, b in edges.tolist():
        for x in copies.get(a, [a]):
            for y in copies.get(b, [b]):
                if x != y:
                    pairs.add((min(x, y), max(x, y)))
    return pairs


def datasketch_run(texts: list[str], kind: str, n: int, threshold: float, num_perm: int) -> dict[str, object]:
    """The plain loop: MinHash() + update() per shingle, MinHashLSH insert then query."""
    from datasketch import MinHash, MinHashLSH

    began = time.perf_counter()
    hashes = []
    for text in texts:
        m = MinHash(num_perm=num_perm)
        for shingle in reference_shingles(text, kind, n):
            m.update(shingle.encode("utf-8"))
        hashes.append(m)
    sig_s = time.perf_counter() - began
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    for i, m in enumerate(hashes):
        lsh.insert(i, m)
    pairs = set()
    for i, m in enumerate(hashes):
        if (m.hashvalues == mh.EMPTY).all():
            continue
        for j in lsh.query(m):
            if j != i:
                pairs.add((min(i, j), max(i, j)))
    total_s = time.perf_counter() - began
    return {"sig_s": sig_s, "total_s": total_s, "pairs": pairs}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(label: str, fn, *args):  # type: ignore[no-untyped-def]
    """Run ``fn`` under tracemalloc to report its own peak of numpy/Python allocations."""
    gc.collect()
    tracemalloc.start()
    result = fn(*args)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    result["peak_mib"] = peak / 2**20
    return result


# --- banking77 shingling study ---------------------------------------------------------


def banking77_study(path: Path, threshold: float) -> None:
    """Share of planted near-copies each shingling keeps at Jaccard >= threshold, and false pairs."""
    with (path / "train.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    texts = [r["text"] for r in rows]
    labels = [r["category"] for r in rows]
    rng = random.Random(7)
    originals = rng.sample(range(len(texts)), 2000)
    edits = ["typo", "greeting", "punct", "insert", "delete", "swap"]
    print(
        f"\n## banking77 train ({len(texts)} real requests), 2000 planted near-copies, threshold {threshold}"
    )
    print(
        "| shingles | edited copies kept (typo / greeting / punct / insert / delete / swap) | all "
        "| different originals >= threshold (pairs / of which different intent) |"
    )
    print("|---|---|---|---|")
    for kind, n in [("word", 1), ("word", 2), ("word", 3), ("char", 3), ("char", 4), ("char", 5)]:
        per_edit = {}
        for kind_of_edit in edits:
            kept = 0
            for idx in originals:
                copy = _single_edit(texts[idx], kind_of_edit, random.Random(idx))
                a, b = reference_shingles(texts[idx], kind, n), reference_shingles(copy, kind, n)
                kept += bool(a | b) and len(a & b) / len(a | b) >= threshold
            per_edit[kind_of_edit] = kept / len(originals)
        sets = [reference_shingles(t, kind, n) for t in texts]
        unique_index = {}
        for i, t in enumerate(texts):
            unique_index.setdefault(mh.normalize_for_shingles(t), i)
        keep = sorted(unique_index.values())
        false_pairs = exact_pairs([sets[i] for i in keep], threshold)
        cross = sum(labels[keep[i]] != labels[keep[j]] for i, j in false_pairs)
        mean_all = sum(per_edit.values()) / len(per_edit)
        print(
            f"| {kind} {n}-grams | "
            + " / ".join(f"{per_edit[e]:.2f}" for e in edits)
            + f" | {mean_all:.2f} | {len(false_pairs)} / {cross} |"
        )


def _single_edit(text: str, kind: str, rng: random.Random) -> str:
    words = text.split()
    if kind == "typo":
        candidates = [i for i, w in enumerate(words) if len(w) > 3] or [0]
        i = rng.choice(candidates)
        w = words[i]
        j = rng.randrange(1, max(2, len(w) - 1))
        words[i] = w[:j] + w[j + 1 :]
    elif kind == "greeting":
        words.insert(0, rng.choice(["Hi,", "Hello!", "Hey there,", "Good morning,"]))
    elif kind == "punct":
        words[-1] = words[-1].rstrip("?.!") + rng.choice(["??", "!", "...", " ?"])
    elif kind == "insert":
        words.insert(rng.randrange(len(words) + 1), rng.choice(FILLERS))
    elif kind == "delete" and len(words) > 3:
        del words[rng.randrange(len(words))]
    elif kind == "swap" and len(words) > 2:
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def label_of(text: str) -> str:
    """The request's intent: the first action phrase it contains (edited copies keep theirs)."""
    low = text.lower()
    return next((a for a in ACTIONS_EN + ACTIONS_RU if a in low), "other")


def write_corpus(size: int, workdir: Path, prefix: str = "near_dup") -> Path:
    """The benchmark corpus as JSONL (written once per size), for runs through the CLI or Spark."""
    import json

    path = workdir / f"{prefix}_{size}.jsonl"
    if not path.exists():
        with path.open("w", encoding="utf-8") as handle:
            for i, text in enumerate(corpus(size)):
                record = {"id": f"d{i}", "text": text, "label": label_of(text)}
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def end_to_end(size: int, workdir: Path, repeat: int, containment_ab: bool = False) -> None:
    """``dqaudit audit FILE --checks near_duplicates`` on ``size`` requests: wall time and peak RSS.

    Each repetition runs once with an empty cache (signatures computed and written) and once
    warm (read back); dirty pages are synced first, so no run pays for the previous one's writes.
    ``containment_ab``: each repetition first runs with partial copies off (``containment: 0``,
    the path before they existed), then with the defaults, so both see the same machine load.
    """

    path = write_corpus(size, workdir)
    off = workdir / "containment_off.yaml"
    off.write_text("checks:\n  near_duplicates:\n    containment: 0\n", encoding="utf-8")
    variants = [(" partial copies off", ["--config", str(off)]), ("", [])] if containment_ab else [("", [])]
    for _ in range(repeat):
        for label, extra in variants:
            _cold_then_warm(size, path, workdir, label, extra)


def _cold_then_warm(size: int, path: Path, workdir: Path, label: str, extra: list[str]) -> None:
    """One run with an empty cache, then one warm; ``extra`` CLI options, ``label`` added to the row."""
    import os
    import shutil
    import subprocess

    shutil.rmtree(workdir / ".dqaudit_cache", ignore_errors=True)
    for cached in (False, True):
        os.sync()
        began = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "dqaudit", "audit", str(path), "--checks", "near_duplicates", *extra],
            cwd=workdir,
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "100"},
        )
        wall = time.perf_counter() - began
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        state = ("warm cache" if cached else "cold cache") + label
        print(
            f"| {size:,} | dqaudit audit --checks near_duplicates ({state}) | {wall:.1f} s | "
            f"{size / wall:,.0f} docs/s | peak RSS {peak:,.0f} MiB (largest process so far) | "
            f"exit {done.returncode} |"
        )
        sys.stdout.flush()


#: The check's stages timed by ``--check-stages`` (module, function), in the order they run.
STAGES = [
    ("dqaudit.features.near_dups", "near_duplicate_signatures"),  # signatures + the per-record cache
    ("dqaudit.dedup.minhash", "signatures"),
    ("dqaudit.dedup.minhash", "distinct_signatures"),
    ("dqaudit.dedup.minhash", "_live_lsh_pairs"),
    ("dqaudit.dedup.minhash", "shingle_table"),
    ("dqaudit.dedup.minhash", "exact_jaccard_table"),
    ("dqaudit.features.near_dups", "_partial_copies"),
    ("dqaudit.dedup.minhash", "clusters"),
    ("dqaudit.checkers.near_duplicates", "_cluster_table"),
    ("dqaudit.checkers.near_duplicates", "_asks_the_same"),
]


def check_stages(size: int, workdir: Path) -> None:
    """The ``near_duplicates`` check on ``size`` benchmark requests in this process, cold cache then warm:
    wall and CPU seconds (all threads) per stage, and hashes of the clusters and findings to compare builds.

    Stages are timed by wrapping the functions above (the callers look them up at call time); a function
    called inside another is counted in both.
    """
    import functools
    import importlib
    import os
    import shutil

    import orjson

    from dqaudit.api import open_context
    from dqaudit.features.near_dups import near_duplicates
    from dqaudit.pipeline import run_checks

    path = write_corpus(size, workdir)
    spent: dict[str, list[float]] = {}

    def timed(name: str, fn):  # type: ignore[no-untyped-def]
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                total = spent.setdefault(name, [0.0, 0.0])
                total[0] += time.perf_counter() - wall
                total[1] += time.process_time() - cpu
        return wrapper

    for module, name in STAGES:
        target = importlib.import_module(module)
        setattr(target, name, timed(name, getattr(target, name)))
    os.chdir(workdir)
    shutil.rmtree(workdir / ".dqaudit_cache", ignore_errors=True)
    print(f"| {size:,} rows, in-process | cold cache | warm cache |\n|---|---|---|")
    rows = {"**the check**": ["-", "-"], **{f"`{name}`": ["-", "-"] for _, name in STAGES}}
    for run in range(2):
        spent.clear()
        ctx = open_context(path)
        wall, cpu = time.perf_counter(), time.process_time()
        result = run_checks(ctx, checks=["near_duplicates"]).results[0]
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        rows["**the check**"][run] = f"**{wall:.2f} s** (CPU {cpu:.2f} s)"
        for name, (w, c) in spent.items():
            rows[f"`{name}`"][run] = f"{w:.2f} s (CPU {c:.2f} s)"
        rows.setdefault("load average (1 min)", []).append(f"{os.getloadavg()[0]:.1f}")
        groups = near_duplicates(ctx).groups
        found = orjson.dumps([(f.kind, f.message, list(f.record_ids)) for f in result.findings])
        rows.setdefault("clusters / findings sha256", []).append(
            f"{hashlib.sha256(groups.astype('<i8').tobytes()).hexdigest()[:16]} / "
            f"{hashlib.sha256(found).hexdigest()[:16]}")
        del ctx, result
        gc.collect()
    for label, values in rows.items():
        print(f"| {label} | {' | '.join(values)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument(
        "--shingle",
        default="char",
        choices=["word", "char"],
        help="char is what shingle=auto picks for these short requests",
    )
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--threshold", type=float, default=0.7)
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument(
        "--baseline-sample",
        type=int,
        default=2_000,
        help="above 10k docs the datasketch loop runs on this many (it is ~100x slower); "
        "at 10k it runs on all, for precision/recall",
    )
    parser.add_argument(
        "--e2e",
        type=int,
        nargs="*",
        default=[1_000_000],
        help="sizes to run through `dqaudit audit --checks near_duplicates` (CLI, cold then warm cache)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="cold + warm CLI runs per --e2e size")
    parser.add_argument("--containment-ab", action="store_true",
                        help="each --e2e repetition also runs with partial copies off (containment: 0) first")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/dqaudit_near_dup_bench"))
    parser.add_argument("--check-stages", type=int, default=0,
                        help="only time the near_duplicates check's stages in-process at this size "
                        "(cold, warm)")
    parser.add_argument("--peers", type=int, nargs="*", default=None,
                        help="only compare dqaudit, rensa, datatrove and text-dedup at these sizes "
                        "(default 100000), see benchmarks/near_dup_peers.py")
    parser.add_argument(
        "--banking77", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/banking77"
    )
    args = parser.parse_args()
    params = mh.MinHashParams(args.shingle, args.n, args.num_perm, args.threshold)
    if args.check_stages:
        args.workdir.mkdir(parents=True, exist_ok=True)
        check_stages(args.check_stages, args.workdir)
        return
    if args.peers is not None:
        import near_dup_peers

        args.workdir.mkdir(parents=True, exist_ok=True)
        for size in args.peers or [100_000]:
            near_dup_peers.compare(size, write_corpus(size, args.workdir), corpus(size), args.workdir)
        return
    if args.e2e:
        args.workdir.mkdir(parents=True, exist_ok=True)
        print("| docs | end to end | wall | docs/s | memory | |\n|---|---|---|---|---|---|")
        for size in args.e2e:
            end_to_end(size, args.workdir, args.repeat, args.containment_ab)
        print()
    print(
        f"# near-duplicate benchmark: {params.shingle} {params.ngram}-grams, num_perm {params.num_perm}, "
        f"threshold {params.threshold}, dqaudit bands x rows {params.bands} x {params.rows}, "
        f"{args.workers} worker process(es), {default_workers()} core(s)"
    )
    print(
        "| docs | impl | signatures docs/s | end-to-end docs/s | peak MiB (traced) | pairs found "
        "| precision | recall |"
    )
    print("|---|---|---|---|---|---|---|---|")
    began = time.perf_counter()
    warm = corpus(200)
    mh.near_duplicate_pairs(warm, mh.signatures(warm, params), params)
    print(f"<!-- compiled kernels loaded (or compiled on a first run) "
          f"in {time.perf_counter() - began:.1f} s -->")
    for size in args.sizes:
        texts = corpus(size)
        mine = measure("dqaudit", dqaudit_run, texts, params, args.workers)
        sample = texts if size <= 10_000 else texts[: args.baseline_sample]
        base = measure(
            "datasketch",
            datasketch_run,
            sample,
            params.shingle,
            params.ngram,
            params.threshold,
            params.num_perm,
        )
        precision = recall = base_p = base_r = "-"
        if size <= 10_000:
            truth = exact_pairs(
                [reference_shingles(t, params.shingle, params.ngram) for t in texts], params.threshold
            )
            p, r = precision_recall(mine["pairs"], truth)  # type: ignore[arg-type]
            bp, br = precision_recall(base["pairs"], truth)  # type: ignore[arg-type]
            precision, recall, base_p, base_r = f"{p:.4f}", f"{r:.4f}", f"{bp:.4f}", f"{br:.4f}"
            print(f"<!-- ground truth: {len(truth)} pairs with exact Jaccard >= {params.threshold} -->")
        print(
            f"| {size:,} | dqaudit | {size / mine['sig_s']:,.0f} | {size / mine['total_s']:,.0f} | "
            f"{mine['peak_mib']:,.0f} | {len(mine['pairs']) or mine['edges']:,} | {precision} | {recall} |"
        )
        print(f"<!-- dqaudit {size:,}: {mine['clusters']:,} clusters (singletons included), "
              f"cluster labels sha256 {mine['labels_sha']} -->")
        note = "" if len(sample) == size else f" (on {len(sample):,} docs)"
        print(
            f"| {size:,} | datasketch loop{note} | {len(sample) / base['sig_s']:,.0f} | "
            f"{len(sample) / base['total_s']:,.0f} | {base['peak_mib']:,.0f} | {len(base['pairs']):,} | "
            f"{base_p} | {base_r} |"
        )
        sys.stdout.flush()
        del texts, mine, base
    print(f"\npeak RSS of this process: {peak_rss_mib():,.0f} MiB")
    if args.banking77.is_dir():
        banking77_study(args.banking77, args.threshold)
    else:
        print(f"\n(banking77 study skipped: {args.banking77} not found)")


if __name__ == "__main__":
    main()
