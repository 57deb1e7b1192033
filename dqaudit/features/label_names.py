"""Label names that mean the same class: one canonical key per spelling.

``Card Blocked``, ``card-blocked``, ``card_blocked ``, ``cards_blocked`` and ``сard_blocked`` (a Cyrillic
"с") are one class to a person and five to a model. The key folds what a labelling tool or a tired
annotator changes without meaning to: Unicode form and case, separators (``_``, ``-``, spaces, dots),
surrounding whitespace, English plurals of each word, and Cyrillic/Latin look-alike letters inside a
word written mostly in the other script.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

_SEPARATORS = re.compile(r"[\s_\-./]+")
#: Cyrillic letters that look like Latin ones, and back.
_CYR_TO_LAT = str.maketrans("аеорсхуікмтнвАЕОРСХУІКМТНВ", "aeopcxyikmthbAEOPCXYIKMTHB")
_LAT_TO_CYR = str.maketrans("aeopcxyAEOPCXYKMTHB", "аеорсхуАЕОРСХУКМТНВ")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[A-Za-z]")


def _script_fold(word: str) -> str:
    """Look-alike letters written in the word's majority script (Latin wins a tie)."""
    cyrillic, latin = len(_CYRILLIC.findall(word)), len(_LATIN.findall(word))
    if cyrillic and latin:
        return word.translate(_CYR_TO_LAT) if latin >= cyrillic else word.translate(_LAT_TO_CYR)
    return word


def _singular(word: str) -> str:
    """English plural to singular for regular forms (``cards``, ``queries``, ``boxes``); others unchanged."""
    if len(word) <= 3 or not word.isascii() or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("xes", "ches", "shes", "sses")):
        return word[:-2]
    return word[:-1] if word.endswith("s") else word


def label_key(label: str) -> str:
    """The canonical key: labels with the same key are spellings of one class."""
    flat = unicodedata.normalize("NFKC", str(label)).strip()
    words = [w for w in _SEPARATORS.split(flat) if w]
    return "_".join(_singular(_script_fold(w).casefold()) for w in words)


def well_formed(label: str) -> bool:
    """Lower case, one script, no surrounding space, ``_`` as the only separator: the preferred spelling."""
    return (label == label.strip() and label == label.lower() and not re.search(r"[\s\-./]", label)
            and not (_CYRILLIC.search(label) and _LATIN.search(label)))


@dataclass(frozen=True, slots=True)
class LabelVariants:
    """Spellings of one class: their counts (most common first) and the one to keep."""

    key: str
    counts: dict[str, int]
    canonical: str


def label_variants(labels: Iterable[str]) -> list[LabelVariants]:
    """Groups of two or more spellings with one key, by key.

    The canonical spelling is the most common one; ties go to a well-formed spelling, then
    to the first in sort order.
    """
    counts = Counter(str(v) for v in labels)
    groups: dict[str, list[str]] = {}
    for spelling in counts:
        groups.setdefault(label_key(spelling), []).append(spelling)
    out = []
    for key in sorted(groups):
        spellings = groups[key]
        if len(spellings) < 2:
            continue
        ranked = sorted(spellings, key=lambda s: (-counts[s], not well_formed(s), s))
        out.append(LabelVariants(key, {s: counts[s] for s in ranked}, ranked[0]))
    return out
