"""The shared normalisation: one definition of "the same text" for every checker."""

from __future__ import annotations

import re
import sys
import unicodedata

from dqaudit.text import normalize, preview

_REGEX_SPACE = re.compile(r"\s+")


def _regex_normalize(text: str) -> str:
    """The regex form ``normalize`` replaced; kept here as the reference it must equal."""
    return _REGEX_SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def test_normalize_splits_on_exactly_the_regex_whitespace() -> None:
    every = (chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000)
    spaces = [c for c in every if _REGEX_SPACE.fullmatch(c)]
    assert "\u00a0" in spaces and "\u3000" in spaces and "\x1c" in spaces
    for space in spaces:
        text = f"{space}Сәлем{space}{space}WORLD\tﬁ{space}"
        assert normalize(text) == _regex_normalize(text) == "сәлем world fi"


def test_normalize_matches_the_regex_form_on_mixed_text() -> None:
    samples = ["  Hello,\u2003 Мир!\n", "Straße  ＡＢＣ", "", "   ", "a\u200bb", "Қазақ\r\nтілі"]
    assert [normalize(s) for s in samples] == [_regex_normalize(s) for s in samples]


def test_preview_is_one_control_free_line_within_the_limit() -> None:
    assert preview("  line one\n\tline\x1b[31m two  ") == "line one line[31m two"
    long = preview("word " * 50, limit=20)
    assert len(long) == 20 and long.endswith("…")
