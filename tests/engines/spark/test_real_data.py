"""Both engines on real public data from ../shared (skipped without it): the same records and clusters.

KazSAnDRA's reviews hold quoted multi-line texts in CSV and are read again as JSONL here; in banking77's
training set the partial-copy search links one more pair of clusters, on both engines.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dqaudit.api import open_context
from dqaudit.engines.spark import cluster
from dqaudit.features.exact import exact_groups
from dqaudit.features.near_dups import near_duplicates
from dqaudit.registry import parse_config


def both(spark, path: Path, settings: dict) -> tuple:
    """``path`` opened by the local and the Spark engine with the same settings."""
    return open_context(path, parse_config(settings)), open_context(
        str(path), parse_config({"engine": "spark", **settings})
    )


def pairs(ctx) -> list[tuple[int, int]]:
    """The verified near-duplicate pairs as sorted row pairs."""
    return sorted(tuple(sorted(pair)) for pair in near_duplicates(ctx).pairs.tolist())


def assert_same(local, remote) -> None:
    """The same canonical table, quarantine, near-duplicate clusters and exact groups."""
    columns = [c for c in local.frame.columns if c in remote.frame.columns]
    pd.testing.assert_frame_equal(local.frame[columns], remote.frame[columns])
    assert local.dataset.problems == remote.dataset.problems
    assert np.array_equal(near_duplicates(local).groups, near_duplicates(remote).groups)
    assert pairs(local) == pairs(remote)  # in any order: Spark's edges come in partition order
    assert np.array_equal(np.asarray(exact_groups(local)), np.asarray(exact_groups(remote)))


def test_kazsandra_reviews_as_csv_and_as_jsonl(spark, shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "kazsandra" / "10_sc_test.csv"
    local, remote = both(spark, source, {"fields": {"id": "custom_id"}})
    assert len(local.frame) == 17_516 and local.frame["text"].str.contains("\n").any()
    assert (np.bincount(near_duplicates(local).groups) > 1).sum() > 100  # real copies to cluster
    assert_same(local, remote)
    lines = [json.dumps({"id": r.custom_id, "text": r.text, "label": str(r.label)}, ensure_ascii=False)
             for r in pd.read_csv(source).itertuples()]
    jsonl = tmp_path / "kazsandra.jsonl"
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_same(*both(spark, jsonl, {}))


@pytest.mark.parametrize("chunk_rows", [cluster.CHUNK_ROWS, 100])
def test_banking77_clusters_match_with_the_partial_copy_search(spark, shared_data: Path, monkeypatch,
                                                               chunk_rows: int) -> None:
    """The engines find the same pairs and partial copies (banking77 has one), so the same clusters; also
    with the LSH estimate in the buckets (chunks of 100 records: 100 chunks, as past 5M records)."""
    monkeypatch.setattr(cluster, "CHUNK_ROWS", chunk_rows)
    source = shared_data / "banking77" / "train.csv"
    local, remote = both(spark, source, {"fields": {"label": "category"}})
    assert near_duplicates(remote).candidates == near_duplicates(local).candidates
    assert len(near_duplicates(local).contained_pairs) > 0
    assert np.array_equal(near_duplicates(local).contained_pairs, near_duplicates(remote).contained_pairs)
    assert_same(local, remote)
