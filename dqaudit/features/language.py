"""Language identification tuned for Kazakh/Russian/English support traffic.

Why not just call a detector on every text: most records are settled by their
letters alone (Kazakh has nine letters Russian lacks: ә ғ қ ң ө ұ ү һ і; a
text in Latin letters is English when English is the only configured
Latin-script language), and that is both faster and more reliable on 1–4 word
requests than any n-gram model. What the letters cannot settle (Cyrillic
without Kazakh letters, several Latin-script languages) goes to lingua,
restricted to the configured languages.

Code-switching is counted, not forced into one language: every word is
attributed to a language (Kazakh-marked words to ``kk``, Latin words to the
Latin-script language, runs of other Cyrillic words through lingua), and a
text whose second language holds at least ``mixed_min_share`` of its words
(and ``mixed_min_words`` words) is ``mixed``.

Per-record results are cached on disk by text hash and memoised per run;
:func:`detected_languages` is what the language checker and the splitter read.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from ..config import CheckParams
from ..context import AuditContext

if TYPE_CHECKING:
    from lingua import LanguageDetector

#: Codes that are not languages: code-switched records, and records with nothing to detect.
MIXED, UNDETERMINED = "mixed", "und"
#: Which path settled a record: letters alone, lingua, or why nothing could be detected.
FAST, LINGUA, EMPTY, NO_LETTERS, OTHER_SCRIPT = "fast", "lingua", "empty", "no-letters", "other-script"

KAZAKH_LETTERS = frozenset("әғқңөұүһі")
#: Letters of the 2021 Kazakh Latin alphabet that English (the usual other Latin language) lacks.
KAZAKH_LATIN_LETTERS = frozenset("ǵńı")
CYRILLIC_LANGUAGES = frozenset({"ru", "kk", "uk", "be", "bg", "mk", "sr", "mn"})
_OTHER_SCRIPT_LANGUAGES = frozenset(
    {
        "ar",
        "fa",
        "ur",
        "he",
        "el",
        "hy",
        "ka",
        "hi",
        "mr",
        "bn",
        "gu",
        "pa",
        "ta",
        "te",
        "th",
        "zh",
        "ja",
        "ko",
    }
)

#: Links, addresses, handles and tokens with digits (IBANs, codes, amounts) carry no language.
_SKIP = re.compile(r"https?://\S+|www\.\S+|\S+@\S+|[@#]\w+|\S*\d\S*")
_CYRILLIC = re.compile(r"[\u0400-\u052f]")
_LATIN = re.compile(r"[a-z\u00c0-\u024f\u1e00-\u1eff]")
#: Code-switching happens at clause boundaries, so words are weighed clause by clause.
_CLAUSE = re.compile(r"[.!?;:,()\n\"«»—–]+")
#: «Quoted» names (shops, products, magazines) say nothing about the writer's language.
_QUOTED_NAME = re.compile(r"«[^»]{1,40}»|„[^“]{1,40}“")
_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
#: Latin letters typed in place of their Cyrillic twins inside Cyrillic words (a common Kazakh habit).
_HOMOGLYPHS = str.maketrans({"i": "і", "a": "а", "e": "е", "o": "о", "c": "с", "p": "р", "x": "х", "y": "у"})


@dataclass(frozen=True, slots=True)
class LangSettings:
    """What detection depends on; part of the cache namespace, so changing any of it recomputes."""

    languages: tuple[str, ...] = ("ru", "kk", "en")
    mixed_min_share: float = 0.1
    mixed_min_words: int = 1
    word_confidence: float = 0.95
    foreign_min_letters: int = 6


@dataclass(frozen=True, slots=True)
class Detection:
    """One record's verdict: ``lang`` is a code, ``mixed`` or ``und``; ``words`` counts words per language."""

    lang: str
    primary: str
    secondary: str
    path: str
    words: dict[str, int]


def script_of(code: str) -> str:
    if code in CYRILLIC_LANGUAGES:
        return "cyrillic"
    return "other" if code in _OTHER_SCRIPT_LANGUAGES else "latin"


def validate_languages(codes: Sequence[str]) -> tuple[str, ...]:
    """Lower-cased ISO 639-1 codes that lingua knows; raises ValueError naming the first unknown one."""
    from lingua import IsoCode639_1

    out = []
    for code in codes:
        code = str(code).strip().lower()
        if not hasattr(IsoCode639_1, code.upper()) or code in (MIXED, UNDETERMINED):
            raise ValueError(f"'{code}' is not an ISO 639-1 code lingua supports")
        if code not in out:
            out.append(code)
    if not out:
        raise ValueError("configure at least one language")
    return tuple(out)


@cache
def normalize_tag(tag: object) -> str | None:
    """A dataset's own ``lang`` value as an ISO 639-1 code: 'RU', 'rus', 'Russian', 'ru-KZ' all give 'ru'.

    Blank gives None (nothing to compare); an unrecognised tag is returned lower-cased so it still shows up.
    """
    if not isinstance(tag, str) or not tag.strip():
        return None
    value = tag.strip().lower().replace("_", "-").split("-")[0]
    if value in (MIXED, UNDETERMINED):
        return value
    from lingua import IsoCode639_1, IsoCode639_3, Language

    if hasattr(IsoCode639_1, value.upper()):
        return value
    if hasattr(IsoCode639_3, value.upper()):
        return Language.from_iso_code_639_3(getattr(IsoCode639_3, value.upper())).iso_code_639_1.name.lower()
    if hasattr(Language, value.upper()):
        return getattr(Language, value.upper()).iso_code_639_1.name.lower()
    return value


@cache
def _detector(codes: tuple[str, ...]) -> LanguageDetector:
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    isos = [getattr(IsoCode639_1, c.upper()) for c in codes]
    if len(isos) == 1:  # lingua needs two languages; a lone one is decided without it
        raise ValueError("a detector needs at least two languages")
    return LanguageDetectorBuilder.from_iso_codes_639_1(*isos).with_preloaded_language_models().build()


@lru_cache(maxsize=65536)
def _lingua(text: str, codes: tuple[str, ...]) -> tuple[str, float]:
    """Best configured language for ``text`` among ``codes`` and its confidence."""
    if len(codes) == 1:
        return codes[0], 1.0
    values = _detector(tuple(sorted(codes))).compute_language_confidence_values(text)
    best = values[0]
    return best.language.iso_code_639_1.name.lower(), float(best.value)


def _script(word: str) -> str:
    """Script of a word by majority of its letters; Cyrillic wins ties (Latin homoglyphs creep in)."""
    cyrillic = len(_CYRILLIC.findall(word))
    if cyrillic and 2 * cyrillic >= len(word):
        return "cyrillic"
    return "latin" if 2 * len(_LATIN.findall(word)) >= len(word) else "other"


def detect(text: str, settings: LangSettings = LangSettings()) -> Detection:
    """Detect one text's language; never raises on odd input (empty, emoji-only, other scripts)."""
    if not isinstance(text, str) or not text.strip():
        return Detection(UNDETERMINED, UNDETERMINED, "", EMPTY, {})
    flat = _SKIP.sub(" ", unicodedata.normalize("NFC", text).lower())
    clauses = [
        c for c in (_WORD.findall(part) for part in _CLAUSE.split(_QUOTED_NAME.sub(" ", flat))) if c
    ] or [c for c in (_WORD.findall(part) for part in _CLAUSE.split(flat)) if c]
    if not clauses:
        return Detection(UNDETERMINED, UNDETERMINED, "", NO_LETTERS, {})
    langs = settings.languages
    by_script = {s: tuple(c for c in langs if script_of(c) == s) for s in ("cyrillic", "latin", "other")}
    counts: dict[str, int] = {}
    unsupported = supported = 0
    kk_marked = used_lingua = False
    undecided: dict[str, int] = {}
    for clause in clauses:
        # Per clause: Kazakh-marked words, and runs of same-script words that letters do not attribute.
        local: dict[str, int] = {}
        runs: list[tuple[str, list[str]]] = [("", [])]
        for word in clause:
            script = _script(word)
            if script == "cyrillic":
                word = word.translate(_HOMOGLYPHS)
            marker = KAZAKH_LETTERS if script == "cyrillic" else KAZAKH_LATIN_LETTERS
            if "kk" in langs and set(word) & marker:
                local["kk"] = local.get("kk", 0) + 1
                runs.append(("", []))
            elif not by_script[script]:
                unsupported += 1
            elif runs[-1][0] == script:
                runs[-1][1].append(word)
            else:
                runs.append((script, [word]))
        marked = "kk" in local
        kk_marked |= marked
        neutral = 0
        for script, run in runs:
            if not run:
                continue
            candidates = by_script[script]
            if len(candidates) == 1:
                local[candidates[0]] = local.get(candidates[0], 0) + len(run)
            elif marked and script == "cyrillic":
                # Beside Kazakh-marked words each word is judged alone, and counts only when lingua is sure:
                # short words and loanwords such as "карта" or "кредит" are everyday Kazakh too.
                for word in run:
                    code, confidence = ("", 0.0)
                    if len(word) >= settings.foreign_min_letters:
                        code, confidence = _lingua(word, candidates)
                        used_lingua = True
                    if confidence >= settings.word_confidence:
                        local[code] = local.get(code, 0) + 1
                    else:
                        neutral += 1
            else:
                code, confidence = _lingua(" ".join(run), candidates)
                used_lingua = True
                if confidence >= settings.word_confidence or marked:
                    local[code] = local.get(code, 0) + len(run)
                else:  # a short clause lingua is unsure of follows the rest of the text
                    undecided[code] = undecided.get(code, 0) + len(run)
        if local:
            lead = _rank(local, langs)[0][0]
            local[lead] += neutral
        for code, n in local.items():
            counts[code] = counts.get(code, 0) + n
        supported += sum(local.values())
    if unsupported >= max(1, supported):
        return Detection(UNDETERMINED, UNDETERMINED, "", OTHER_SCRIPT, {})
    if undecided:
        lead = _rank(counts or undecided, langs)[0][0]
        counts[lead] = counts.get(lead, 0) + sum(undecided.values())
        supported += sum(undecided.values())
    ranked = _rank(counts, langs)
    primary = ranked[0][0]
    # Kazakh letters alone settled it when the text stayed all Kazakh; otherwise lingua weighed in.
    path = LINGUA if used_lingua and not (kk_marked and len(ranked) == 1) else FAST
    if len(ranked) > 1:
        second, n_second = ranked[1]
        if n_second >= settings.mixed_min_words and n_second / supported >= settings.mixed_min_share:
            return Detection(MIXED, primary, second, path, counts)
    return Detection(primary, primary, "", path, counts)


def _rank(counts: dict[str, int], langs: tuple[str, ...]) -> list[tuple[str, int]]:
    """Languages by word count, ties broken by the configured order."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], langs.index(kv[0])))


def detect_many(texts: Sequence[str], settings: LangSettings = LangSettings()) -> list[Detection]:
    return [detect(t, settings) for t in texts]


#: Columns of the per-record table; fixed-width strings so the on-disk cache can store them.
TABLE_COLUMNS = ("lang", "primary", "secondary", "path")


class LanguageDetectionParams(CheckParams):
    """How languages are detected (the ``checks.language`` block): the check and the splitter read the same."""

    languages: tuple[str, ...] = Field(
        ("ru", "kk", "en"),
        description="ISO 639-1 codes the data should be in; detection chooses only among these.",
    )
    mixed_min_share: float = Field(
        0.1,
        gt=0,
        le=0.5,
        description="A second language with at least this share of a text's words makes it mixed.",
    )
    mixed_min_words: int = Field(1, ge=1, description="...and at least this many words.")
    word_confidence: float = Field(
        0.95,
        ge=0.5,
        le=1,
        description="Beside Kazakh-marked words, lingua "
        "confidence needed to count a word as another language.",
    )
    word_confidence: float = Field(
        0.95,
        ge=0.5,
        le=1,
        description="Beside Kazakh-marked words, lingua "
        "confidence needed to count a word as another language.",
    )
    foreign_min_letters: int = Field(
        6, ge=1, description="...and the word's minimum length (shorter words are shared vocabulary)."
    )

    @field_validator("languages", mode="before")
    @classmethod
    def _codes(cls, value: object) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        return validate_languages(list(value))  # type: ignore[arg-type]


def settings_from(params: LanguageDetectionParams) -> LangSettings:
    """The detection settings carried by the language checker's Params (the splitter reads the same)."""
    return LangSettings(
        languages=tuple(params.languages),
        mixed_min_share=params.mixed_min_share,
        mixed_min_words=params.mixed_min_words,
        word_confidence=params.word_confidence,
        foreign_min_letters=params.foreign_min_letters,
    )


def language_table(ctx: AuditContext) -> pd.DataFrame:
    """Per-record detection (columns :data:`TABLE_COLUMNS`), cached by text hash and memoised per run."""

    def compute() -> pd.DataFrame:
        settings = settings_from(LanguageDetectionParams.of(ctx.config, "language"))
        texts = ctx.frame["text"].tolist()

        def run(positions: np.ndarray) -> np.ndarray:
            out = np.empty((len(positions), len(TABLE_COLUMNS)), dtype="<U12")
            with ctx.progress.task("detecting languages", total=len(positions)) as advance:
                for start in range(0, len(positions), 1000):
                    for row in range(start, min(start + 1000, len(positions))):
                        d = detect(texts[positions[row]], settings)
                        out[row] = (d.lang, d.primary, d.secondary, d.path)
                    advance(min(1000, len(positions) - start))
            return out

        namespace = ctx.cache.namespace(
            "langid", v=1, **{k: getattr(settings, k) for k in settings.__slots__}
        )
        values = ctx.cache.per_record(namespace, ctx.frame["text_hash"].tolist(), run)
        values = np.asarray(values).reshape(len(texts), len(TABLE_COLUMNS))
        return pd.DataFrame(values, columns=list(TABLE_COLUMNS), index=ctx.frame.index)

    return ctx.memo(language_table, compute)


def detected_languages(ctx: AuditContext) -> pd.Series:
    """Code per record (ISO 639-1, ``mixed`` or ``und``) aligned with ``ctx.frame``, for stratifying."""
    return language_table(ctx)["lang"].rename("detected_lang")
