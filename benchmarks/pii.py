"""PII benchmark: a generated set with planted values and look-alikes, against a bare-regex baseline.

    python benchmarks/pii.py [--docs N] [--seed S]

Each document is a short ru/kk/en support sentence carrying either one planted
value (e-mail, KZ/RU phone in several formats, +7 and +998 numbers outside the assigned ranges,
Luhn-valid card, KZ/DE/GB IBAN with a valid mod-97, IIN with a valid check digit and birth date,
a person's name), or a
look-alike that must not be flagged (order numbers, dates, amounts, signed amounts, Luhn-failing
card numbers, IBANs with a wrong checksum, 12-digit contract numbers with a wrong
IIN check digit), or nothing. Scored per document and type.
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta

from dqaudit.pii import PII_TYPES, find_pii, iban_ok, iin_check_digit, iin_ok, luhn_ok

FRAMES = {
    "email": ["Моя почта {v}, напишите туда.", "Менің поштам: {v}.", "Please reply to {v}."],
    "phone": ["Мой номер {v}, перезвоните.", "Байланыс нөмірі: {v}.", "Call me back at {v}."],
    "card": ["Номер карты {v}.", "Карта нөмірі {v}.", "Card number {v}."],
    "iban": ["Переводил на счёт {v}.", "{v} шотына аударғанмын.", "I sent it to {v}."],
    "iin": ["Мой ИИН {v}.", "ЖСН {v}.", "My IIN is {v}."],
    "person": ["Меня зовут {v}.", "Менің атым {v}.", "My name is {v}.", "Вчера {v} звонил в банк."],
}
LOOKALIKE = [
    "Это по заказу №{v}.",
    "Сумма была {v} тенге.",
    "Операция от {v}.",
    "Номер карты {v}.",
    "Номер договора {v}.",
    "Реквизиты получателя: {v}.",
    "Order #{v}.",
    "The amount was {v} KZT.",
]
NAMES = [
    "Айгерим Сапарова",
    "Ержан Ахметов",
    "Дмитрий Иванов",
    "Әсел Нұрланқызы",
    "Ерлан Сәрсенбаев",
    "John Miller",
    "Daniyar Akhmetov",
    "Наталья Ким",
    "Emma Wilson",
    "Гүлназ Төлеуова",
]
PLAIN = [
    "Как заблокировать карту?",
    "Картамды бұғаттау керек.",
    "How do I reset my PIN?",
    "Перевод не прошёл, деньги списаны.",
    "Аударым өтпеді.",
    "Where is my refund?",
]


def _digits(r: random.Random, n: int) -> str:
    return "".join(str(r.randint(0, 9)) for _ in range(n))


def _iban(country: str, bban: str) -> str:
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


def value(kind: str, r: random.Random) -> str:
    if kind == "email":
        return (
            f"{r.choice(['aigerim.s', 'erzhan_a', 'd.ivanov', 'laura.c'])}{r.randint(1, 99)}@"
            f"{r.choice(['mail.ru', 'gmail.com', 'mail.kz', 'inbox.kz'])}"
        )
    if kind == "phone":
        d, code = _digits(r, 7), r.choice(["701", "705", "747", "777", "916", "926"])
        unassigned = r.choice(["704", "600", "690"])  # +7 ranges not (yet) in the range tables
        return r.choice(
            [
                f"+7 {code} {d[:3]} {d[3:5]} {d[5:]}",
                f"8 ({code}) {d[:3]}-{d[3:5]}-{d[5:]}",
                f"8{code}{d}",
                f"+7{code}{d}",
                f"+7 {unassigned} {d[:3]} {d[3:5]} {d[5:]}",
                f"+998 {r.choice(['33', '90', '97'])} {d[:3]} {d[3:5]} {d[5:]}",
            ]
        )
    if kind == "card":
        p = r.choice("45") + _digits(r, 14)
        n = next(p + c for c in "0123456789" if luhn_ok(p + c))
        return " ".join(n[i : i + 4] for i in range(0, 16, 4)) if r.random() < 0.7 else n
    if kind == "iban":
        ib = r.choice(
            [
                _iban("KZ", r.choice(["722", "601", "998"]) + "KZT" + _digits(r, 10)),
                _iban("DE", _digits(r, 18)),
                _iban("GB", "NWBK" + _digits(r, 14)),
            ]
        )
        return " ".join(ib[i : i + 4] for i in range(0, len(ib), 4)) if r.random() < 0.5 else ib
    if kind == "iin":
        while True:
            born = date(1960, 1, 1) + timedelta(days=r.randint(0, 16000))
            century = (3 if born.year < 2000 else 5) + r.randint(0, 1)
            d11 = f"{born:%y%m%d}{century}{_digits(r, 4)}"
            check = iin_check_digit(d11)
            if check is not None:
                return d11 + str(check)
    return r.choice(NAMES)


def lookalike(r: random.Random) -> str:
    kind = r.choice(["order", "amount", "signed_amount", "date", "bad_card", "bad_iban", "bad_iin"])
    if kind == "signed_amount":  # a balance change written with its sign: "+1 250 000"
        return "+" + f"{r.randint(1, 99_999_999):,}".replace(",", " ")
    if kind == "order":
        return str(r.randint(10_000_000, 99_999_999))
    if kind == "amount":
        return f"{r.randint(1, 9_999_999):,}".replace(",", " ")
    if kind == "date":
        d = date(2024, 1, 1) + timedelta(days=r.randint(0, 700))
        return r.choice([f"{d:%d.%m.%Y}", d.isoformat()])
    if kind == "bad_card":
        n = r.choice("45") + _digits(r, 15)
        return " ".join(n[i : i + 4] for i in range(0, 16, 4)) if not luhn_ok(n) else lookalike(r)
    if kind == "bad_iban":
        good = _iban("KZ", "722KZT" + _digits(r, 10))
        bad = good[:2] + f"{(int(good[2:4]) + r.randint(1, 50)) % 100:02d}" + good[4:]
        return bad if not iban_ok(bad) else lookalike(r)
    v = _digits(r, 12)
    return v if not iin_ok(v) else lookalike(r)


def make_set(n: int, seed: int) -> list[tuple[str, set[str]]]:
    r = random.Random(seed)
    docs = []
    for i in range(n):
        roll = i % 10
        if roll < 5:
            kind = r.choice(PII_TYPES)
            docs.append((r.choice(PLAIN) + " " + r.choice(FRAMES[kind]).format(v=value(kind, r)), {kind}))
        elif roll < 9:
            docs.append((r.choice(PLAIN) + " " + r.choice(LOOKALIKE).format(v=lookalike(r)), set()))
        else:
            docs.append((r.choice(PLAIN), set()))
    return docs


_UP, _LOW = "A-ZА-ЯЁӘҒҚҢӨҰҮҺІ", "a-zа-яёәғқңөұүһі"
BASELINE = {
    "email": re.compile(r"\S+@\S+\.\w+"),
    "iban": re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}"),
    "card": re.compile(r"\b\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}\b"),
    "iin": re.compile(r"\b\d{12}\b"),
    "phone": re.compile(r"(?:\+7|8)[ (]*\d{3}[ )]*\d{3}[ -]?\d{2}[ -]?\d{2}"),
    "person": re.compile(rf"(?<!\w)[{_UP}][{_LOW}]+ [{_UP}][{_LOW}]+"),
}


def baseline(text: str) -> set[str]:
    return {kind for kind, pattern in BASELINE.items() if pattern.search(text)}


def score(name: str, detect: Callable[[str], set[str]], docs: list[tuple[str, set[str]]]) -> dict:
    start, cpu = time.perf_counter(), time.process_time()
    predicted = [detect(text) for text, _ in docs]
    cpu = time.process_time() - cpu
    tp, fp, fn = Counter(), Counter(), Counter()
    for found, (_, gold) in zip(predicted, docs, strict=True):
        for kind in PII_TYPES:
            tp[kind] += kind in found and kind in gold
            fp[kind] += kind in found and kind not in gold
            fn[kind] += kind not in found and kind in gold
    return {
        "name": name,
        "dps": len(docs) / cpu,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "wall": time.perf_counter() - start,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    docs = make_set(args.docs, args.seed)
    ours = score("dqaudit (validated)", lambda t: {m.type for m in find_pii(t)}, docs)
    bare = score("bare regex", baseline, docs)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{len(docs)} documents: {sum(bool(g) for _, g in docs)} with planted PII, "
        f"{sum(not g for _, g in docs)} without (most with look-alikes); peak RSS {peak:,.0f} MB\n"
    )
    print("| type | dqaudit P | dqaudit R | bare regex P | bare regex R |")
    print("|---|---|---|---|---|")
    for kind in PII_TYPES:
        cells = []
        for r in (ours, bare):
            p = r["tp"][kind] / max(1, r["tp"][kind] + r["fp"][kind])
            rec = r["tp"][kind] / max(1, r["tp"][kind] + r["fn"][kind])
            cells += [f"{p:.3f}", f"{rec:.3f}"]
        print(f"| {kind} | " + " | ".join(cells) + " |")
    print(f"\ndocs/s (1 core, CPU time): dqaudit {ours['dps']:,.0f}, bare regex {bare['dps']:,.0f}")


if __name__ == "__main__":
    main()
