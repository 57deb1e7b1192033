"""A small character n-gram model that tells Kazakh, Russian and English apart however they are typed.

Why a model of our own beside lingua: lingua knows Kazakh only in standard
Cyrillic, so Kazakh typed on a Russian keyboard ("Оте жаксы", for "Өте жақсы"),
Kazakh in Latin letters ("Keremet! Ózime kerektini taptym") and Russian in
Latin letters ("spasibo bolshoe") come out as Russian, English or Turkish.

Every word is first *folded* into one Latin skeleton: Cyrillic and Latin
letters that people use for the same sound meet (қ, к and q give ``k``; ә, á
and ä give ``a``; ж and j give ``zh``), and diacritics go. On that skeleton,
standard Kazakh, Kazakh without its letters and Kazakh in any Latin alphabet
look alike, and so do Russian and its transliteration, so a naive Bayes model
over character 1-4-grams and whole words, trained on standard Cyrillic text
plus generated transliterations, recognises all of them. The model file is
built by ``benchmarks/build_langmodel.py`` from FLORES-200, Tatoeba,
KazSAnDRA and banking77 (see ``NOTICE`` entries in that script) and shipped
in the package; nothing is downloaded at run time.
"""

from __future__ import annotations

import gzip
import math
import unicodedata
from collections.abc import Iterable, Sequence
from functools import cache, reduce
from operator import add
from pathlib import Path

import orjson

MODEL_PATH = Path(__file__).with_name("kkru_ngrams.json.gz")
#: Orders of the character n-grams; a word is padded with one space on each side.
ORDERS = (1, 2, 3, 4)
#: A whole-word feature carries this prefix, so it cannot collide with an n-gram.
WORD_PREFIX = "#"
#: A known whole word weighs as much as this many n-grams: "деньги" is Russian even though "-ги" ends
#: many Kazakh words.
WORD_WEIGHT = 6
#: Words whose scores are remembered (word frequencies are Zipfian: a few thousand cover most text).
_MEMO_SIZE = 200_000

_CYRILLIC_FOLD = {
    "а": "a", "ә": "a", "б": "b", "в": "v", "г": "g", "ғ": "g", "д": "d", "е": "e", "ё": "e",
    "ж": "zh", "з": "z", "и": "i", "й": "i", "і": "i", "к": "k", "қ": "k", "л": "l", "м": "m",
    "н": "n", "ң": "n", "о": "o", "ө": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u",
    "ұ": "u", "ү": "u", "ф": "f", "х": "h", "һ": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sh",
    "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya", "ў": "u", "ї": "i", "є": "e",
}  # fmt: skip
#: Latin letters whose base letter is not what NFD leaves, and letters that stand for one Cyrillic sound.
_LATIN_FOLD = {"ş": "sh", "ç": "ch", "ı": "i", "q": "k", "x": "h", "j": "zh", "ß": "ss", "ø": "o", "æ": "ae"}
_FOLD = str.maketrans({**_CYRILLIC_FOLD, **_LATIN_FOLD, "'": "", "’": "", "`": "", "-": ""})


def fold(word: str) -> str:
    """The Latin skeleton of a lower-cased word (Cyrillic transliterated, diacritics dropped)."""
    out = word.translate(_FOLD)
    if not out.isascii():
        decomposed = unicodedata.normalize("NFD", out)
        out = "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_FOLD)
    return out


def features(folded: str) -> list[str]:
    """Character n-grams of one folded word (with its boundaries) and the word itself."""
    padded = f" {folded} "
    out = [WORD_PREFIX + folded]
    for n in ORDERS:
        out += [padded[i : i + n] for i in range(len(padded) - n + 1)]
    return out


class NgramModel:
    """Naive Bayes over folded n-grams: per-class log-probabilities, unseen features skipped."""

    def __init__(self, classes: Sequence[str], table: dict[str, Sequence[float]]) -> None:
        self.classes = tuple(classes)
        self.table = {k: tuple(v) for k, v in table.items()}
        self._index = {c: i for i, c in enumerate(self.classes)}
        self._memo: dict[str, tuple[tuple[float, ...], int]] = {}

    def word(self, word: str) -> tuple[tuple[float, ...], int]:
        """Summed log-probability per class over one word's known features (the whole word, first,
        weighing :data:`WORD_WEIGHT`), and their known weight (memoised).

        A new word has about 36 features, summed by :meth:`_column_sums`.
        """
        found = self._memo.get(word)
        if found is None:
            rows = list(map(self.table.get, features(fold(word))))
            whole = rows[0]
            rows = [row for row in rows if row is not None]
            known = len(rows)
            if whole is not None:
                known += WORD_WEIGHT - 1
                rows[0] = [WORD_WEIGHT * value for value in whole]
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            found = self._memo[word] = (tuple(self._column_sums(rows)), known)
        return found

    def scores(self, words: Iterable[str]) -> tuple[list[float], int]:
        """Summed log-probability per class (in :attr:`classes` order) over the words' features, and how
        many features were known."""
        memo, word_scores = self._memo, self.word
        found = [memo.get(word) or word_scores(word) for word in words]
        return self._column_sums([values for values, _ in found]), sum(weight for _, weight in found)

    def _column_sums(self, rows: Sequence[Sequence[float]]) -> list[float]:
        """Per class, the sum of its column over ``rows`` from 0.0 in row order: the additions of a plain
        loop, bit for bit (a compensated sum such as Python 3.12's ``sum`` would not be), without a Python
        step per row and class."""
        columns = zip(*rows, strict=True) if rows else [()] * len(self.classes)
        return [reduce(add, column, 0.0) for column in columns]

    def posterior(self, words: Sequence[str], among: Sequence[str]) -> tuple[str, float]:
        """Most likely class among ``among`` and its probability, features averaged per word.

        Averaging per word (rather than summing every n-gram) keeps naive Bayes from growing
        absurdly sure on long texts, so the probability stays usable as a confidence.
        """
        totals, known = self.scores(words)
        if not known:
            return among[0], 1.0 / len(among)
        # about four features' worth of evidence per word: calibrated on held-out single words and word
        # pairs, where a confidence of 0.9-0.99 is right about 96% of the time and above 0.99, 99.8%
        scale = len(words) / known * 4.0
        values = [totals[self._index[c]] * scale for c in among]
        top = max(values)
        weights = [math.exp(v - top) for v in values]
        best = weights.index(max(weights))  # the first of equal weights: the class listed first
        return among[best], weights[best] / sum(weights)

    def to_json(self) -> dict:
        return {"classes": list(self.classes), "table": {k: list(v) for k, v in self.table.items()}}


@cache
def load(path: Path = MODEL_PATH) -> NgramModel:
    """The shipped model (loaded once per process; orjson and rows built as tuples once: a nightly re-run
    that detects a thousand new texts spent more on loading the model than on detecting)."""
    data = orjson.loads(gzip.decompress(path.read_bytes()))
    scale = data.get("scale", 1.0)
    table = {k: tuple([v / scale for v in row]) for k, row in data["table"].items()}
    return NgramModel(data["classes"], table)
