"""The disagreement rule for answers to the same question (dqaudit.features.answers)."""

import pytest

from dqaudit.features.answers import compare, core_sentences, parse_answer, tokens


def verdict(a: str, b: str, min_similarity: float = 0.5) -> str | None:
    found = compare(parse_answer(a), parse_answer(b), min_similarity)
    return None if found is None else found.reason


@pytest.mark.parametrize(("a", "b"), [
    ("Hello! Refunds take 14 days. Best regards, Anna", "Refunds take 14 days."),
    ("Здравствуйте! Возврат занимает 14 дней. С уважением, служба поддержки", "Возврат занимает 14 дней."),
    ("Сәлеметсіз бе! Қайтару 14 күн ішінде жасалады. Рақмет!", "Қайтару 14 күн ішінде жасалады."),
    ("Возврат 5 205 тенге.", "возврат 5205 тенге"),
    ("Refund within two weeks", "Refund within 2 weeks"),
    ("  The limit is 1,000 tenge , change it in the app!", "The limit is 1000 tenge, change it in the app."),
    ("You may close the account online.", "You can close the account online."),
])
def test_courtesy_punctuation_and_spelling_of_numbers_are_consistent(a: str, b: str) -> None:
    assert verdict(a, b) is None


@pytest.mark.parametrize(("a", "b", "reason", "detail"), [
    ("Refunds take 14 days.", "Refunds take 30 days.", "facts", "14 vs 30"),
    ("Возврат занимает 10 дней.", "Возврат занимает 10 рабочих дней.", "facts", "units"),
    ("The card is ready in 3 days.", "The card is ready in 3 weeks.", "facts", "units"),
    ("Pay before 5 March.", "Pay before 5 April.", "facts", "dates"),
    ("You can cancel the transfer.", "You cannot cancel the transfer.", "polarity", "cannot"),
    ("Карту можно перевыпустить онлайн.", "Карту нельзя перевыпустить онлайн.", "polarity", "нельзя"),
    ("Yes, the card works abroad.", "No, the card works abroad.", "polarity", "no"),
    ("Please visit a branch with your passport.", "Open the app and tap Settings, then Limits.", "dissimilar",
     "similarity"),
])
def test_other_facts_negation_and_other_answers_disagree(a: str, b: str, reason: str, detail: str) -> None:
    found = compare(parse_answer(a), parse_answer(b))
    assert found is not None and found.reason == reason and detail in found.detail
    assert found.spans  # the differing words are shown


def test_a_long_sentence_opening_with_thanks_is_content_not_courtesy() -> None:
    text = "Thank you for waiting, your refund of 5 000 tenge was sent today. Kind regards, Dana"
    assert core_sentences(text) == ["Thank you for waiting, your refund of 5 000 tenge was sent today."]
    assert core_sentences("Hi! Thanks for asking. The fee is 2%. Have a nice day!") == ["The fee is 2%."]


def test_similarity_threshold_is_the_only_knob_for_rewordings() -> None:
    a, b = "Your refund arrives within 14 days.", "Refunds to cards are processed within 14 days."
    assert verdict(a, b, min_similarity=0.9) == "dissimilar"
    assert verdict(a, b, min_similarity=0.2) is None


def test_tokens_fold_thousands_and_decimal_commas() -> None:
    assert tokens("Сумма 1 500,50 тенге и 2,5%") == ["сумма", "1500.50", "тенге", "и", "2.5"]
