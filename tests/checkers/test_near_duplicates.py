"""The near_duplicates check: clusters, conflicting labels, shared groups, cache, planted sample problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dqaudit.api import audit
from dqaudit.checkers import near_duplicates as nd
from dqaudit.config import AuditConfig, FieldsConfig
from dqaudit.context import AuditContext
from dqaudit.data import Dataset, SourceInfo, dataset_from_frame, load_dataset
from dqaudit.features import near_dups
from dqaudit.registry import check_params

ROWS = [
    ("r0", "How do I reset my password for the mobile app?", "password"),
    ("r1", "how do i reset my password for the mobile app??", "password"),
    ("r2", "Hi, how do I reset my pasword for the mobile app", "login"),
    ("r3", "I want to block my card because it was stolen", "block"),
    ("r4", "I want to block my card because it was stolen yesterday!!", "block"),
    ("r5", "Картамды бұғаттау керек, оны ұрлап кетті", "block"),
    ("r6", "КАРТАМДЫ бұғаттау керек: оны ұрлап кетті!", "block"),
    ("r7", "hello", None),
    ("r8", "", None),
    ("r9", "hello", None),
    ("r10", "A completely unrelated question about deposit interest rates", "deposit"),
    ("r11", "I want to block my card because it was stolen", "block"),
]


def frame(rows: list[tuple[str, str, str | None]] = ROWS) -> pd.DataFrame:
    return pd.DataFrame([{"id": i, "text": t, "label": lab} for i, t, lab in rows])


def run(data: Any, config: AuditConfig | None = None):  # type: ignore[no-untyped-def]
    return audit(data, config or AuditConfig(), checks=["near_duplicates"]).check("near_duplicates")


def by_kind(result, kind: str) -> list:  # type: ignore[no-untyped-def]
    return [f for f in result.findings if f.kind == kind]


def test_finds_clusters_conflicts_and_short_texts() -> None:
    result = run(frame())
    assert result.error is None
    conflict, = by_kind(result, "conflicting_labels")
    assert set(conflict.record_ids) == {"r0", "r1", "r2"}
    assert conflict.details["label_split"] == {"login": 1, "password": 2}
    clusters = {frozenset(f.record_ids): f for f in by_kind(result, "near_duplicates")}
    assert set(clusters) == {frozenset({"r3", "r4", "r11"}), frozenset({"r5", "r6"})}
    block = clusters[frozenset({"r3", "r4", "r11"})]
    # r4 holds all of r3's words and more: the source is kept, not the copy (features/representatives.py)
    assert block.details["representative"] == "r4" and block.action.value == "drop"
    low, high = block.details["similarity_range"]
    assert 0.7 <= low <= high <= 1.0
    short, = by_kind(result, "too_short_to_compare")
    assert set(short.record_ids) == {"r7", "r8", "r9"}
    assert result.metrics["shingles"] == "char 4-grams" and result.metrics["bands_x_rows"] == "21x6"
    assert 0 < result.score < 100


def test_exact_copies_alone_are_left_to_the_duplicates_check() -> None:
    rows = [("a", "please block my card now", "x"), ("b", "please block my card now", "x"),
            ("c", "something else entirely different", "y")]
    result = run(frame(rows))
    assert by_kind(result, "near_duplicates") == [] and by_kind(result, "conflicting_labels") == []
    assert result.score == 100.0


def test_groups_are_shared_whether_or_not_the_check_runs() -> None:
    ctx = AuditContext(dataset_from_frame(frame()), AuditConfig())
    groups = near_dups.near_duplicate_groups(ctx)
    assert groups.dtype == np.int64 and len(groups) == len(ROWS)
    assert groups[0] == groups[1] == groups[2] and groups[3] == groups[4] == groups[11]
    assert groups[5] == groups[6] and groups[10] not in groups[:10]
    assert len({groups[7], groups[8], groups[9]}) == 3  # too short: never clustered, not even with each other
    assert near_dups.near_duplicate_groups(ctx) is groups  # memoised


def test_near_copies_whose_labels_differ_in_content_are_not_conflicts() -> None:
    """banking77's "Where is my card?" / "... card PIN?": two good examples, one kept per label."""
    rows = [("a", "Where is my card?", "card_arrival"), ("b", "Where is my card PIN?", "get_physical_card"),
            ("c", "where is my card??", "card_arrival"),
            ("d", "Has my top up gone through?", "pending_top_up"),
            ("e", "Has my top-up gone through?", "top_up_reverted")]
    result = run(frame(rows))
    conflict, = by_kind(result, "conflicting_labels")
    assert set(conflict.record_ids) == {"d", "e"}
    plain, = by_kind(result, "near_duplicates")
    assert set(plain.record_ids) == {"a", "b", "c"} and plain.details["representatives"] == ["a", "b"]
    assert plain.details["label_split"] == {"card_arrival": 2, "get_physical_card": 1}
    assert result.metrics["labels_differ_in_content"] == 1 and result.metrics["redundant_rows"] == 1


def test_gate_trips_on_conflicting_share() -> None:
    config = AuditConfig(checks={"near_duplicates": {"max_conflicting_share": 0.1}})
    gate, = run(frame(), config).gates
    assert gate.triggered and "25.0%" in gate.message
    relaxed = AuditConfig(checks={"near_duplicates": {"max_conflicting_share": 0.3}})
    assert not run(frame(), relaxed).gates[0].triggered


def test_signatures_are_read_back_from_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    first = run(frame())
    from dqaudit.dedup import minhash

    def fail(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("signatures recomputed")

    monkeypatch.setattr(minhash, "signatures", fail)
    again = run(frame())
    assert [f.key for f in again.findings] == [f.key for f in first.findings]


def test_large_clusters_beyond_the_limit_are_folded_into_one_finding() -> None:
    bases = ["block my stolen debit card today", "what is the interest on savings deposits",
             "the atm swallowed my credit card", "how long does an international transfer take",
             "change the phone number linked to online banking", "order a new pin code by mail"]
    rows = []
    for k, base in enumerate(bases):
        rows += [(f"{k}a", base, "x"), (f"{k}b", base + " please", "x")]
    config = AuditConfig(checks={"near_duplicates": {"max_cluster_findings": 2}})
    result = run(frame(rows), config)
    findings = by_kind(result, "near_duplicates")
    assert len(findings) == 3
    rollup = findings[-1]  # counts only: its record_ids never lump unrelated clusters together
    assert rollup.record_ids == () and rollup.details["clusters"] == 4 and rollup.details["rows"] == 8
    assert "records.parquet" in rollup.message
    cluster = result.records["near_duplicate_cluster"]
    listed = {rid for f in findings[:2] for rid in f.record_ids}
    assert all(cluster[i] is not pd.NA for i in range(12))  # every member carries its cluster
    folded = [i for i in range(12) if rows[i][0] not in listed]
    assert len(folded) == 8 and all(result.records["reasons"][i] == ["near_duplicates"] for i in folded)
    assert len({cluster[i] for i in folded}) == 4
    for f in findings[:2]:  # each listed finding is one cluster
        members = [i for i in range(12) if rows[i][0] in f.record_ids]
        assert {cluster[i] for i in members} == {f.details["cluster"]}
    lifted = by_kind(run(frame(rows),
                         AuditConfig(checks={"near_duplicates": {"max_cluster_findings": None}})),
                     "near_duplicates")
    assert len(lifted) == 6 and all(len(f.record_ids) == 2 for f in lifted)


def test_semantic_option_adds_paraphrases(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [("p1", "I lost my card", "lost"), ("p2", "My card has gone missing", "lost"),
            ("p3", "What is the deposit rate", "deposit")]
    vectors = np.array([[1, 0, 0], [0.99, 0.141, 0], [0, 0, 1]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    import dqaudit.features.embeddings

    monkeypatch.setattr(dqaudit.features.embeddings, "embed_texts", lambda ctx, model: vectors)
    config = AuditConfig(checks={"near_duplicates": {"semantic": True}})
    result = run(frame(rows), config)
    finding, = by_kind(result, "semantic_duplicates")
    assert set(finding.record_ids) == {"p1", "p2"} and finding.details["cosine_range"][0] > 0.98
    ctx = AuditContext(dataset_from_frame(frame(rows)), config)
    groups = near_dups.near_duplicate_groups(ctx)
    assert groups[0] == groups[1] != groups[2]


def test_partial_copies_join_the_cluster_of_their_container() -> None:
    import random

    rng = random.Random(5)
    vocabulary = [f"term{i}" for i in range(3000)]

    def prose(words: int) -> str:
        return " ".join(rng.choice(vocabulary) for _ in range(words))

    source = prose(240)
    middle = " ".join(source.split()[60:160])
    mix = middle[: len(middle) // 2] + " " + prose(40)
    rows = [("src", source, "a"), ("cut", middle, "a"), ("mix", mix, "a"),
            ("own", prose(120), "a"), ("short", " ".join(source.split()[:20]), "a")]
    result = run(frame(rows))
    finding, = by_kind(result, "contained_copies")
    assert set(finding.record_ids) == {"src", "cut", "mix"} and finding.details["representative"] == "src"
    assert finding.action.value == "review" and finding.details["containment_range"][1] == 1.0
    assert by_kind(result, "near_duplicates") == [] and result.metrics["contained_pairs"] >= 2
    ctx = AuditContext(dataset_from_frame(frame(rows)), AuditConfig())
    groups = near_dups.near_duplicate_groups(ctx)
    assert groups[0] == groups[1] == groups[2]
    assert len({groups[0], groups[3], groups[4]}) == 3  # "short" has 20 words: too short to take part
    off = run(frame(rows), AuditConfig(checks={"near_duplicates": {"containment": 0}}))
    assert by_kind(off, "contained_copies") == [] and off.metrics["contained_pairs"] == 0


def test_warm_rerun_counts_only_new_long_texts_and_equals_cold_run(computed: dict[str, int]) -> None:
    """The words per long text (partial-copy eligibility) come from the cache on a re-run; same result."""
    import random

    rng = random.Random(8)
    vocabulary = [f"term{i}" for i in range(3000)]

    def prose(words: int) -> str:
        return " ".join(rng.choice(vocabulary) for _ in range(words))

    source, other = prose(240), prose(200)
    rows = [("src", source, "a"), ("own", prose(120), "a"), ("other", other, "b"),
            ("short", "a short request about my card", "b")]
    run(frame(rows))
    assert computed["shingle_words"] == 3  # the three long texts
    grown = rows + [("cut", " ".join(source.split()[60:160]), "a"),
                    ("part", " ".join(other.split()[:150]), "c")]
    computed.clear()
    warm = run(frame(grown))
    assert computed["shingle_words"] == 2  # only the new long texts
    cold = run(frame(grown), AuditConfig(cache={"enabled": False}))
    assert {frozenset(f.record_ids) for f in by_kind(warm, "contained_copies")} == {
        frozenset({"src", "cut"}), frozenset({"other", "part"})}
    assert (warm.findings, warm.metrics, warm.score, warm.gates) == (cold.findings, cold.metrics, cold.score,
                                                                      cold.gates)
    assert warm.records.keys() == cold.records.keys()
    for name, column in warm.records.items():
        pd.testing.assert_series_equal(pd.Series(column), pd.Series(cold.records[name]))


def test_bad_config_is_a_clear_error() -> None:
    from dqaudit.errors import ConfigError

    with pytest.raises(ConfigError, match="threshold"):
        check_params(AuditConfig(checks={"near_duplicates": {"threshold": 1.5}}), "near_duplicates")


def test_sample_data_planted_near_duplicates(sample_path: Path, truth: dict[str, Any]) -> None:
    dataset = load_dataset(sample_path, FieldsConfig(output="answer"))
    config = AuditConfig(fields=FieldsConfig(output="answer"))
    ctx = AuditContext(dataset, config)
    groups = near_dups.near_duplicate_groups(ctx)
    position = {rid: i for i, rid in enumerate(dataset.frame["id"])}
    planted = truth["near_duplicate_clusters"] + truth["conflicting_near_clusters"]
    together = [len({groups[position[r]] for r in cluster}) == 1 for cluster in planted]
    assert sum(together) >= 0.9 * len(planted)
    template = {groups[position[r]] for r in truth["template_cluster"]}
    assert len(template) == 1
    result = nd.NearDuplicatesChecker(check_params(config, "near_duplicates")).check(ctx)
    flagged = {rid for f in by_kind(result, "conflicting_labels") for rid in f.record_ids}
    conflicts = truth["conflicting_near_clusters"]
    assert sum(set(c) <= flagged for c in conflicts) >= 0.9 * len(conflicts)


def test_cluster_table_counts_texts_after_normalisation() -> None:
    """Against a plain group-by of normalised keys, on clusters built to hit every branch."""
    from hypothesis import example, given, settings
    from hypothesis import strategies as st

    from dqaudit.text import normalize, text_hash

    # variants of one text that normalise alike (case, width, spacing), and two that do not
    alike = ["Block my card", "block my card", "BLOCK  my card", "Ｂｌｏｃｋ my card"]
    pool = alike + ["block my card now", "unblock my card"]

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(pool), st.sampled_from(["a", "b"])),
                    min_size=1, max_size=30))
    @example([(0, alike[0], "a"), (0, alike[1], "a"), (0, "unblock my card", "b"), (1, alike[2], "a"),
              (1, alike[3], "b"), (2, alike[0], "a"), (2, alike[0], "a")])
    def check(rows: list[tuple[int, str, str]]) -> None:
        groups = np.array([g for g, _, _ in rows], np.int64)
        data = pd.DataFrame({"text": [t for _, t, _ in rows], "label": [lab for _, _, lab in rows]})
        data["text_hash"] = data["text"].map(text_hash)
        ctx = AuditContext(Dataset(data, (), SourceInfo("<test>", "jsonl", "", len(data)), FieldsConfig()),
                           AuditConfig())
        found = nd._cluster_table(ctx, np.full(len(data), None, dtype=object), groups)
        table = found.table
        data["key"], data["g"] = data["text"].map(normalize), groups
        by = data.groupby("g")
        expected = by.size()[(by.size() > 1) & (by["key"].nunique() > 1)]
        assert sorted(table.index.tolist()) == sorted(expected.index.tolist())
        for g, row in table.iterrows():
            rows = found.members(table.loc[[g]])
            assert row["size"] == expected[g] == len(rows)
            assert sorted(rows.tolist()) == np.flatnonzero(groups == g).tolist()
            assert row["labels"] == by["label"].nunique()[g]
        everything = found.members(table)
        assert sorted(everything.tolist()) == np.flatnonzero(np.isin(groups, table.index)).tolist()
        assert table["size"].tolist() == sorted(table["size"].tolist(), reverse=True)

    check()
