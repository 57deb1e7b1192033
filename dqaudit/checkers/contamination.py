"""``contamination``: the same text, exactly or nearly, in train and in val or test.

A test example whose copy is in train measures memory, not generalisation. When the
records carry their split (``fields.split``: train, val or test), this check counts exact
and near-duplicate pairs across splits with the pass ``dqaudit check-split`` runs on split
files, fed with the audit's own near-duplicate edges (signatures cached per record, so a
nightly re-run pays only for the new rows) and each record's normalised-text key (a per-record
feature: on Spark computed on the executors), so it reads only the examples' texts. The nightly
``new_contamination`` regression rule watches the pair count.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import CheckParams
from ..context import AuditContext
from ..features.exact import normalized_keys
from ..features.leakage import SPLITS, leaks_by_key, minhash_settings
from ..features.near_dups import near_duplicates
from ..findings import Action, CheckResult, RegressionRule, Severity
from .base import Checker, Points


class ContaminationChecker(Checker[CheckParams]):
    name = "contamination"
    description = "Exact and near copies across train, val and test (when records carry their split)."
    default_weight = 2.0
    order = 40
    #: per 1 % of the later split's rows that have a copy in an earlier split
    points = {"cross_split_copies": Points(3.0)}
    regression_rules = (RegressionRule("new_contamination", ("cross_split_pairs",), "rise",
                                       "exact/near-duplicate pairs across splits", "cross_split_pairs"),)

    reads_whole = frozenset()  # the normalised-text keys (a per-record feature) and the examples' texts

    def check(self, ctx: AuditContext) -> CheckResult:
        if ctx.dataset.fields.split is None:
            return self.skip("no split field (set fields.split to the field holding train, val or test)")
        frame = ctx.frame
        split = frame["split"].map(lambda v: v.strip().lower() if isinstance(v, str) else v)
        parts = split.map({name: k for k, name in enumerate(SPLITS)}).fillna(-1).to_numpy(dtype=np.int64)
        if len(np.unique(parts[parts >= 0])) < 2:
            return self.skip(f"fewer than two of {', '.join(SPLITS)} in field '{ctx.dataset.fields.split}'")
        found = near_duplicates(ctx)
        kept = np.flatnonzero(parts >= 0)
        # the audit's edges, renumbered to the rows that have a split
        position = np.full(len(frame), -1, dtype=np.int64)
        position[kept] = np.arange(len(kept))
        inside = (position[found.pairs] >= 0).all(axis=1)
        edges = (position[found.pairs[inside]], found.similarity[inside])
        ids = frame["id"].iloc[kept].astype(str).tolist()
        report = leaks_by_key(normalized_keys(ctx)[kept], ids, parts[kept], SPLITS,
                              threshold=minhash_settings(ctx.config).threshold, edges=edges,
                              texts=lambda rows: ctx.texts(kept[rows]))
        findings, penalties = [], []
        for pair in report.exact_pairs:
            exact, near = report.exact_pairs[pair], report.near_pairs[pair]
            if exact + near == 0:
                continue
            a, b = pair.split("~")
            examples = [e for e in report.examples if {e["a"]["part"], e["b"]["part"]} == {a, b}]
            findings.append(self.finding(
                "cross_split_copies", Severity.HIGH,
                f"{exact} exact and {near} near-duplicate pairs between {a} and {b}; the {b} copies test "
                f"what the model saw in {a}", Action.DROP, (), exact_pairs=exact, near_pairs=near,
                examples=examples))
            # the later split's rows with a copy elsewhere: those are the ones that mislead
            penalties.append(self.penalty("cross_split_copies", report.contaminated[b], len(kept)))
        metrics = {
            "cross_split_pairs": sum(report.exact_pairs.values()) + sum(report.near_pairs.values()),
            **report.to_dict(),
            "rows": report.rows,
            "unsplit_rows": int(len(frame) - len(kept)),
            "unknown_values": sorted(map(str, pd.unique(split[(parts < 0) & split.notna()])))[:10],
        }
        return self.result(findings, penalties=penalties, metrics=metrics)
