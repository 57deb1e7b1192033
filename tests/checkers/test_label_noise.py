"""The label_noise checker: planted flips are found, duplicates stay in one fold, bad input is a finding."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dqaudit.api import audit
from dqaudit.checkers import label_noise
from dqaudit.config import AuditConfig
from dqaudit.errors import MissingDependency
from dqaudit.features import embeddings

VOCAB = {
    "card": ["card", "plastic", "visa", "mastercard", "pin"],
    "loan": ["loan", "credit", "mortgage", "borrow", "interest"],
    "transfer": ["transfer", "send", "wire", "payment", "recipient"],
    "fees": ["fee", "charge", "commission", "cost", "tariff"],
}


def make_records(n: int = 240, flip_every: int = 20, seed: int = 0) -> tuple[list[dict[str, Any]], set[str]]:
    """Texts built from a class vocabulary; every ``flip_every``-th record is mislabelled (varied targets)."""
    rng = np.random.default_rng(seed)
    classes = list(VOCAB)
    records, flipped = [], set()
    for i in range(n):
        truth = classes[i % len(classes)]
        words = (
            rng.choice(VOCAB[truth], 3).tolist()
            + rng.choice(["please", "help", "my", "the", "why"], 2).tolist()
        )
        label = truth
        if i % flip_every == (7 + i // flip_every) % flip_every:
            label = classes[(classes.index(truth) + 1 + (i // flip_every) % 3) % len(classes)]
            flipped.add(f"r{i}")
        records.append({"id": f"r{i}", "text": " ".join(words) + f" {i}", "label": label})
    return records, flipped


def run(path: Path, **settings: Any):
    config = AuditConfig().with_check("label_noise", **{"features": "tfidf", **settings})
    return audit(path, config, checks=["label_noise"]).check("label_noise")


def flagged(result) -> set[str]:
    return {rid for f in result.findings if f.kind == "suspected_mislabel" for rid in f.record_ids}


@pytest.mark.parametrize("filter_by", ["low_self_confidence", "both"])
def test_finds_planted_flips_with_suggested_labels(write_jsonl: Callable[..., Path], filter_by: str) -> None:
    records, flips = make_records()
    result = run(write_jsonl(records), filter_by=filter_by)
    assert result.error is None, result.error
    found = flagged(result)
    assert len(found & flips) >= 0.8 * len(flips)
    assert len(found - flips) <= 3
    truth = {r["id"]: list(VOCAB)[int(r["id"][1:]) % 4] for r in records}
    for f in (f for f in result.findings if f.kind == "suspected_mislabel"):
        for rec in f.details["records"]:
            assert 0 <= rec["quality"] <= 1
            if rec["id"] in flips:
                assert rec["suggested"] == truth[rec["id"]]
    lines = [json.loads(x) for x in result.files["label_issues.jsonl"].splitlines()]
    assert {x["id"] for x in lines} == found and all(x["text"] for x in lines)
    assert result.metrics["features"] == "tfidf" and 0 < result.score < 100


def test_duplicates_never_straddle_folds(
    monkeypatch: pytest.MonkeyPatch, write_jsonl: Callable[..., Path]
) -> None:
    """Copies of a text share a group, so the splitter keeps them on one side of every fold."""
    records, _ = make_records(80, flip_every=1000)
    records += [{**r, "id": r["id"] + "-copy"} for r in records[:20]]
    seen: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    real = label_noise.grouped_folds

    def spy(labels, groups, folds, seed):
        splits = real(labels, groups, folds, seed)
        seen.extend((groups, train, held) for train, held in splits)
        return splits

    monkeypatch.setattr(label_noise, "grouped_folds", spy)
    run(write_jsonl(records))
    assert seen
    for groups, train, held in seen:
        assert not set(groups[train]) & set(groups[held])
    groups = seen[0][0]
    assert all(groups[80 + k] == groups[k] for k in range(20))  # each copy joined its original's group


def test_grouped_folds_spread_every_class_evenly() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, 1000)
    groups = np.arange(1000)
    groups[500:600] = groups[400:500]  # 100 pairs of copies
    splits = label_noise.grouped_folds(labels, groups, 5, seed=3)
    assert len(splits) == 5 and sorted(np.concatenate([held for _, held in splits])) == list(range(1000))
    for train, held in splits:
        assert not set(groups[train]) & set(groups[held])
        share = np.bincount(labels[held], minlength=7) / np.bincount(labels, minlength=7)
        assert np.all(np.abs(share - 0.2) < 0.05), share
    again = label_noise.grouped_folds(labels, groups, 5, seed=3)
    assert [h.tolist() for _, h in splits] == [h.tolist() for _, h in again]


def test_classes_too_small_are_reported_not_crashed(write_jsonl: Callable[..., Path]) -> None:
    records, _ = make_records(80, flip_every=1000)
    records += [{"id": "lonely", "text": "a single example of its class", "label": "rare"}]
    result = run(write_jsonl(records))
    small = [f for f in result.findings if f.kind == "not_judged"]
    assert small and small[0].record_ids == ("lonely",) and small[0].details["classes"] == ["rare"]
    assert result.metrics["classes_checked"] == 4 and "lonely" not in flagged(result)


def test_tiny_classes_are_not_judged_never_flagged(write_jsonl: Callable[..., Path]) -> None:
    """A chat set with a handful of examples per intent: nothing can be told apart, so nothing is flagged."""
    intents = {
        "transfer_timing": ["How long until my transfer goes through?", "When will my transfer arrive?",
                            "how long do transfers take", "Transfer still not there, how long?"],
        "card_arrival": ["Where is my new card?", "My card has not arrived yet", "card still not delivered",
                         "When does the card come?"],
        "exchange_rate": ["What is your exchange rate?", "euro to dollar rate today?", "rate for GBP",
                          "How do you set exchange rates?"],
    }
    records = [
        {"id": f"{k}-{i}", "text": t, "label": k} for k, texts in intents.items() for i, t in enumerate(texts)
    ]
    result = run(write_jsonl(records))
    assert flagged(result) == set()
    not_judged, = [f for f in result.findings if f.kind == "not_judged"]
    assert set(not_judged.record_ids) == {r["id"] for r in records}
    assert result.score is not None  # reported, not crashed


@pytest.mark.parametrize("flip_every, rate", [(1000, 0.0), (20, 0.05), (10, 0.10), (5, 0.20)])
def test_estimated_noise_rate_tracks_planted_flips(
    write_jsonl: Callable[..., Path], flip_every: int, rate: float
) -> None:
    records, flips = make_records(240, flip_every=flip_every)
    assert abs(len(flips) / len(records) - rate) < 0.01
    result = run(write_jsonl(records))
    estimate = result.metrics["estimated_noise_rate"]
    assert abs(estimate - rate) <= 0.03, (estimate, rate)
    low, high = result.metrics["estimated_noise_interval"]
    assert low <= estimate <= high
    if rate >= 0.10:  # the score follows the estimate, not the number of records flagged one by one
        assert result.score <= 90
        pairs = result.metrics["noise_pairs"]
        assert pairs and sum(p["records"] for p in pairs) >= 0.5 * len(flips)


def test_no_labels_or_one_class_skips(write_jsonl: Callable[..., Path]) -> None:
    assert "no labels" in run(write_jsonl([{"id": "1", "text": "x"}], "nolab.jsonl")).skipped
    one = [{"id": str(i), "text": f"t {i}", "label": "only"} for i in range(20)]
    assert "two classes" in run(write_jsonl(one, "one.jsonl")).skipped


def test_overlapping_classes_are_reported(write_jsonl: Callable[..., Path]) -> None:
    """Two classes drawn from the same vocabulary cannot be told apart: merge or redefine them."""
    records, _ = make_records(240, flip_every=1000)
    for r in records:
        if r["label"] == "fees":
            r["label"] = "fees" if int(r["id"][1:]) % 8 < 4 else "charges"
    result = run(write_jsonl(records))
    overlap = [f for f in result.findings if f.kind == "overlapping_classes"]
    assert overlap and set(overlap[0].details["labels"]) == {"fees", "charges"}
    assert overlap[0].details["share"] >= 0.1


def test_consensus_labels_replace_single_labels(write_jsonl: Callable[..., Path]) -> None:
    records, flips = make_records(160)
    classes = list(VOCAB)
    for r in records:
        truth = classes[int(r["id"][1:]) % 4]
        r["annotations"] = [{"annotator": a, "label": truth} for a in ("a1", "a2")] + [
            {"annotator": "a3", "label": r["label"]}
        ]
    result = run(write_jsonl(records))
    assert result.metrics["consensus_labels_used"] == 160
    assert not flagged(result) & flips
    assert run(write_jsonl(records, "again.jsonl"), use_consensus=False).metrics["consensus_labels_used"] == 0


def test_falls_back_to_tfidf_without_the_embeddings_extra(
    monkeypatch: pytest.MonkeyPatch, write_jsonl: Callable[..., Path]
) -> None:
    def missing(*_: Any, **__: Any):
        raise MissingDependency("sentence-transformers", "embeddings", "text embeddings")

    monkeypatch.setattr(label_noise, "embed_texts", missing)
    records, _ = make_records(80)
    result = run(write_jsonl(records), features="ensemble")
    assert result.error is None and result.metrics["features"] == "tfidf"
    assert "dqaudit[embeddings]" in result.metrics["note"]


def test_ensemble_uses_the_shared_embeddings(
    monkeypatch: pytest.MonkeyPatch, write_jsonl: Callable[..., Path]
) -> None:
    calls: list[str] = []

    def fake(ctx, model):
        calls.append(model)
        rng = np.random.default_rng(0)
        vectors = rng.normal(size=(len(ctx.frame), 16)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    monkeypatch.setattr(label_noise, "embed_texts", fake)
    records, flips = make_records(240)
    result = run(write_jsonl(records), features="ensemble", model="my-model")
    assert calls == ["my-model"] and result.metrics["features"] == "ensemble"
    # quality on real data is the benchmark's job; here: wired in, and it flags flips without false alarms
    # (these templated texts share near-duplicate clusters, which makes the folds coarse)
    found = flagged(result)
    assert len(found & flips) >= len(flips) // 3 and len(found - flips) <= 2


def clustered_vectors(records: list[dict[str, Any]], seed: int = 0) -> np.ndarray:
    """Unit vectors near their true class's direction: what a sentence encoder gives separable intents."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(VOCAB), 16))
    truth = [int(r["id"][1:]) % len(VOCAB) for r in records]
    vectors = centres[truth] + 0.6 * rng.normal(size=(len(records), 16))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_embedding_model_holds_a_record_and_its_copies_out_together() -> None:
    """A wrongly labelled record and its copy are held out together, so they cannot vouch for each other."""
    rng = np.random.default_rng(1)
    centres = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    vectors = np.repeat(centres, 20, axis=0) + 0.05 * rng.normal(size=(40, 3))
    copy = centres[0] + 0.05 * rng.normal(size=3)
    vectors = np.vstack([vectors, copy, copy])  # a class-0 text and its copy ...
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = np.array([0] * 20 + [1] * 20 + [1, 1])  # ... both labelled 1
    groups = np.array(list(range(40)) + [40, 40])
    probs = label_noise.embedding_probs(vectors, labels, groups, 2, folds=5, seed=0)
    assert probs.shape == (42, 2) and np.allclose(probs.sum(axis=1), 1.0)
    assert probs[40, 0] > 0.5 and probs[41, 0] > 0.5
    assert (probs[:20, 0] > 0.5).all() and (probs[20:40, 1] > 0.5).all()


def test_calibration_sharpens_but_never_flattens() -> None:
    """Under-confident probabilities are sharpened; noisy labels never flatten them (that hides noise)."""
    labels = np.array([0, 1] * 50)
    sure = np.where(np.eye(2)[labels] == 1, 0.6, 0.4)
    sharpened, t = label_noise.calibrate(sure, labels)
    assert t < 1 and (sharpened[np.arange(100), labels] > 0.9).all()
    noisy = labels.copy()
    noisy[:30] = 1 - noisy[:30]
    same, t = label_noise.calibrate(np.eye(2)[labels] * 0.98 + 0.01, noisy)
    assert t == 1.0 and np.allclose(same, np.eye(2)[labels] * 0.98 + 0.01)


def test_auto_features_fit_embeddings_when_installed(
    monkeypatch: pytest.MonkeyPatch, write_jsonl: Callable[..., Path]
) -> None:
    records, _ = make_records(120)
    vectors = clustered_vectors(records)
    monkeypatch.setattr(label_noise, "embed_texts", lambda ctx, model: vectors)
    off = run(write_jsonl(records), features="auto").metrics  # DQAUDIT_EMBEDDINGS=off
    assert off["features"] == "tfidf" and set(off["feature_fit"]) == {"tfidf"}
    monkeypatch.setenv("DQAUDIT_EMBEDDINGS", "on")
    result = run(write_jsonl(records, "on.jsonl"), features="auto")
    assert set(result.metrics["feature_fit"]) == {"tfidf", "embeddings"}  # both fitted, the better kept
    assert result.metrics["features_setting"] == "auto"


def test_embeddings_option_finds_flips(
    monkeypatch: pytest.MonkeyPatch, write_jsonl: Callable[..., Path]
) -> None:
    records, flips = make_records(240)
    vectors = clustered_vectors(records)
    monkeypatch.setattr(label_noise, "embed_texts", lambda ctx, model: vectors)
    result = run(write_jsonl(records), features="embeddings")
    assert result.error is None and result.metrics["features"] == "embeddings"
    found = flagged(result)
    assert len(found & flips) >= 0.8 * len(flips) and len(found - flips) <= 2


@pytest.mark.slow
def test_sample_data_label_flips(sample_path: Path, truth: dict[str, Any]) -> None:
    result = audit(
        sample_path, AuditConfig().with_check("label_noise", features="tfidf"), checks=["label_noise"]
    ).check("label_noise")
    assert result.error is None, result.error
    flips = set(truth["label_flips"])
    found = flagged(result)
    precision = len(found & flips) / max(len(found), 1)
    recall = len(found & flips) / len(flips)
    assert recall >= 0.5 and precision >= 0.5, (precision, recall)
    given = {
        rec["id"]: rec
        for f in result.findings
        if f.kind == "suspected_mislabel"
        for rec in f.details["records"]
    }
    hits = [i for i in flips if i in given]
    assert sum(given[i]["suggested"] == truth["label_flips"][i]["true"] for i in hits) >= 0.7 * len(hits)


def test_embeddings_module_default_is_the_packaged_model() -> None:
    assert label_noise.LabelNoiseParams().model == embeddings.DEFAULT_MODEL


def test_rerun_on_unchanged_data_reads_cached_probabilities(
    monkeypatch: pytest.MonkeyPatch, write_jsonl: Callable[..., Path]
) -> None:
    records, _ = make_records(120)
    path = write_jsonl(records)
    first = run(path)
    calls: list[int] = []
    real = label_noise.out_of_fold_probs
    monkeypatch.setattr(label_noise, "out_of_fold_probs", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = run(path)
    assert calls == [] and flagged(again) == flagged(first)
    assert "r0" not in flagged(first)
    records[0]["label"] = "loan" if records[0]["label"] != "loan" else "card"
    one = run(write_jsonl(records, "changed.jsonl"))  # 1 of 120 sampled labels changed: within REFIT_CHANGED
    assert calls == [] and one.metrics["tfidf"]["model_reused"] is True and "r0" in flagged(one)
    for record in records[1:3]:
        record["label"] = "loan" if record["label"] != "loan" else "card"
    run(write_jsonl(records, "changed3.jsonl"))
    assert calls == [1]  # 3 of 120 changed: every fold is recomputed


def test_model_on_cluster_representatives(write_jsonl: Callable[..., Path]) -> None:
    """With representatives (what the Spark engine hands over) the model sees one row per cluster.

    Each record gets three copies with the same label: the model fits on one row per
    cluster, every member inherits its cluster's probabilities, and the flips are found.
    """
    from dqaudit.context import AuditContext
    from dqaudit.data import load_dataset
    from dqaudit.features.near_dups import Representatives, near_duplicate_groups
    from dqaudit.pipeline import run_checks

    base, flips = make_records()
    records = [{**r, "id": r["id"] + suffix} for r in base for suffix in ("", "b", "c", "d")]
    config = AuditConfig().with_check("label_noise", features="tfidf")
    ctx = AuditContext(load_dataset(write_jsonl(records), config.fields), config)
    groups = np.asarray(near_duplicate_groups(ctx))
    assert groups.max() + 1 <= len(base)  # each record and its copies (and any near-copies) in one cluster
    frame = ctx.frame.assign(cluster=groups)
    counts = frame.groupby(["cluster", "label"]).size().rename("count").reset_index()
    first = frame.reset_index().groupby("cluster")["index"].min().to_numpy()
    reps = Representatives(groups, first, counts)
    code = {k: i for i, k in enumerate(sorted(frame["label"].unique()))}
    relabelled = frame["label"].where(frame.index != 1, "loan")  # a consensus that changed one label
    expected = np.zeros((len(first), len(code)), int)
    np.add.at(expected, (groups, relabelled.map(code).to_numpy()), 1)
    assert np.array_equal(reps.label_counts(frame["label"], relabelled, code), expected)

    ctx.provide(Representatives, reps)
    result = run_checks(ctx, checks=["label_noise"]).check("label_noise")
    assert result.error is None, result.error
    assert result.metrics["model_on"] == "cluster representatives"
    assert result.metrics["model_rows"] == groups.max() + 1
    assert result.metrics["records_checked"] == len(records)
    assert len({rid.rstrip("bcd") for rid in flagged(result)} & flips) >= 0.8 * len(flips)


@pytest.mark.parametrize("flip_every, rate", [(1000, 0.0), (20, 0.05), (10, 0.10), (5, 0.20)])
def test_large_data_fits_a_sample_and_scores_the_other_rows(
    monkeypatch: pytest.MonkeyPatch, write_jsonl: Callable[..., Path], flip_every: int, rate: float
) -> None:
    """Above FIT_ROWS the model is cross-validated on a stratified sample; the rest are scored by it."""
    monkeypatch.setattr(label_noise, "FIT_ROWS", 160)
    monkeypatch.setattr(label_noise, "MIN_SAMPLE_PER_CLASS", 10)
    records, flips = make_records(480, flip_every=flip_every)
    result = run(write_jsonl(records))
    how = result.metrics["tfidf"]
    assert how["fit_rows"] == 160 and how["scored_rows"] + how["copied_rows"] == 480 - 160
    assert how["scored_rows"] > 0 and how["model_reused"] is False
    found = flagged(result)
    assert len(found & flips) >= 0.8 * len(flips) and len(found - flips) <= max(3, 0.1 * len(flips))
    assert abs(result.metrics["estimated_noise_rate"] - rate) <= 0.03


def test_grown_data_reuses_the_kept_model_until_it_grew_too_much(
    monkeypatch: pytest.MonkeyPatch, write_jsonl: Callable[..., Path]
) -> None:
    """+2 % rows: only the new ones are scored; +25 % rows, or 2 % of sampled labels changed: refit."""
    records, flips = make_records(300, flip_every=10)
    first = run(write_jsonl(records[:240]))
    assert first.metrics["tfidf"]["model_reused"] is False
    calls: list[int] = []
    real = label_noise.out_of_fold_probs
    monkeypatch.setattr(label_noise, "out_of_fold_probs", lambda *a, **k: calls.append(1) or real(*a, **k))
    grown = run(write_jsonl(records[:245], "grown.jsonl"))
    how = grown.metrics["tfidf"]
    assert calls == [] and how["model_reused"] is True and how["fit_rows"] == 240
    assert how["scored_rows"] + how["copied_rows"] == 5
    assert flagged(grown) & {r["id"] for r in records[:240]} == flagged(first)  # old rows keep their verdicts
    assert len(flagged(grown) & flips) >= 0.8 * len(flips & {r["id"] for r in records[:245]})
    run(write_jsonl(records, "much_grown.jsonl"))
    assert calls == [1]
    changed = [dict(r) for r in records]
    for record in changed[3:9]:
        record["label"] = "loan" if record["label"] != "loan" else "card"
    run(write_jsonl(changed + [{**changed[0], "id": "extra"}], "relabelled.jsonl"))
    assert calls == [1, 1]


def test_auto_uses_tfidf_above_the_embeddings_size_and_says_why(
    monkeypatch: pytest.MonkeyPatch, write_jsonl: Callable[..., Path]
) -> None:
    records, _ = make_records(120)
    monkeypatch.setattr(label_noise, "embed_texts", lambda ctx, model: clustered_vectors(records))
    monkeypatch.setenv("DQAUDIT_EMBEDDINGS", "on")
    monkeypatch.setattr(label_noise, "AUTO_EMBEDDINGS_MAX_ROWS", 100)
    result = run(write_jsonl(records), features="auto")
    assert result.metrics["features"] == "tfidf" and "120 rows to model, above 100" in result.metrics[
        "features_reason"]
    assert "note" not in result.metrics  # the extra is installed: TF-IDF ran by choice
    monkeypatch.setattr(label_noise, "AUTO_EMBEDDINGS_MAX_ROWS", 120)
    assert "embeddings" in run(write_jsonl(records, "small.jsonl"), features="auto").metrics["feature_fit"]


@pytest.mark.parametrize("informative, chosen", [(False, "tfidf"), (True, "embeddings")])
def test_auto_keeps_the_features_that_explain_the_labels_better(
    monkeypatch: pytest.MonkeyPatch, write_jsonl: Callable[..., Path], informative: bool, chosen: str
) -> None:
    """Noise vectors (an encoder that does not know the language) lose to TF-IDF;
    class-separating ones win."""
    records, flips = make_records(240)

    def fake(ctx, model):
        if informative:
            return clustered_vectors(records)
        vectors = np.random.default_rng(0).normal(size=(len(ctx.frame), 16))
        return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)

    monkeypatch.setenv("DQAUDIT_EMBEDDINGS", "on")
    monkeypatch.setattr(label_noise, "embed_texts", fake)
    result = run(write_jsonl(records), features="auto")
    fit = result.metrics["feature_fit"]
    assert set(fit) == {"tfidf", "embeddings"} and result.metrics["features"] == chosen
    assert fit[chosen] < fit[({"tfidf", "embeddings"} - {chosen}).pop()]
    assert "explains the given labels better" in result.metrics["features_reason"]
    assert "note" not in result.metrics
    assert abs(result.metrics["estimated_noise_rate"] - len(flips) / len(records)) <= 0.03


def test_large_data_bootstrap_draws_fewer_rows_with_a_comparable_interval(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The m-out-of-n bootstrap (rows above BOOTSTRAP_ROWS) keeps the interval around the estimate,
    at n's width."""
    rng = np.random.default_rng(3)
    n, k = 6000, 4
    truth = rng.integers(0, k, n)
    labels = np.where(rng.random(n) < 0.1, (truth + 1 + rng.integers(0, k - 1, n)) % k, truth)
    logits = 3.0 * np.eye(k)[truth] + rng.normal(size=(n, k))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    full = label_noise.estimate_noise(labels, probs, seed=0)
    monkeypatch.setattr(label_noise, "BOOTSTRAP_ROWS", 1500)
    sub = label_noise.estimate_noise(labels, probs, seed=0)
    assert sub.rate == full.rate and sub.interval[0] <= sub.rate <= sub.interval[1]
    width, sub_width = full.interval[1] - full.interval[0], sub.interval[1] - sub.interval[0]
    assert 0.5 * width <= sub_width <= 2.0 * width, (full.interval, sub.interval)


def test_confident_joint_and_estimate_equal_cleanlabs() -> None:
    """The bincount confident joint is cleanlab's, resampled or not, with missing classes and tied
    probabilities; the estimate and its bootstrap rates are what cleanlab's ``estimate_joint`` gives."""
    import warnings

    from cleanlab.count import calibrate_confident_joint, compute_confident_joint, estimate_joint

    rng = np.random.default_rng(11)
    for trial in range(120):
        n, k = int(rng.integers(1, 300)), int(rng.integers(2, 7))
        labels = rng.integers(0, k, n)
        if trial % 3 == 0:
            labels[labels == k - 1] = 0  # a class with no given label
        logits = rng.normal(size=(n, k)) * rng.uniform(0.0, 4.0)
        if trial % 5 == 0:
            logits = np.round(logits)  # ties between classes
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        pick = rng.integers(0, n, int(rng.integers(1, 2 * n + 1))) if trial % 2 else None
        given, rows = (labels, probs) if pick is None else (labels[pick], probs[pick])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = compute_confident_joint(given, rows, calibrate=False)
            calibrated = compute_confident_joint(given, rows)
            ours = label_noise.confident_joint(labels, probs, pick)
            assert np.array_equal(calibrate_confident_joint(ours, given), calibrated), trial  # ties alike
        assert np.array_equal(ours, expected), trial
    n, k = 4000, 300  # more classes than uint8 holds: the labels are sorted as uint16
    labels = rng.integers(0, k, n)
    probs = np.exp(3.0 * np.eye(k)[labels] + rng.normal(size=(n, k)))
    probs /= probs.sum(axis=1, keepdims=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = compute_confident_joint(labels, probs, calibrate=False)
    assert np.array_equal(label_noise.confident_joint(labels, probs), expected)
    n, k = 3000, 5
    labels = rng.integers(0, k, n)
    logits = 2.0 * np.eye(k)[labels] + rng.normal(size=(n, k))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    for rows in (n, 1000, 500):  # the whole bootstrap, m out of n (rows of probs, then drawn rows)
        original = label_noise.BOOTSTRAP_ROWS
        label_noise.BOOTSTRAP_ROWS = rows
        try:
            estimate = label_noise.estimate_noise(labels, probs, seed=4, resamples=20)
        finally:
            label_noise.BOOTSTRAP_ROWS = original
        draw = np.random.default_rng(4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            joint = estimate_joint(labels, probs)
            rates = [1.0 - float(np.trace(estimate_joint(labels[pick], probs[pick])))
                     for pick in (draw.integers(0, n, rows) for _ in range(20))]
        assert np.array_equal(estimate.joint, joint)
        rate = 1.0 - float(np.trace(joint))
        bounds = np.percentile(rates, [2.5, 97.5])
        if rows < n:
            bounds = rate + (bounds - np.mean(rates)) * np.sqrt(rows / n)
        assert estimate.interval == (max(0.0, float(bounds[0])), max(0.0, float(bounds[1])))


def test_self_confidence_or_margin_is_the_union_of_cleanlabs_two_rules() -> None:
    """The flagged records are what cleanlab's find_label_issues flags under either rule, ties included."""
    import warnings

    from cleanlab.filter import find_label_issues

    rng = np.random.default_rng(12)
    for trial in range(40):
        n, k = int(rng.integers(30, 400)), int(rng.integers(2, 6))
        labels = np.arange(n) % k  # every class present, as the check guarantees
        logits = rng.normal(size=(n, k)) * rng.uniform(0.5, 4.0) + 2.0 * np.eye(k)[rng.permutation(labels)]
        if trial % 4 == 0:
            logits = np.round(logits)  # tied scores
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = (find_label_issues(labels, probs, filter_by="low_self_confidence")
                        | find_label_issues(labels, probs, filter_by="low_normalized_margin"))
            flagged = label_noise.flag_issues(labels, probs, "self_confidence_or_margin")
        assert np.array_equal(flagged, expected), trial
        assert flagged.any() or not expected.any()


RU_VOCAB = {
    "card": ["карта", "пластик", "пинкод", "заблокирована", "выпуск"],
    "loan": ["кредит", "ипотека", "заём", "процент", "погашение"],
    "transfer": ["перевод", "отправить", "получатель", "платёж", "реквизиты"],
    "fees": ["комиссия", "тариф", "списание", "стоимость", "плата"],
}


@pytest.mark.parametrize("model, encoded", [(None, False), ("a-multilingual-model", True)])
def test_auto_does_not_encode_mostly_non_english_texts_with_the_english_model(
    monkeypatch: pytest.MonkeyPatch, write_jsonl: Callable[..., Path], model: str | None, encoded: bool
) -> None:
    """Russian requests: the packaged English MiniLM is never loaded and the report says why; a model the
    user configured is used as before."""
    records, _ = make_records(120)
    for k, record in enumerate(records):
        words = np.random.default_rng(k).choice(RU_VOCAB[record["label"]], 3).tolist()
        record["text"] = " ".join([*words, "пожалуйста", "помогите", str(k)])
    asked: list[str] = []

    def fake(ctx, model):
        asked.append(model)
        return clustered_vectors(records)

    monkeypatch.setenv("DQAUDIT_EMBEDDINGS", "on")
    monkeypatch.setattr(label_noise, "embed_texts", fake)
    result = run(write_jsonl(records), features="auto", **({"model": model} if model else {}))
    assert bool(asked) is encoded and ("embeddings" in result.metrics["feature_fit"]) is encoded
    if not encoded:
        assert result.metrics["features"] == "tfidf"
        assert "0% of the texts to model read as English" in result.metrics["features_reason"]


def test_present_is_isin_for_64_bit_keys() -> None:
    """The kept model's check of its sample against the run's keys (``_find(keys, wanted) >= 0``): present,
    absent, repeated and empty."""
    from dqaudit.checkers.label_noise import _find

    def _present(wanted: np.ndarray, keys: np.ndarray) -> np.ndarray:
        return _find(keys, wanted) >= 0

    rng = np.random.default_rng(3)
    keys = rng.integers(0, 2**64 - 1, 5000, dtype=np.uint64)
    absent = rng.integers(0, 2**64 - 1, 300, dtype=np.uint64)
    wanted = np.concatenate([keys[::7], absent, keys[:5], [2**64 - 1]]).astype(np.uint64)
    assert np.array_equal(_present(wanted, keys), np.isin(wanted, keys))
    assert _present(wanted, keys).sum() == len(keys[::7]) + 5
    assert not _present(wanted, keys[:0]).any()
    assert _present(wanted[:0], keys).shape == (0,)


def test_the_bootstrap_on_forked_workers_gives_the_single_process_estimate(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """From BOOTSTRAP_PARALLEL_ROWS rows the resamples run on two workers: the same rate, interval and joint
    to the last bit as in one process (the rates come back in order, so their mean sums alike)."""
    from dqaudit import parallel

    rng = np.random.default_rng(11)
    n, k = 60_000, 5
    labels = rng.integers(0, k, n)
    probs = np.exp(2.0 * np.eye(k)[labels] + rng.normal(size=(n, k)))
    probs /= probs.sum(axis=1, keepdims=True)
    calls: list[int] = []
    real = parallel.fork_map

    def spy(fn: Callable[[Any], Any], items: Any, workers: int) -> Any:
        calls.append(workers)
        return real(fn, items, workers)

    monkeypatch.setattr(parallel, "fork_map", spy)
    monkeypatch.setattr(parallel, "default_workers", lambda: 2)
    monkeypatch.setattr(label_noise, "default_workers", lambda: 2)
    monkeypatch.setattr(label_noise, "BOOTSTRAP_ROWS", 20_000)  # the m-out-of-n branch, as at scale
    forked = label_noise.estimate_noise(labels, probs, seed=3, resamples=7)
    monkeypatch.setattr(label_noise, "BOOTSTRAP_PARALLEL_ROWS", n + 1)
    single = label_noise.estimate_noise(labels, probs, seed=3, resamples=7)
    assert calls == [2, 1]
    assert forked.rate == single.rate and forked.interval == single.interval
    assert np.array_equal(forked.joint, single.joint)
    assert forked.interval[0] < forked.rate < forked.interval[1]
