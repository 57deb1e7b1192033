"""What an answer looks like: its style, whether it was cut off, unfilled template slots. Pure functions.

A fine-tuned model copies the form of its answers as faithfully as their content: a set
that mixes prose with JSON payloads, operator drafts with auto-replies, or answers cut off
mid-sentence teaches all of them. :mod:`dqaudit.checkers.output_style` profiles a set with these.
"""

from __future__ import annotations

import re

import orjson

#: Styles, in the order a tie between them is settled.
STYLES = ("prose", "list", "markdown", "json")
_LIST_ITEM = re.compile(r"^\s*(?:[-*•·▪–]|\d{1,2}[.)])\s+\S", re.M)
_MARKDOWN = re.compile(r"^\s{0,3}#{1,6}\s+\S|\*\*[^*\n]+\*\*|^\s*```|^\s*\|.+\|\s*$|\[[^\]\n]+\]\([^)\s]+\)",
                       re.M)
#: Unfilled template slots: {{name}}, {name}, [NAME], <NAME>, %s, $name, ${name}.
PLACEHOLDER = re.compile(r"\{\{\s*\w+\s*\}\}|\$\{\w+\}|(?<![\w{])\{[a-z_]\w*\}|\[[A-Z][A-Z_ ]{2,}\]"
                         r"|<[A-Z][A-Z_]{2,}>|%[sd](?!\w)|(?<!\w)\$[a-z_]{3,}\b")
#: Characters an answer that was not cut off ends with (sentence ends, closing quotes and brackets, emoji).
_FINAL = re.compile(r"[.!?…。)\]»\"'”’:;)]\s*$|[\U0001F300-\U0001FAFF\u2600-\u27BF]\s*$")
_SENTENCE = re.compile(r"(?<=[.!?…])\s+|\n+")


def style_of(text: str) -> str:
    """``json`` (an object or array), ``markdown`` (headings, bold, tables, code, links), ``list``
    (two or more list items), else ``prose``."""
    flat = text.strip()
    if flat[:1] in "{[" and flat[-1:] in "}]":
        try:
            if isinstance(orjson.loads(flat), (dict, list)):
                return "json"
        except orjson.JSONDecodeError:
            pass
    if _MARKDOWN.search(flat):
        return "markdown"
    return "list" if len(_LIST_ITEM.findall(flat)) >= 2 else "prose"


def is_truncated(text: str) -> bool:
    """A prose answer that stops without a sentence end, or JSON that opens and never closes."""
    flat = text.strip()
    if not flat:
        return False
    if flat[:1] in "{[":
        try:
            orjson.loads(flat)
        except orjson.JSONDecodeError:
            return True
        return False
    last = flat.splitlines()[-1]
    if _LIST_ITEM.match(last) or _MARKDOWN.search(last):
        return False
    return not _FINAL.search(flat)


def placeholders(text: str) -> list[str]:
    """Unfilled template slots in ``text`` (``{{customer_name}}``, ``[NAME]``, ``%s``…)."""
    return PLACEHOLDER.findall(text)


def edge_sentences(text: str) -> tuple[str, str]:
    """The first and the last sentence (whitespace and case folded),
    for finding shared openings and closings."""
    parts = [" ".join(s.split()).casefold() for s in _SENTENCE.split(text.strip()) if s.strip()]
    return (parts[0], parts[-1]) if len(parts) > 1 else ("", "")
