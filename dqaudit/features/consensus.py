"""Several annotators' labels: every (item, annotator, label) triple, the ratings matrix, and the consensus.

Shared by ``agreement`` (reliability) and ``label_noise`` (which checks records against the
annotators' consensus where there is one), and by the Spark engine (same triple rules).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
from pydantic import Field

from .. import agreement as agr
from ..cache import Cache
from ..config import CheckParams
from ..context import AuditContext
from ..errors import InputError


class AnnotationParams(CheckParams):
    """Where the annotations come from and how labels are read (the ``checks.agreement`` block)."""

    annotations_file: str | None = Field(
        None,
        description="Long-format annotations (item_id, annotator, label), CSV or JSONL, "
        "added to any inline annotations.",
    )
    normalize_labels: bool = Field(
        False, description="Merge labels differing only by case/whitespace (always reported either way)."
    )

LONG_COLUMNS = ("item_id", "annotator", "label")


@dataclass(frozen=True)
class Annotations:
    """Every usable (item, annotator, label) triple, plus what was wrong with the rest."""

    triples: tuple[tuple[str, str, str], ...]
    unknown_items: tuple[str, ...] = ()
    empty_labels: tuple[str, ...] = ()
    variants: dict[str, list[str]] = field(default_factory=dict)
    sources: tuple[str, ...] = ()


def load_long(path: Path) -> list[dict[str, Any]]:
    """Rows of a long-format annotations file; the first row/record must name item_id, annotator, label."""
    if not path.is_file():
        raise InputError(path, "annotations file not found")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"invalid UTF-8 at byte {exc.start}") from None
    rows: list[dict[str, Any]] = []
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise InputError(path, f"invalid JSON: {exc}", line=number) from None
            if not isinstance(obj, dict):
                raise InputError(path, "expected a JSON object per line", line=number)
            rows.append(obj)
    elif path.suffix.lower() in (".csv", ".tsv"):
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))
    else:
        raise InputError(path, "annotations must be .csv, .tsv or .jsonl")
    if rows:
        missing = [c for c in LONG_COLUMNS if c not in rows[0]]
        if missing:
            raise InputError(
                path,
                f"missing column(s) {', '.join(missing)}; expected {', '.join(LONG_COLUMNS)} "
                f"(found {', '.join(map(str, rows[0]))})",
            )
    return rows


def inline_triples(
    ids: Sequence[Any], annotations: Sequence[Any]
) -> tuple[list[tuple[int, int, str, str, str]], list[str]]:
    """Inline annotations as ``(row, position, item, annotator, label)``, and the ids with an empty label.

    Shared by both engines (the Spark executors call it per partition), so the rules match.
    """
    found: list[tuple[int, int, str, str, str]] = []
    empty: list[str] = []
    for row, (item, pairs) in enumerate(zip(ids, annotations, strict=True)):
        for position, (annotator, label) in enumerate(pairs or ()):
            if label.strip():
                found.append((row, position, str(item), annotator, label))
            else:
                empty.append(str(item))
    return found, empty


def long_triples(ctx: AuditContext) -> tuple[list[tuple[str, str, str]], list[str], list[str]]:
    """The long-format file's usable triples, unknown item ids and ids with an empty label (memoised)."""
    params = AnnotationParams.of(ctx.config, "agreement")

    def compute() -> tuple[list[tuple[str, str, str]], list[str], list[str]]:
        triples: list[tuple[str, str, str]] = []
        unknown: list[str] = []
        empty: list[str] = []
        if params.annotations_file:
            known = set(ctx.frame["id"].astype(str))
            for row in load_long(Path(params.annotations_file)):
                item, annotator, label = (row.get(c) for c in LONG_COLUMNS)
                item = "" if item is None else str(item)
                if item not in known:
                    unknown.append(item)
                elif label is None or not str(label).strip():
                    empty.append(item)
                else:
                    triples.append((item, str(annotator), str(label)))
        return triples, unknown, empty

    return ctx.memo(long_triples, compute)


def label_folder(params: AnnotationParams) -> Callable[[str], str]:
    """How a label is read: merged by case and whitespace with ``normalize_labels``, else as given.
    The Spark engine folds the labels it counts on the executors with it."""
    return agr.normalized_label if params.normalize_labels else str


def collect_annotations(ctx: AuditContext) -> Annotations:
    """Inline plus long-format annotations, checked against the dataset's ids (memoised per run)."""
    params = AnnotationParams.of(ctx.config, "agreement")

    def compute() -> Annotations:
        found, empty = inline_triples(ctx.frame["id"].tolist(), ctx.frame["annotations"].tolist())
        triples = [t[2:] for t in found]
        sources = ["inline"] if triples or empty else []
        unknown: list[str] = []
        if params.annotations_file:
            sources.append(params.annotations_file)
            more, unknown, empty_long = long_triples(ctx)
            triples += more
            empty += empty_long
        variants = agr.label_variants({t[2] for t in triples})
        fold = label_folder(params)
        triples = [(i, a, fold(lab)) for i, a, lab in triples]
        return Annotations(
            tuple(triples),
            tuple(dict.fromkeys(unknown)),
            tuple(dict.fromkeys(empty)),
            variants,
            tuple(sources),
        )

    return ctx.memo(collect_annotations, compute)


def annotation_ratings(ctx: AuditContext) -> agr.Ratings:
    """The items x annotators matrix of :func:`collect_annotations` (memoised per run)."""
    return ctx.memo(annotation_ratings, lambda: agr.Ratings.from_triples(collect_annotations(ctx).triples))


def annotation_tally(ctx: AuditContext) -> agr.Tally:
    """What the count-based metrics read: the engine's aggregates where it computed them, else the matrix.

    The Spark engine provides this lazily (:meth:`AuditContext.provide_lazy`: the aggregation runs on
    the executors when first asked); the local engine has none, so the metrics read the
    :class:`~dqaudit.agreement.Ratings` matrix.
    """
    return ctx.memo(annotation_tally, lambda: annotation_ratings(ctx))


def crowdlab(ctx: AuditContext) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`agr.multiannotator` once per run: with 819 annotators it takes tens of seconds, and both
    ``agreement`` and ``label_noise`` (through :func:`consensus`) need it."""
    return ctx.memo(crowdlab, lambda: _kept_crowdlab(ctx, annotation_ratings(ctx)))


def _kept_crowdlab(ctx: AuditContext, ratings: agr.Ratings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`agr.multiannotator`, read back from the cache when the ratings are the last run's.

    A nightly run whose annotations did not change (a separate annotations file, or new rows without
    any) skips CROWDLAB; one set is kept, replaced whenever the ratings differ.
    """
    from importlib.metadata import version

    digest = _ratings_digest(ratings)
    namespace = Cache.namespace("crowdlab", version=1, cleanlab=version("cleanlab"))
    stored = ctx.cache.load_arrays(namespace)
    if stored is not None and str(stored.get("digest", "")) == digest:
        return _frames(stored)
    items, annotators = agr.multiannotator(ratings)
    arrays = _arrays(items, annotators, digest)
    if arrays is not None:
        ctx.cache.save_arrays(namespace, arrays)
    return items, annotators


def _ratings_digest(ratings: agr.Ratings) -> str:
    """What CROWDLAB reads: items, annotators, categories and the codes matrix."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(orjson.dumps([ratings.items, ratings.annotators, ratings.categories]))
    codes = np.ascontiguousarray(ratings.codes)
    digest.update(f"{codes.dtype.str}{codes.shape}".encode())
    digest.update(codes.tobytes())
    return digest.hexdigest()


def _arrays(items: pd.DataFrame, annotators: pd.DataFrame, digest: str) -> dict[str, np.ndarray] | None:
    """The two frames as plain arrays (strings as fixed-width unicode: the cache refuses pickles); None
    when a string would not survive that (numpy drops trailing NULs)."""
    out = {"digest": np.array(digest)}
    strings: list[list[str]] = []
    for prefix, frame in (("item", items), ("annotator", annotators)):
        out[f"{prefix}.columns"] = np.array(list(frame.columns), dtype=str)
        strings.append([str(i) for i in frame.index.tolist()])
        out[f"{prefix}.index"] = np.array(strings[-1], dtype=str)
        for column in frame.columns:
            values = frame[column].to_numpy()
            if values.dtype.kind in "fiub":
                out[f"{prefix}.{column}"] = values
            else:
                strings.append([str(v) for v in values.tolist()])
                out[f"{prefix}.{column}"] = np.array(strings[-1], dtype=str)
    if any(v.endswith("\x00") for column in strings for v in column):
        return None
    return out


def _frames(stored: dict[str, np.ndarray]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`_arrays` back into the frames :func:`agr.multiannotator` returns."""
    frames = []
    for prefix in ("item", "annotator"):
        data = {}
        for column in stored[f"{prefix}.columns"].tolist():
            values = stored[f"{prefix}.{column}"]
            data[column] = values.tolist() if values.dtype.kind == "U" else values
        frames.append(pd.DataFrame(data, index=pd.Index(stored[f"{prefix}.index"].tolist(), name=prefix)))
    return frames[0], frames[1]


def consensus(ctx: AuditContext) -> pd.DataFrame | None:
    """CROWDLAB consensus per annotated record id (None without two annotators); shared with label_noise."""
    ratings = annotation_ratings(ctx)
    if len(ratings.annotators) < 2 or not ratings.pairable().any() or len(ratings.categories) < 2:
        return None
    return crowdlab(ctx)[0]


