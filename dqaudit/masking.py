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
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from .pii import PII_TYPES, PiiSettings, mask_text
from .text import displayable

if TYPE_CHECKING:
    import pyarrow as pa

    from .cache import Cache
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

    _TYPES[mask] = types
    return mask


#: Maskers made by :func:`masker_for` and their types: a string :func:`maybe_personal` clears is one they
#: return unchanged, and what they do to a string can be kept in the cache (:func:`changed_by`).
_TYPES: dict[Masker, tuple[str, ...]] = {}
#: Fewest candidates worth a cache lookup: below this, masking them costs less than reading the shards.
_CACHED_MIN = 1024
#: Two independent siphash keys (16 bytes each): the first hash is the cache key, the second must match
#: what the cache returns, so a verdict is only used for the very string it was computed for.
_HASH_KEYS = ("dqaudit:masked:1", "dqaudit:verify:2")


def changed_by(values: Sequence[str | None], mask: Masker, cache: Cache | None = None) -> np.ndarray:
    """Per value: whether ``mask`` changes it (nulls: False), calling ``mask`` only where it could.

    :func:`maybe_personal` clears most strings in one pass. The rest (a benchmark's ``b0000123`` ids
    reach the phone matcher, about 10 µs each) have their verdict kept in ``cache`` under a 64-bit
    hash, beside a second, independent hash that a later run compares before it uses the verdict;
    the namespace changes with the types, the masking rules' source and ``phonenumbers``' version.
    So a nightly re-run masks only the ids it has not seen. A string that is not UTF-8 (a lone
    surrogate) goes to the masker, uncached.
    """
    import pyarrow as pa

    out = np.zeros(len(values), dtype=bool)
    try:
        arrow = pa.array(values, type=pa.string(), from_pandas=True)
        picked = maybe_personal(arrow) if mask in _TYPES else np.asarray(arrow.is_valid(), dtype=bool)
    except (pa.ArrowException, UnicodeError):  # not UTF-8: every value is a candidate
        picked = np.array([isinstance(v, str) for v in values], dtype=bool)
    rows = np.flatnonzero(picked)
    todo = [values[r] for r in rows.tolist()]
    verdicts = _verdicts(todo, mask, cache) \
        if cache is not None and mask in _TYPES and len(todo) >= _CACHED_MIN else None
    out[rows] = verdicts if verdicts is not None else [mask(v) != v for v in todo]
    return out


def _verdicts(values: list[str], mask: Masker, cache: Cache) -> np.ndarray | None:
    """:func:`changed_by` for strings through the cache; None when they cannot be hashed (not UTF-8)."""
    import pandas as pd

    from .cache import Cache

    try:
        strings = np.array(values, dtype=object)
        keys, check = (pd.util.hash_array(strings, hash_key=key, categorize=False) for key in _HASH_KEYS)
    except UnicodeError:
        return None

    def compute(positions: np.ndarray) -> np.ndarray:
        changed = [mask(values[p]) != values[p] for p in positions.tolist()]
        return np.stack([check[positions], np.asarray(changed, dtype=np.uint64)], axis=1).astype("<u8")

    namespace = Cache.namespace("masked", types=list(_TYPES[mask]), rules=_rules_fingerprint())
    stored = cache.per_key(namespace, keys, compute)
    verdicts = stored[:, 1] == 1
    # another string under the same key: never trusted
    for p in np.flatnonzero(stored[:, 0] != check).tolist():
        verdicts[p] = mask(values[p]) != values[p]
    return verdicts


@lru_cache(maxsize=1)
def _rules_fingerprint() -> str:
    """What the masking rules are: the source of the modules that decide them and ``phonenumbers``' version
    (its metadata decides which numbers are valid), so that no verdict outlives a change to either."""
    import hashlib

    import phonenumbers

    from . import pii, text

    digest = hashlib.sha256(phonenumbers.__version__.encode())
    for module in (pii, text, sys.modules[__name__]):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:16]


def mask_many(values: list[str], mask: Masker, cache: Cache | None = None) -> list[str]:
    """``[mask(v) for v in values]``; for a :func:`masker_for` masker only the values :func:`changed_by`
    finds changed are masked one by one (a 1M-row audit's findings name a million ids)."""
    if mask not in _TYPES or len(values) < 64:
        return [mask(v) for v in values]
    changed = changed_by(values, mask, cache).tolist()
    return [mask(v) if c else v for v, c in zip(values, changed, strict=True)]


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
    cache = result.context.cache if result.context is not None else None
    findings = mask_known(_finding_strings(result), mask, cache)
    results = tuple(mask_check(r, findings) for r in result.results)
    masked = {id(old): new for r_old, r_new in zip(result.results, results, strict=True)
              for old, new in zip(r_old.findings, r_new.findings, strict=True)}
    return replace(
        result, results=results, source=replace(result.source, path=mask(result.source.path)),
        gates=tuple(replace(g, message=mask(g.message)) for g in result.gates),
        fix_first=tuple(replace(item, finding=masked.get(id(item.finding), item.finding))
                        for item in result.fix_first),
        run_extras=mask_deep(result.run_extras, mask),
    )


def mask_known(strings: list[str], mask: Masker, cache: Cache | None = None) -> Masker:
    """``mask``, with ``strings`` masked up front in one :func:`mask_many` pass (through ``cache``).

    A 1M-row audit's findings hold tens of thousands of messages and a million ids, most of them
    unchanged by the masker but reaching its phone matcher; masked one call at a time they cost
    more than the checks of a nightly re-run. Any other string goes to ``mask`` as before.
    """
    unique = list(dict.fromkeys(strings))
    known = dict(zip(unique, mask_many(unique, mask, cache), strict=True))

    def masked(text: str) -> str:
        value = known.get(text)
        return mask(text) if value is None else value

    return masked


def _finding_strings(result: AuditResult) -> list[str]:
    """Every finding's record ids, message and the strings in its details (keys included), as masked."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                walk(key)
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    for check in result.results:
        for finding in check.findings:
            out.extend(str(i) for i in finding.record_ids)
            out.append(finding.message)
            walk(finding.details)
    return out
