"""The agreement checker: planted poor annotator and split class pair, bad input, degenerate cases."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from dqaudit.api import audit
from dqaudit.checkers.agreement import alpha_score
from dqaudit.config import AuditConfig
from dqaudit.errors import ConfigError, InputError
from dqaudit.registry import check_params

CLASSES = ["card", "loan", "complaint", "dispute"]


def make_records(
    n: int = 120, seed: int = 0, poor: float = 0.5, confuse: float = 0.35
) -> list[dict[str, Any]]:
    """Three annotators: a1, a2 careful; a3 random on ``poor`` of items; a2 calls some complaints disputes."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        truth = CLASSES[i % 4]
        a1 = truth
        a2 = "dispute" if truth == "complaint" and rng.random() < confuse else truth
        a3 = str(rng.choice(CLASSES)) if rng.random() < poor else truth
        records.append(
            {
                "id": f"r{i}",
                "text": f"request number {i} about {truth}",
                "label": truth,
                "annotations": [
                    {"annotator": "a1", "label": a1},
                    {"annotator": "a2", "label": a2},
                    {"annotator": "a3", "label": a3},
                ],
            }
        )
    return records


def run(path: Path, **settings: Any):
    config = AuditConfig().with_check("agreement", **settings) if settings else AuditConfig()
    return audit(
        path,
        config.model_copy(update={"cache": config.cache.model_copy(update={"enabled": False})}),
        checks=["agreement"],
    ).check("agreement")


def test_finds_poor_annotator_split_pair_and_exports_disputed(write_jsonl: Callable[..., Path]) -> None:
    result = run(write_jsonl(make_records()))
    assert result.error is None and result.skipped is None
    m = result.metrics
    assert 0 < m["krippendorff_alpha"] < 0.8 and m["fleiss_kappa"] is not None
    assert m["annotators"] == 3 and m["items"] == 120
    poor = [f for f in result.findings if f.kind == "poor_annotator"]
    assert [f.details["annotator"] for f in poor] == ["a3"]
    assert poor[0].impact > 0  # alpha without a3 is higher
    pairs = [f for f in result.findings if f.kind == "split_class_pair"]
    assert pairs and set(pairs[0].details["labels"]) == {"complaint", "dispute"}
    review = [json.loads(line) for line in result.files["review_disputed.jsonl"].splitlines()]
    assert review and all(r["agreement"] < 1 for r in review)
    assert {"id", "text", "annotations", "consensus", "consensus_quality"} <= set(review[0])
    qualities = [r["consensus_quality"] for r in review]
    assert qualities == sorted(qualities)
    assert result.score == pytest.approx(alpha_score(m["krippendorff_alpha"], 0.8, 0.667), abs=0.05)


def test_review_lines_carry_the_first_record_of_their_id(write_jsonl: Callable[..., Path]) -> None:
    """A reviewed item's text and label are its id's first record's, also when later rows repeat the id."""
    records = make_records()
    copies = [{"id": r["id"], "text": "a later copy", "label": "loan"} for r in records[::-1]]
    alone = {"id": "r-none", "text": "no annotations", "label": "card"}
    result = run(write_jsonl([alone, *records, *copies]))
    review = [json.loads(line) for line in result.files["review_disputed.jsonl"].splitlines()]
    first = {r["id"]: r for r in records}
    assert len(review) > 10
    assert [(r["text"], r["label"]) for r in review] == [(first[r["id"]]["text"], first[r["id"]]["label"])
                                                         for r in review]


def test_good_agreement_scores_100_and_low_agreement_blocks(write_jsonl: Callable[..., Path]) -> None:
    good = run(write_jsonl(make_records(poor=0.0, confuse=0.0), "good.jsonl"))
    assert good.score == 100.0 and not any(g.triggered for g in good.gates)
    assert not [f for f in good.findings if f.kind in ("poor_annotator", "split_class_pair")]
    bad = run(write_jsonl(make_records(poor=1.0, confuse=0.9), "bad.jsonl"))
    assert bad.metrics["krippendorff_alpha"] < 0.667
    assert any(g.triggered and g.name == "low_agreement" for g in bad.gates)


def test_alpha_bands() -> None:
    assert alpha_score(0.9, 0.8, 0.667) == 100.0
    assert alpha_score(0.667, 0.8, 0.667) == pytest.approx(60.0)
    assert alpha_score(-0.2, 0.8, 0.667) == 0.0
    assert 60 < alpha_score(0.75, 0.8, 0.667) < 100
    with pytest.raises(ConfigError, match="min_alpha"):
        check_params(AuditConfig().with_check("agreement", good_alpha=0.5, min_alpha=0.7), "agreement")


def test_long_format_file_csv_and_jsonl_with_unknown_ids(
    write_jsonl: Callable[..., Path], tmp_path: Path
) -> None:
    records = make_records(60)
    plain = [{k: v for k, v in r.items() if k != "annotations"} for r in records]
    data = write_jsonl(plain)
    rows = [(r["id"], a["annotator"], a["label"]) for r in records for a in r["annotations"]]
    rows += [("ghost-1", "a1", "card"), ("ghost-2", "a2", "loan")]
    csv_path = tmp_path / "ann.csv"
    csv_path.write_text("item_id,annotator,label\n" + "".join(f"{i},{a},{lab}\n" for i, a, lab in rows))
    jsonl_path = write_jsonl(
        [{"item_id": i, "annotator": a, "label": lab} for i, a, lab in rows], "ann.jsonl"
    )
    from_csv, from_jsonl = (
        run(data, annotations_file=str(csv_path)),
        run(data, annotations_file=str(jsonl_path)),
    )
    assert from_csv.metrics["krippendorff_alpha"] == from_jsonl.metrics["krippendorff_alpha"]
    assert from_csv.metrics["ratings"] == 180
    unknown = [f for f in from_csv.findings if f.kind == "unknown_items"]
    assert unknown and unknown[0].details["item_ids"] == ["ghost-1", "ghost-2"]


def test_bad_annotation_files_are_one_line_errors(write_jsonl: Callable[..., Path], tmp_path: Path) -> None:
    data = write_jsonl(make_records(10))
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("item,who,label\nr1,a1,card\n")
    with pytest.raises(InputError, match="missing column.*item_id"):
        run(data, annotations_file=str(wrong))
    with pytest.raises(InputError, match="not found"):
        run(data, annotations_file=str(tmp_path / "absent.csv"))


def test_cli_annotations_flag_writes_review_file(write_jsonl: Callable[..., Path], tmp_path: Path) -> None:
    from dqaudit.cli import cli

    records = make_records(60)
    data = write_jsonl([{k: v for k, v in r.items() if k != "annotations"} for r in records])
    ann = write_jsonl([{"item_id": r["id"], **a} for r in records for a in r["annotations"]], "ann.jsonl")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli,
        [
            "audit",
            str(data),
            "--annotations",
            str(ann),
            "--checks",
            "agreement",
            "--out",
            str(out),
            "--json",
            "-q",
            "--no-cache",
        ],
    )
    assert res.exit_code in (0, 1), res.output
    report = json.loads(res.stdout)
    check = report["checks"]["agreement"]
    assert check["metrics"]["ratings"] == 180
    assert list(out.glob("*/review_disputed.jsonl"))


def test_single_annotator_single_class_and_no_annotations_skip(write_jsonl: Callable[..., Path]) -> None:
    one = [
        {"id": f"r{i}", "text": f"t{i}", "annotations": [{"annotator": "a1", "label": CLASSES[i % 2]}]}
        for i in range(10)
    ]
    result = run(write_jsonl(one, "one.jsonl"))
    assert result.score is None and "not enough annotators" in result.skipped
    same = [
        {"id": f"r{i}", "text": f"t{i}", "annotations": [{"annotator": a, "label": "card"} for a in "xyz"]}
        for i in range(10)
    ]
    result = run(write_jsonl(same, "same.jsonl"))
    assert result.score is None and "single class" in result.skipped
    assert result.metrics["percent_agreement"] == 1.0
    none = run(write_jsonl([{"id": "r1", "text": "t"}], "none.jsonl"))
    assert "no annotations" in none.skipped


def test_label_variants_reported_and_merged_only_when_configured(write_jsonl: Callable[..., Path]) -> None:
    records = make_records(40, poor=0.0, confuse=0.0)
    for r in records[:10]:
        r["annotations"][2]["label"] = r["annotations"][2]["label"].upper() + " "
    path = write_jsonl(records)
    raw = run(path)
    variants = [f for f in raw.findings if f.kind == "label_variants"]
    assert variants and "normalize_labels" in variants[0].message
    merged = run(path, normalize_labels=True)
    assert merged.metrics["krippendorff_alpha"] == 1.0
    assert raw.metrics["krippendorff_alpha"] < 1.0
    assert any(f.kind == "label_variants" for f in merged.findings)


def test_empty_annotation_labels_are_a_finding(write_jsonl: Callable[..., Path]) -> None:
    records = make_records(40)
    records[0]["annotations"][0]["label"] = "  "
    result = run(write_jsonl(records))
    empty = [f for f in result.findings if f.kind == "empty_labels"]
    assert empty and empty[0].record_ids == ("r0",)


def test_sample_data_poor_annotator_and_confused_pairs(sample_path: Path, truth: dict[str, Any]) -> None:
    annotations = sample_path.parent / "annotations_long.csv"
    result = run(sample_path, annotations_file=str(annotations)) if annotations.exists() else run(sample_path)
    assert result.error is None, result.error
    poor = {f.details["annotator"] for f in result.findings if f.kind == "poor_annotator"}
    assert poor == {truth["poor_annotator"]}
    split = [frozenset(f.details["labels"]) for f in result.findings if f.kind == "split_class_pair"]
    planted = {frozenset(p) for p in truth["confused_label_pairs"]}
    assert split and split[0] in planted
    assert result.files["review_disputed.jsonl"]


@pytest.fixture
def crowdlab_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per CROWDLAB fit (``dqaudit.agreement.multiannotator``), which still runs for real."""
    from dqaudit import agreement as agr

    calls: list[int] = []
    real = agr.multiannotator
    monkeypatch.setattr(agr, "multiannotator", lambda r: calls.append(1) or real(r))
    return calls


def test_crowdlab_runs_once_for_agreement_and_label_noise(
    crowdlab_calls: list[int], write_jsonl: Callable[..., Path]
) -> None:
    """cleanlab's multi-annotator model is the slow part with many annotators: both checks share one run."""
    calls = crowdlab_calls
    config = AuditConfig().with_check("label_noise", features="tfidf")
    result = audit(write_jsonl(make_records()), config, checks=["agreement", "label_noise"])
    assert result.check("agreement").error is None and result.check("label_noise").error is None
    assert result.check("label_noise").metrics["consensus_labels_used"] == 120
    assert calls == [1]


def test_unchanged_annotations_read_crowdlab_back_from_the_cache(
    crowdlab_calls: list[int], write_jsonl: Callable[..., Path]
) -> None:
    """A nightly run whose annotations did not change skips CROWDLAB and reports the same; new ones refit."""
    calls = crowdlab_calls
    records = make_records()
    first = audit(write_jsonl(records), checks=["agreement"]).check("agreement")
    again = audit(write_jsonl(records), checks=["agreement"]).check("agreement")
    assert calls == [1]
    assert again.metrics == first.metrics and again.findings == first.findings and again.files == first.files
    records[0]["annotations"] = [{"annotator": "a0", "label": "card"}, {"annotator": "a1", "label": "loan"}]
    audit(write_jsonl(records), checks=["agreement"])
    assert calls == [1, 1]
