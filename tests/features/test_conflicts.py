"""The label-conflict rule: near-copies conflict only when they ask the same thing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dqaudit.features import conflicts
from dqaudit.features.conflicts import conflicting, has_conflict, is_typo, same_request, words
from dqaudit.parallel import can_fork

# banking77 train near-copies whose labels the differing words justify (judged by hand: not conflicts)
DIFFERENT = [
    ("Where is my card?", "Where is my card PIN?"),
    ("How do i verify my card?", "How do I verify my identity?"),
    ("Can i use this card at any store?", "Can I use this card at any ATM?"),
    ("What is the current exchange rate?", "What is the current exchange fee?"),
    ("Is it possible for me to top up with cash?", "Is it possible for me to top up with Google Pay?"),
    ("How do I reactivate my card?", "How do i activate my card"),
    ("I cant transfer money into my account", "I want to transfer money into my account"),
    ("My card payment went through", "My card payment didn't go through"),
    ("Why was I charged an extra fee when using the card?",
     "Why was I charged an extra fee when using an ATM?"),
]
# the same request in another form: punctuation, case, politeness, greetings, typos, numbers, names
SAME = [
    ("Has my top up gone through?", "Has my top-up gone through?"),
    ("There is a payment I don't recognize", "There is a payment I don't recognise!"),
    ("My card payment didn't work", "The card payment didn't work"),
    ("How to verify my identity", "Show me how to verify my identity?"),
    ("How long does a transfer take?", "how long does a US transfer take"),
    ("How do I reset my password for the mobile app?", "Hi, how do I reset my pasword for the mobile app"),
    ("I was charged 5 dollars twice", "I was charged 12 dollars twice, thanks"),
    ("Please send the money to John Smith", "send the money to Maria"),
    ("I just had a wedding and I want to take my spouses name.",
     "I just had a wedding and I awnt to take my spouses name."),
    ("Здравствуйте! Списали платёж дважды за сентябрь.", "Списали платёж дважды за сентябрь, пожалуйста"),
]


@pytest.mark.parametrize("a, b", DIFFERENT)
def test_content_words_make_different_requests(a: str, b: str) -> None:
    assert not same_request(a, b) and not same_request(b, a)
    assert not has_conflict([a, b], ["x", "y"]) and not has_conflict([b, a], ["y", "x"])


@pytest.mark.parametrize("a, b", SAME)
def test_form_differences_are_the_same_request(a: str, b: str) -> None:
    assert same_request(a, b) and same_request(b, a)
    assert has_conflict([a, b], ["x", "y"]) and has_conflict([b, a], ["y", "x"])


def test_same_label_or_unlabelled_members_never_conflict() -> None:
    assert not has_conflict(["Where is my card?", "where is my card"], ["a", "a"])
    assert not has_conflict(["Where is my card?", "where is my card"], ["a", None])


def test_long_requests_may_differ_in_one_content_word_per_ten() -> None:
    long = "my salary from the employer did not arrive on the card this month and rent is due tomorrow"
    assert same_request(long, long.replace(" and rent", " and the rent payment"))
    assert not same_request(long, long.replace("salary", "pension").replace("rent", "loan"))


def test_words_and_typos() -> None:
    assert words("Hi, send 500 EUR to Anna Lee!") == ["hi", "send", "<num>", "<name>", "to", "<name>"]
    # a text mostly in Title Case has no names
    assert words("How Do I Activate My Card") == ["how", "do", "i", "activate", "my", "card"]
    # a Title-case word after a sentence end starts a sentence; number words beat names; codes are names
    assert words("the card failed. Then ivan said Petrov paid twenty USD") == [
        "the", "card", "failed", "then", "ivan", "said", "<name>", "paid", "<num>", "<name>"]
    assert words("мне нужен перевод для Асель Нурлановой. Спасибо") == [
        "мне", "нужен", "перевод", "для", "<name>", "спасибо"]
    assert is_typo("recognise", "recognize") and is_typo("awnt", "want")
    assert not is_typo("cant", "want") and not is_typo("reactivate", "activate") and not is_typo("pin", "pen")


def test_has_conflict_is_any_pair_of_labels_asking_the_same() -> None:
    """Early exits (shared content words, labels taken in turn) give the plain pairwise answer."""
    import random

    rng = random.Random(5)
    pieces = ["please", "block", "blcok", "my", "card", "cards", "not", "pin", "2", "two", "John", "hi",
              "Карта", "карту", "заблокируйте", "пожалуйста", "top", "up", "topup"]
    for _ in range(600):
        texts = [" ".join(rng.choice(pieces) for _ in range(rng.randint(1, 6)))
                 for _ in range(rng.randint(2, 9))]
        labels = [rng.choice(["a", "b", "c", None]) for _ in texts]
        ranked = sorted({lab for lab in labels if lab is not None})
        want = any(same_request(a, b) for x, la in enumerate(ranked) for lb in ranked[x + 1:]
                   for a in dict.fromkeys(t for t, lab in zip(texts, labels, strict=True) if lab == la)
                   for b in dict.fromkeys(t for t, lab in zip(texts, labels, strict=True) if lab == lb))
        assert has_conflict(texts, labels) == want, (texts, labels)


@pytest.mark.skipif(not can_fork(), reason="the rule's worker processes are forked")
def test_many_clusters_get_the_same_verdicts_from_worker_processes(
        monkeypatch: pytest.MonkeyPatch,
        fork_runs: Callable[[Any], list[int]]) -> None:
    """Above ``PARALLEL_MIN_TEXTS`` member texts the clusters are cut into runs for forked workers; the
    verdicts come back in cluster order, as one process gives them."""
    clusters = [([a, b], ["x", "y"]) for a, b in DIFFERENT + SAME] * 3
    clusters += [([a, b, a], ["x", "x", None]) for a, b in SAME]
    expected = [has_conflict(texts, labels) for texts, labels in clusters]
    assert True in expected and False in expected
    runs = fork_runs(conflicts)
    assert conflicting(clusters, 2) == expected  # under the threshold: in this process
    assert runs == []
    monkeypatch.setattr(conflicts, "PARALLEL_MIN_TEXTS", 10)
    assert conflicting(clusters, 2) == expected
    assert runs[0] >= 4
    assert conflicting([], 2) == []
