"""records.parquet: every per-record verdict of an audit, one row per physical input row.

A report lists findings; a script that wants to know what happened to *one* record (its
near-duplicate cluster, its language, its label quality, whether the export keeps it) reads
this table instead, as cleanlab's ``Datalab.get_issues()`` users do. Rows are the input's rows
in input order, the ones that did not load included, so the table accounts for the whole file.

Each checker contributes its own columns through :attr:`CheckResult.records` (a column name
-> values aligned with the dataset's frame); the table adds ``id``, ``line``, ``loaded``, and
``decision`` / ``reasons`` from the findings through the export's cleaning plan
(:func:`dqaudit.export.cleaning_plan`), so the table, the reports and ``dqaudit split`` agree.
:func:`dqaudit.api.audit` attaches it to the result (``AuditResult.records``).
The schema is fixed (:data:`SCHEMA`): a column whose check did not run is there, all null,
so a consumer's code never depends on which checks ran.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import pyarrow as pa

    from .cache import Cache
    from .data import Dataset
    from .findings import CheckResult, Finding

FILENAME = "records.parquet"
#: An e-mail address glued to more of an id (``anna@example.com-3``): every id is in the table, so an
#: address the text masker leaves alone there (it stops at a hyphen after the domain) is masked too.
_GLUED_EMAIL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}")
#: Column a checker may contribute for rows its findings do not name (those rolled up beyond a cap):
#: a list of its finding kinds per row, merged into ``reasons``.
REASONS = "reasons"

#: Every column: (arrow type name, the check that fills it or "" for the table itself, meaning).
COLUMNS: dict[str, tuple[str, str, str]] = {
    "id": ("string", "", "The record's id (its id field, else auto-<line>-<hash>); "
                         "null when the row did not load."),
    "line": ("int64", "", "1-based physical line in the input (row number for Parquet)."),
    "loaded": ("bool", "", "False when the row could not become a record (see reasons: load.<kind>)."),
    "exact_group": ("int64", "duplicates", "Group number shared by identical texts (after normalisation); "
                                           "null when the text is unique."),
    "near_duplicate_cluster": ("int64", "near_duplicates", "Cluster number shared by every member of a "
                               "near-duplicate (or semantic) cluster holding two or more different texts; "
                               "null when alone."),
    "language": ("string", "language", "Detected language: ISO 639-1 code, 'mixed' or 'und'."),
    "language_primary": ("string", "language", "Main language of a mixed text (else the language)."),
    "language_secondary": ("string", "language", "Second language of a mixed text; empty otherwise."),
    "script": ("string", "language", "Script of the letters: cyrillic, latin, mixed (both carry content), "
                                     "other or empty."),
    "orthography": ("string", "language",
                    "How the main language is written: standard, without-kazakh-letters "
                    "(Kazakh typed with Russian letters only) or translit (Latin letters)."),
    "label_issue": ("bool", "label_noise", "Flagged as likely mislabelled (cleanlab find_label_issues); null "
                                           "when the record was not assessed (no label, class too small)."),
    "label_quality": ("float64", "label_noise", "cleanlab label quality score, 0-1 (low: likely wrong)."),
    "suggested_label": ("string", "label_noise", "The label the model predicts for the record."),
    "pii": ("list<string>", "pii", "Kinds of personal data found in the record (email, phone, card, ...); "
                                    "empty when none, null when the check did not run."),
    "stale_policies": ("list<string>", "stale_policy", "Ids of the policies the record contradicts; empty "
                                                      "when none, null when the check did not run."),
    "decision": ("string", "", "What dqaudit split does with the row: keep, drop (a duplicate copy; another "
                               "copy is kept), quarantine, mask or relabel."),
    REASONS: ("list<string>", "", "check.kind of every finding naming the record (load.<kind> for rows that "
                                  "did not load)."),
}


def schema() -> pa.Schema:
    """The Parquet schema of records.parquet (the same whatever checks ran)."""
    import pyarrow as pa

    types = _arrow_types()
    return pa.schema([pa.field(name, types[kind],
                               nullable=name not in ("line", "loaded", "decision", REASONS),
                               metadata={"description": meaning})
                      for name, (kind, _, meaning) in COLUMNS.items()])


def _arrow_types() -> dict[str, pa.DataType]:
    """The arrow type of each column kind of :data:`COLUMNS`."""
    import pyarrow as pa

    return {"string": pa.string(), "int64": pa.int64(), "bool": pa.bool_(), "float64": pa.float64(),
            "list<string>": pa.list_(pa.string())}


def build_records(dataset: Dataset, results: Sequence[CheckResult], plan: Any,
                  index: pd.Index | None = None) -> pd.DataFrame:
    """The per-record table of an audit of ``dataset``;
    ``plan`` is the export's cleaning plan for its findings
    (:func:`dqaudit.export.cleaning_plan`: rows quarantined with their reasons, masked, relabelled);
    ``index``: the frame's :func:`id_index` when the caller has built it."""
    import pyarrow as pa

    frame = dataset.frame
    n = len(frame)
    table = pd.DataFrame({"id": frame["id"].astype("string").to_numpy(),
                          "line": frame["line"].to_numpy(np.int64), "loaded": np.ones(n, dtype=bool)})
    for result in results:
        for name, values in result.records.items():
            if name != REASONS and (name not in COLUMNS or COLUMNS[name][1] != result.check):
                raise ValueError(
                    f"{result.check}: records column '{name}' is not one of its documented columns")
            if len(values) != n:
                raise ValueError(
                    f"{result.check}: records column '{name}' has {len(values)} values for {n} rows")
            if name != REASONS:
                table[name] = _typed(values, COLUMNS[name][0])
    contributed = rolled_up_rows(results)
    findings = [f for r in results for f in r.findings]
    table[REASONS] = _reasons(id_index(frame) if index is None else index, findings, contributed)
    table["decision"] = pd.array(_decisions(n, plan), dtype="string")
    unloaded = pd.DataFrame({
        "id": pd.array([None] * len(dataset.problems), dtype="string"),
        "line": np.array([p.line for p in dataset.problems], dtype=np.int64),
        "loaded": np.zeros(len(dataset.problems), dtype=bool),
        REASONS: pd.Series([[f"load.{p.kind}"] for p in dataset.problems], dtype=object),
        "decision": pd.array(["quarantine"] * len(dataset.problems), dtype="string"),
    })
    out = pd.concat([table, unloaded], ignore_index=True) if len(unloaded) else table
    if table["line"].is_monotonic_increasing:  # one input file: rows that did not load go back in their place
        out = out.sort_values("line", kind="stable", ignore_index=True)
    for name, (kind, _, _) in COLUMNS.items():
        if kind == "list<string>" and name not in out:  # a column no check gave: None, not NaN
            out[name] = pd.Series(np.full(len(out), None, dtype=object), index=out.index)
        elif kind == "list<string>":  # rows that did not load: None, not NaN
            out[name] = pd.Series([v if isinstance(v, list) else None for v in out[name]], dtype=object,
                                  index=out.index)
        elif name not in out:  # all null, built by arrow (a list of a million Nones costs ~1 s per column)
            out[name] = pd.array(pa.nulls(len(out), _arrow_types()[kind]), dtype=_DTYPES[kind])
    return out[list(COLUMNS)]


def id_index(frame: pd.DataFrame) -> pd.Index:
    """The frame's ids as strings, in an object Index: build it once per audit and pass it on, as its hash
    table (about 0.5 s at 1M rows; a ``str`` Index's lookups cost twice that) serves every lookup."""
    return pd.Index(frame["id"].astype(str).to_numpy(object), dtype=object)


def finding_rows(index: pd.Index, findings: Sequence[Finding]) -> list[np.ndarray]:
    """Per finding, the frame rows of its record ids (``index``: :func:`id_index`).

    One lookup for all findings when ids are unique (a 1M-row audit has tens of thousands of findings);
    with duplicate ids every row carrying a named id counts.
    """
    return id_rows(index, [f.record_ids for f in findings])


def id_rows(index: pd.Index, id_lists: Sequence[Sequence[Any]]) -> list[np.ndarray]:
    """Per list of ids, the positions in ``index`` of those found, in the list's order
    (see :func:`finding_rows`)."""
    if not id_lists:
        return []
    if not index.is_unique:
        return [np.asarray([r for r in index.get_indexer_for(list(ids)) if r >= 0], dtype=np.int64)
                for ids in id_lists]
    sizes = np.fromiter(map(len, id_lists), dtype=np.int64, count=len(id_lists))
    ids = [rid for named in id_lists for rid in named]
    found = index.get_indexer(pd.Index(ids, dtype=object)) if ids else np.zeros(0, dtype=np.int64)
    bounds = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    found = found.astype(np.int64)
    return [part[part >= 0] for part in (found[a:b] for a, b in zip(bounds, bounds[1:], strict=False))]


def rolled_up_rows(results: Sequence[CheckResult]) -> dict[str, list[int]]:
    """``check.kind`` -> rows a check's findings do not name but its ``reasons`` records column does
    (the clusters it summed up beyond its cap)."""
    out: dict[str, list[int]] = {}
    for result in results:
        kinds = pd.Series(result.records.get(REASONS, ()), dtype=object).dropna().explode().dropna()
        for kind, rows in kinds.groupby(kinds, sort=False):  # kinds in order of their first row
            out[f"{result.check}.{kind}"] = rows.index.tolist()
    return out


#: The pandas dtype of each scalar column kind of :data:`COLUMNS` (nullable integers, booleans and strings).
_DTYPES = {"string": "string", "int64": "Int64", "bool": "boolean", "float64": "Float64"}


def _typed(values: Any, kind: str) -> Any:
    """Values as the pandas dtype of an arrow type (nullable integers, booleans and strings)."""
    if kind == "list<string>":
        return pd.Series(list(values), dtype=object).to_numpy()
    return pd.array(values.array if isinstance(values, pd.Series) else values, dtype=_DTYPES[kind])


def _reasons(index: pd.Index, findings: Sequence[Finding],
             contributed: Mapping[str, list[int]]) -> np.ndarray:
    """Per row: the sorted ``check.kind`` of every finding naming it, and of the rows checkers rolled up."""
    names = sorted({f"{f.check}.{f.kind}" for f in findings} | set(contributed))
    code_of = {name: code for code, name in enumerate(names)}
    rows, codes = [], []
    for finding, hit in zip(findings, finding_rows(index, findings), strict=True):
        rows.append(hit)
        codes.append(np.full(len(hit), code_of[f"{finding.check}.{finding.kind}"], dtype=np.int64))
    for key, hit in contributed.items():
        rows.append(np.asarray(hit, dtype=np.int64))
        codes.append(np.full(len(hit), code_of[key], dtype=np.int64))
    # a million new lists: no full collection meanwhile, as the audit defers them (dqaudit.memory)
    out: list[list[str]] = [[] for _ in range(len(index))]
    if rows and sum(map(len, rows)):
        # (row, key) pairs as one integer each, keys numbered in sorted order: np.unique drops repeats and
        # sorts by row, then key, as the strings would sort
        pairs = np.unique(np.concatenate(rows) * len(names) + np.concatenate(codes))
        hit, code = np.divmod(pairs, len(names))
        labels = np.array(names, dtype=object)[code].tolist()
        cuts = [0, *(np.flatnonzero(hit[1:] != hit[:-1]) + 1).tolist(), len(pairs)]
        starts = hit[cuts[:-1]].tolist()
        for row, a, b in zip(starts, cuts, cuts[1:], strict=False):
            out[row] = labels[a:b]
    return pd.Series(out, dtype=object).to_numpy()


def _decisions(n: int, plan: Any) -> np.ndarray:
    """keep, drop (a dedupe copy), quarantine, mask or relabel,
    as :func:`dqaudit.export.cleaning_plan` decided."""
    out = np.full(n, "keep", dtype=object)
    for row in plan.mask:
        out[row] = "mask"
    for row in plan.relabel:
        out[row] = "relabel"
    rows = np.fromiter(plan.reasons, np.int64, len(plan.reasons))
    drop = np.fromiter((all(r["decision"] == "dedupe" for r in why) for why in plan.reasons.values()), bool,
                       len(rows))
    out[rows] = np.where(drop, "drop", "quarantine")
    return out


def parquet_bytes(records: pd.DataFrame, mask: Callable[[str], str] | None = None,
                  cache: Cache | None = None) -> bytes:
    """records.parquet's bytes; ``mask`` (the report masker) is applied to the ids and suggested labels
    (``cache``: the run's cache,
    where :func:`dqaudit.masking.changed_by` keeps what the masker does to each id)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if mask is not None:
        records = records.assign(**{c: _masked(records[c], mask, cache) for c in ("id", "suggested_label")})
    table = pa.Table.from_pandas(records, schema=schema(), preserve_index=False)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def _masked(values: pd.Series, mask: Callable[[str], str], cache: Cache | None = None) -> pd.Series:
    """``values`` (strings, nulls kept) through ``mask``
    plus a rule for an e-mail address glued to more of an id.

    The masker is called only where it changes something (:func:`dqaudit.masking.changed_by`: one
    vectorised pass, then the cache's verdicts), so a million ids such as ``d1234567`` are not masked
    one Python call at a time every night; the glued-address rule runs where there is an "@".
    """
    from .masking import changed_by

    values = values.astype("string")
    strings = values.tolist()
    changed = changed_by(strings, mask, cache)
    changed |= values.str.contains("@", regex=False).fillna(False).to_numpy(dtype=bool)
    rows = np.flatnonzero(changed)
    if not len(rows):
        return values
    out = values.copy()
    out.iloc[rows] = [_GLUED_EMAIL.sub("<EMAIL>", mask(strings[r])) for r in rows.tolist()]
    return out
