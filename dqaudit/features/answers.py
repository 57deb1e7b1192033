"""When do two answers to the same question disagree? A pure, documented rule.

Generation data teaches a model what to *say*; two records that ask the same thing
and expect different facts teach it to guess. Two answers **disagree** when, after
courtesy is set aside,

1. their **facts** differ: where the two answers are aligned word by word, a number (``14``
   vs ``30``; digits or number words, thousands separators ignored), a period unit (days,
   weeks, months, business days…) or a month name (a date) is replaced by another; or
2. their **polarity** differs: a change of at most three words adds or drops a negation
   ("can"/"cannot", "можно"/"нельзя", "не", "жоқ", "емес"), or one opens with yes and the other
   with no; or
3. they are **dissimilar**: the share of the shorter core's tokens that difflib matches, in
   order, in the longer one is below ``min_similarity`` (the question was answered with
   something else; an answer that only adds a detail to another, or quotes part of it, is not).

Courtesy is a greeting or thanks sentence at the start, a sign-off sentence at the end
(with the short signature after it), case, punctuation and whitespace; answers that
differ only there are consistent. Russian, Kazakh and English courtesy, negation,
number words, units and months are known.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher

#: A word (letters, digits, apostrophes inside) or a number with a decimal part.
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[^\W\d_]+(?:['’][^\W\d_]+)*")
_SENTENCE = re.compile(r"(?<=[.!?…])\s+|\n+")
#: "5 205", "5 205" and "1,000" are one number; "1,5" is a decimal.
_THOUSANDS = re.compile(r"(?<=\d)[\s\u00a0\u202f,](?=\d{3}(?!\d))")

_GREETING_STARTS = (
    "hello", "hi", "hey", "dear", "good morning", "good afternoon", "good evening", "greetings",
    "thank you for", "thanks for", "thank you", "thanks",
    "здравствуйте", "добрый день", "доброе утро", "добрый вечер", "привет", "приветствую", "уважаемый",
    "уважаемая", "спасибо за", "благодарим за", "спасибо",
    "сәлеметсіз бе", "сәлем", "қайырлы күн", "қайырлы таң", "құрметті", "рақмет", "рахмет",
)
_SIGN_OFF_STARTS = (
    "best regards", "kind regards", "regards", "sincerely", "have a nice day", "have a great day",
    "have a good day", "let us know if", "if you have any other questions", "feel free to",
    "с уважением", "хорошего дня", "всего доброго", "всего хорошего", "обращайтесь", "если у вас остались",
    "если остались вопросы", "будем рады помочь",
    "құрметпен", "сау болыңыз", "күніңіз сәтті", "сұрақтарыңыз болса",
    "thank you", "thanks", "спасибо", "благодарим", "рақмет", "рахмет",
)
#: Courtesy sentences are short; a longer sentence that merely starts with "thanks" carries content.
_COURTESY_MAX_WORDS = 9
#: Words after a sign-off (a name, a team) are the signature.
_SIGNATURE_MAX_WORDS = 6

NEGATIONS = frozenset({
    "not", "no", "never", "cannot", "can't", "cant", "don't", "doesn't", "didn't", "won't", "isn't",
    "aren't", "wasn't", "weren't", "shouldn't", "couldn't", "haven't", "hasn't", "unable", "nor", "neither",
    "не", "нет", "нельзя", "невозможно", "ни", "никогда", "никак",
    "жоқ", "емес", "болмайды", "алмайсыз", "алмайды", "мүмкін емес",
})
_YES = frozenset({"yes", "yeah", "yep", "да", "иә", "ия", "әрине", "конечно", "certainly", "sure"})
_NO = frozenset({"no", "nope", "нет", "жоқ"})

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14, "fifteen": 15, "twenty": 20, "thirty": 30,
    "один": 1, "одна": 1, "одного": 1, "одной": 1, "два": 2, "две": 2, "двух": 2, "три": 3, "трех": 3,
    "трёх": 3, "четыре": 4, "четырех": 4, "четырёх": 4, "пять": 5, "пяти": 5, "шесть": 6, "шести": 6,
    "семь": 7, "семи": 7, "восемь": 8, "восьми": 8, "девять": 9, "девяти": 9, "десять": 10, "десяти": 10,
    "четырнадцать": 14, "четырнадцати": 14, "пятнадцать": 15, "пятнадцати": 15, "двадцать": 20,
    "двадцати": 20, "тридцать": 30, "тридцати": 30,
    "бір": 1, "екі": 2, "үш": 3, "төрт": 4, "бес": 5, "алты": 6, "жеті": 7, "сегіз": 8, "тоғыз": 9,
    "жиырма": 20, "отыз": 30,
}
_MONTHS = [
    # English names match whole words only ("may" is a verb, so May is left to digits and other languages)
    ("january", "январ", "қаңтар"), ("february", "феврал", "ақпан"), ("march", "март", "наурыз"),
    ("april", "апрел", "сәуір"), ("", "мая", "мамыр"), ("june", "июн", "маусым"),
    ("july", "июл", "шілде"), ("august", "август", "тамыз"), ("september", "сентябр", "қыркүйек"),
    ("october", "октябр", "қазан"), ("november", "ноябр", "қараша"), ("december", "декабр", "желтоқсан"),
]
_UNITS = {
    "minute": re.compile(r"^(?:minutes?|mins?|минут\w*|минут)$"),
    "hour": re.compile(r"^(?:hours?|hrs?|час\w*|сағат\w*)$"),
    "day": re.compile(r"^(?:days?|дн[еяйи]\w*|день|сут\w*|күн|күнде|күннен|күнге|күні\w*)$"),
    "week": re.compile(r"^(?:weeks?|недел\w*|апта\w*)$"),
    "month": re.compile(r"^(?:months?|месяц\w*|ай|айда|айға|айдан|айлық|айы)$"),
    "year": re.compile(r"^(?:years?|год\w*|лет|жыл\w*)$"),
    "business": re.compile(r"^(?:business|working|рабоч\w*|жұмыс)$"),
    "calendar": re.compile(r"^(?:calendar|календарн\w*|күнтізбелік)$"),
    "percent": re.compile(r"^(?:percent|per cent|процент\w*|пайыз\w*)$"),
}
DEFAULT_MIN_SIMILARITY = 0.5
#: A negation added or dropped in a change of at most this many words flips the answer.
POLARITY_WINDOW = 3


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer reduced to what is compared: the core's tokens and its facts."""

    core: tuple[str, ...]
    numbers: tuple[str, ...]
    units: tuple[str, ...]
    months: tuple[str, ...]
    negations: tuple[str, ...]
    polarity: int  # +1 opens with yes, -1 with no, 0 neither

    @property
    def key(self) -> str:
        """Answers with the same key are the same answer up to courtesy, case and punctuation."""
        return " ".join(self.core)

    @property
    def facts(self) -> tuple[tuple[str, ...], ...]:
        """What a question asks about beyond its words: numbers, units, months and negations."""
        return self.numbers, self.units, self.months, self.negations


@dataclass(frozen=True, slots=True)
class Disagreement:
    """Why two answers disagree: ``reason`` is ``facts``, ``polarity`` or ``dissimilar``.

    ``spans`` are the differing parts, ``(a's words, b's words)``, at most a few of them.
    """

    reason: str
    detail: str
    similarity: float
    spans: tuple[tuple[str, str], ...]


def tokens(text: str) -> list[str]:
    """Lower-cased word and number tokens, thousands separators removed, decimal commas as points."""
    flat = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    flat = _THOUSANDS.sub("", flat)
    flat = re.sub(r"(?<=\d),(?=\d)", ".", flat)
    return _TOKEN.findall(flat)


def core_sentences(text: str) -> list[str]:
    """The answer's sentences without a leading greeting and a trailing sign-off (and its signature)."""
    sentences = [s.strip() for s in _SENTENCE.split(text.strip()) if s and s.strip()]
    while sentences and _is_courtesy(sentences[0], _GREETING_STARTS):
        sentences.pop(0)
    for position in range(len(sentences) - 1, -1, -1):
        tail_words = sum(len(tokens(s)) for s in sentences[position + 1:])
        if tail_words > _SIGNATURE_MAX_WORDS:
            break
        if _is_courtesy(sentences[position], _SIGN_OFF_STARTS, signature=True):
            del sentences[position:]
            break
    return sentences


def _is_courtesy(sentence: str, starts: tuple[str, ...], signature: bool = False) -> bool:
    """A short sentence opening with a courtesy phrase and stating no number."""
    words = tokens(sentence)
    if not words or any(w[0].isdigit() for w in words):
        return False
    flat = " ".join(words)
    if not any(flat == s or flat.startswith(s + " ") for s in starts):
        return False
    return signature or len(words) <= _COURTESY_MAX_WORDS


def parse_answer(text: str) -> Answer:
    """Reduce an answer to its core tokens and facts (see the module docstring)."""
    core = tuple(t for s in core_sentences(text or "") for t in tokens(s))
    numbers, units, months, negations = _facts(core)
    polarity = (1 if core[0] in _YES else -1 if core[0] in _NO else 0) if core else 0
    return Answer(core, numbers, units, months, negations, polarity)


def _facts(words: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """Numbers, period units, months and negations among ``words``, each sorted."""
    numbers, units, months, negations = [], [], [], []
    for word in words:
        if word[0].isdigit():
            numbers.append(_number(word))
        elif word in _NUMBER_WORDS:
            numbers.append(str(_NUMBER_WORDS[word]))
        elif word in NEGATIONS or word.endswith("n't"):
            negations.append(word)
        month = _month(word)
        if month:
            months.append(month)
        units += [name for name, pattern in _UNITS.items() if pattern.match(word)]
    for i in range(len(words) - 1):  # two-word negations ("мүмкін емес" counts once, as "емес")
        if f"{words[i]} {words[i + 1]}" in NEGATIONS and words[i + 1] in NEGATIONS:
            negations.remove(words[i + 1])
            negations.append(f"{words[i]} {words[i + 1]}")
    return tuple(sorted(numbers)), tuple(sorted(units)), tuple(sorted(months)), tuple(sorted(negations))


def _number(word: str) -> str:
    value = float(word)
    return str(int(value)) if value.is_integer() else repr(value)


def _month(word: str) -> str | None:
    for index, names in enumerate(_MONTHS, start=1):
        if (names[0] and word == names[0]) or (len(word) >= 4 and any(word.startswith(n) for n in names[1:])):
            return f"month {index}"
    return None


def similarity(a: Answer, b: Answer) -> float:
    """Share of the shorter core's tokens matched, in order, in the longer one; two empty cores are identical.

    Not difflib's ``ratio`` (matches over both lengths): an answer that repeats another and adds a
    detail, or quotes part of it, says nothing different and should not look dissimilar.
    """
    if not a.core or not b.core:
        return float(not a.core and not b.core)
    return _overlap(SequenceMatcher(None, a.core, b.core, autojunk=False), a, b)


def _overlap(matcher: SequenceMatcher, a: Answer, b: Answer) -> float:  # type: ignore[type-arg]
    matched = sum(block.size for block in matcher.get_matching_blocks())
    return matched / min(len(a.core), len(b.core))


def compare(a: Answer, b: Answer, min_similarity: float = DEFAULT_MIN_SIMILARITY) -> Disagreement | None:
    """None when the two answers are consistent, else why they disagree (facts, polarity, dissimilar).

    Facts and negations are compared where the two cores are aligned (difflib opcodes): a number
    *replaced* by another, or a negation added or dropped in a change of at most
    :data:`POLARITY_WINDOW` words. A passage one answer adds or leaves out (an excerpt, an extra
    detail) is not a contradiction by itself; it lowers the similarity.
    """
    if a.key == b.key:
        return None
    if not a.core or not b.core:
        return Disagreement("dissimilar", "one answer is empty once courtesy is set aside", 0.0,
                            ((_clip(a.core, 12), _clip(b.core, 12)),))
    matcher = SequenceMatcher(None, a.core, b.core, autojunk=False)
    ratio = _overlap(matcher, a, b)
    changes = [(a.core[i1:i2], b.core[j1:j2]) for op, i1, i2, j1, j2 in matcher.get_opcodes()
               if op != "equal"]
    for at, (left, right) in enumerate(changes):
        mine, theirs = _facts(left), _facts(right)
        small = max(len(left), len(right)) <= POLARITY_WINDOW
        for name, k in (("numbers", 0), ("units", 1), ("dates", 2)):
            # a unit added in a small change ("10 days" -> "10 business days") changes the period too
            stated = (mine[k] and theirs[k]) or (small and name == "units" and (mine[k] or theirs[k]))
            if stated and Counter(mine[k]) != Counter(theirs[k]):
                detail = (f"different {name}: {', '.join(mine[k]) or '(none)'} "
                          f"vs {', '.join(theirs[k]) or '(none)'}")
                return Disagreement("facts", detail, ratio, _spans(changes, at))
        if small and Counter(mine[3]) != Counter(theirs[3]):
            detail = f"negation: {', '.join(mine[3]) or '(none)'} vs {', '.join(theirs[3]) or '(none)'}"
            return Disagreement("polarity", detail, ratio, _spans(changes, at))
    if a.polarity and b.polarity and a.polarity != b.polarity:
        return Disagreement("polarity", "yes/no flip", ratio, _spans(changes))
    if ratio < min_similarity:
        return Disagreement("dissimilar", f"similarity {ratio:.2f} < {min_similarity:.2f}", ratio,
                            _spans(changes))
    return None


def _spans(changes: list[tuple[tuple[str, ...], tuple[str, ...]]], first: int = 0, limit: int = 3,
           width: int = 12) -> tuple[tuple[str, str], ...]:
    """Up to ``limit`` differing places as ``(a's words, b's words)``,
    the deciding one (index ``first``) first."""
    ordered = [changes[first], *changes[:first], *changes[first + 1:]] if changes else []
    return tuple((_clip(left, width), _clip(right, width)) for left, right in ordered[:limit])


def _clip(words: tuple[str, ...], width: int) -> str:
    return " ".join(words[:width]) + (" …" if len(words) > width else "")
