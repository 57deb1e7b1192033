"""Train the Kazakh/Russian/English n-gram model shipped as dqaudit/features/kkru_ngrams.json.gz.

    python benchmarks/build_langmodel.py [--out dqaudit/features/kkru_ngrams.json.gz] [--seed 0]

Trains only on the train half of each source (``langdata.held_out``); the benchmark measures on
the other half. Each Cyrillic sentence is used as written and once more in a Latin spelling drawn at
random (2021/2018 alphabet or informal Latin for Kazakh, informal translit for Russian); folding makes
standard and letter-stripped Kazakh the same text, so stripping needs no copy of its own. English is
banking77's training queries. KazSAnDRA reviews that contain Kazakh letters add everyday Kazakh.

Sources and licences: see ``langdata.py``. The model is a table of smoothed log-probabilities of
character n-grams and words, not a copy of the text; attribution is kept in docs/checks/language.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import random
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import langdata  # noqa: E402

from dqaudit.features.language_model import MODEL_PATH, features, fold  # noqa: E402

CLASSES = ("kk", "ru", "en", "xx")
#: Latin-script languages other than English, pooled as "xx": so that Spanish or Turkish is not taken
#: for Kazakh or Russian typed in Latin letters.
OTHER_LATIN = ("de", "es", "fr", "it", "pt", "nl", "pl", "tr", "cs", "sv", "ro", "hu", "fi", "id", "da", "nb",
               "lt", "lv", "sk", "sl", "ca", "ms", "fil", "vi")
_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
_CLAUSE = re.compile(r"[.!?;:,()\n\"«»—–…]+")


def training_texts(seed: int) -> dict[str, list[str]]:
    """Texts per class from the train halves, with their generated Latin spellings."""
    rng = random.Random(seed)
    texts: dict[str, list[str]] = {c: [] for c in CLASSES}
    for _source, lang, text, held in langdata.clean_sources():
        if held:
            continue
        texts[lang].append(text)
        if lang == "kk":
            texts[lang].append(langdata.kazakh_latin(text, rng)[1])
        elif lang == "ru":
            texts[lang].append(langdata.russian_latin(text, rng))
    for row in langdata.kazsandra():
        if langdata.held_out(row["custom_id"]):
            continue
        kazakh = " ".join(c for c in _CLAUSE.split(row["text"]) if _kazakh_clause(c))
        if kazakh:
            texts["kk"].append(kazakh)
            texts["kk"].append(langdata.kazakh_latin(kazakh, rng)[1])
    return texts


def _kazakh_clause(clause: str) -> bool:
    """A review clause where at least half the words show Kazakh letters.

    Reviews switch to Russian ("спасибо", "деньги не вернули"); those clauses stay out of the
    Kazakh counts, or everyday Russian would look Kazakh to the model.
    """
    words = _WORD.findall(clause)
    return bool(words) and 2 * sum(not langdata.KAZAKH_LETTERS.isdisjoint(w) for w in words) >= len(words)


def lexicon(lang: str, size: int, rng: random.Random) -> list[tuple[str, float]]:
    """The ``size`` most frequent words of ``lang`` (wordfreq) with their frequencies, Russian also in Latin.

    Corpus sentences cover everyday Russian and English poorly ("деньги", "карты", "спасибо" are rare
    in news); word frequencies fill that in without letting any one word dominate.
    """
    from wordfreq import top_n_list, word_frequency

    out = []
    for word in top_n_list(lang, size):
        if not _WORD.fullmatch(word):
            continue
        freq = word_frequency(word, lang)
        out.append((word, freq))
        if lang == "ru":
            out.append((langdata.russian_latin(word, rng), freq / 2))
    return out


def train(
    texts: dict[str, list[str]], words: dict[str, list[tuple[str, float]]], min_count: int, alpha: float
) -> dict:
    """Smoothed log-probabilities per class; each class's word list weighs as much as its Kazakh text."""
    counts: dict[str, Counter] = {c: Counter() for c in CLASSES}
    for cls, items in texts.items():
        for text in items:
            for word in _WORD.findall(text.lower()):
                counts[cls].update(features(fold(word)))
    tokens = sum(len(_WORD.findall(t)) for t in texts["kk"])
    for cls, pairs in words.items():
        mass = sum(f for _, f in pairs)
        for word, freq in pairs:
            weight = tokens * freq / mass
            for feature in features(fold(word.lower())):
                counts[cls][feature] += weight
    total: Counter = Counter()
    for c in CLASSES:
        total.update(counts[c])
    kept = sorted(f for f, n in total.items() if n >= min_count)
    vocab = len(kept)
    scale = 10.0  # log-probabilities stored as tenths: small file, no loss that matters
    sums = {c: sum(counts[c].values()) + alpha * vocab for c in CLASSES}
    table = {
        feature: [round(scale * math.log((counts[c][feature] + alpha) / sums[c])) for c in CLASSES]
        for feature in kept
    }
    return {"classes": list(CLASSES), "scale": scale, "table": table}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-count", type=int, default=3, help="drop features seen fewer times")
    parser.add_argument("--alpha", type=float, default=0.5, help="additive smoothing")
    parser.add_argument("--words", type=int, default=30000, help="most frequent ru/en words from wordfreq")
    args = parser.parse_args()
    texts = training_texts(args.seed)
    rng = random.Random(args.seed)
    words = {"ru": lexicon("ru", args.words, rng), "en": lexicon("en", args.words, rng)}
    words["xx"] = [pair for lang in OTHER_LATIN for pair in lexicon(lang, args.words // 6, rng)]
    model = train(texts, words, args.min_count, args.alpha)
    payload = json.dumps(model, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    tmp = args.out.with_suffix(".tmp")
    with tmp.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) as handle:
        handle.write(payload)  # no name, no time in the header: the same data gives the same bytes
    tmp.replace(args.out)
    sizes = ", ".join(f"{c} {len(v)}" for c, v in texts.items())
    print(
        f"{len(model['table'])} features from {sizes} texts -> {args.out} ({args.out.stat().st_size:,} bytes)"
    )


if __name__ == "__main__":
    main()
