import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dqaudit.api import audit
from dqaudit.api import split as split_dataset
from dqaudit.config import AuditConfig
from dqaudit.errors import ConfigError, InputError
from dqaudit.export import MANIFEST, cleaning_plan, decision_for, settle_representatives
from dqaudit.findings import Action, CheckResult, Finding, Severity

FAST = ["duplicates", "text_quality"]
OUTPUTS = ("train.jsonl", "val.jsonl", "test.jsonl", "quarantine.jsonl")


def config(**export):
    return AuditConfig(cache={"enabled": False}, export=export)


def lines_per_output(out: Path, source: Path) -> list[int]:
    """Input line of every output row: split rows by their id, quarantine rows by their ``line``."""
    line_of = {}
    for number, raw in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict) and "id" in record:
            line_of[record["id"]] = number
    seen = []
    for name in OUTPUTS:
        for raw in (out / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(raw)
            seen.append(row["line"] if name == "quarantine.jsonl" else line_of[row["id"]])
    return seen


def finding(check, kind, ids, action=Action.DROP, **details):
    return Finding(check, kind, Severity.HIGH, f"{kind} found", action, tuple(ids), 0.0, details)


def test_decision_lookup_order():
    rules = {"pii.email": "quarantine", "stale_policy": "keep"}
    assert decision_for(finding("pii", "email", ["a"], Action.MASK), rules) == "quarantine"
    assert decision_for(finding("pii", "phone", ["a"], Action.MASK), rules) == "mask"
    assert decision_for(finding("stale_policy", "x", ["a"]), rules) == "keep"
    assert decision_for(finding("text_quality", "fragment", ["a"], Action.REVIEW), rules) == "keep"


def plan_frame(ids: str, **columns: list) -> pd.DataFrame:
    """A frame as the loader gives it: id, text, label, created_at, line."""
    n = len(ids)
    return pd.DataFrame({"id": list(ids), "text": columns.get("text", ["same question"] * n),
                         "label": columns.get("label", ["x"] * n),
                         "created_at": columns.get("created_at", [None] * n),
                         "line": list(range(1, n + 1))})


def test_cleaning_plan_applies_each_decision():
    frame = plan_frame("abcde")
    findings = [
        finding("duplicates", "exact_duplicates", ["a", "b", "c"], representative="b"),
        finding("label_noise", "suspected_mislabel", ["d"], Action.RELABEL, suggested="loan"),
        finding("pii", "email", ["e"], Action.MASK),
        finding("text_quality", "fragment", ["e"], Action.REVIEW),
    ]
    plan = cleaning_plan(frame, findings, {"duplicates.exact_duplicates": "dedupe",
                                           "label_noise.suspected_mislabel": "relabel"}, lambda: np.arange(5))
    assert sorted(plan.reasons) == [0, 2]  # the check's named representative is clean: it stays
    assert plan.reasons[0][0]["kept"] == "b"
    assert plan.relabel == {3: "loan"} and plan.mask == {4}
    assert plan.decisions["duplicates.exact_duplicates"] == {"dedupe": 3}


def test_dedupe_without_representative_keeps_one_per_cluster_and_label():
    frame = plan_frame("abcde", label=["x", "y", "y", "x", "x"],
                       created_at=[None, "2024-02-01", "2024-01-01", None, None])
    summed = finding("near_duplicates", "near_duplicates", list("abcde"))
    plan = cleaning_plan(frame, [summed], {"near_duplicates": "dedupe"},
                         lambda: np.array([0, 0, 0, 1, 1]))
    assert {row: reasons[0]["kept"] for row, reasons in plan.reasons.items()} == {1: "c", 4: "d"}
    conflict = finding("near_duplicates", "conflicting_labels", list("abc"))  # deduped if asked: the majority
    rules = {"near_duplicates.conflicting_labels": "dedupe"}
    plan = cleaning_plan(frame, [conflict], rules, lambda: np.zeros(5, int))
    assert {row: reasons[0]["kept"] for row, reasons in plan.reasons.items()} == {0: "c", 1: "c"}


def test_a_question_never_vanishes_with_its_stale_copy():
    """Chat data: the first copy teaches a retired policy, the second the current one.

    The stale copy is quarantined for being stale; the copy kept for the question is the
    current answer, not dropped as the stale one's duplicate.
    """
    frame = plan_frame("abc", text=["How long until my transfer goes through?"] * 2 + ["Other question"],
                       label=["transfer_timing"] * 2 + ["fees"])
    findings = [
        finding("duplicates", "exact_duplicates", ["a", "b"], representative="a"),
        finding("stale_policy", "outdated_answer", ["a"], Action.DROP),
        finding("pii", "phone", ["c"], Action.MASK),
    ]
    plan = cleaning_plan(frame, findings, {"duplicates.exact_duplicates": "dedupe"},
                         lambda: np.array([0, 0, 1]))
    assert list(plan.reasons) == [0] and [r["check"] for r in plan.reasons[0]] == ["stale_policy"]
    # a copy quarantined for being a copy keeps a masked or suspect copy only when nothing cleaner exists
    findings = [finding("duplicates", "exact_duplicates", ["a", "b"], representative="a"),
                finding("pii", "phone", ["a"], Action.MASK)]
    plan = cleaning_plan(frame, findings, {"duplicates.exact_duplicates": "dedupe"},
                         lambda: np.array([0, 0, 1]))
    assert plan.reasons[0][0]["kept"] == "b" and plan.mask == {0}
    findings.append(finding("stale_policy", "outdated_answer", ["b"], Action.DROP))
    plan = cleaning_plan(frame, findings, {"duplicates.exact_duplicates": "dedupe"},
                         lambda: np.array([0, 0, 1]))
    assert list(plan.reasons) == [1]  # the group's only clean member stays


def test_a_dedupe_keeps_a_copy_no_quarantine_removed():
    """A cluster's representative holds an answer that is not kept:
    the dedupe keeps another copy, not none."""
    frame = pd.DataFrame({"id": list("abcd"), "label": ["x"] * 4, "created_at": [None] * 4,
                          "line": [1, 2, 3, 4]})
    findings = [finding("near_duplicates", "near_duplicates", list("abc"), representative="a"),
                finding("conflicting_outputs", "conflicting_outputs", list("abc"), Action.REVIEW,
                        quarantine_ids=["a"]),
                finding("duplicates", "exact_duplicates", ["d"], representative="d")]
    plan = cleaning_plan(frame, findings, {"near_duplicates": "dedupe", "conflicting_outputs": "quarantine",
                                           "duplicates": "dedupe"}, lambda: np.array([0, 0, 0, 1]))
    assert sorted(plan.reasons) == [0, 2]  # a: its answer is not kept; c: a copy of b, which is kept
    assert plan.reasons[2][0]["kept"] == "b"
    assert plan.decisions["conflicting_outputs.conflicting_outputs"] == {"quarantine": 1}


def test_a_rolled_up_finding_applies_to_the_rows_its_check_lists_per_record():
    frame = plan_frame("abcde", label=["x", "y", "y", "x", "x"],
                       created_at=[None, "2024-02-01", "2024-01-01", None, None])
    clusters, rules = lambda: np.array([0, 0, 0, 1, 1]), {"near_duplicates": "dedupe"}
    named = cleaning_plan(frame, [finding("near_duplicates", "near_duplicates", list("abcde"))], rules,
                          clusters)
    summed = finding("near_duplicates", "near_duplicates", [], clusters=2, rolled_up=True)  # counts only
    rolled = cleaning_plan(frame, [summed], rules, clusters,
                           {"near_duplicates.near_duplicates": [0, 1, 2, 3, 4]})
    assert rolled.reasons.keys() == named.reasons.keys() == {1, 4}
    assert [r[0]["kept"] for r in rolled.reasons.values()] == [r[0]["kept"] for r in named.reasons.values()]
    assert cleaning_plan(frame, [summed], rules, clusters).reasons == {}


def test_the_cluster_cap_does_not_change_what_the_export_keeps(write_jsonl, tmp_path):
    rows = []
    for k in range(6):
        base = f"please block my stolen debit card number {k} at the branch on main street today"
        rows += [{"id": f"{k}a", "text": base, "label": "card"},
                 {"id": f"{k}b", "text": base + " thanks", "label": "card"}]
    rows += [{"id": f"u{i}", "text": f"unrelated question {i} about {['loans', 'fees'][i % 2]}",
              "label": "loan"}
             for i in range(20)]
    source = write_jsonl(rows)
    outputs = []
    for cap in (1, None):
        cfg = config().model_copy(update={"checks": {"near_duplicates": {"max_cluster_findings": cap}}})
        manifest = split_dataset(source, tmp_path / f"out{cap}", cfg, checks=["near_duplicates"])
        outputs.append(((tmp_path / f"out{cap}" / "quarantine.jsonl").read_text().count("\n"),
                        manifest["quarantine_reasons"]))
    assert outputs[0] == outputs[1] and outputs[0][0] >= 6  # six planted pairs (and copies among the rest)


def test_relabel_without_suggestion_is_a_config_error():
    frame = pd.DataFrame({"id": ["a"]})
    with pytest.raises(ConfigError, match="suggests no label"):
        cleaning_plan(frame, [finding("schema", "missing_label", ["a"], Action.RELABEL)],
                      {"schema.missing_label": "relabel"}, lambda: np.zeros(1, int))


def dataset_rows():
    rows = [{"id": f"r{i}", "text": f"request {i} about {['cards', 'loans', 'fraud'][i % 3]} number {i * 7}",
             "label": ["card", "loan", "fraud"][i % 3], "group": f"conv{i // 3}" if i < 30 else None}
            for i in range(90)]
    rows += [{"id": f"dup{k}", "text": "Same text again", "label": "card"} for k in range(4)]
    rows += [{"id": "empty", "text": "  ", "label": "card"}, '{"id": "bad", "text": ', "[1, 2, 3]",
             {"id": "notext", "label": "card"}]
    return rows


def test_every_row_lands_in_exactly_one_file(write_jsonl, tmp_path):
    source = write_jsonl(dataset_rows())
    manifest = split_dataset(source, tmp_path / "out", config(), checks=FAST)
    seen = lines_per_output(tmp_path / "out", source)
    assert sorted(seen) == list(range(1, 99))
    assert manifest["rows"]["quarantine"] == 3 + 1 + 3   # 3 extra copies, the empty text, 3 unloadable
    assert manifest["quarantine_reasons"] == {"duplicates.exact_duplicates": 3, "load.malformed_json": 1,
                                              "load.missing_text": 1, "load.not_an_object": 1,
                                              "text_quality.empty_text": 1}
    quarantined = [json.loads(x) for x in (tmp_path / "out" / "quarantine.jsonl").read_text().splitlines()]
    assert {q.get("raw") for q in quarantined if "raw" in q} == {'{"id": "bad", "text": '}


def test_split_rows_are_copied_unchanged(write_jsonl, tmp_path):
    source = write_jsonl(dataset_rows())
    split_dataset(source, tmp_path / "out", config(), checks=FAST)
    original = set(source.read_text().splitlines())
    for name in ("train.jsonl", "val.jsonl", "test.jsonl"):
        assert set((tmp_path / "out" / name).read_text().splitlines()) <= original


def test_groups_stay_together_and_manifest_reports(write_jsonl, tmp_path):
    source = write_jsonl(dataset_rows())
    manifest = split_dataset(source, tmp_path / "out", config(ratios=(0.6, 0.2, 0.2)), checks=FAST)
    where = {}
    for name in ("train", "val", "test"):
        for raw in (tmp_path / "out" / f"{name}.jsonl").read_text().splitlines():
            row = json.loads(raw)
            if row.get("group"):
                where.setdefault(row["group"], set()).add(name)
    assert where and all(len(s) == 1 for s in where.values())
    assert manifest["ratios"]["asked"] == {"train": 0.6, "val": 0.2, "test": 0.2}
    assert abs(manifest["ratios"]["achieved"]["test"] - 0.2) < 0.05
    assert manifest["leakage"]["contaminated_rows"]["test"] == 0
    assert set(manifest["outputs"]) == set(OUTPUTS)
    records = pd.read_parquet(tmp_path / "out" / "records.parquet")  # why each row went where it went
    assert manifest["records"]["file"] == "records.parquet"
    assert len(records) == manifest["records"]["rows"] == manifest["input"]["rows"]
    assert (records["decision"].isin(["drop", "quarantine"]).sum()
            == manifest["rows"]["quarantine"])
    digest = manifest["outputs"]["train.jsonl"]["sha256"]
    import hashlib
    assert hashlib.sha256((tmp_path / "out" / "train.jsonl").read_bytes()).hexdigest() == digest
    on_disk = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert on_disk == json.loads(json.dumps(manifest))


def test_same_seed_gives_byte_identical_outputs(write_jsonl, tmp_path):
    source = write_jsonl(dataset_rows())
    split_dataset(source, tmp_path / "a", config(), checks=FAST)
    split_dataset(source, tmp_path / "b", config(), checks=FAST)
    for name in OUTPUTS:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    manifests = [json.loads((tmp_path / side / MANIFEST).read_text()) for side in "ab"]
    assert manifests[0].pop("export_token") != manifests[1].pop("export_token")   # each folder's own token
    assert manifests[0] == manifests[1]


def test_empty_input(write_jsonl, tmp_path):
    source = write_jsonl([])
    manifest = split_dataset(source, tmp_path / "out", config(), checks=FAST)
    assert manifest["rows"] == {"train": 0, "val": 0, "test": 0, "quarantine": 0}
    assert all((tmp_path / "out" / name).read_bytes() == b"" for name in OUTPUTS)


def test_refuses_to_write_over_its_input(write_jsonl, tmp_path):
    source = write_jsonl(dataset_rows())
    with pytest.raises(InputError, match="would hold the input"):
        split_dataset(source, tmp_path, config(), checks=FAST)
    stranger = tmp_path / "docs"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not written by dqaudit"):
        split_dataset(source, stranger, config(), checks=FAST)
    assert (stranger / "notes.txt").read_text() == "mine"


def test_interrupted_export_keeps_previous_outputs(write_jsonl, tmp_path, monkeypatch):
    source = write_jsonl(dataset_rows())
    out = tmp_path / "out"
    split_dataset(source, out, config(), checks=FAST)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("dqaudit.export._HashingFile.write", boom)
    with pytest.raises(KeyboardInterrupt):
        split_dataset(source, out, config(ratios=(0.5, 0.25, 0.25)), checks=FAST)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.jsonl", "out"]   # no temporary folder left


def test_chat_format(write_jsonl, tmp_path):
    rows = [{"id": f"r{i}", "text": f"question {i} here", "answer": f"answer {i}", "label": "faq"}
            for i in range(20)]
    source = write_jsonl(rows)
    cfg = AuditConfig(cache={"enabled": False}, fields={"output": "answer"},
                      export={"chat": True, "system_prompt": "You are a bank assistant."})
    manifest = split_dataset(source, tmp_path / "out", cfg, checks=FAST)
    chat = [json.loads(x) for s in ("train", "val", "test")
            for x in (tmp_path / "out" / f"{s}.chat.jsonl").read_text().splitlines()]
    assert len(chat) == 20 and manifest["outputs"]["train.chat.jsonl"]["rows"] == manifest["rows"]["train"]
    first = chat[0]["messages"]
    assert [m["role"] for m in first] == ["system", "user", "assistant"]
    assert first[2]["content"] == first[1]["content"].replace("question", "answer").removesuffix(" here")


def test_by_time_quarantines_undated_rows(write_jsonl, tmp_path):
    rows = [{"id": f"r{i}", "text": f"text number {i} is here", "label": "a",
             "created_at": f"2024-{1 + i // 28:02d}-{1 + i % 28:02d}"} for i in range(50)]
    rows.append({"id": "nodate", "text": "a record without a date", "label": "a"})
    source = write_jsonl(rows)
    manifest = split_dataset(source, tmp_path / "out", config(), by_time="created_at", checks=FAST)
    assert manifest["quarantine_reasons"] == {"split.missing_time": 1}
    test_ids = [json.loads(x)["id"] for x in (tmp_path / "out" / "test.jsonl").read_text().splitlines()]
    assert test_ids == [f"r{i}" for i in range(45, 50)]
    with pytest.raises(ConfigError, match="--by-time"):
        split_dataset(source, tmp_path / "out2", config(), by_time="updated_at", checks=FAST)


def test_a_split_makes_the_cleaning_plan_once(write_jsonl, tmp_path, monkeypatch):
    """The export cleans by the audit's plan (records.parquet's): making it again cost ~8 s CPU at 1M rows."""
    import dqaudit.api
    import dqaudit.export

    made = []

    def counted(*args, **kwargs):
        made.append(1)
        return real(*args, **kwargs)

    real = dqaudit.export.cleaning_plan
    monkeypatch.setattr(dqaudit.api, "cleaning_plan", counted)
    monkeypatch.setattr(dqaudit.export, "cleaning_plan", counted)
    source = write_jsonl([{"id": f"r{i}", "text": f"text number {i % 20} is here", "label": "a"}
                          for i in range(40)])
    manifest = split_dataset(source, tmp_path / "out", config(), checks=FAST)
    assert manifest["quarantine_reasons"] == {"duplicates.exact_duplicates": 20}
    assert len(made) == 1


def test_by_time_quarantines_undated_rows_in_the_export_only(write_jsonl):
    """``--by-time`` adds its reasons to a copy of the audit's plan: records.parquet stays the audit's."""
    from dqaudit.export import prepare_export

    rows = [{"id": f"r{i}", "text": f"text number {i} is here", "label": "a",
             "created_at": f"2024-01-{1 + i:02d}"} for i in range(20)]
    rows += [{"id": f"nodate{k}", "text": "a record without a date", "label": "a"} for k in range(2)]
    result = audit(write_jsonl(rows), config(), checks=FAST, for_export=True)
    audited = {row: list(reasons) for row, reasons in result.plan.reasons.items()}
    assert [r["kind"] for r in audited[21]] == ["exact_duplicates"] and 20 not in audited
    prepared = prepare_export(result.context, result, by_time="created_at")
    assert [r["kind"] for r in prepared.plan.reasons[20]] == ["missing_time"]
    assert [r["kind"] for r in prepared.plan.reasons[21]] == ["exact_duplicates", "missing_time"]
    reasons = {"duplicates.exact_duplicates": 1, "split.missing_time": 2}
    assert prepared.manifest["quarantine_reasons"] == reasons
    assert result.plan.reasons == audited
    assert result.records["decision"].tolist()[20:] == ["keep", "drop"]


def test_an_export_needs_the_audits_plan(write_jsonl):
    from dqaudit.export import prepare_export

    result = audit(write_jsonl([{"id": "a", "text": "one text here", "label": "a"}]), config(), checks=FAST)
    with pytest.raises(ValueError, match="cleaning plan"):
        prepare_export(result.context, replace(result, plan=None))


def test_the_copies_reasons_carry_the_settled_message():
    """quarantine.jsonl names the copy the report names, once another check has moved the kept copy."""
    frame = plan_frame("abc")
    rules = {"duplicates.exact_duplicates": "dedupe"}
    stale = finding("stale_policy", "outdated_answer", ["a"])
    dup = Finding("duplicates", "exact_duplicates", Severity.MEDIUM, "3 identical copies of “x”; keep a",
                  Action.DROP, ("a", "b", "c"), 0.0, {"representative": "a"})
    plan = cleaning_plan(frame, [stale, dup], rules, lambda: np.zeros(3, int))
    results = [CheckResult("stale_policy", 90.0, (stale,)), CheckResult("duplicates", 90.0, (dup,))]
    (settled,) = settle_representatives(results, plan, frame, rules, None)[1].findings
    kept = settled.details["representative"]
    assert kept != "a" and settled.message == f"3 identical copies of “x”; keep {kept}"
    (copy,) = [row for row, reasons in plan.reasons.items() if reasons[0]["check"] == "duplicates"]
    assert plan.reasons[copy] == [{"check": "duplicates", "kind": "exact_duplicates", "decision": "dedupe",
                                   "message": settled.message, "kept": kept}]


records = st.one_of(
    st.builds(lambda i, t, lab, g: {"id": f"x{i}", "text": t, "label": lab, "group": g},
              st.integers(0, 10_000),
              st.sampled_from(["alpha beta", "gamma delta", "  ", "alpha  beta", "zeta"]),
              st.sampled_from(["a", "b", None]), st.sampled_from([None, "g1", "g2"])),
    st.sampled_from(['{"truncated', "42", '{"id": "nt"}', "[]"]),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(records, max_size=25))
def test_invariant_holds_for_generated_data(tmp_path_factory, rows):
    folder = tmp_path_factory.mktemp("case")
    source = folder / "data.jsonl"
    unique = []
    for k, row in enumerate(rows):
        unique.append({**row, "id": f"{row['id']}-{k}"} if isinstance(row, dict) else row)
    source.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in unique))
    # the loader's whole-file rule: no record has a text field, and no row is unreadable JSON
    if not any(isinstance(r, dict) for r in rows) and '{"id": "nt"}' in rows and '{"truncated' not in rows:
        with pytest.raises(InputError, match="no record has this field"):  # a whole-file problem, not a row's
            split_dataset(source, folder / "out", config(), checks=FAST)
        return
    split_dataset(source, folder / "out", config(), checks=FAST)
    total = sum(len((folder / "out" / n).read_text().splitlines()) for n in OUTPUTS)
    assert total == len(rows)
    quarantined = [orjson.loads(x)["line"]
                   for x in (folder / "out" / "quarantine.jsonl").read_text().splitlines()]
    assert len(set(quarantined)) == len(quarantined)


@pytest.mark.slow
def test_sample_data_split(sample_path, tmp_path):
    manifest = split_dataset(sample_path, tmp_path / "out", AuditConfig(cache={"enabled": False}))
    seen = sum(len((tmp_path / "out" / n).read_text(encoding="utf-8").splitlines()) for n in OUTPUTS)
    assert seen == manifest["input"]["rows"]
    loader = {k: v for k, v in manifest["quarantine_reasons"].items() if k.startswith("load.")}
    assert loader == {"load.malformed_json": 1, "load.not_an_object": 1, "load.missing_text": 1}
    leak = manifest["leakage"]
    assert sum(leak["exact_pairs"].values()) == sum(leak["near_pairs"].values()) == 0


def test_pii_is_masked_in_the_record_and_the_leak_check(write_jsonl, tmp_path):
    rows = [{"id": f"r{i}", "text": f"write to anna.k{i}@example.com about {w}", "label": "contact"}
            for i, w in enumerate(["loans", "cards", "fees", "limits", "rates", "pins"])]
    source = write_jsonl(rows)
    manifest = split_dataset(source, tmp_path / "out", config(ratios=(0.5, 0.5, 0.0)), checks=["pii"])
    written = "".join((tmp_path / "out" / f"{s}.jsonl").read_text() for s in ("train", "val"))
    assert "@example.com" not in written and written.count("<EMAIL>") == 6
    assert manifest["cleaning"]["masked"] == 6 and manifest["rows"]["quarantine"] == 0


def test_a_stranded_previous_export_is_restored(write_jsonl, tmp_path, monkeypatch):
    """A kill between the swap's two renames leaves only .out.old-PID; the next export puts it back first."""
    from dqaudit import publish
    from dqaudit.publish import _clean_leftovers, write_marker

    # the PID is taken as dead: a live process that happens to hold 4242 must not make this test flaky
    monkeypatch.setattr(publish, "_alive", lambda pid: False)

    out = tmp_path / "out"
    stranded = tmp_path / ".out.old-4242"
    stranded.mkdir()
    write_marker(stranded)
    (stranded / "manifest.json").write_text("{}")
    _clean_leftovers(out)
    assert (out / "manifest.json").read_text() == "{}" and not stranded.exists()


def test_row_lines_routes_and_renders_each_kind_of_row():
    """The one routing function both engines' writers call: quarantine, split file, chat file."""
    from dqaudit.data import LoadProblem
    from dqaudit.export import QUARANTINE, Rendering, row_lines

    render = Rendering("jsonl", "label", None, "Be brief.")
    raw = '{"id": "r1", "text": "hi", "label": "greet"}'
    record = lambda: json.loads(raw)  # noqa: E731
    where = {"line": 3}
    problem = LoadProblem(3, "malformed_json", "invalid JSON: x", "{oops")
    [(name, line)] = row_lines(render, where, "{oops", lambda: problem, problem=problem)
    assert name == QUARANTINE and json.loads(line)["raw"] == "{oops"
    [(name, line)] = row_lines(render, where, raw, record, split=-1, record_id="r1",
                               reasons=[{"check": "schema", "kind": "missing_label"}])
    assert name == QUARANTINE and json.loads(line)["record"]["id"] == "r1"
    assert row_lines(render, where, raw, record, split=1, text="hi",
                     label="greet") == [("val.jsonl", raw.encode())]
    routed = row_lines(render, where, raw, record, split=2, text="hi", label="greet", relabel="hello",
                       chat=True)
    assert [name for name, _ in routed] == ["test.jsonl", "test.chat.jsonl"]
    assert json.loads(routed[0][1])["label"] == "hello"
    assert json.loads(routed[1][1])["messages"] == [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"}]  # the relabelled label answers
    with_output = row_lines(render, where, raw, record, split=0, text="hi", label="greet", output="Hi!",
                            chat=True)
    assert json.loads(with_output[1][1])["messages"][-1]["content"] == "Hi!"  # an output wins over the label
    assert len(row_lines(render, where, raw, record, split=0, text="hi", chat=True)) == 1  # nothing to answer


def test_the_report_names_the_copy_the_split_keeps(write_jsonl, tmp_path):
    """The first copy's answer quotes a retired policy: the report, records and split all keep the second."""
    policies = tmp_path / "policies.yaml"
    policies.write_text(
        "policies:\n  - id: refund-2025\n    effective_from: 2025-01-01\n"
        '    superseded: {phrases: ["within 14 days"]}\n    current: ["within 30 days"]\n', encoding="utf-8")
    question = "How long do I have to ask for a refund?"
    source = write_jsonl([
        {"id": "old", "text": question, "label": "refund", "answer": "Ask for a refund within 14 days."},
        {"id": "new", "text": question, "label": "refund", "answer": "Ask for a refund within 30 days."},
        *({"id": f"o{i}", "text": f"other question number {i} about cards", "label": "card", "answer": "Yes."}
          for i in range(4)),
    ])
    cfg = AuditConfig.model_validate({"fields": {"output": "answer"}, "cache": {"enabled": False},
                                      "checks": {"stale_policy": {"policies": str(policies)}}})
    checks = ["duplicates", "stale_policy"]
    result = audit(source, cfg, checks=checks)
    (dup,) = [f for f in result.findings if f.kind == "exact_duplicates"]
    assert dup.details["representative"] == "new" and dup.message.endswith("; keep new")
    assert any(item.finding.kind == "exact_duplicates" and item.finding.message.endswith("keep new")
               for item in result.fix_first)
    split_dataset(source, tmp_path / "out", cfg, checks=checks)
    quarantined = {r["id"]: r for r in map(json.loads, (tmp_path / "out" / "quarantine.jsonl").open())}
    assert set(quarantined) == {"old"}  # stale; "new" stays as the question's only copy
    # every copy quarantined by another check: the report says so instead of naming one
    plan_findings = [finding("duplicates", "exact_duplicates", ["a", "b"], representative="a"),
                     finding("stale_policy", "outdated_answer", ["a", "b"])]
    frame = plan_frame("ab")
    rules = {"duplicates.exact_duplicates": "dedupe"}
    plan = cleaning_plan(frame, plan_findings, rules, lambda: np.array([0, 0]))
    dup_result = CheckResult("duplicates", 90.0, (Finding("duplicates", "exact_duplicates", Severity.MEDIUM,
                                                          "2 identical copies of “x”; keep a", Action.DROP,
                                                          ("a", "b"), 0.0, {"representative": "a"}),))
    (settled,) = settle_representatives([dup_result], plan, frame, rules, None)
    assert settled.findings[0].message.endswith("keep none (another check quarantines every copy)")
    assert settled.findings[0].details["representative"] is None
