"""Language identification tuned for Kazakh/Russian/English support traffic.

People in Kazakhstan type Kazakh with its letters, without them ("Оте жаксы"
for "Өте жақсы") and in Latin letters ("Keremet! Ózime kerektini taptym"), and
type Russian in Latin letters too. A word with one of Kazakh's nine letters
(ә ғ қ ң ө ұ ү һ і) is Kazakh on sight; everything else among Kazakh, Russian
and English is settled by a small n-gram model that sees through the script
(:mod:`dqaudit.features.language_model`), and any other configured language by lingua.

Code-switching is counted, not forced into one language: every word is
attributed to a language clause by clause, and a text is ``mixed`` only when
its second language carries real content: at least ``mixed_min_share`` of its
words and either ``mixed_min_words`` words or a clause of its own, or a whole
sentence ("... Рақмет."). Names,
brands, acronyms and product names (capitalised inside a sentence, ALLCAPS,
iPhone-style) are not counted, so "Как подключить Apple Pay?" stays Russian,
and texts of 1-3 words are never mixed. Work per record is bounded
(:data:`MAX_CHARS`, :data:`MAX_TOKEN`) and linear in the text's length.

Per-record results are cached on disk by text hash and memoised per run;
:func:`detected_languages` is what the language checker and the splitter read.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache, partial
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import Field, field_validator

from ..config import CheckParams
from ..context import AuditContext
from ..parallel import map_chunks

if TYPE_CHECKING:
    from lingua import LanguageDetector

#: Codes that are not languages: code-switched records, and records with nothing to detect.
MIXED, UNDETERMINED = "mixed", "und"
#: Which path settled a record: letters alone, the n-gram model, lingua, or why nothing could be detected.
FAST, MODEL, LINGUA = "fast", "model", "lingua"
EMPTY, NO_LETTERS, OTHER_SCRIPT = "empty", "no-letters", "other-script"

KAZAKH_LETTERS = frozenset("әғқңөұүһі")
#: The one Latin letter only Kazakh uses (2018 alphabet); ń and ı are Polish and Turkish too.
KAZAKH_LATIN_LETTERS = frozenset("ǵ")
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

#: Work per record is bounded: only this many characters are read, and a longer "word" is noise.
MAX_CHARS, MAX_TOKEN = 10_000, 64
_DIGIT = re.compile(r"\d")
_CYRILLIC = re.compile(r"[\u0400-\u052f]")
_LATIN = re.compile(r"[a-z\u00c0-\u024f\u1e00-\u1eff]")
#: Code-switching happens at clause boundaries, so words are weighed clause by clause.
_CLAUSE = re.compile(r"([.!?;:,()\"«»—–…]+)")
_SENTENCE_END = frozenset(".!?…")
#: «Quoted» names (shops, products, magazines) and "quoted" screen messages say nothing about the
#: writer's language.
_QUOTED_NAME = re.compile(r"«[^»]{1,40}»|„[^“]{1,40}“|\"[^\"\n]{1,40}\"")
_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
#: Latin letters typed in place of their Cyrillic twins inside Cyrillic words (a common Kazakh habit).
_HOMOGLYPHS = str.maketrans({"i": "і", "a": "а", "e": "е", "o": "о", "c": "с", "p": "р", "x": "х", "y": "у"})
#: Languages the n-gram model (:mod:`dqaudit.features.language_model`) knows, in any script people
#: type them in; it also knows other Latin-script languages pooled as one class.
MODEL_LANGUAGES, OTHER_LATIN = ("kk", "ru", "en"), "xx"
#: ``orthography`` values: as the language is normally written, Kazakh typed with Russian letters only,
#: or a Cyrillic-script language written in Latin letters (Kazakh's 2018/2021 alphabets included).
STANDARD, NO_KAZAKH_LETTERS, TRANSLIT = "standard", "without-kazakh-letters", "translit"
#: Model confidence under which a Latin-letter run is not taken for Kazakh or Russian transliteration.
_TRANSLIT_CONFIDENCE = 0.8


@dataclass(frozen=True, slots=True)
class LangSettings:
    """What detection depends on; part of the cache namespace, so changing any of it recomputes."""

    languages: tuple[str, ...] = ("ru", "kk", "en")
    mixed_min_share: float = 0.15
    mixed_min_words: int = 2
    word_confidence: float = 0.95
    foreign_min_letters: int = 6


@dataclass(frozen=True, slots=True)
class Detection:
    """One record's verdict: ``lang`` is a code, ``mixed`` or ``und``; ``words`` counts words per language.

    ``script`` is ``cyrillic``, ``latin``, ``mixed`` (both carry content) or ``other``/``""``;
    ``orthography`` is how the primary language is written (:data:`STANDARD`, :data:`NO_KAZAKH_LETTERS`,
    :data:`TRANSLIT`), ``""`` when nothing was detected.
    """

    lang: str
    primary: str
    secondary: str
    path: str
    words: dict[str, int]
    script: str = ""
    orthography: str = ""


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


def _carries_language(token: str) -> bool:
    """Links, addresses, handles, tokens with digits (codes, amounts) and over-long runs carry none."""
    return not (
        len(token) > MAX_TOKEN
        or "@" in token
        or "://" in token
        or token.startswith(("www.", "#"))
        or _DIGIT.search(token) is not None
    )


class _Word(NamedTuple):
    text: str  # lower-cased; Latin homoglyphs inside Cyrillic words replaced
    script: str
    name: bool  # a name, brand, acronym or product: counted only when nothing else is there
    kazakh: bool  # has one of Kazakh's own letters (of its script): Kazakh on sight


def _clauses(text: str, quoted: bool = False) -> list[tuple[int, list[_Word]]]:
    """Words of the text's first :data:`MAX_CHARS` characters, in clauses numbered by sentence; one pass.

    Whitespace splits tokens (no pattern rescans the text), so a 1M-character run without spaces
    costs one token check; a word is a name when it is capitalised inside a sentence, an acronym in
    a text that is not shouting, or has capitals inside (iPhone, CloudNote). Tokens and words repeat
    across records (Zipf), so what depends on a token or a word alone is memoised, the word's
    :class:`_Word` both as a name and as a plain word included (:func:`_token_parts`,
    :func:`_word_shape`); only the sentence bookkeeping runs per record, and it builds no object per word.
    """
    text = unicodedata.normalize("NFC", text[:MAX_CHARS])
    if not quoted:  # «quoted» names are left out unless they are all there is
        text = _QUOTED_NAME.sub(" ", text)
    current: list[tuple[_Shape, bool]] = []
    raw = [(0, current)]
    sentence, initial = 0, True
    for number, line in enumerate(text.split("\n")):
        newline = number > 0  # a line break before the next token starts a sentence
        for token in line.split():
            if newline:
                sentence, initial, newline = sentence + 1, True, False
                current = []
                raw.append((sentence, current))
            for part in _token_parts(token) if len(token) <= MAX_TOKEN else ():
                if part is True or part is False:  # a run of punctuation: a clause (maybe a sentence) ends
                    if part:
                        sentence, initial = sentence + 1, True
                    current = []
                    raw.append((sentence, current))
                else:
                    current.append((part, initial))
                    initial = False
    # Title Case Text capitalises every word, so capitals count as names only when most words inside
    # sentences are lower-case; ALLCAPS counts only when most words are not shouting
    n_long = n_upper = n_inside = n_capital = 0
    for _, clause in raw:
        for shape, first in clause:
            if shape[0]:
                n_long += 1
                n_upper += shape[1]
                if not first:
                    n_inside += 1
                    n_capital += shape[3]
    shouting, titled = n_upper * 2 > n_long, n_capital * 2 > n_inside
    out = []
    for number, clause in raw:
        if clause:
            words = [
                named if long and ((upper and not shouting) or inner or (capital and not (first or titled)))
                else plain for (long, upper, inner, capital, plain, named), first in clause
            ]
            out.append((number, words))
    return out


@lru_cache(maxsize=1 << 17)
def _token_parts(token: str) -> tuple[_Shape | bool, ...]:
    """A whitespace token's words (their shapes) and clause breaks in order (a break is True when it
    ends a sentence).

    Memoised: the same tokens recur across records.
    """
    if not _carries_language(token):
        return ()
    out: list[_Shape | bool] = []
    for i, part in enumerate(_CLAUSE.split(token)):
        if i % 2:  # a run of punctuation
            out.append(any(c in _SENTENCE_END for c in part))
            continue
        for word in _WORD.findall(part):
            if len(word) > 1 and len(set(word.lower())) == 1:
                continue  # "ззззз", "ааа": a keyboard run, not a word
            out.append(_word_shape(word))
    return tuple(out)


#: (longer than one letter, all capitals, capitals inside a hyphen-part (iPhone), capitalised, the word as
#: a plain word, the word as a name)
_Shape = tuple[bool, bool, bool, bool, _Word, _Word]


@lru_cache(maxsize=1 << 17)
def _word_shape(word: str) -> _Shape:
    """What a word's naming depends on, and the word read both ways (memoised: words recur across records)."""
    lower = word.lower()
    script = _script(lower)
    inner = any(any(c.isupper() for c in part[1:]) and not part.isupper() for part in word.split("-"))
    text = lower.translate(_HOMOGLYPHS) if script == "cyrillic" else lower
    marker = KAZAKH_LETTERS if script == "cyrillic" else KAZAKH_LATIN_LETTERS
    kazakh = not marker.isdisjoint(text)
    return (len(word) > 1, word.isupper(), inner, word[0].isupper(),
            _Word(text, script, False, kazakh), _Word(text, script, True, kazakh))  # fmt: skip


def _model_pick(words: Sequence[str], among: tuple[str, ...]) -> tuple[str, float]:
    if len(words) == 1:
        return _word_pick(words[0], among)
    from .language_model import load

    return load().posterior(words, among)


@lru_cache(maxsize=1 << 17)
def _word_pick(word: str, among: tuple[str, ...]) -> tuple[str, float]:
    """The model's verdict on one word (memoised: each long word of a run is judged on its own)."""
    from .language_model import load

    return load().posterior([word], among)


def _decide(words: Sequence[str], script: str, candidates: tuple[str, ...]) -> tuple[str, float, str]:
    """Language of a run of same-script words among ``candidates``: (code, confidence, path).

    The n-gram model settles Kazakh/Russian/English in either script; lingua settles the other
    configured languages (a Latin run the model does not take for Kazakh or Russian goes to lingua
    among the configured Latin-script languages).
    """
    if len(candidates) == 1:
        return candidates[0], 1.0, FAST
    known = tuple(c for c in candidates if c in MODEL_LANGUAGES)
    others = tuple(c for c in candidates if c not in MODEL_LANGUAGES)
    if script == "latin":
        return _decide_latin(words, candidates)
    if not others:
        code, confidence = _model_pick(words, known)
        return code, confidence, MODEL
    code, confidence = _lingua(" ".join(words), candidates)
    if code in ("kk", "ru") and {"kk", "ru"} <= set(candidates):
        code, confidence = _model_pick(words, ("kk", "ru"))
        return code, confidence, MODEL
    return code, confidence, LINGUA


def _decide_latin(words: Sequence[str], candidates: tuple[str, ...]) -> tuple[str, float, str]:
    """A Latin-letter run: Kazakh or Russian typed in Latin letters, English, or another Latin language.

    The model also knows "some other Latin-script language" (``xx``, pooled from two dozen
    languages); that and English go to lingua when several Latin-script languages are configured,
    else to the one there is, else (none configured) to the nearest of Kazakh and Russian.
    """
    translit = tuple(c for c in candidates if c in ("kk", "ru"))
    latin = tuple(c for c in candidates if c not in ("kk", "ru"))
    among = (*translit, *(("en",) if latin else ()), OTHER_LATIN)
    code, confidence = _model_pick(words, among)
    if code in translit and (confidence >= _TRANSLIT_CONFIDENCE or latin in ((), ("en",))):
        return code, confidence, MODEL
    if not latin:
        code, confidence = _model_pick(words, translit)
        return code, confidence, MODEL
    if latin == ("en",):
        return "en", confidence if code == "en" else 1.0 - confidence, MODEL
    code, confidence = _lingua(" ".join(words), latin)
    return code, confidence, LINGUA


def detect(text: str, settings: LangSettings = LangSettings()) -> Detection:
    """Detect one text's language; never raises on odd input (empty, emoji-only, other scripts)."""
    if not isinstance(text, str) or not text.strip():
        return Detection(UNDETERMINED, UNDETERMINED, "", EMPTY, {})
    clauses = _clauses(text) or _clauses(text, quoted=True)
    if not clauses:
        return Detection(UNDETERMINED, UNDETERMINED, "", NO_LETTERS, {})
    if all(w.name for _, clause in clauses for w in clause):  # nothing but names: they are all there is
        clauses = [(n, [w._replace(name=False) for w in clause]) for n, clause in clauses]
    langs = settings.languages
    kazakh_wanted = "kk" in langs
    confident, foreign = settings.word_confidence, settings.foreign_min_letters
    by_script = _by_script(langs)
    counts: dict[str, int] = {}
    owned: set[str] = set()  # languages that have a clause of their own
    sentences: dict[int, set[str]] = {}  # languages per sentence
    written: dict[tuple[str, str], int] = {}  # (language, script) -> words
    lettered = 0  # Kazakh words written with Kazakh letters
    unsupported = 0
    paths: set[str] = set()
    undecided: dict[str, int] = {}
    for number, clause in clauses:
        local: dict[str, int] = {}
        runs: dict[str, list[str]] = {}  # script -> the clause's words in it without Kazakh letters
        for word, script, name, kazakh in clause:
            if name:
                continue
            if kazakh and kazakh_wanted:
                local["kk"] = local.get("kk", 0) + 1
                written[("kk", script)] = written.get(("kk", script), 0) + 1
                lettered += script == "cyrillic"
                paths.add(FAST)
            elif not by_script[script]:
                unsupported += 1
            else:
                runs.setdefault(script, []).append(word)
        marked = "kk" in local
        for script, run in runs.items():
            found, sure, used = _attribute(tuple(run), script, by_script[script], marked, confident, foreign)
            paths |= used
            for code, n in found:
                target = local if sure else undecided
                target[code] = target.get(code, 0) + n
                written[(code, script)] = written.get((code, script), 0) + n
        if len(local) == 1:
            owned.update(local)
        sentences.setdefault(number, set()).update(local)
        for code, n in local.items():
            counts[code] = counts.get(code, 0) + n
    if undecided:  # a short clause the model is unsure of follows the rest of the text
        lead = _rank(counts or undecided, langs)[0][0]
        counts[lead] = counts.get(lead, 0) + sum(undecided.values())
        for (code, script), n in list(written.items()):
            if code != lead and code in undecided and code not in counts:
                written[(lead, script)] = written.get((lead, script), 0) + n
                del written[(code, script)]
    supported = sum(counts.values())
    if unsupported >= max(1, supported) or not counts:
        reason = OTHER_SCRIPT if unsupported else NO_LETTERS
        return Detection(UNDETERMINED, UNDETERMINED, "", reason, {})
    ranked = _rank(counts, langs)
    primary = ranked[0][0]
    path = LINGUA if LINGUA in paths else MODEL if MODEL in paths else FAST
    lang, secondary = primary, ""
    if len(ranked) > 1 and supported > 3:
        second, n_second = ranked[1]
        share = n_second / supported
        real = share >= settings.mixed_min_share and (n_second >= settings.mixed_min_words or second in owned)
        # "free fire", "red ball", "Face ID": two Latin words in Cyrillic text are a name more often than not
        main = _main_script(written, primary)
        if n_second < 3 and all(script != main for (c, script) in written if c == second):
            real = False
        # or a whole sentence ("... Рақмет."), unless it is a word lost in a long text
        sentence = {second} in sentences.values() and share >= settings.mixed_min_share / 3
        if real or sentence:
            lang, secondary = MIXED, second
    script = _record_script(written, settings)
    return Detection(lang, primary, secondary, path, counts, script, _orthography(primary, written, lettered))


@cache
def _by_script(langs: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The configured languages a word in each script can be in."""
    return {
        "cyrillic": tuple(c for c in langs if script_of(c) == "cyrillic"),
        # Kazakh and Russian are typed in Latin letters too; the model recognises them there
        "latin": tuple(c for c in langs if script_of(c) == "latin" or c in ("kk", "ru")),
        "other": tuple(c for c in langs if script_of(c) == "other"),
    }


@lru_cache(maxsize=1 << 16)
def _attribute(
    run: tuple[str, ...],
    script: str,
    candidates: tuple[str, ...],
    marked: bool,
    confident: float,
    foreign: int,
) -> tuple[tuple[tuple[str, int], ...], bool, frozenset[str]]:
    """Words per language in a clause's same-script words without Kazakh letters, whether it is sure,
    and the paths that decided it.

    The run takes one language; a long word the model is sure belongs to another candidate
    counts there (a Russian phrase inside Kazakh). Beside Kazakh-lettered words the run is
    Kazakh unless a word is surely something else: Kazakh typed partly without its letters.
    ``confident`` and ``foreign`` are :class:`LangSettings`' ``word_confidence`` and
    ``foreign_min_letters``, passed as numbers so that the memo's key hashes in C.
    Memoised: greetings, thanks and stock phrases recur as whole runs.
    """
    paths: set[str] = set()
    if marked and script == "cyrillic" and "kk" in candidates:
        lead, confidence = "kk", 1.0
    else:
        lead, confidence, path = _decide(run, script, candidates)
        paths.add(path)
    judged = tuple(c for c in candidates if c in MODEL_LANGUAGES)
    among = (*judged, OTHER_LATIN) if script == "latin" else judged
    codes = [lead] * len(run)
    for i, word in enumerate(run):
        if len(run) > 1 and len(word) >= foreign and lead in judged and len(judged) > 1:
            found, sure = _word_pick(word, among)
            if found not in (lead, OTHER_LATIN) and sure >= confident:
                codes[i] = found
                paths.add(MODEL)
    out: dict[str, int] = {}
    for i, code in enumerate(codes):
        # a lone foreign word is a borrowing ("взломы", "подпишик"); two in a row are a phrase
        alone = code != lead and codes[i - 1 : i] != [code] and codes[i + 1 : i + 2] != [code]
        code = lead if alone else code
        out[code] = out.get(code, 0) + 1
    return tuple(out.items()), confidence >= confident, frozenset(paths)


def _main_script(written: dict[tuple[str, str], int], lang: str) -> str:
    """The script most of a language's words in this text are written in."""
    mine = {script: n for (code, script), n in written.items() if code == lang}
    return max(mine, key=lambda k: mine[k]) if mine else ""


def _record_script(written: dict[tuple[str, str], int], settings: LangSettings) -> str:
    """cyrillic/latin/other by words; mixed only when the second script carries content too."""
    per: dict[str, int] = {}
    for (_lang, script), n in written.items():
        per[script] = per.get(script, 0) + n
    ranked = sorted(per.items(), key=lambda kv: -kv[1])
    total = sum(per.values())
    if len(ranked) > 1 and total > 3:
        n_second = ranked[1][1]
        if n_second >= settings.mixed_min_words and n_second / total >= settings.mixed_min_share:
            return MIXED
    return ranked[0][0] if ranked else ""


def _orthography(primary: str, written: dict[tuple[str, str], int], lettered: int) -> str:
    """How the primary language is written: standard, Kazakh without its letters, or Latin translit."""
    latin = written.get((primary, "latin"), 0)
    cyrillic = written.get((primary, "cyrillic"), 0)
    if primary in CYRILLIC_LANGUAGES and latin > cyrillic:
        return TRANSLIT
    if primary == "kk" and not lettered:
        return NO_KAZAKH_LETTERS
    return STANDARD


def _rank(counts: dict[str, int], langs: tuple[str, ...]) -> list[tuple[str, int]]:
    """Languages by word count, ties broken by the configured order."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], langs.index(kv[0])))


def detect_many(texts: Sequence[str], settings: LangSettings = LangSettings()) -> list[Detection]:
    return [detect(t, settings) for t in texts]


#: Bumped whenever detection changes, so every cache of detected languages is recomputed.
DETECTOR_VERSION = 2
#: Columns of the per-record table; fixed-width strings so the on-disk cache can store them.
TABLE_COLUMNS = ("lang", "primary", "secondary", "path", "script", "orthography")
#: Values stored shorter in the cache (12 characters a cell keep 1M records at about 290 MB).
_SHORT = {NO_KAZAKH_LETTERS: "no-kk-letter"}
#: The per-record columns other parts of dqaudit publish (per-record results), by their public names.
RECORD_COLUMNS = {
    "lang": "language",
    "primary": "language_primary",
    "secondary": "language_secondary",
    "script": "script",
    "orthography": "orthography",
}


class LanguageDetectionParams(CheckParams):
    """How languages are detected (the ``checks.language`` block); the check and the splitter read it."""

    languages: tuple[str, ...] = Field(
        ("ru", "kk", "en"),
        description="ISO 639-1 codes the data should be in; detection chooses only among these.",
    )
    mixed_min_share: float = Field(
        0.15,
        gt=0,
        le=0.5,
        description="A second language with at least this share of a text's words (names, brands and "
        "acronyms not counted) makes it mixed...",
    )
    mixed_min_words: int = Field(
        2,
        ge=1,
        description="...when it has at least this many words or a clause of its own "
        "(a whole sentence in another language always makes a text of 4+ words mixed).",
    )
    word_confidence: float = Field(
        0.95,
        ge=0.5,
        le=1,
        description="Confidence the n-gram model needs to count a word as another "
        "language than the rest of its clause.",
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
            todo = [texts[p] for p in positions.tolist()]
            parts = [np.empty((0, len(TABLE_COLUMNS)), dtype="<U12")]
            with ctx.progress.task("detecting languages", total=len(todo)) as advance:
                for part in _detect_chunks(todo, settings):
                    parts.append(part)
                    advance(len(part))
            return np.concatenate(parts)

        namespace = ctx.cache.namespace(
            "langid", v=DETECTOR_VERSION, **{k: getattr(settings, k) for k in settings.__slots__}
        )
        values = ctx.cache.per_record(namespace, ctx.frame["text_hash"].tolist(), run)
        values = np.asarray(values).reshape(len(texts), len(TABLE_COLUMNS))
        # column by column through Arrow: the same ``str`` columns in 0.5 s at 1M rows, where the frame
        # built from the 2-d array takes 1.3 s
        table = pd.DataFrame({name: pd.array(pa.array(values[:, j]), dtype="str")
                              for j, name in enumerate(TABLE_COLUMNS)}, index=ctx.frame.index)
        table["orthography"] = table["orthography"].replace({v: k for k, v in _SHORT.items()})
        return table

    return ctx.memo(language_table, compute)


#: Records per chunk of work, and the fewest records worth starting worker processes for (each worker
#: builds its own word memos, so small inputs are faster in-process).
_CHUNK, _PARALLEL_MIN = 5_000, 50_000


def _detect_chunks(texts: list[str], settings: LangSettings) -> Iterator[np.ndarray]:
    """Table rows (:data:`TABLE_COLUMNS`) for ``texts``, chunk by chunk in order.

    Detection is pure Python, so large inputs are spread over forked worker processes
    (:func:`~dqaudit.parallel.map_chunks`: the model is already in memory and the chunks come back in
    order, so the result is the same as in one process). Only when every configured language is the
    n-gram model's: lingua's native thread pool does not survive a fork.
    """
    model_only = set(settings.languages) <= set(MODEL_LANGUAGES)
    if model_only:
        from .language_model import load

        load()  # loaded once here, shared by the forked workers
    yield from map_chunks(partial(_detect_rows, settings=settings), texts, _CHUNK,
                          _PARALLEL_MIN if model_only else math.inf)


def _detect_rows(texts: list[str], settings: LangSettings) -> np.ndarray:
    """:func:`detect` on each text, as table rows: one chunk of :func:`_detect_chunks`."""
    out = np.empty((len(texts), len(TABLE_COLUMNS)), dtype="<U12")
    for row, text in enumerate(texts):
        d = detect(text, settings)
        orthography = _SHORT.get(d.orthography, d.orthography)
        out[row] = (d.lang, d.primary, d.secondary, d.path, d.script, orthography)
    return out


def record_columns(ctx: AuditContext) -> pd.DataFrame:
    """Language, primary/secondary language, script and orthography per record, aligned with ``ctx.frame``.

    The one place the per-record results table takes its language columns from.
    """
    table = language_table(ctx)
    return table[list(RECORD_COLUMNS)].rename(columns=RECORD_COLUMNS)


def detected_languages(ctx: AuditContext) -> pd.Series:
    """Code per record (ISO 639-1, ``mixed`` or ``und``) aligned with ``ctx.frame``, for stratifying."""
    return language_table(ctx)["lang"].rename("detected_lang")
