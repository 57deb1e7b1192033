"""Personal data in support texts, found with validation rather than bare patterns.

A bare 16-digit regex flags order numbers and a bare 12-digit one flags contract
numbers, so every candidate is validated: cards by Luhn and issuer prefix,
IBANs by country length and ISO 7064 mod-97, Kazakhstan IIN/BIN by their check
digit and date structure, phone numbers by ``phonenumbers`` (KZ and RU share +7;
national ``8 7xx`` forms are read as Kazakh), e-mail addresses by shape.

Names of people: no offline recogniser covers Kazakh, Russian and English
together (Presidio needs spaCy models downloaded at run time; natasha is
Russian-only), so names are found by two rules: a self-introduction cue
("меня зовут", "менің атым", "my name is"...) followed by capitalised words,
and a capitalised given name followed by a surname with a Kazakh/Russian
surname ending (-ов/-ова, -ев, -ин, -ұлы/-қызы, -enko, -ov...). Recall on
names without either is knowingly low; the benchmark measures it.

:func:`mask_text` replaces every match with ``<EMAIL>``, ``<PHONE>``,
``<CARD>``, ``<IBAN>``, ``<IIN>`` or ``<PERSON>``; reports and the exporter use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from pydantic import Field, field_validator

from .config import CheckParams

#: Detection types in priority order: an earlier type wins a span that two types claim.
PII_TYPES = ("email", "iban", "card", "iin", "phone", "person")
TOKENS = {
    "email": "<EMAIL>",
    "iban": "<IBAN>",
    "card": "<CARD>",
    "iin": "<IIN>",
    "phone": "<PHONE>",
    "person": "<PERSON>",
}


@dataclass(frozen=True, slots=True)
class PiiMatch:
    type: str
    start: int
    end: int
    value: str


_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}(?![\w-])"
)
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){10,30}")
_DIGITS = re.compile(r"(?<![\d\w])\d(?:[ -]?\d){11,18}(?![\d\w])")
_IIN = re.compile(r"(?<![\d\w])\d{12}(?![\d\w])")
#: Seven digits close together: every card, IIN and phone number has them, most support texts do not.
_DIGIT_RUN = re.compile(r"\d(?:\D{0,3}\d){6}")
#: ISO 13616 lengths of countries customers here are likely to quote; others need 15-34 characters.
IBAN_LENGTHS = {
    "KZ": 20,
    "RU": 33,
    "DE": 22,
    "GB": 22,
    "FR": 27,
    "TR": 26,
    "AE": 23,
    "GE": 22,
    "AZ": 28,
    "UZ": 20,
    "KG": 20,
    "BY": 28,
    "UA": 29,
    "PL": 28,
    "NL": 18,
    "IT": 27,
    "ES": 24,
    "CH": 21,
    "AT": 20,
    "LT": 20,
    "LV": 21,
    "EE": 20,
    "FI": 18,
    "SE": 24,
    "NO": 15,
    "DK": 18,
    "BE": 16,
}
_CYR_UP, _CYR_LOW = "А-ЯЁӘҒҚҢӨҰҮҺІ", "а-яёәғқңөұүһі"
_NAME_WORD = rf"[A-Z{_CYR_UP}][a-z{_CYR_LOW}]+(?:-[A-Z{_CYR_UP}][a-z{_CYR_LOW}]+)?"
_CUES = (
    r"меня зовут|моё имя|мое имя|я\s*[-—–]|с вами говорит|обращается|на имя|владел(?:ец|ица)(?: карты)?|"
    r"получател[ья]|менің атым|атым|есімім|жазып отырған|my name is|i am|i'm|this is|name:|имя:|фио:?"
)
_CUED_NAME = re.compile(rf"(?i:\b(?:{_CUES}))[\s:,]+({_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}})")
_SURNAME_END = (
    r"(?:ов|ев|ёв|ин|ын|ова|ева|ёва|ина|ына|ский|ская|енко|ук|юк|ұлы|улы|қызы|кызы|"
    r"ov|ev|in|ova|eva|ina|sky|skaya|enko|uly|kyzy)"
)
#: A capitalised word after a space, colon or comma: every name match (cued or full) has one, and
#: scanning for it is several times cheaper than for the case-insensitive cue alternation.
_NAME_HINT = re.compile(rf"[\s:,][A-Z{_CYR_UP}][a-z{_CYR_LOW}]")
_FULL_NAME = re.compile(rf"(?<![\w-])({_NAME_WORD}\s+[A-Z{_CYR_UP}][a-z{_CYR_LOW}]+{_SURNAME_END})(?![\w-])")
#: Capitalised words that open sentences or name things, never a given name before a surname.
_NOT_GIVEN = frozenset(
    {
        "Мой",
        "Моя",
        "Мне",
        "Меня",
        "Номер",
        "Карта",
        "Банк",
        "Уважаемый",
        "Уважаемая",
        "Город",
        "Улица",
        "Отделение",
        "Менің",
        "My",
        "The",
        "Dear",
        "Card",
        "Bank",
        "Mr",
        "Mrs",
    }
)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_ok(digits: str) -> bool:
    """13-19 digits, an issuer's first digit (2-6: Mir, Amex/JCB, Visa, Mastercard, UnionPay), Luhn.

    Well-known test numbers such as 4111 1111 1111 1111 count: masking them costs nothing,
    and a report must never show anything that passes as a card number.
    """
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and len(set(digits)) > 1 and luhn_ok(digits)


def iban_ok(iban: str) -> bool:
    """ISO 13616: the country's length and mod-97 == 1 (KZ IBANs are 20 characters)."""
    country = iban[:2]
    if not (country.isalpha() and iban[2:4].isdigit()):
        return False
    expected = IBAN_LENGTHS.get(country)
    if (expected and len(iban) != expected) or not 15 <= len(iban) <= 34:
        return False
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def iin_check_digit(d11: str) -> int | None:
    """Kazakhstan IIN/BIN control digit (weights 1..11, then 3..11,1,2 when the first sum gives 10)."""
    for weights in (range(1, 12), (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)):
        check = sum(int(d) * w for d, w in zip(d11, weights, strict=True)) % 11
        if check != 10:
            return check
    return None


def iin_ok(digits: str) -> bool:
    """12 digits, a valid control digit, and the structure of an IIN (birth date, century/sex 1-6)
    or a BIN (registration year-month, entity type 4-6)."""
    if len(digits) != 12 or not digits.isdigit() or iin_check_digit(digits[:11]) != int(digits[11]):
        return False
    century = digits[6]
    if century in "123456":
        year = {"1": 1800, "2": 1800, "3": 1900, "4": 1900, "5": 2000, "6": 2000}[century] + int(digits[:2])
        try:
            date(year, int(digits[2:4]), int(digits[4:6]))
            return True
        except ValueError:
            pass
    return 1 <= int(digits[2:4]) <= 12 and digits[4] in "456" and digits[5] in "0123"


def _email(text: str) -> Iterable[PiiMatch]:
    for m in _EMAIL.finditer(text):
        local = m.group().split("@")[0]
        if ".." not in m.group() and not local.endswith("."):
            yield PiiMatch("email", m.start(), m.end(), m.group())


def _iban(text: str) -> Iterable[PiiMatch]:
    for m in _IBAN.finditer(text):
        raw = m.group()
        compact = raw.replace(" ", "")
        lengths = (
            [IBAN_LENGTHS[compact[:2]]]
            if compact[:2] in IBAN_LENGTHS
            else range(min(34, len(compact)), 14, -1)
        )
        for length in lengths:
            if len(compact) >= length and iban_ok(compact[:length]):
                end = _span_end(raw, length)
                yield PiiMatch("iban", m.start(), m.start() + end, raw[:end])
                break


def _span_end(raw: str, chars: int) -> int:
    """Offset in ``raw`` just after its ``chars``-th non-space character."""
    seen = 0
    for i, ch in enumerate(raw):
        seen += ch != " "
        if seen == chars:
            return i + 1
    return len(raw)


def _card(text: str) -> Iterable[PiiMatch]:
    for m in _DIGITS.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if card_ok(digits):
            yield PiiMatch("card", m.start(), m.end(), m.group())


def _iin(text: str) -> Iterable[PiiMatch]:
    for m in _IIN.finditer(text):
        if iin_ok(m.group()):
            yield PiiMatch("iin", m.start(), m.end(), m.group())


def _phone(text: str) -> Iterable[PiiMatch]:
    """Valid numbers (``phonenumbers``, national forms read as Kazakh), and any number written in full
    international form whose length is right for its country code, assigned range or not.

    :func:`find_pii` calls it only on texts with a run of seven digits (:data:`_DIGIT_RUN`).
    """
    import phonenumbers

    found = []
    for m in phonenumbers.PhoneNumberMatcher(text, "KZ", leniency=phonenumbers.Leniency.VALID):
        found.append(PiiMatch("phone", m.start, m.end, m.raw_string))
    yield from found
    for m in _INTERNATIONAL.finditer(text):
        if any(f.start < m.end() and m.start() < f.end for f in found):
            continue
        try:
            number = phonenumbers.parse(m.group(), None)
        except phonenumbers.NumberParseException:
            continue
        possible = phonenumbers.is_possible_number_with_reason(number)
        if possible == phonenumbers.ValidationResult.IS_POSSIBLE and _grouped_like_a_phone(m.group()):
            yield PiiMatch("phone", m.start(), m.end(), m.group())


#: ``+`` then 9 to 15 digits in groups (spaces, hyphens, one bracketed area code): E.164's longest is 15.
_INTERNATIONAL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ -]?\(\d{1,5}\)|[ -]?\d{1,5}){2,6}(?![\w,.]?\d)")


def _grouped_like_a_phone(raw: str) -> bool:
    """9 to 15 digits, and not a signed amount: amounts group by three (``+15 000 000``), numbers
    rarely do."""
    digits = re.sub(r"\D", "", raw)
    if not 9 <= len(digits) <= 15:
        return False
    groups = re.findall(r"\d+", raw)
    return not (len(groups) > 1 and all(len(g) == 3 for g in groups[1:]) and len(groups[0]) <= 3
                and "(" not in raw and "-" not in raw and len(groups) <= 3)


def _person(text: str) -> Iterable[PiiMatch]:
    for m in _CUED_NAME.finditer(text):
        yield PiiMatch("person", m.start(1), m.end(1), m.group(1))
    for m in _FULL_NAME.finditer(text):
        if m.group(1).split()[0] not in _NOT_GIVEN:
            yield PiiMatch("person", m.start(1), m.end(1), m.group(1))


_FINDERS = {"email": _email, "iban": _iban, "card": _card, "iin": _iin, "phone": _phone, "person": _person}


def find_pii(text: str, types: Iterable[str] = PII_TYPES) -> list[PiiMatch]:
    """Validated, non-overlapping matches in text order; the earlier type in :data:`PII_TYPES` wins."""
    if not isinstance(text, str) or not text:
        return []
    wanted = set(types) & _possible(text)
    kept: list[PiiMatch] = []
    for kind in PII_TYPES:
        if kind not in wanted:
            continue
        for match in _FINDERS[kind](text):
            if all(match.end <= k.start or match.start >= k.end for k in kept):
                kept.append(match)
    return sorted(kept, key=lambda m: m.start)


def _possible(text: str) -> set[str]:
    """Types that could match at all, by cheap necessary conditions; each finder scans the text again,
    and most support texts carry no "@", no run of seven digits and no capitalised word inside."""
    kinds = {"iban"}
    if "@" in text:
        kinds.add("email")
    if _DIGIT_RUN.search(text):
        kinds.update(("card", "iin", "phone"))
    if _NAME_HINT.search(text):
        kinds.add("person")
    return kinds


#: A digit or @-bearing token cut off by a report's "…" preview: too short to validate, still personal.
_TRUNCATED = re.compile(r"[\w.+@()-]*[\d@][\w.+@() -]*…$")


def mask_text(text: str, types: Iterable[str] = PII_TYPES) -> str:
    """``text`` with every validated match replaced by its token (``<EMAIL>``, ``<PHONE>``, ``<CARD>``...).

    A preview that ends inside a number ("… 4400 4301 2…") has its last token masked as well, since
    the cut-off value can no longer be validated.
    """
    if not isinstance(text, str) or not text:
        return text
    types = tuple(types)
    out, last = [], 0
    for m in find_pii(text, types):
        out.append(text[last : m.start])
        out.append(TOKENS[m.type])
        last = m.end
    out.append(text[last:])
    masked = "".join(out)
    if masked.endswith("…"):
        masked = _TRUNCATED.sub("<…>", masked)
    return masked


class PiiSettings(CheckParams):
    """What counts as personal data (the ``checks.pii`` block): the check, every report's masker and the
    exporter read the same types."""

    types: tuple[str, ...] = Field(
        PII_TYPES, description="What to look for (and mask in reports): " + ", ".join(PII_TYPES) + "."
    )

    @field_validator("types", mode="before")
    @classmethod
    def _known(cls, value: object) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else list(value)  # type: ignore[arg-type]
        unknown = [t for t in items if t not in PII_TYPES]
        if unknown:
            raise ValueError(f"unknown type '{unknown[0]}' (known: {', '.join(PII_TYPES)})")
        return tuple(items)
