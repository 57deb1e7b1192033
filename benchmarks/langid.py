"""Language-identification benchmark on real Kazakh and Russian sentences (../shared/data).

    python benchmarks/langid.py [--limit N]

Gold labels: FLORES-200 devtest, Tatoeba kaz-rus, and lingua's own kk/ru test data
(sentences, word pairs, single words). Prints per-language precision/recall, accuracy
on 5+ word and 1-4 word texts, records/s on one core and peak memory, for dqaudit's
detector (fast path + lingua restricted to ru/kk/en) beside plain lingua (all
languages, no fast path). A mixed verdict is scored by its dominant language.
KazSAnDRA (real reviews, no gold language) is reported as a distribution.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # one core for lingua too

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SOURCES = [
    ("flores200", "kk", "flores200_kaz_rus/kaz_Cyrl.devtest"),
    ("flores200", "ru", "flores200_kaz_rus/rus_Cyrl.devtest"),
    ("tatoeba", "kk", "tatoeba_kaz_rus/tatoeba-test-v2021-08-07.kaz"),
    ("tatoeba", "ru", "tatoeba_kaz_rus/tatoeba-test-v2021-08-07.rus"),
    *[
        (f"lingua-{kind}", lang, f"lingua_testdata_kk_ru/{kind}/{lang}.txt")
        for kind in ("sentences", "word-pairs", "single-words")
        for lang in ("kk", "ru")
    ],
]


def load(limit: int | None) -> list[tuple[str, str, str]]:
    rows = []
    for source, lang, rel in SOURCES:
        lines = [
            line.strip() for line in (DATA / rel).read_text(encoding="utf-8").splitlines() if line.strip()
        ]
        rows += [(source, lang, text) for text in lines[:limit]]
    return rows


def dqaudit_detector() -> Callable[[str], str]:
    from dqaudit.features.language import detect

    return lambda text: detect(text).primary


def lingua_baseline() -> Callable[[str], str]:
    from lingua import LanguageDetectorBuilder

    detector = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models().build()

    def run(text: str) -> str:
        found = detector.detect_language_of(text)
        return found.iso_code_639_1.name.lower() if found else "und"

    return run


def evaluate(name: str, make: Callable[[], Callable[[str], str]], rows: list[tuple[str, str, str]]) -> dict:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.perf_counter()
    detect = make()
    detect("тест")
    load_s = time.perf_counter() - began
    start = time.perf_counter()
    cpu = time.process_time()
    predicted = [detect(text) for _, _, text in rows]
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    out = {
        "name": name,
        "load_s": load_s,
        "rps": len(rows) / cpu,
        "rps_wall": len(rows) / wall,
        "peak_mb": peak,
    }
    for lang in ("kk", "ru"):
        tp = sum(p == lang and g == lang for p, (_, g, _) in zip(predicted, rows, strict=True))
        out[f"{lang}_p"] = tp / max(1, sum(p == lang for p in predicted))
        out[f"{lang}_r"] = tp / max(1, sum(g == lang for _, g, _ in rows))
    for bucket, test in (("short", lambda n: n <= 4), ("long", lambda n: n >= 5)):
        pairs = [(p, g) for p, (_, g, t) in zip(predicted, rows, strict=True) if test(len(t.split()))]
        out[f"acc_{bucket}"] = sum(p == g for p, g in pairs) / len(pairs)
        out[f"n_{bucket}"] = len(pairs)
    out["by_source"] = {}
    for source in dict.fromkeys(s for s, _, _ in rows):
        pairs = [(p, g) for p, (s, g, _) in zip(predicted, rows, strict=True) if s == source]
        out["by_source"][source] = sum(p == g for p, g in pairs) / len(pairs)
    return out


def kazsandra(limit: int | None) -> dict[str, int]:
    from dqaudit.features.language import detect

    with (DATA / "kazsandra" / "10_sc_test.csv").open(encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)][: limit or 3000]
    counts: dict[str, int] = {}
    for text in texts:
        lang = detect(text).lang
        counts[lang] = counts.get(lang, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="lines per source file (default: all)")
    args = parser.parse_args()
    rows = load(args.limit)
    results = [
        evaluate("dqaudit (fast path + lingua ru/kk/en)", dqaudit_detector, rows),
        evaluate("baseline: lingua, all languages", lingua_baseline, rows),
    ]
    print(
        f"{len(rows)} texts; {results[0]['n_long']} with 5+ words, {results[0]['n_short']} with 1-4 words\n"
    )
    print(
        "| detector | acc 5+ words | acc 1-4 words | kk P / R | ru P / R | records/s (1 core, CPU time) | "
        "model load s | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['name']} | {r['acc_long']:.2%} | {r['acc_short']:.2%} | "
            f"{r['kk_p']:.3f} / {r['kk_r']:.3f} | "
            f"{r['ru_p']:.3f} / {r['ru_r']:.3f} | {r['rps']:,.0f} | {r['load_s']:.1f} | {r['peak_mb']:,.0f} |"
        )
    print("\n| source | " + " | ".join(r["name"] for r in results) + " |")
    print("|---|" + "---|" * len(results))
    for source in results[0]["by_source"]:
        print(f"| {source} | " + " | ".join(f"{r['by_source'][source]:.2%}" for r in results) + " |")
    print(f"\nKazSAnDRA reviews (no gold language), dqaudit verdicts: {kazsandra(args.limit)}")


if __name__ == "__main__":
    main()
