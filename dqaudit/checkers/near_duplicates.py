"""``near_duplicates``: near-copies (MinHash LSH, verified by exact Jaccard), their label conflicts,
and optionally paraphrases (sentence embeddings).

Near-copies are the commonest dirt in support data (templates, re-sent requests,
pasted answers) and the main source of train/test leakage, so the clusters are
shared: :func:`near_duplicate_groups` gives every row a group id that the splitter
and the label-noise folds use whether or not this check runs.

Clusters made only of identical texts are the ``duplicates`` check's findings;
this check reports clusters holding at least two different texts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from pydantic import Field

from ..context import AuditContext
from ..features.conflicts import conflicting
from ..features.near_dups import NearDupFeatureParams, NearDuplicates, near_duplicates
from ..features.representatives import RULE, kept_entries
from ..findings import Action, CheckResult, Finding, RegressionRule, Severity
from ..parallel import default_workers
from ..text import normalize, preview
from .base import Checker, Points

CONTAINER_RULE = "the text containing the most others, then the longest, then first line"


class NearDuplicatesParams(NearDupFeatureParams):
    max_conflicting_share: float = Field(
        0.05, ge=0, le=1,
        description="Blocking gate: share of rows in near-duplicate clusters with conflicting labels.")
    max_cluster_findings: int | None = Field(
        200, ge=1,
        description="Largest clusters reported one by one (per kind); "
                    "the rest are counted in one finding that "
                    "names no records (records.parquet lists every row's cluster). null: every cluster.")


class NearDuplicatesChecker(Checker[NearDuplicatesParams]):
    name = "near_duplicates"
    description = "Near-copies (MinHash LSH verified by exact Jaccard) and near-copies with different labels."
    default_weight = 2.0
    order = 30
    cleaning = {"conflicting_labels": "quarantine", "near_duplicates": "dedupe"}
    #: conflicting_labels: every row of the cluster; the others: the rows beyond the ones kept
    points = {"conflicting_labels": Points(3.0), "near_duplicates": Points(1.0),
              "contained_copies": Points(1.0)}
    regression_rules = (RegressionRule("new_near_conflicting_groups", ("conflicting_labels",), "new_findings",
                                       "new near-duplicate groups with conflicting labels",
                                       "conflicting_rows"),)
    reads_whole = frozenset()  # the clusters' texts only, through ctx.texts

    def check(self, ctx: AuditContext) -> CheckResult:
        params = self.params
        frame = ctx.frame
        n = len(frame)
        if n == 0:
            return self.skip("no records")
        found = near_duplicates(ctx)
        texts = np.full(n, None, dtype=object)  # filled only for the rows read (ctx.texts)
        found_clusters = _cluster_table(ctx, texts, found.groups)
        clusters = found_clusters.table
        findings: list[Finding] = []
        penalties: list[float] = []
        semantic_only = _semantic_only(found)
        partial_groups = set(found.groups[found.contained_pairs[:, 0]].tolist())
        partial = clusters.index.isin(list(partial_groups))
        conflict = _asks_the_same(ctx, texts, found_clusters)
        conflicting = clusters[conflict]
        plain = clusters[~conflict & ~partial]
        contained = clusters[~conflict & partial]
        member_rows = found_clusters.members(clusters)
        cluster_of = pd.array(np.zeros(n, dtype=np.int64), dtype="Int64")
        cluster_of[:] = pd.NA
        cluster_of[member_rows] = found.groups[member_rows]
        reasons = np.full(n, None, dtype=object)  # rows of the clusters beyond the cap: their kind
        kinds = (("conflicting_labels", conflicting), ("near_duplicates", plain),
                 ("contained_copies", contained))
        cap = params.max_cluster_findings
        _fill(ctx, texts, found_clusters.members(pd.concat([table.iloc[:cap] for _, table in kinds])))
        described = frame[["id", "label"]]  # what the findings read besides the text, copied per cluster
        for kind, table in kinds:
            limit = len(table) if cap is None else cap
            listed = len(findings)
            shown, folded = table.iloc[:limit], table.iloc[limit:]
            edge_range = _edge_ranges(found.groups, found.pairs, found.similarity, shown.index.to_numpy())
            if kind == "contained_copies":
                containment = _edge_ranges(found.groups, found.contained_pairs, found.containment,
                                           shown.index.to_numpy())
            kept_ids = _kept_ids(frame, texts, found_clusters, shown) if kind == "near_duplicates" else {}
            for g, start, size in zip(shown.index, shown["start"], shown["size"], strict=True):
                rows = found_clusters.pos[start:start + size]
                members = described.iloc[rows].assign(text=texts[rows])
                low, high = edge_range.get(int(g), (None, None))
                basis = ("semantic_duplicates" if g in semantic_only
                         else "contained_copies" if g in partial_groups else "near_duplicates")
                if kind == "conflicting_labels":
                    findings.append(self._conflict_finding(members, low, high, basis))
                    penalties.append(self.penalty("conflicting_labels", len(rows), n))
                elif kind == "contained_copies":
                    findings.append(self._contained_finding(members, rows, found, containment[int(g)],
                                                            (low, high)))
                    penalties.append(self.penalty("contained_copies", len(rows) - 1, n))
                else:
                    finding = self._cluster_finding(basis, members, low, high, found, int(g),
                                                    kept_ids[int(g)])
                    findings.append(finding)
                    kept = len(finding.details["representatives"])
                    penalties.append(self.penalty("near_duplicates", len(rows) - kept, n))
            # its records.parquet cluster
            findings[listed:] = [replace(f, details={**f.details, "cluster": int(g)})
                                 for f, g in zip(findings[listed:], shown.index, strict=True)]
            if len(folded):
                rows = found_clusters.members(folded)
                conflict = kind == "conflicting_labels"
                partial_copies = kind == "contained_copies"
                for row in rows.tolist():
                    reasons[row] = [kind]
                findings.append(self.finding(  # counts only: its ids would lump unrelated clusters together
                    kind, Severity.HIGH if conflict else Severity.MEDIUM,
                    f"{len(folded):,} more " + ("clusters of partial copies" if partial_copies
                                               else "near-duplicate clusters") + f" ({len(rows):,} rows)"
                    + (" carry conflicting labels" if conflict else "; keep one per cluster and label")
                    + f" beyond the {limit} listed: each row's cluster is in records.parquet "
                    "(near_duplicate_cluster)",
                    Action.REVIEW if conflict or partial_copies else Action.DROP, (),
                    clusters=len(folded), rows=len(rows), rolled_up=True,
                    rule=CONTAINER_RULE if partial_copies else RULE))
                kept = len(folded) if conflict else int(folded["labels"].clip(lower=1).sum())
                penalties.append(self.penalty(kind, len(rows) if conflict else len(rows) - kept, n))
        short = np.flatnonzero(found.no_shingles)
        if len(short):
            findings.append(self.finding(
                "too_short_to_compare", Severity.LOW,
                f"{len(short):,} texts have fewer than two words, so near-duplicate search "
                "cannot compare them",
                Action.REVIEW, frame["id"].iloc[short].tolist(), size=int(len(short))))
            penalties.append(0.0)
        conflicting_rows = int(conflicting["size"].sum())
        redundant = int((plain["size"] - plain["labels"].clip(lower=1)).sum() + (contained["size"] - 1).sum())
        share = conflicting_rows / n
        gate = self.gate("conflicting_labels", share > params.max_conflicting_share,
                         f"{share:.1%} of rows are near-duplicates with conflicting labels "
                         f"(limit {params.max_conflicting_share:.0%})")
        metrics = {
            "shingles": f"{found.shingle} {found.ngram}-grams",
            "bands_x_rows": f"{found.bands}x{found.rows}",
            "candidate_pairs": found.candidates,
            "verified_pairs": int(len(found.pairs)),
            "semantic_pairs": int(len(found.semantic_pairs)),
            "contained_pairs": int(len(found.contained_pairs)),
            "contained_clusters": int(len(contained)),
            "clusters": int(len(clusters)),
            "rows_in_clusters": int(clusters["size"].sum()),
            "redundant_rows": redundant,
            "conflicting_clusters": int(len(conflicting)),
            "labels_differ_in_content": int((plain["labels"] > 1).sum()),
            "mixed_label_clusters": int((clusters["labels"] > 1).sum()),
            "mixed_label_rows": int(clusters.loc[clusters["labels"] > 1, "size"].sum()),
            "conflicting_rows": conflicting_rows,
            "too_short_rows": int(len(short)),
            "near_duplicate_share": round((redundant + conflicting_rows) / n, 4),
        }
        return self.result(findings, penalties=penalties, metrics=metrics, gates=[gate],
                           records={"near_duplicate_cluster": cluster_of, "reasons": reasons})

    def _conflict_finding(self, members: pd.DataFrame, low: float | None, high: float | None,
                          basis: str) -> Finding:
        split = members["label"].dropna().value_counts().sort_index().to_dict()
        ids = members["id"].tolist()
        return self.finding(
            "conflicting_labels", Severity.HIGH,
            f"{len(ids)} near-identical texts like “{preview(members['text'].iloc[0])}” carry "
            f"{len(split)} different labels: " + ", ".join(f"{k} ×{v}" for k, v in split.items()),
            Action.REVIEW, ids, label_split=split, size=len(ids), similarity_range=[low, high], basis=basis)

    def _cluster_finding(self, kind: str, members: pd.DataFrame, low: float | None,
                         high: float | None, found: NearDuplicates, group: int, keep: list[str]) -> Finding:
        ids = members["id"].tolist()
        text = preview(members["text"].iloc[0])
        split = members["label"].dropna().value_counts().sort_index().to_dict()
        labels = (f"; their labels differ in words that can carry them ({', '.join(split)}), so one per label"
                  if len(split) > 1 else "")
        if kind == "semantic_duplicates":
            cos = _semantic_range(found, group)
            return self.finding(
                kind, Severity.LOW, f"{len(ids)} paraphrases of “{text}” (cosine {cos[0]:.2f}–{cos[1]:.2f})"
                f"{labels}; keep {', '.join(keep)}", Action.REVIEW, ids, representative=keep[0],
                representatives=keep, rule=RULE, size=len(ids), cosine_range=list(cos))
        span = f"Jaccard {low:.2f}–{high:.2f}" if low is not None else "identical shingles"
        return self.finding(
            kind, Severity.MEDIUM,
            f"{len(ids)} near-copies of “{text}” ({span}){labels}; keep {', '.join(keep)}",
            Action.DROP, ids, representative=keep[0], representatives=keep, rule=RULE, size=len(ids),
            similarity_range=[low, high], **({"label_split": split} if len(split) > 1 else {}))

    def _contained_finding(self, members: pd.DataFrame, rows: np.ndarray, found: NearDuplicates,
                           containment: tuple[float, float],
                           jaccard: tuple[float | None, float | None]) -> Finding:
        ids = members["id"].tolist()
        container = _container(members, rows, found.contained_pairs)
        keep, text = members["id"].iloc[container], preview(members["text"].iloc[container])
        return self.finding(
            "contained_copies", Severity.MEDIUM,
            f"{len(ids) - 1} text{'' if len(ids) == 2 else 's'} largely contained in “{text}” "
            "or in each other "
            f"(containment {containment[0]:.2f}–{containment[1]:.2f}); keep {keep}", Action.REVIEW, ids,
            representative=keep, rule=CONTAINER_RULE, size=len(ids), containment_range=list(containment),
            similarity_range=list(jaccard))


def _container(members: pd.DataFrame, rows: np.ndarray, contained_pairs: np.ndarray) -> int:
    """Position in ``members`` (cluster rows ``rows``) of the representative: :data:`CONTAINER_RULE`."""
    holds = np.bincount(np.searchsorted(rows, contained_pairs[np.isin(contained_pairs[:, 1], rows), 1]),
                        minlength=len(rows))
    lengths = members["text"].str.len().to_numpy()
    return int(np.lexsort((np.arange(len(rows)), -lengths, -holds))[0])



def _kept_ids(frame: pd.DataFrame, texts: np.ndarray, found: _Clusters,
              shown: pd.DataFrame) -> dict[int, list[str]]:
    """Each shown cluster's kept ids (one per label, in line order), all clusters in one
    :func:`~dqaudit.features.representatives.kept_entries` call."""
    rows = found.members(shown)
    group = np.repeat(shown.index.to_numpy(np.int64), shown["size"].to_numpy(np.int64))

    def strings(name: str) -> list[str | None]:
        return [None if v is None or v != v else str(v) for v in frame[name].to_numpy()[rows].tolist()]

    kept = np.flatnonzero(kept_entries(group, strings("label"), strings("created_at"),
                                       frame["line"].to_numpy(np.int64)[rows], [str(t) for t in texts[rows]],
                                       per_label=True))
    kept = kept[np.lexsort((frame["line"].to_numpy()[rows[kept]], group[kept]))]
    out: dict[int, list[str]] = {}
    for g, i in zip(group[kept].tolist(), frame["id"].to_numpy()[rows[kept]].tolist(), strict=True):
        out.setdefault(g, []).append(str(i))
    return out


def _fill(ctx: AuditContext, texts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``texts[rows]``, fetching those not yet in ``texts`` first (one :meth:`~AuditContext.texts` call)."""
    missing = np.unique(rows[np.equal(texts[rows], None)])
    texts[missing] = ctx.texts(missing)
    return texts[rows]


def _asks_the_same(ctx: AuditContext, texts: np.ndarray, found: _Clusters) -> np.ndarray:
    """Per cluster of ``found.table``: do two members with different labels ask the same thing?

    Only those are label conflicts (:mod:`dqaudit.features.conflicts`); near-copies whose
    labels differ in content words stay near-duplicates. ``texts``: filled here for their members.
    """
    table = found.table
    out = np.zeros(len(table), dtype=bool)
    mixed = table[table["labels"].to_numpy() > 1]
    _fill(ctx, texts, found.members(mixed))
    labels = ctx.frame["label"].to_numpy()
    starts, sizes = table["start"].to_numpy(np.int64), table["size"].to_numpy(np.int64)
    ks = np.flatnonzero(table["labels"].to_numpy() > 1)
    mixed_clusters = []
    for start, size in zip(starts[ks].tolist(), sizes[ks].tolist(), strict=True):
        rows = found.pos[start:start + size]
        mixed_clusters.append((texts[rows].tolist(), labels[rows].tolist()))
    out[ks] = conflicting(mixed_clusters, default_workers())
    return out

@dataclass(frozen=True)
class _Clusters:
    """Clusters holding at least two different texts (``table``: size, distinct labels and ``start``,
    indexed by group, largest first); cluster ``g``'s rows are ``pos[start:start + size]``."""

    table: pd.DataFrame
    pos: np.ndarray

    def members(self, selection: pd.DataFrame) -> np.ndarray:
        """Row positions of the clusters in ``selection`` (rows of ``table``), cluster by cluster."""
        sizes = selection["size"].to_numpy(np.int64)
        offsets = selection["start"].to_numpy(np.int64) - (np.cumsum(sizes) - sizes)
        return self.pos[np.arange(int(sizes.sum())) + np.repeat(offsets, sizes)]


def _cluster_table(ctx: AuditContext, texts: np.ndarray, groups: np.ndarray) -> _Clusters:
    """The clusters with at least two different texts, largest first (ties: first row).

    "Different" means different after the ``duplicates`` check's normalisation, so a
    cluster of identical copies stays that check's finding. ``texts``: filled here for the
    members it compares.
    """
    frame = ctx.frame
    sizes = np.bincount(groups)
    pos = np.flatnonzero(sizes[groups] > 1)
    if len(pos) == 0:
        empty = np.empty(0, np.int64)
        return _Clusters(pd.DataFrame({"size": empty, "labels": empty, "start": empty}), pos)
    pos = pos[np.argsort(groups[pos], kind="stable")]
    starts = np.flatnonzero(np.concatenate(([True], np.diff(groups[pos]) != 0)))
    cluster_sizes = np.diff(np.append(starts, len(pos)))
    member_of = np.repeat(np.arange(len(starts)), cluster_sizes)
    keep = _texts_differ(lambda at: _fill(ctx, texts, pos[at]), frame["text_hash"].to_numpy()[pos],
                         member_of, starts)
    labels = pd.Series(frame["label"].to_numpy()[pos]).groupby(member_of, sort=True).nunique().to_numpy()
    table = pd.DataFrame({"size": cluster_sizes, "labels": labels, "start": starts},
                         index=groups[pos][starts])[keep]
    order = np.lexsort((table.index.to_numpy(), -table["size"].to_numpy()))
    return _Clusters(table.iloc[order], pos)


def _texts_differ(text_at: Callable[[np.ndarray], np.ndarray], hashes: np.ndarray, member_of: np.ndarray,
                  starts: np.ndarray) -> np.ndarray:
    """Per cluster (members contiguous, cluster ``k`` from ``starts[k]``):
    do two members' normalised texts differ?

    Copies (equal raw text) never differ, so only each cluster's first text and its
    first different raw text are normalised (``text_at(positions)``: their texts, fetched
    together); the rare clusters where those two normalise alike (case, width, spacing)
    have all their distinct texts compared.
    """
    raw = pd.factorize(hashes)[0]
    other = np.flatnonzero(raw != raw[starts][member_of])
    clusters, at = np.unique(member_of[other], return_index=True)
    first, second = np.split(text_at(np.concatenate([starts[clusters], other[at]])), [len(clusters)])
    differ = np.zeros(len(starts), bool)
    differ[clusters] = [normalize(a) != normalize(b)
                        for a, b in zip(first.tolist(), second.tolist(), strict=True)]
    alike = clusters[~differ[clusters]]
    ends = np.append(starts[1:], len(hashes))
    distinct = [np.unique(raw[starts[k]:ends[k]], return_index=True)[1] + starts[k] for k in alike.tolist()]
    if distinct:
        found = iter(text_at(np.concatenate(distinct)).tolist())
        for k, rows in zip(alike.tolist(), distinct, strict=True):
            differ[k] = len({normalize(next(found)) for _ in rows}) > 1
    return differ


def _edge_ranges(groups: np.ndarray, pairs: np.ndarray, sims: np.ndarray,
                 wanted: np.ndarray) -> dict[int, tuple[float, float]]:
    """(min, max) verified Jaccard of the edges inside each ``wanted`` cluster."""
    if len(pairs) == 0 or len(wanted) == 0:
        return {}
    edge_group = groups[pairs[:, 0]]
    inside = np.isin(edge_group, wanted)
    table = pd.DataFrame({"g": edge_group[inside], "s": sims[inside]}).groupby("g")["s"].agg(["min", "max"])
    return {int(g): (round(float(lo), 4), round(float(hi), 4)) for g, lo, hi in table.itertuples()}


def _semantic_only(found: NearDuplicates) -> set[int]:
    """Clusters held together by embedding edges alone (no verified MinHash edge inside them)."""
    if len(found.semantic_pairs) == 0:
        return set()
    with_minhash = set(found.groups[found.pairs[:, 0]].tolist()) if len(found.pairs) else set()
    return set(found.groups[found.semantic_pairs[:, 0]].tolist()) - with_minhash


def _semantic_range(found: NearDuplicates, group: int) -> tuple[float, float]:
    inside = found.groups[found.semantic_pairs[:, 0]] == group
    values = found.cosine[inside]
    return (round(float(values.min()), 4), round(float(values.max()), 4)) if len(values) else (1.0, 1.0)
