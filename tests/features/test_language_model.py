"""The shipped Kazakh/Russian/English n-gram model: folding scripts together, and its verdicts."""

from __future__ import annotations

import pytest

from dqaudit.features.language_model import MODEL_PATH, WORD_WEIGHT, NgramModel, features, fold, load


@pytest.mark.parametrize(
    ("spellings", "skeleton"),
    [
        (["жақсы", "жаксы", "jaqsy", "zhaksy"], "zhaksy"),  # standard, without Kazakh letters, 2021, informal
        (["өте", "оте", "óte", "öte"], "ote"),
        (["қазақша", "казакша", "qazaqşa", "kazaksha"], "kazaksha"),
        (["спасибо", "spasibo"], "spasibo"),
    ],
)
def test_spellings_of_one_word_fold_together(spellings: list[str], skeleton: str) -> None:
    assert {fold(word) for word in spellings} == {skeleton}


def test_features_are_padded_ngrams_and_the_word() -> None:
    found = features("ote")
    assert found[0] == "#ote" and " o" in found and "te " in found and " ote" in found


def test_the_shipped_model_tells_the_three_languages_apart() -> None:
    assert MODEL_PATH.is_file() and MODEL_PATH.stat().st_size < 2_000_000
    model = load()
    assert model.classes[:3] == ("kk", "ru", "en")
    assert model.posterior(["оте", "жаксы", "программа", "унады"], ("kk", "ru"))[0] == "kk"
    assert model.posterior(["как", "заблокировать", "карту"], ("kk", "ru"))[0] == "ru"
    assert model.posterior(["keremet", "oyin", "eken"], ("kk", "ru", "en"))[0] == "kk"
    assert model.posterior(["spasibo", "bolshoe"], ("kk", "ru", "en"))[0] == "ru"
    assert model.posterior(["where", "is", "my", "card"], ("kk", "ru", "en"))[0] == "en"
    word, confidence = model.posterior(["рақмет"], ("kk", "ru"))
    assert word == "kk" and 0.5 < confidence < 1.0


def test_load_gives_the_model_files_rows_scaled() -> None:
    """The fast loader (orjson, rows as tuples) reads exactly the JSON file's rows, divided by its scale."""
    import gzip
    import json

    with gzip.open(MODEL_PATH, "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    model = load.__wrapped__(MODEL_PATH)
    scale = data.get("scale", 1.0)
    assert model.classes == tuple(data["classes"])
    assert model.table == {k: tuple(v / scale for v in row) for k, row in data["table"].items()}


def _summed_feature_by_feature(model: NgramModel, word: str) -> tuple[tuple[float, ...], int]:
    """The model's word score as a plain loop: every known feature in order, the whole word weighted."""
    totals, known = [0.0] * len(model.classes), 0
    for k, feature in enumerate(features(fold(word))):
        row = model.table.get(feature)
        if row is not None:
            weight = WORD_WEIGHT if k == 0 else 1
            known += weight
            for i, value in enumerate(row):
                totals[i] += weight * value
    return tuple(totals), known


@pytest.mark.parametrize("word", ["рақмет", "заблокировать", "keremet", "card", "zzqxj", "ǵ", "a"])
def test_a_words_scores_are_the_feature_by_feature_sums_bit_for_bit(word: str) -> None:
    """Scores are summed column by column for speed; the floats must be the plain loop's, so verdicts
    at a confidence threshold cannot move (a compensated or reordered sum would differ in the last bits)."""
    model = load.__wrapped__(MODEL_PATH)
    assert model.word(word) == _summed_feature_by_feature(model, word)
    words = ["как", "заблокировать", word]
    totals, known = model.scores(words)
    expected = [0.0] * len(model.classes)
    for w in words:
        expected = [t + v for t, v in zip(expected, model.word(w)[0], strict=True)]
    assert (totals, known) == (expected, sum(model.word(w)[1] for w in words))
