"""The shipped Kazakh/Russian/English n-gram model: folding scripts together, and its verdicts."""

from __future__ import annotations

import pytest

from dqaudit.features.language_model import MODEL_PATH, features, fold, load


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
