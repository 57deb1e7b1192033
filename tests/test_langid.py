"""Language detection: the fast path, lingua's cases, code-switching, bad input, and the per-record cache."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from dqaudit.cache import Cache
from dqaudit.config import AuditConfig
from dqaudit.context import AuditContext
from dqaudit.data import dataset_from_frame
from dqaudit.features.language import (
    EMPTY,
    FAST,
    LINGUA,
    MIXED,
    NO_LETTERS,
    OTHER_SCRIPT,
    UNDETERMINED,
    LangSettings,
    detect,
    detected_languages,
    language_table,
    normalize_tag,
    validate_languages,
)


@pytest.mark.parametrize(
    ("text", "lang", "path"),
    [
        ("Картамды бұғаттау керек", "kk", FAST),
        ("Hello, how do I reset my PIN?", "en", FAST),
        ("Как заблокировать карту?", "ru", LINGUA),
        ("Кептiру барысында бiрнеше рет аударады.", "kk", FAST),  # Latin i typed for Kazakh і
    ],
)
def test_single_language(text: str, lang: str, path: str) -> None:
    result = detect(text)
    assert (result.lang, result.path) == (lang, path)


@pytest.mark.parametrize(
    ("text", "pair"),
    [
        ("Сәлем. Подскажите, как заблокировать карту?", {"kk", "ru"}),
        ("Аударым өтпеді, хотя на счету достаточно денег.", {"kk", "ru"}),
        ("Как подключить Apple Pay к карте?", {"ru", "en"}),
    ],
)
def test_code_switching_is_its_own_slice(text: str, pair: set[str]) -> None:
    result = detect(text)
    assert result.lang == MIXED
    assert {result.primary, result.secondary} == pair


def test_kazakh_name_in_russian_text_is_not_mixed() -> None:
    text = "Генеральный спонсор конкурса АО «Самрук-Қазына» учредил премию победителям конкурса."
    assert detect(text).lang == "ru"


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("", EMPTY),
        ("   \n", EMPTY),
        ("🙂🙂🙂", NO_LETTERS),
        ("12 345,00", NO_LETTERS),
        ("مرحبا بالعالم", OTHER_SCRIPT),
    ],
)
def test_bad_input_is_undetermined(text: str, path: str) -> None:
    result = detect(text)
    assert (result.lang, result.path) == (UNDETERMINED, path)


def test_configured_languages_restrict_the_choice() -> None:
    assert detect("Как заблокировать карту?", LangSettings(languages=("ru", "en"))).lang == "ru"
    assert detect("Картамды бұғаттау керек", LangSettings(languages=("ru", "en"))).lang == "ru"


def test_validate_and_normalize_codes() -> None:
    assert validate_languages(["RU", "kk", "ru"]) == ("ru", "kk")
    with pytest.raises(ValueError, match="'xx'"):
        validate_languages(["ru", "xx"])
    assert [normalize_tag(t) for t in ("RU", "rus", "Kazakh", "kk_KZ", " ", None, "zz")] == [
        "ru",
        "ru",
        "kk",
        "kk",
        None,
        None,
        "zz",
    ]


def test_detected_languages_is_memoised_and_cached_on_disk(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"text": ["Картамды бұғаттау керек", "Hello there my friend", "", "Картамды бұғаттау керек"]}
    )
    dataset = dataset_from_frame(frame)
    ctx = AuditContext(dataset, AuditConfig(), cache=Cache(tmp_path / "cache"))
    langs = detected_languages(ctx)
    assert langs.tolist() == ["kk", "en", "und", "kk"]
    assert langs.index.equals(dataset.frame.index)
    assert language_table(ctx) is language_table(ctx)
    ctx.cache.flush()
    assert any((tmp_path / "cache").rglob("*.shard"))
    again = AuditContext(dataset, AuditConfig(), cache=Cache(tmp_path / "cache"))
    assert detected_languages(again).tolist() == langs.tolist()
