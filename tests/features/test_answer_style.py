"""Answer style, cut-offs and template slots (dqaudit.features.answer_style)."""

import pytest

from dqaudit.features.answer_style import edge_sentences, is_truncated, placeholders, style_of


@pytest.mark.parametrize(("text", "style"), [
    ("The fee is 2% of the amount.", "prose"),
    ('{"status": "ok", "answer": "The fee is 2%."}', "json"),
    ("- open the app\n- tap Cards\n- tap Limits", "list"),
    ("1. Open the app\n2) Tap Cards", "list"),
    ("## Limits\nThe daily limit is 500 000 tenge.", "markdown"),
    ("The limit is **500 000** tenge.", "markdown"),
    ("{not json at all}", "prose"),
    ("- only one item", "prose"),
])
def test_style_of(text: str, style: str) -> None:
    assert style_of(text) == style


@pytest.mark.parametrize(("text", "cut"), [
    ("A refund takes up to 14 da", True),
    ('{"status": "ok", "answer": "The fee', True),
    ("A refund takes up to 14 days.", False),
    ("Возврат занимает 14 дней!", False),
    ("Call us: «Support»", False),
    ("Thanks 🙂", False),
    ("- open the app\n- tap Limits", False),
    ("", False),
])
def test_is_truncated(text: str, cut: bool) -> None:
    assert is_truncated(text) is cut


def test_placeholders_and_edges() -> None:
    assert placeholders("Dear {{customer_name}}, your card [CARD_NUMBER] is ready, %s.") == [
        "{{customer_name}}", "[CARD_NUMBER]", "%s"]
    assert placeholders("The limit is 500 000 tenge [see app] {not a slot}") == []
    assert edge_sentences("Hello!  We are   here. Bye now.") == ("hello!", "bye now.")
    assert edge_sentences("One sentence only.") == ("", "")
