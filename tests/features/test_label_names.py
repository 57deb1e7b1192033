"""Label spellings folded to one key (dqaudit.features.label_names)."""

import pytest

from dqaudit.features.label_names import label_key, label_variants, well_formed


@pytest.mark.parametrize("spelling", [
    "card_blocked", "Card Blocked", "card-blocked", " card_blocked ", "cards_blocked", "CARD__BLOCKED",
    "сard_blocked",  # Cyrillic "с"
    "card.blocked",
])
def test_spellings_of_one_class_share_a_key(spelling: str) -> None:
    assert label_key(spelling) == "card_blocked"


def test_different_classes_keep_different_keys() -> None:
    names = ("card_blocked", "card_lost", "address", "status", "query", "queries", "box", "boxes", "карта",
             "карты")
    keys = {label_key(s) for s in names}
    assert len(keys) == 8  # queries -> query and boxes -> box; Russian words are not stemmed
    assert label_key("карта") == "карта" and label_key("кaрта") == "карта"  # a Latin "a" inside Cyrillic


def test_canonical_is_the_most_common_then_the_well_formed_spelling() -> None:
    groups = label_variants(["Card Blocked"] * 3 + ["card_blocked"] * 3 + ["cards-blocked"] + ["loan"] * 5)
    assert len(groups) == 1
    group = groups[0]
    assert group.canonical == "card_blocked"
    assert group.counts == {"card_blocked": 3, "Card Blocked": 3, "cards-blocked": 1}
    assert well_formed("card_blocked") and not well_formed("Card Blocked") and not well_formed("сard_blocked")
