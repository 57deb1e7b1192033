import json
import random

from click.testing import CliRunner

from dqaudit.cli import cli

WORDS = "card loan fee limit deposit pin atm branch refund salary cash rate payment login balance".split()


def rows(n=40):
    """Texts far apart (no near-duplicate clusters), so every row is its own group."""
    rng = random.Random(0)
    return [{"id": f"r{i}", "text": " ".join(rng.sample(WORDS, 6)), "label": ["card", "loan"][i % 2]}
            for i in range(n)]


def test_split_writes_outputs_and_summary(write_jsonl, tmp_path):
    source = write_jsonl(rows() + ['{"oops'])
    result = CliRunner().invoke(cli, ["split", str(source), "--out", str(tmp_path / "clean"), "--ratios",
                                      "0.5,0.25,0.25", "--seed", "13", "--checks", "duplicates",
                                      "--no-cache"])
    assert result.exit_code == 0, result.output
    assert "train.jsonl" in result.output and "load.malformed_json" in result.output
    manifest = json.loads((tmp_path / "clean" / "manifest.json").read_text())
    assert manifest["seed"] == 13 and manifest["rows"] == {"train": 20, "val": 10, "test": 10,
                                                           "quarantine": 1}


def test_split_json_prints_manifest(write_jsonl, tmp_path):
    source = write_jsonl(rows())
    result = CliRunner().invoke(cli, ["split", str(source), "--out", str(tmp_path / "o"), "--json", "-q",
                                      "--checks", "duplicates", "--no-cache"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["ratios"]["asked"]["train"] == 0.8


def test_split_errors_are_one_line_exit_2(write_jsonl, tmp_path):
    source = write_jsonl(rows())
    runner = CliRunner()
    bad = runner.invoke(cli, ["split", str(source), "--out", str(tmp_path / "o"), "--ratios", "0.5,0.5,0.5"])
    assert (bad.exit_code == 2
            and "ratios must be three finite, non-negative shares summing to 1" in bad.output)
    over = runner.invoke(cli, ["split", str(source), "--out", str(tmp_path), "--checks", "duplicates"])
    assert over.exit_code == 2 and "would hold the input" in over.output and "Traceback" not in over.output
    missing = runner.invoke(cli, ["split", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o")])
    assert missing.exit_code == 2 and "no such file" in missing.output


def test_check_split_gates_on_contamination(write_jsonl):
    train = write_jsonl([{"id": "a", "text": "my card was blocked at the atm yesterday"},
                         {"id": "b", "text": "how do i change the pin code of my card"}], "train.jsonl")
    test = write_jsonl([{"id": "c", "text": "My card was blocked at the ATM yesterday"},
                        {"id": "d", "text": "what are the fees for an international transfer"}], "test.jsonl")
    runner = CliRunner()
    dirty = runner.invoke(cli, ["check-split", str(train), str(test)])
    assert dirty.exit_code == 1, dirty.output
    assert "1 of 2 rows (50.00%)" in dirty.output and "verdict: CONTAMINATED" in dirty.output
    tolerated = runner.invoke(cli, ["check-split", str(train), str(test), "--max-contamination", "0.5",
                                    "--json"])
    assert tolerated.exit_code == 0
    assert json.loads(tolerated.output)["verdict"] == "CLEAN"
    assert json.loads(tolerated.output)["pairs"] == [
        {"kind": "exact", "similarity": 1.0, "a": {"part": "train.jsonl", "id": "a"},
         "b": {"part": "test.jsonl", "id": "c"}}]
    one = runner.invoke(cli, ["check-split", str(train)])
    assert one.exit_code == 2 and "at least two files" in one.output


def test_check_split_writes_every_pair_as_jsonl(write_jsonl, tmp_path):
    copies = [{"id": f"t{i}", "text": "my card was blocked at the atm yesterday"} for i in range(3)]
    train = write_jsonl(copies + [{"id": "x", "text": "how do i change the pin code of my card"}],
                        "train.jsonl")
    test = write_jsonl([{"id": "c", "text": "My card was blocked at the ATM yesterday"},
                        {"id": "d", "text": "what are the fees for an international transfer"}], "test.jsonl")
    result = CliRunner().invoke(cli, ["check-split", str(train), str(test), "--out", "pairs.jsonl",
                                      "--examples", "1"])
    assert result.exit_code == 1 and "pairs: 3 written to pairs.jsonl" in result.output
    pairs = [json.loads(line) for line in (tmp_path / "pairs.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(p["a"]["id"], p["b"]["id"], p["kind"]) for p in pairs] == [("t0", "c", "exact"),
                                                                        ("t1", "c", "exact"),
                                                                        ("t2", "c", "exact")]
    clash = CliRunner().invoke(cli, ["check-split", str(train), str(test), "--out", str(test)])
    assert clash.exit_code == 2 and "is one of the split files" in clash.output


def test_chat_exports_keep_system_messages_and_round_trip_without_a_config(tmp_path, monkeypatch):
    """split --chat writes the records' own turns;
    check-split and audit read those files with no dqaudit.yaml."""
    rows, rng = [], random.Random(3)
    words = "card limit transfer loan deposit branch mortgage refund salary statement abroad cash pin".split()
    for i in range(30):
        question = f"question {i}: " + " ".join(rng.choice(words) for _ in range(8)) + "?"
        messages = [{"role": "user", "content": question},
                    {"role": "assistant", "content": f"Answer {i}: " + " ".join(rng.sample(words, 6))}]
        if i % 2:
            messages.insert(0, {"role": "system", "content": f"You are bank assistant number {i}."})
        rows.append({"id": f"c{i}", "messages": messages})
    data = tmp_path / "chat.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["split", str(data), "--out", str(out), "--chat", "--quiet"])
    assert result.exit_code == 0, result.output
    examples = [json.loads(line) for name in ("train", "val", "test")
                for line in (out / f"{name}.chat.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(examples) == 30
    written = sorted(json.dumps(e["messages"]) for e in examples)
    assert written == sorted(json.dumps(r["messages"]) for r in rows)  # system turns kept
    files = [str(out / f"{name}.chat.jsonl") for name in ("train", "val", "test")]
    checked = CliRunner().invoke(cli, ["check-split", *files])
    assert checked.exit_code == 0 and "verdict: CLEAN" in checked.output
    audited = CliRunner().invoke(cli, ["audit", files[0], "--json", "--quiet", "--checks",
                                       "conflicting_outputs"])
    report = json.loads(audited.output)
    assert report["checks"]["conflicting_outputs"]["status"] == "ok"
