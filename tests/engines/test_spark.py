"""The Spark engine gives the same records, clusters and splits as the local engine (Spark in local[2])."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from dqaudit.api import open_context
from dqaudit.api import split as split_data
from dqaudit.cli import cli
from dqaudit.config import TEXT_COLUMNS, AuditConfig
from dqaudit.errors import ConfigError, DqauditError, MissingDependency
from dqaudit.features.exact import exact_groups
from dqaudit.features.near_dups import near_duplicates
from dqaudit.publish import MARKER
from dqaudit.registry import available_checkers, parse_config

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "bank_support.jsonl"
#: The sample with its annotations, its answers and its policies: every check has something to read.
SETTINGS = {"fields": {"output": "answer"},
            "checks": {"agreement": {"annotations_file": str(SAMPLE.parent / "annotations_long.csv")},
                       "stale_policy": {"policies": str(SAMPLE.parent / "policies.yaml")}}}
CHECKS = ["duplicates", "near_duplicates"]
#: The checks that read no text column whole: on Spark their texts stay on the executors.
MOVED = sorted(name for name, cls in available_checkers().items() if not cls.reads_whole & TEXT_COLUMNS)


def spark_config(**updates: object) -> AuditConfig:
    return parse_config({"engine": "spark", **updates})


@pytest.fixture(scope="session")
def contexts(spark):
    """The sample data loaded and clustered on both engines (shared: clustering is the slow part)."""
    local = open_context(SAMPLE, parse_config(SETTINGS))
    return local, open_context(str(SAMPLE), spark_config(**SETTINGS))


@pytest.fixture(scope="module")
def label_audits(contexts):
    """``agreement`` and ``label_noise`` on both engines' contexts, with report.json for the Spark one."""
    from dqaudit.engines import with_engine_report
    from dqaudit.pipeline import run_checks
    from dqaudit.reports.json_report import report_dict

    checks = ["agreement", "label_noise"]
    local, spark = (run_checks(c, checks=checks) for c in contexts)
    return local, spark, report_dict(with_engine_report(spark, contexts[1]))


@pytest.fixture(scope="session")
def spark_report(contexts):
    """report.json of the Spark audit, assembled as ``dqaudit audit --engine spark`` does."""
    from dqaudit.engines import with_engine_report
    from dqaudit.pipeline import run_checks
    from dqaudit.reports.json_report import report_dict

    ctx = contexts[1]
    return report_dict(with_engine_report(run_checks(ctx, checks=CHECKS), ctx))


def partition(groups: np.ndarray, ids: list[str]) -> set[frozenset[str]]:
    """Clusters as sets of record ids, independent of how they are numbered."""
    out: dict[int, set[str]] = {}
    for g, rid in zip(groups.tolist(), ids, strict=True):
        out.setdefault(g, set()).add(rid)
    return {frozenset(v) for v in out.values()}


def test_same_records_and_quarantine(contexts):
    local, spark = contexts
    assert spark.frame.equals(local.frame)
    assert spark.dataset.problems == local.dataset.problems
    assert len(spark.dataset.problems) == 3
    assert spark.dataset.source.rows == local.dataset.source.rows


def test_same_clusters_and_exact_groups(contexts):
    local, spark = contexts
    ids = local.frame["id"].tolist()
    near_l, near_s = near_duplicates(local), near_duplicates(spark)
    assert partition(near_s.groups, ids) == partition(near_l.groups, ids)
    assert np.array_equal(near_s.groups, near_l.groups)
    assert near_s.candidates == near_l.candidates
    assert set(map(tuple, near_s.pairs.tolist())) == set(map(tuple, near_l.pairs.tolist()))
    assert np.array_equal(near_s.no_shingles, near_l.no_shingles)
    assert partition(exact_groups(spark).to_numpy(), ids) == partition(exact_groups(local).to_numpy(), ids)
    assert exact_groups(spark).equals(exact_groups(local))  # same numbering, not only the same sets
    assert sum(len(c) > 1 for c in partition(near_l.groups, ids)) > 50  # the sample really has clusters


def test_per_record_features_come_from_the_executors_and_equal_local(contexts):
    """Text lengths, the language table and the policy matches are computed on Spark batches, equal to
    the driver's values."""
    from dqaudit.features.language import language_table
    from dqaudit.features.lengths import text_lengths
    from dqaudit.features.policy_matches import policy_matches

    local, spark = contexts
    for feature in (text_lengths, language_table, policy_matches):
        assert spark.provided(feature) is not None
        assert spark.options["engine"]["stages"][f"per-record feature {feature.__name__}"] == "spark"
    assert np.array_equal(text_lengths(spark), text_lengths(local))
    assert text_lengths(spark).dtype == text_lengths(local).dtype
    pd.testing.assert_frame_equal(language_table(spark), language_table(local))
    pd.testing.assert_frame_equal(policy_matches(spark), policy_matches(local))
    assert (policy_matches(local)["events"] != "").sum() > 100  # the sample's planted stale records


def test_spark_aggregates_match_the_checks(contexts):
    """Conflicting labels counted on the executors equal what the checks report from the clusters."""
    from dqaudit.pipeline import run_checks

    local, spark = contexts
    result = run_checks(local, checks=CHECKS)
    near, dup = result.check("near_duplicates").metrics, result.check("duplicates").metrics
    agg = spark.options["engine"]["aggregates"]
    assert agg["near_duplicate_clusters"] == near["clusters"]
    # the executors count clusters with several labels; the check keeps those that ask the same thing
    assert agg["near_duplicate_mixed_label_clusters"] == near["mixed_label_clusters"]
    assert near["mixed_label_clusters"] >= near["conflicting_clusters"] > 0
    assert agg["near_duplicate_mixed_label_rows"] == near["mixed_label_rows"] >= near["conflicting_rows"]
    assert agg["exact_duplicate_groups"] == dup["duplicate_groups"]
    assert agg["exact_conflicting_rows"] == dup["conflicting_rows"]
    stages = spark.options["engine"]["stages"]
    assert stages["collect the verified edges"] == stages["connected components"] == "driver"


def test_label_noise_fits_on_cluster_representatives(label_audits):
    """Spark hands over one row per cluster: fewer model rows, about the same suspects as locally."""
    local, spark, _ = label_audits
    lm, sm = local.check("label_noise").metrics, spark.check("label_noise").metrics
    assert lm["model_on"] == "records" and lm["model_rows"] == lm["records_checked"]
    assert sm["model_on"] == "cluster representatives"
    assert sm["model_rows"] < sm["records_checked"] == lm["records_checked"]

    def suspects(result):
        found = result.check("label_noise").findings
        return {i for f in found if f.kind == "suspected_mislabel" for i in f.record_ids}

    found_locally = suspects(local)
    assert len(found_locally) > 50
    assert len(suspects(spark) & found_locally) >= 0.85 * len(found_locally)
    assert len(suspects(spark)) <= 1.2 * len(found_locally)


def test_agreement_from_spark_aggregates_equals_local(label_audits, contexts):
    from dqaudit.agreement import CountTable
    from dqaudit.features.consensus import annotation_tally

    local, spark, _ = label_audits
    assert isinstance(annotation_tally(contexts[1]), CountTable)  # the metrics read the executors' counts
    a, b = local.check("agreement"), spark.check("agreement")
    assert a.error is None and b.error is None
    assert a.metrics["ratings"] > 1000 and a.metrics["cohen_pairwise"]
    assert b.metrics == a.metrics
    assert [f.to_dict() for f in b.findings] == [f.to_dict() for f in a.findings]
    assert b.files == a.files


@pytest.fixture(scope="module")
def without_texts(spark):
    """The sample opened on Spark for the checks that read no text column whole (the texts stay there)."""
    return open_context(str(SAMPLE), spark_config(**SETTINGS), checks=MOVED)


def test_the_texts_stay_on_the_executors_when_no_check_reads_them_whole(contexts, without_texts, same_results,
                                                                        tmp_path, monkeypatch):
    from dqaudit.pipeline import run_checks as run

    def run_checks(ctx, checks):  # each run in a folder of its own: with a shared per-record cache the
        folder = tmp_path / str(len(list(tmp_path.iterdir())))  # second would reuse the first's label model
        folder.mkdir()
        monkeypatch.chdir(folder)
        return run(ctx, checks=checks)

    local, full = contexts
    slim = without_texts
    assert full.options["engine"]["texts_collected"] == ["output", "text"]  # the default checks read them
    assert slim.options["engine"]["texts_collected"] == []
    assert not TEXT_COLUMNS & set(slim.frame.columns)
    assert slim.frame.equals(full.frame.drop(columns=sorted(TEXT_COLUMNS)))
    rows = np.array([7, 0, 7, len(full.frame) - 1])
    for column in TEXT_COLUMNS:
        assert slim.texts(rows, column).tolist() == full.frame[column].to_numpy()[rows].tolist()
    same_results(run_checks(full, checks=MOVED), run_checks(slim, checks=MOVED))
    # and what the local engine concludes (label_noise models one row per cluster on Spark: see above)
    alike = [name for name in MOVED if name != "label_noise"]
    same_results(run_checks(local, checks=alike), run_checks(slim, checks=alike))


def test_label_noise_scores_rows_outside_its_sample_on_the_executors(contexts, without_texts, same_results,
                                                                     tmp_path, monkeypatch):
    """With a fit sample smaller than the model rows, the others are scored on the executors (the fitted
    model shipped there): only the sample's texts reach the driver, and the result is the driver's."""
    from dqaudit.checkers import label_noise
    from dqaudit.pipeline import run_checks

    monkeypatch.setattr(label_noise, "FIT_ROWS", 600)
    monkeypatch.setattr(label_noise, "MIN_SAMPLE_PER_CLASS", 10)
    slim, full = without_texts, contexts[1]
    fetched: list[int] = []
    fetch = slim._fetch

    def counted(rows, column):
        fetched.append(len(rows))
        return fetch(rows, column)

    results = []
    for name, ctx in (("full", full), ("slim", slim)):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)  # a cache of its own: the second run would reuse the model
        if ctx is slim:
            ctx.fetch_texts_with(counted)
        results.append(run_checks(ctx, checks=["label_noise"]))
    slim.fetch_texts_with(fetch)
    same_results(*results)
    metrics = results[1].check("label_noise").metrics["tfidf"]
    assert metrics["fit_rows"] <= 1000 and metrics["scored_rows"] > 1000
    assert sum(fetched) < metrics["fit_rows"] + metrics["scored_rows"] // 2  # the sample, examples, flagged


def test_contamination_on_spark_reads_keys_not_texts(spark, sample_with_splits, same_results):
    """With a split field, the normalised-text keys come from the executors and only the examples'
    texts reach the driver; the result is the one Spark gives with the texts collected."""
    from dqaudit.features.exact import normalized_keys
    from dqaudit.pipeline import run_checks

    settings = {"cache": {"enabled": False}, "fields": {"output": "answer", "split": "split"}}
    config = spark_config(**settings)
    slim = open_context(str(sample_with_splits), config, checks=["contamination"])
    assert slim.options["engine"]["texts_collected"] == []
    full = open_context(str(sample_with_splits), config)
    assert full.options["engine"]["texts_collected"] == ["output", "text"]
    got, expected = run_checks(slim, checks=["contamination"]), run_checks(full, checks=["contamination"])
    same_results(expected, got)
    assert slim.options["engine"]["stages"]["per-record feature normalized_keys"] == "spark"
    local = open_context(sample_with_splits, parse_config(settings))
    assert np.array_equal(normalized_keys(slim), normalized_keys(local))
    same_results(run_checks(local, checks=["contamination"]), got)
    assert sum(got.check("contamination").metrics["exact_pairs"].values()) > 10


def split_outputs(folder: Path) -> dict[str, list[dict]]:
    """Each output file of an export as parsed lines."""
    return {
        name: [json.loads(line) for line in (folder / name).read_text(encoding="utf-8").splitlines()]
        for name in ("train.jsonl", "val.jsonl", "test.jsonl", "quarantine.jsonl")
    }


def assert_each_row_once(outputs: dict[str, list[dict]], inputs: dict[tuple[str, int], str]) -> None:
    """Every non-blank input row (by file and line) is in exactly one output: kept (by id) or quarantined."""
    quarantined = [(q.get("file", ""), q["line"]) for q in outputs["quarantine.jsonl"]]
    assert len(quarantined) == len(set(quarantined)) and set(quarantined) <= set(inputs)
    kept = sorted(row["id"] for name in ("train.jsonl", "val.jsonl", "test.jsonl") for row in outputs[name])
    rest = sorted(json.loads(raw)["id"] for key, raw in inputs.items() if key not in set(quarantined))
    assert kept == rest
    assert len(kept) + len(quarantined) == len(inputs)


def test_spark_writes_the_same_split_files_from_a_glob(spark, tmp_path):
    """Spark-written files equal the local engine's byte for byte (chat and PII masking included)."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / SAMPLE.name)
    checks = [*CHECKS, "pii"]
    local_out, spark_out = tmp_path / "local", tmp_path / "spark"
    split_data(SAMPLE, local_out, parse_config({"seed": 7, "export": {"chat": True}}), checks=checks)
    args = [
        "split",
        f"{folder}/*.jsonl",
        "--out",
        str(spark_out),
        "--engine",
        "spark",
        "--seed",
        "7",
        "--chat",
    ]
    result = CliRunner().invoke(cli, [*args, "--checks", ",".join(checks), "--quiet", "--no-cache"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in local_out.iterdir())
    assert sorted(p.name for p in spark_out.iterdir()) == names  # no part files, _SUCCESS or .crc left
    for name in names:
        if name not in ("manifest.json", ".dqaudit-export"):   # the marker holds each folder's random token
            assert (spark_out / name).read_bytes() == (local_out / name).read_bytes(), name
    local, manifest = (json.loads((d / "manifest.json").read_text()) for d in (local_out, spark_out))
    for folder, written in ((local_out, local), (spark_out, manifest)):
        assert json.loads((folder / ".dqaudit-export").read_text())["token"] == written["export_token"]
    assert manifest["outputs"] == local["outputs"]  # rows and sha256, hashed on the executors
    assert manifest["rows"] == local["rows"] and manifest["leakage"] == local["leakage"]
    assert manifest["cleaning"]["masked"] > 0 and manifest["rows"]["quarantine"] > 3
    assert manifest["engine"]["stages"]["render and write train/val/test/quarantine files"] == "spark"
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    inputs = {("", n): raw for n, raw in enumerate(lines, 1) if raw.strip()}
    outputs = split_outputs(spark_out)
    malformed = [q for q in outputs["quarantine.jsonl"] if q["reasons"][0]["kind"] == "malformed_json"]
    assert len(malformed) == 1 and malformed[0]["raw"] == lines[malformed[0]["line"] - 1]
    unloaded = {
        (q["line"], q["reasons"][0]["kind"])
        for q in outputs["quarantine.jsonl"]
        if q["reasons"][0]["check"] == "load"
    }
    assert len(unloaded) == 3
    for line, _ in unloaded:  # unparsable rows cannot be checked by id: drop them from both sides
        inputs.pop(("", line))
    outputs["quarantine.jsonl"] = [
        q for q in outputs["quarantine.jsonl"] if q["reasons"][0]["check"] != "load"
    ]
    assert_each_row_once(outputs, inputs)


def write_masked_copies(path: Path) -> Path:
    """Rows that differ by a long e-mail address: apart before masking (so the split may part them), exact
    and near copies once masked, as written: the leakage re-check has exact and near pairs to find. Inline
    annotations make the engine cache the annotated rows too, which the split must release."""
    import random

    rng = random.Random(4)
    templates = ["{e} my card limit was lowered without notice yesterday",
                 "{e} my card limit was lowered without any notice yesterday",
                 "{e} how do I close the deposit I opened for my daughter",
                 "{e} how can I close the deposit I opened for my daughter"]
    rows = []
    for i in range(120):
        email = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(30)) + "@example.com"
        label = ["card", "deposit"][i % 4 // 2]
        annotations = [{"annotator": a, "label": label} for a in ("a1", "a2")]
        rows.append({"id": f"r{i}", "text": templates[i % 4].format(e=email), "label": label,
                     "annotations": annotations})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def persisted(spark) -> set[int]:
    """The ids of the RDDs the session holds persisted (a cached DataFrame's blocks among them)."""
    return {int(i) for i in spark.sparkContext._jsc.getPersistentRDDs().keySet().toArray()}


def test_spark_split_keeps_the_texts_on_the_executors(spark, tmp_path):
    """``split`` collects no text column: the leakage re-check renders, masks, keys and verifies the kept
    texts on the executors, and the driver gets only keys, edges and the examples' texts. The files, the
    leakage counts and examples, and the manifest are the local engine's."""
    data = write_masked_copies(tmp_path / "masked.jsonl")
    settings = {"seed": 7, "cache": {"enabled": False}}
    checks = [*CHECKS, "pii"]
    local = split_data(data, tmp_path / "local", parse_config(settings), checks=checks)
    before = persisted(spark)
    manifest = split_data(str(data), tmp_path / "spark", spark_config(**settings), checks=checks)
    assert persisted(spark) <= before  # the audit's and the re-check's frames, the source rows once written
    engine = manifest.pop("engine")
    assert engine["texts_collected"] == []
    assert engine["stages"]["leakage re-check: keys and near-duplicate edges of the written texts"] == "spark"
    leaks = manifest["leakage"]
    assert sum(leaks["exact_pairs"].values()) > 0 and sum(leaks["near_pairs"].values()) > 0
    assert {e["kind"] for e in leaks["examples"]} == {"exact", "near"}
    assert manifest["cleaning"]["masked"] == 120  # every row: masking makes the copies
    for written in (manifest, local):  # a random token, the input (named by its files on Spark), the engine
        del written["export_token"], written["input"], written["config"]["engine"]
    assert manifest == local
    for name in ("train.jsonl", "val.jsonl", "test.jsonl", "quarantine.jsonl"):
        assert (tmp_path / "spark" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name


def test_many_files_each_row_once_with_its_file(spark, tmp_path):
    """A folder of files: malformed and blank lines too, every row lands once, quarantine names the file."""
    folder = tmp_path / "in"
    folder.mkdir()
    texts = [
        "my card was blocked at the shop yesterday evening please help",
        "how do I open a deposit account",
    ]
    inputs: dict[tuple[str, int], str] = {}
    for k in range(2):
        path = folder / f"part-{k}.jsonl"
        rows = [
            json.dumps({"id": f"{k}-{i}", "text": f"{texts[i % 2]} number {i % 5}", "label": f"l{i % 3}"})
            for i in range(30)
        ]
        rows[4], rows[9] = "{not json", ""
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        inputs.update({(f"file:{path}", n): raw for n, raw in enumerate(rows, 1) if raw})
    out = tmp_path / "out"
    manifest = split_data(str(folder), out, spark_config(seed=3), checks=CHECKS)
    outputs = split_outputs(out)
    bad = [q for q in outputs["quarantine.jsonl"] if "raw" in q]
    assert sorted((q["file"], q["line"]) for q in bad) == sorted(
        k for k, raw in inputs.items() if raw == "{not json"
    )
    assert manifest["quarantine_reasons"]["load.malformed_json"] == 2
    outputs["quarantine.jsonl"] = [q for q in outputs["quarantine.jsonl"] if "raw" not in q]
    assert_each_row_once(outputs, {k: raw for k, raw in inputs.items() if raw != "{not json"})
    assert sum(manifest["rows"].values()) == len(inputs) == 58


def test_hadoop_target_swaps_and_refuses(spark, tmp_path):
    """The Hadoop FileSystem publisher (used for hdfs://, s3a://), exercised on file: URIs."""
    from dqaudit.engines.spark.session import Stages
    from dqaudit.engines.spark.write import hadoop_target
    from dqaudit.errors import InputError
    from dqaudit.progress import NullProgress

    out = tmp_path / "out"
    target = hadoop_target(spark, f"file:{out}", None)

    def write(folder: str) -> dict[str, dict]:
        frame = spark.createDataFrame([(0, "a"), (0, "b"), (2, "c")], "f int, value string")
        frame.coalesce(1).write.partitionBy("f").text(folder)
        return {"x.jsonl": {"rows": 2}, "y.jsonl": {"rows": 0}, "z.jsonl": {"rows": 1}}

    for run in range(2):  # the second run replaces the first export
        target.check([f"file:{tmp_path}/elsewhere/data.jsonl"])
        manifest = target.publish(write, {"run": run}, Stages(spark, NullProgress()))
        assert manifest["outputs"]["x.jsonl"] == {"rows": 2}
        assert (out / "x.jsonl").read_text() == "a\nb\n" and (out / "y.jsonl").read_text() == ""
        assert json.loads((out / "manifest.json").read_text())["run"] == run
        assert json.loads((out / MARKER).read_text())["token"] == manifest["export_token"]
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # no sibling left behind
    with pytest.raises(InputError, match="would hold the input"):
        target.check([f"file:{out}/data.jsonl"])
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not written by dqaudit"):
        hadoop_target(spark, f"file:{tmp_path}/busy", None).check([])
    with pytest.raises(DqauditError, match=r"^opening nosuchfs://bucket/clean: .*No FileSystem for scheme"):
        hadoop_target(spark, "nosuchfs://bucket/clean", None)


def test_split_refuses_an_output_folder_holding_the_input(spark, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / SAMPLE.name)
    result = CliRunner().invoke(
        cli, ["split", f"{folder}/*.jsonl", "--out", str(tmp_path), "--engine", "spark", "-q"]
    )
    assert result.exit_code == 2 and "would hold the input" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_report_says_where_stages_ran(spark_report):
    engine = spark_report["run"]["engine"]
    assert engine["stages"]["normalise, MinHash signatures and band keys"] == "spark"
    assert engine["stages"]["checkers (findings, scores, cleanlab, agreement)"] == "driver"
    assert spark_report["checks"]["near_duplicates"]["metrics"]["clusters"] > 0


def test_report_lists_the_label_stages(label_audits):
    from importlib.resources import files

    import jsonschema

    report = label_audits[2]
    schema = files("dqaudit.reports").joinpath("report.schema.json").read_text()
    jsonschema.validate(report, json.loads(schema))
    engine = report["run"]["engine"]
    expected = {
        "label counts per cluster (its representative: the first record)": "spark",
        "label_noise model on one representative per cluster": "driver",
        "agreement aggregates (per-item category counts, annotator-pair tables)": "spark",
        "agreement: cleanlab consensus, annotator quality, review file": "driver",
    }
    assert {k: engine["stages"].get(k) for k in expected} == expected
    assert all(engine["seconds"][k] >= 0 for k, where in expected.items() if where == "spark")
    model_rows = report["checks"]["label_noise"]["metrics"]["model_rows"]
    # clusters whose records are all in classes too small to judge are handed over but not modelled
    assert 0 < model_rows <= engine["aggregates"]["label_noise_model_rows"]


def test_missing_pyspark_is_a_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(MissingDependency, match=r'pip install "dqaudit\[spark\]"'):
        open_context(SAMPLE, spark_config())
    result = CliRunner().invoke(cli, ["audit", str(SAMPLE), "--engine", "spark", "--quiet"])
    assert result.exit_code == 2 and "dqaudit[spark]" in result.output


def test_missing_java_is_a_one_line_error(spark, monkeypatch):
    from pyspark.sql import SparkSession

    monkeypatch.setattr(SparkSession, "getActiveSession", classmethod(lambda cls: None))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(DqauditError, match="needs Java 17"):
        open_context(SAMPLE, spark_config())


def test_engine_config_is_validated():
    assert parse_config({"engine": "spark"}).engine.name == "spark"
    block = parse_config(
        {"engine": {"name": "spark", "master": "spark://h:7077", "conf": {"spark.executor.memory": "8g"}}}
    ).engine
    assert block.master == "spark://h:7077" and block.conf == {"spark.executor.memory": "8g"}
    with pytest.raises(ConfigError, match="engine.mastr: unknown key"):
        parse_config({"engine": {"name": "spark", "mastr": "x"}})
    with pytest.raises(ConfigError, match="engine"):
        parse_config({"engine": "dask"})
    assert AuditConfig().fingerprint() == spark_config().fingerprint()  # the engine changes no result


def test_a_driver_result_limit_is_a_one_line_error_with_the_setting_to_raise():
    """What a 5M-row audit hit with Spark's default 1 GiB spark.driver.maxResultSize (measured)."""
    from py4j.protocol import Py4JJavaError

    from dqaudit.engines.spark.session import java_errors

    class Failure:
        _target_id = "o104"  # what py4j reads off a Java object reference

        def toString(self) -> str:  # noqa: N802 (the Java method name)
            return (
                "org.apache.spark.SparkException: Job aborted due to stage failure: Total size of serialized "
                "results of 25 tasks (1054.4 MiB) is bigger than spark.driver.maxResultSize (1024.0 MiB)\n"
                "\tat org.apache.spark.scheduler.DAGScheduler.failJob(DAGScheduler.scala:1)"
            )

    with pytest.raises(DqauditError) as caught:
        with java_errors("auditing big.jsonl on Spark"):
            raise Py4JJavaError("An error occurred while calling o103.getResult", Failure())
    message = str(caught.value)
    assert "\n" not in message and message.startswith("auditing big.jsonl on Spark: org.apache.spark")
    assert "raise spark.driver.maxResultSize" in message and "spark.driver.memory" in message
