"""``Checker.reads_whole``: a check that declares it does not read a text column whole gives the same
result on a frame without that column, its texts fetched row by row through ``ctx.texts``.

The slim context here is what the Spark engine hands over when no selected check reads the texts
whole: no ``text``/``output`` columns, the clusters, exact groups and per-record features provided,
and a fetcher for the rows asked for (here a slice of the full frame, counted).
"""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dqaudit.api import open_context
from dqaudit.checkers.base import Checker
from dqaudit.config import TEXT_COLUMNS
from dqaudit.context import AuditContext
from dqaudit.engines.spark.features import per_record_features
from dqaudit.export import cleaning_plan
from dqaudit.features.exact import exact_groups
from dqaudit.features.near_dups import near_duplicate_groups, near_duplicates
from dqaudit.pipeline import run_checks, whole_text_columns
from dqaudit.records import rolled_up_rows
from dqaudit.registry import available_checkers, cleaning_rules, parse_config

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "bank_support.jsonl"
#: The checks that read no text column whole (the ones moved to ``ctx.texts`` or per-record features).
MOVED = {"agreement", "balance", "conflicting_outputs", "contamination", "duplicates", "label_noise",
         "label_variants", "language", "near_duplicates", "output_style", "pii", "schema", "stale_policy",
         "text_quality"}
CONFIG = {"cache": {"enabled": False}, "fields": {"output": "answer"},
          "checks": {"agreement": {"annotations_file": str(SAMPLE.parent / "annotations_long.csv")},
                     "stale_policy": {"policies": str(SAMPLE.parent / "policies.yaml")}}}


def test_the_moved_checks_are_declared() -> None:
    moved = {name for name, cls in available_checkers().items() if not cls.reads_whole & TEXT_COLUMNS}
    assert moved == MOVED
    assert Checker.reads_whole == TEXT_COLUMNS  # a plug-in that says nothing gets the texts
    assert whole_text_columns(parse_config({}), sorted(MOVED)) == frozenset()
    # a policies file and a split field no longer make a check read them whole
    assert whole_text_columns(parse_config({}), None) == frozenset()
    policies = parse_config({"checks": {"stale_policy": {"policies": str(SAMPLE.parent / "policies.yaml")}}})
    assert whole_text_columns(policies, ["near_duplicates", "stale_policy"]) == frozenset()
    assert whole_text_columns(parse_config({"fields": {"split": "split"}}), None) == frozenset()


@pytest.fixture(scope="module")
def contexts() -> tuple[AuditContext, AuditContext, list[np.ndarray]]:
    """The sample on the local engine, and the same data without its text columns (fetches counted)."""
    full = open_context(SAMPLE, parse_config(CONFIG))
    return full, *without_texts(full)


def without_texts(full: AuditContext) -> tuple[AuditContext, list[np.ndarray]]:
    """``full`` as the Spark engine hands it over without the texts, and the rows each fetch asked for."""
    frame = full.frame.drop(columns=sorted(TEXT_COLUMNS))
    slim = AuditContext(replace(full.dataset, frame=frame), full.config, cache=full.cache)
    asked: list[np.ndarray] = []

    def fetch(rows: np.ndarray, column: str) -> np.ndarray:
        asked.append(rows)
        return full.frame[column].to_numpy(dtype=object)[rows]

    slim.fetch_texts_with(fetch)
    for feature in (near_duplicates, exact_groups, *per_record_features()):  # what the Spark engine provides
        slim.provide(feature, feature(full))
    return slim, asked


def test_contamination_fetches_only_its_examples(sample_with_splits: Path, same_results) -> None:
    """With a split field the check compares normalised-text keys (a per-record feature) and the
    near-duplicate edges: the texts it fetches are its examples' (at most 5 pairs)."""
    config = parse_config({**CONFIG, "fields": {"output": "answer", "split": "split"}})
    full = open_context(sample_with_splits, config)
    slim, asked = without_texts(full)
    expected, got = run_checks(full, checks=["contamination"]), run_checks(slim, checks=["contamination"])
    same_results(expected, got)
    metrics = got.check("contamination").metrics
    assert sum(metrics["exact_pairs"].values()) > 10 and sum(metrics["near_pairs"].values()) > 10
    assert len(metrics["examples"]) == 5  # at most five pairs
    assert len(asked) == 1 and len(np.unique(asked[0])) <= 10


def test_moved_checks_give_the_same_results_without_the_texts(contexts, same_results) -> None:
    full, slim, asked = contexts
    expected, got = run_checks(full, checks=sorted(MOVED)), run_checks(slim, checks=sorted(MOVED))
    same_results(expected, got)
    assert len(got.check("near_duplicates").findings) > 10  # clusters were reported
    assert len(got.check("conflicting_outputs").findings) > 3  # and answers compared
    asked.clear()
    # label_noise scores every model row's text, output_style reads every answer: the others ask for a few
    run_checks(slim, checks=sorted(MOVED - {"label_noise", "output_style"}))
    fetched = np.unique(np.concatenate(asked))
    assert 0 < len(fetched) < len(full.frame) // 2  # a few rows' texts, not the column


def test_the_cleaning_plan_fetches_only_duplicate_members(contexts) -> None:
    full, slim, asked = contexts
    result = run_checks(full, checks=["duplicates", "near_duplicates", "pii"])
    rules = cleaning_rules()
    clusters = functools.partial(near_duplicate_groups, full)
    before = len(asked)
    plan = cleaning_plan(full.frame, result.findings, rules, clusters, rolled_up_rows(result.results))
    fetched = cleaning_plan(slim.frame, result.findings, rules, clusters, rolled_up_rows(result.results),
                            texts=slim.texts)
    assert fetched.reasons == plan.reasons and fetched.mask == plan.mask and fetched.relabel == plan.relabel
    assert len(asked) == before + 1  # one fetch for every duplicate group's members
    assert len(asked[-1]) < len(full.frame)


def test_a_text_column_that_was_left_out_is_fetched_else_missing(contexts) -> None:
    full, slim, _ = contexts
    rows = np.array([5, 0, 5])
    assert slim.texts(rows).tolist() == full.frame["text"].to_numpy()[rows].tolist()
    assert slim.texts(rows, "output").tolist() == full.frame["output"].to_numpy()[rows].tolist()
    assert full.texts(rows, "output").tolist() == slim.texts(rows, "output").tolist()
    with pytest.raises(KeyError):
        slim.texts(rows, "label_typo")
    with pytest.raises(KeyError):  # no engine fetcher: a missing column is a missing column
        AuditContext(slim.dataset, slim.config).texts(rows)
