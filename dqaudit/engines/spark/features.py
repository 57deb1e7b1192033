"""Per-record features computed on the executors: each batch of records becomes a small
:class:`~dqaudit.context.AuditContext` and the local feature function runs on it.

A feature here is one whose value for a record depends on that record alone (its text
lengths, its detected language, what the policies file's rules find in it), so evaluating it
batch by batch and concatenating in record order gives the value the driver would compute on
the whole table. The engine hands each one to the checkers lazily
(:meth:`~dqaudit.context.AuditContext.provide_lazy`): the Spark job runs only if a check asks
for it, and the driver never runs the detector.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...config import TEXT_COLUMNS
from .read import STRING_COLUMNS
from .session import collect_arrow, java_errors

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from ...context import AuditContext
    from .session import Stages


def per_record_features() -> tuple[Callable[[AuditContext], Any], ...]:
    """The feature functions the engine computes on the executors (see the module docstring)."""
    from ...features.exact import normalized_keys
    from ...features.language import language_table
    from ...features.lengths import output_lengths, text_lengths
    from ...features.pii_counts import pii_counts
    from ...features.policy_matches import policy_matches

    return text_lengths, language_table, pii_counts, output_lengths, policy_matches, normalized_keys


def on_executors(
    feature: Callable[[AuditContext], Any],
    records: DataFrame,
    ctx: AuditContext,
    rid: np.ndarray,
    log: Stages,
) -> Any:
    """``feature(ctx)`` evaluated batch by batch on the executors, in the canonical table's row order.

    ``records`` are the cached record rows (``rid`` and the string columns); ``rid`` is each
    canonical row's ``rid``. The result has the type the feature returns on the driver:
    an array (same dtype and shape) or a frame (same columns and dtypes, the table's index).
    """
    from ...cache import Cache
    from ...context import AuditContext
    from ...data import Dataset, SourceInfo

    config, fields = ctx.config, ctx.dataset.fields

    def evaluate(frame: pd.DataFrame) -> Any:
        dataset = Dataset(frame.reset_index(drop=True), (), SourceInfo("<spark>", "", "", len(frame)), fields)
        return feature(AuditContext(dataset, config, cache=Cache(None)))

    head = np.arange(min(2, len(ctx.frame)))
    sample = evaluate(pd.DataFrame({  # two records, their texts fetched when the frame left them out
        c: ctx.texts(head, c) if c in TEXT_COLUMNS else ctx.frame[c].to_numpy()[head] for c in STRING_COLUMNS
    }))
    if isinstance(sample, np.ndarray):
        names = [f"c{k}" for k in range(int(np.prod(sample.shape[1:])))]
    else:
        names = list(sample.columns)
    kinds = "long" if isinstance(sample, np.ndarray) and sample.dtype.kind in "iu" else "string"
    if isinstance(sample, np.ndarray) and sample.dtype.kind == "f":
        kinds = "double"
    schema = ", ".join(["rid long", *(f"`{name}` {kinds}" for name in names)])

    def compute(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            value = evaluate(batch[list(STRING_COLUMNS)])
            if isinstance(value, np.ndarray):
                value = pd.DataFrame(value.reshape(len(batch), -1), columns=names)
            yield pd.concat([batch[["rid"]].reset_index(drop=True), value.reset_index(drop=True)], axis=1)

    name = getattr(feature, "__name__", str(feature))
    with log.stage(f"per-record feature {name}", "spark"), java_errors(f"computing {name} on Spark"):
        table = collect_arrow(records.select("rid", *STRING_COLUMNS).mapInPandas(compute, schema))
    at = np.searchsorted(rid, table.column("rid").to_numpy())
    order = np.empty(len(rid), np.int64)
    order[at] = np.arange(len(at))
    if isinstance(sample, np.ndarray):
        columns = [table.column(c).to_numpy() for c in names]
        values = np.stack(columns, axis=1) if columns else np.empty((len(at), 0))
        return values[order].astype(sample.dtype).reshape(len(rid), *sample.shape[1:])
    frame = pd.DataFrame({c: table.column(c).to_pylist() for c in names}).iloc[order]
    return frame.set_axis(ctx.frame.index).astype(sample.dtypes.to_dict())
