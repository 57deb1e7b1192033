"""Text for training and measuring the Kazakh/Russian/English model, split into train and held-out halves.

Shared by ``build_langmodel.py`` (trains on the train half only) and ``langid.py`` (measures on the
held-out half), so no measured sentence was seen in training. Sources (``../shared/data``), all
permissively licensed:

* FLORES-200 devtest kaz_Cyrl / rus_Cyrl: CC BY-SA 4.0 (NLLB Team, Meta AI).
* Tatoeba kaz-rus test set (via OPUS-MT-testsets): CC BY 2.0 FR (tatoeba.org contributors).
* lingua-py test data kk/ru (sentences, word pairs, single words): Apache-2.0 (Peter M. Stahl).
* KazSAnDRA score-classification test set: CC BY 4.0 (Yeshpanov & Varol, ISSAI, arXiv 2403.19335).
* banking77 (English): CC BY 4.0 (Casanueva et al., PolyAI, arXiv 2003.04807).

Also here: the generators of Kazakh without Kazakh letters, Kazakh in the 2018 and 2021 Latin
alphabets and in informal Latin, and Russian in informal Latin, applied to clean Cyrillic text.
"""

from __future__ import annotations

import csv
import hashlib
import random
import re
from pathlib import Path

#: ``../shared/data`` next to the repository (or next to a folder above it, for git worktrees).
DATA = next(
    (p / "shared" / "data" for p in Path(__file__).resolve().parents if (p / "shared" / "data").is_dir()),
    Path(__file__).resolve().parents[2] / "shared" / "data",
)
KAZAKH_LETTERS = set("әғқңөұүһіӘҒҚҢӨҰҮҺІ")

_CYRILLIC_WORD = re.compile(r"\w*[\u0400-\u04ff]\w*")
_LATIN_I = str.maketrans("iI", "иИ")
#: Kazakh letters as typed on a Russian keyboard.
STRIP = str.maketrans("әғқңөұүһіӘҒҚҢӨҰҮҺІ", "агкноууhиАГКНОУУҺИ".replace("h", "х").replace("Һ", "Х"))

_KK_2021 = {
    "а": "a", "ә": "ä", "б": "b", "в": "v", "г": "g", "ғ": "ğ", "д": "d", "е": "e", "ё": "io", "ж": "j",
    "з": "z", "и": "i", "й": "i", "к": "k", "қ": "q", "л": "l", "м": "m", "н": "n", "ң": "ñ", "о": "o",
    "ө": "ö", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ұ": "ū", "ү": "ü", "ф": "f", "х": "h",
    "һ": "h", "ц": "ts", "ч": "ç", "ш": "ş", "щ": "şş", "ъ": "", "ы": "y", "і": "ı", "ь": "", "э": "e",
    "ю": "iu", "я": "ia",
}  # fmt: skip
_KK_2018 = {
    **_KK_2021, "ә": "á", "ғ": "ǵ", "ж": "j", "и": "ı", "й": "ı", "ң": "ń", "ө": "ó", "у": "ý", "ұ": "u",
    "ү": "ú", "ч": "ch", "ш": "sh", "щ": "sh", "і": "i", "ю": "ıý", "я": "ıa",
}  # fmt: skip
#: Informal Latin: each sentence draws one spelling per letter, as one writer would.
_KK_INFORMAL = {
    "ә": ["a", "a", "ä", "e"], "ғ": ["g", "g", "gh", "ğ"], "қ": ["k", "k", "q"], "ң": ["n", "n", "ng"],
    "ө": ["o", "o", "ö"], "ұ": ["u"], "ү": ["u", "u", "ü", "y"], "һ": ["h"], "і": ["i"], "ы": ["y", "i", "y"],
    "и": ["i"], "й": ["i", "y", "i"], "у": ["u", "w", "u"], "ш": ["sh", "sh", "w", "s"], "ч": ["ch"],
    "ж": ["zh", "j", "j"], "х": ["h", "kh", "x"], "ц": ["ts", "c"], "щ": ["sh"], "я": ["ya", "ia", "ja"],
    "ю": ["yu", "iu", "ju"], "ё": ["yo", "e"], "ь": ["", "'"], "ъ": [""], "э": ["e"], "е": ["e"],
}  # fmt: skip
_RU_INFORMAL = {
    "ё": ["yo", "e", "jo"], "ж": ["zh", "j", "zh"], "й": ["y", "i", "j"], "х": ["h", "kh", "x"],
    "ц": ["ts", "c", "tc"], "ч": ["ch"], "ш": ["sh"], "щ": ["sch", "shch", "sh"], "ъ": ["", "'"],
    "ы": ["y", "i", "y"], "ь": ["", "'", ""], "э": ["e"], "ю": ["yu", "iu", "ju"], "я": ["ya", "ia", "ja"],
    "у": ["u"], "е": ["e", "e", "ye"], "и": ["i"], "в": ["v", "v", "w"],
}  # fmt: skip
_BASIC = dict(zip("абвгдезиклмнопрстуф", "abvgdeziklmnoprstuf", strict=True))


def held_out(key: str) -> bool:
    """Half of every source is held out from training, chosen by a hash of the item's key."""
    return hashlib.blake2b(key.encode(), digest_size=2).digest()[0] % 2 == 1


def _lines(rel: str) -> list[str]:
    return [line.strip() for line in (DATA / rel).read_text(encoding="utf-8").splitlines() if line.strip()]


def clean_sources() -> list[tuple[str, str, str, bool]]:
    """(source, language, text, held_out) for the clean Cyrillic corpora and English banking queries."""
    rows = []
    for source, lang, rel in [
        ("flores", "kk", "flores200_kaz_rus/kaz_Cyrl.devtest"),
        ("flores", "ru", "flores200_kaz_rus/rus_Cyrl.devtest"),
        ("tatoeba", "kk", "tatoeba_kaz_rus/tatoeba-test-v2021-08-07.kaz"),
        ("tatoeba", "ru", "tatoeba_kaz_rus/tatoeba-test-v2021-08-07.rus"),
        *[
            (f"lingua-{kind}", lang, f"lingua_testdata_kk_ru/{kind}/{lang}.txt")
            for kind in ("sentences", "word-pairs", "single-words")
            for lang in ("kk", "ru")
        ],
    ]:
        # parallel corpora split by line number, so a held-out sentence's translation is held out too
        rows += [(source, lang, t, held_out(f"{source}:{i}")) for i, t in enumerate(_lines(rel))]
    for split, path in (("train", "banking77/train.csv"), ("test", "banking77/test.csv")):
        with (DATA / path).open(encoding="utf-8") as handle:
            rows += [("banking77", "en", r["text"].strip(), split == "test") for r in csv.DictReader(handle)]
    return rows


def kazsandra() -> list[dict[str, str]]:
    """KazSAnDRA reviews (custom_id, text, ...); :func:`held_out` on custom_id splits them."""
    with (DATA / "kazsandra" / "10_sc_test.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _apply(text: str, table: dict[str, str]) -> str:
    """Transliterate letter by letter, keeping capitals; characters with no entry stay as they are."""
    out = []
    for ch in text:
        low = ch.lower()
        sub = table.get(low, _BASIC.get(low, ch))
        out.append(sub[:1].upper() + sub[1:] if ch != low else sub)
    return "".join(out)


def _informal(base: dict[str, list[str]], rng: random.Random) -> dict[str, str]:
    return {k: rng.choice(v) for k, v in base.items()}


def strip_kazakh(text: str) -> str:
    """Kazakh as typed on a Russian keyboard: ә->а, ғ->г, қ->к, ң->н, ө->о, ұ/ү->у, һ->х, і->и.

    Some sources type і as a Latin i inside Cyrillic words ("бiлiм"); that is stripped to и too.
    """
    return _CYRILLIC_WORD.sub(lambda m: m.group().translate(_LATIN_I), text.translate(STRIP))


def kazakh_latin(text: str, rng: random.Random) -> tuple[str, str]:
    """Kazakh in a Latin spelling drawn at random: the 2021 or 2018 alphabet, or informal Latin."""
    kind = rng.choice(["2021", "2018", "informal", "informal"])
    table = {"2021": _KK_2021, "2018": _KK_2018}.get(kind) or {**_KK_2021, **_informal(_KK_INFORMAL, rng)}
    return kind, _apply(text, table)


def russian_latin(text: str, rng: random.Random) -> str:
    """Russian in informal Latin (translit), one spelling per letter per sentence."""
    return _apply(text, _informal(_RU_INFORMAL, rng))
