"""Personal data masked at every way out: reports, attachments, history, manifests, the terminal.

The pii check masks the texts it quotes, but ids, labels, annotator names, file names and
metrics are data too: an e-mail address used as a record id or a label would otherwise reach
report.json, the charts, the history database and the manifest. Everything that leaves the
process goes through :func:`mask_result` or :func:`mask_deep` here, at the boundary, so the
in-memory result keeps the raw ids the exporter needs to find its rows. Masking is idempotent
(a token is never personal data), so a value masked twice reads the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import lru_cache
from itertools import islice
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from .pii import PII_TYPES, PiiSettings, mask_text
from .text import displayable

if TYPE_CHECKING:
    import pyarrow as pa

    from .config import AuditConfig
    from .findings import CheckResult
    from .pipeline import AuditResult

Masker = Callable[[str], str]

#: What a string must contain for any PII rule to match it (an @, seven digits, an IBAN's
#: country and check digits, whitespace between words for a name, a cut-off preview); the
#: many ids and labels without any of these skip the validators.
_MAYBE = re.compile(r"@|\d(?:\D{0,3}\d){6}|[A-Z]{2}\d{2}|\S\s+\S|…$")


def maybe_personal(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Per string of an Arrow column: whether a masker of :func:`masker_for` could change it (nulls: False).

    One vectorised pass (RE2, in C++) instead of a Python call per value: a string of printable ASCII
    is left alone unless :data:`_MAYBE` matches it (RE2 and Python read these classes alike on
    printable ASCII); anything else (other characters, controls, lone surrogates) goes to the masker.
    """
    import pyarrow.compute as pc

    flags = pc.match_substring_regex(values, "[^\\x20-\\x7e]|" + _MAYBE.pattern)
    return np.asarray(pc.fill_null(flags, False), dtype=bool)


@lru_cache(maxsize=16)
def masker_for(types: tuple[str, ...] = PII_TYPES) -> Masker:
    """A memoised masker for ``types``: labels and ids repeat, each distinct string is masked once."""

    @lru_cache(maxsize=1 << 16)
    def mask(text: str) -> str:
        text = displayable(text)
        return mask_text(text, types) if _MAYBE.search(text) else text

    _PREFILTERED.add(mask)
    return mask


#: Maskers made by :func:`masker_for`: a string :func:`maybe_personal` clears is one they return unchanged.
_PREFILTERED: set[Masker] = set()


def mask_many(values: list[str], mask: Masker) -> list[str]:
    """``[mask(v) for v in values]``; for a :func:`masker_for` masker only the values :func:`maybe_personal`
    picks are masked one by one (a 1M-row audit's findings name a million ids)."""
    if mask not in _PREFILTERED or len(values) < 64:
        return [mask(v) for v in values]
    import pyarrow as pa

    try:
        picked = maybe_personal(pa.array(values, type=pa.string())).tolist()
    except (pa.ArrowException, UnicodeError):  # a lone surrogate: not UTF-8, so every value goes to the masker
        return [mask(v) for v in values]
    return [mask(v) if pick else v for v, pick in zip(values, picked, strict=True)]


def report_masker(config: AuditConfig) -> Masker | None:
    """The pii check's masker with its configured types, or None when the check is turned off."""
    params = PiiSettings.of(config, "pii")
    return masker_for(tuple(params.types)) if params.enabled else None


def mask_deep(value: Any, mask: Masker | None) -> Any:
    """Every string in ``value`` masked, mapping keys included (labels are often keys)."""
    if mask is None:
        return value
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, Mapping):
        return {mask_deep(k, mask): mask_deep(v, mask) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_deep(v, mask) for v in value]
    return value


def mask_lines(text: str, mask: Masker) -> str:
    """An attached file masked: JSONL line by line (strings inside the JSON), anything else as text."""
    out = []
    for line in text.splitlines(keepends=True):
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            out.append(mask(line))
            continue
        out.append(orjson.dumps(mask_deep(value, mask)).decode() + ("\n" if line.endswith("\n") else ""))
    return "".join(out)


def mask_check(result: CheckResult, mask: Masker) -> CheckResult:
    """One check's result with ids, messages, details, metrics, gates, charts and files masked."""
    from .findings import jsonable

    ids = iter(mask_many([str(i) for f in result.findings for i in f.record_ids], mask))  # one pass for all
    findings = tuple(replace(f, message=mask(f.message), record_ids=tuple(islice(ids, len(f.record_ids))),
                             details=mask_deep(jsonable(f.details), mask)) for f in result.findings)
    return replace(
        result, findings=findings, metrics=mask_deep(jsonable(result.metrics), mask),
        gates=tuple(replace(g, message=mask(g.message)) for g in result.gates),
        charts=tuple(replace(c, title=mask(c.title), data=mask_deep(jsonable(c.data), mask))
                     for c in result.charts),
        skipped=None if result.skipped is None else mask(result.skipped),
        error=None if result.error is None else mask(result.error),
        files={name: mask_lines(text, mask) for name, text in result.files.items()},
    )


def mask_result(result: AuditResult) -> AuditResult:
    """``result`` as it may be shown or stored: every string from the data masked (idempotent)."""
    mask = report_masker(result.config)
    if mask is None:
        return replace(result, source=replace(result.source, path=displayable(result.source.path)))
    results = tuple(mask_check(r, mask) for r in result.results)
    masked = {id(old): new for r_old, r_new in zip(result.results, results, strict=True)
              for old, new in zip(r_old.findings, r_new.findings, strict=True)}
    return replace(
        result, results=results, source=replace(result.source, path=mask(result.source.path)),
        gates=tuple(replace(g, message=mask(g.message)) for g in result.gates),
        fix_first=tuple(replace(item, finding=masked.get(id(item.finding), item.finding))
                        for item in result.fix_first),
        run_extras=mask_deep(result.run_extras, mask),
    )
