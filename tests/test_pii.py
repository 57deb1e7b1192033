"""PII detection: validated values are found, look-alikes (orders, dates, amounts, bad checksums) are not."""

from __future__ import annotations

import pytest

from dqaudit.pii import card_ok, find_pii, iban_ok, iin_check_digit, iin_ok, luhn_ok, mask_text


def _luhn_complete(prefix: str) -> str:
    return next(prefix + d for d in "0123456789" if luhn_ok(prefix + d))


def _iban(country: str, bban: str) -> str:
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


def _iin(d11: str) -> str:
    check = iin_check_digit(d11)
    assert check is not None
    return d11 + str(check)


CARD = _luhn_complete("440043012345678")
KZ_IBAN = _iban("KZ", "125KZT5004100100")
IIN = next(_iin(f"850101300{i:02d}") for i in range(100) if iin_check_digit(f"850101300{i:02d}") is not None)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Моя почта aigerim.saparova@mail.ru, напишите.", "email"),
        ("Мой номер +7 701 123 45 67, перезвоните.", "phone"),
        ("Телефон 8 (705) 123-45-67.", "phone"),
        ("Звоните на +7 916 123-45-67.", "phone"),
        (f"Номер карты {CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:]}.", "card"),
        (f"Мой счёт {KZ_IBAN}.", "iban"),
        (f"Шотым {' '.join(KZ_IBAN[i : i + 4] for i in range(0, 20, 4))}.", "iban"),
        (f"Мой ИИН {IIN}.", "iin"),
        ("Меня зовут Айгерим Сапарова.", "person"),
        ("Менің атым Әсел Нұрланқызы.", "person"),
        ("My name is John Miller.", "person"),
    ],
)
def test_finds_validated_values(text: str, kind: str) -> None:
    assert [m.type for m in find_pii(text)] == [kind]
    assert f"<{kind.upper()}>" in mask_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "Это по заказу №45678901.",
        "Сумма была 1 250 000 тенге.",
        "Операция от 12.03.2025.",
        "Операция 2025-03-12.",
        f"Номер карты {CARD[:-1]}{(int(CARD[-1]) + 1) % 10}.",  # fails Luhn
        f"Реквизиты: {KZ_IBAN[:2]}{(int(KZ_IBAN[2:4]) + 1) % 100:02d}{KZ_IBAN[4:]}.",  # fails mod-97
        f"Номер договора {IIN[:-1]}{(int(IIN[-1]) + 1) % 10}.",  # wrong IIN check digit
        "Карта Kaspi Gold, Apple Pay.",
        "",
        "🙂",
    ],
)
def test_ignores_lookalikes(text: str) -> None:
    assert find_pii(text) == []
    assert mask_text(text) == text


def test_validators() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert card_ok(CARD) and not card_ok("0000000000000000")
    assert iban_ok("GB29NWBK60161331926819") and not iban_ok("GB29NWBK60161331926818")
    assert iban_ok(KZ_IBAN) and not iban_ok(KZ_IBAN + "0")
    assert iin_ok(IIN) and not iin_ok("123456789012")


def test_mask_keeps_text_around_and_masks_truncated_previews() -> None:
    text = f"Карта {CARD}, почта a.b@mail.kz, всё."
    assert mask_text(text) == "Карта <CARD>, почта <EMAIL>, всё."
    assert mask_text(f"Номер карты {CARD[:9]}…") == "Номер карты <…>"


def test_well_known_test_card_numbers_are_masked():
    from dqaudit.pii import mask_text

    masked = mask_text("card 4111 1111 1111 1111 and 5555 5555 5555 4444")
    assert "4111" not in masked and "5555" not in masked


@pytest.mark.parametrize("text", [
    "call me at +7 704 750 45 49",            # the probe's number: +7 704 is not an assigned range
    "+7 (704) 750-45-49 мой номер",
    "менің нөмірім +7 600 123 45 67",
    "номер +998 33 123 45 67",                 # Uzbekistan, a prefix outside the range tables
    "whatsapp +996 880 123 456",
])
def test_full_international_numbers_of_the_right_length_are_phones(text):
    """Personal data is whatever a person wrote as their number, assigned range or not (issue 20)."""
    assert [m.type for m in find_pii(text)] == ["phone"]
    assert "<PHONE>" in mask_text(text) and not any(ch.isdigit() for ch in mask_text(text))


@pytest.mark.parametrize("text", [
    "Баланс пополнен на +15 000 тенге", "сумма +500 000", "+1 500 000 KZT", "operation +20240501",
    "транзакция +12345", "курс +0,75%", "+7 дней к сроку", "+70 000 ₸ кэшбэк",
])
def test_signed_amounts_and_ids_are_not_phones(text):
    assert find_pii(text) == []


def test_cheap_prefilters_never_hide_a_match(monkeypatch: pytest.MonkeyPatch) -> None:
    """find_pii skips a finder when a necessary condition fails; with every finder run, nothing changes."""
    import random

    from dqaudit import pii

    pieces = ["Меня зовут Айгерим Сапарова", "My name is:John Miller", "Иван Петров", "я — Асель",
              "aigerim.saparova@mail.ru", "a@b", "+7 701 123 45 67", "8 (705) 123-45-67", "+998 90 123 45 67",
              CARD, f"{CARD[:4]}-{CARD[4:8]}-{CARD[8:12]}-{CARD[12:]}", KZ_IBAN, IIN, "заказ 1234567",
              "1 2 3 4 5 6 7", "сумма +15 000 000", ",", ":", "\n", "\u00a0", "спасибо", "Hello", "I am"]
    rng = random.Random(7)
    texts = [" ".join(rng.choices(pieces, k=rng.randint(1, 5))) for _ in range(400)]
    texts += ["".join(rng.choices(pieces, k=rng.randint(1, 4))) for _ in range(200)]
    filtered = [find_pii(t) for t in texts]
    monkeypatch.setattr(pii, "_possible", lambda text: set(pii.PII_TYPES))
    assert [find_pii(t) for t in texts] == filtered
    assert sum(map(bool, filtered)) > 300  # the texts do carry personal data
