import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from dqaudit.cli import cli
from dqaudit.registry import load_config

CLEAN = [{"id": str(i), "text": f"please check the status of my request number {i}",
          "label": ["a", "b"][i % 2]}
         for i in range(40)]


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)))


def test_audit_writes_reports_and_exits_0(write_jsonl, tmp_path):
    path = write_jsonl(CLEAN)
    result = run("audit", path, "--checks", "duplicates,balance,text_quality")
    assert result.exit_code == 0, result.output
    assert "Readiness" in result.output and "READY" in result.output
    (folder,) = (tmp_path / "reports").iterdir()
    assert folder.name.startswith("data-") and folder.name.endswith("Z")
    assert {p.name for p in folder.iterdir()} == {"report.json", "report.md", "report.html",
                                                  "records.parquet", ".dqaudit-report.json"}


def test_empty_dataset_has_no_readiness_and_is_not_ready(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    result = run("audit", empty)
    assert result.exit_code == 1, result.output
    assert "Readiness —/100" in result.output and "NOT READY" in result.output
    (folder,) = (tmp_path / "reports").iterdir()
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert report["readiness_score"] is None and report["verdict"] == "NOT READY"
    assert "**Readiness —/100 — NOT READY**" in (folder / "report.md").read_text(encoding="utf-8")


def test_json_flag_prints_only_json(write_jsonl):
    result = CliRunner().invoke(cli, ["audit", str(write_jsonl(CLEAN)), "--json", "--quiet",
                                      "--checks", "balance"])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["checks"]["balance"]["score"] == 100.0 and list(report["checks"]) == ["balance"]


def test_fail_under_and_gate_exit_1(write_jsonl):
    path = write_jsonl(CLEAN)
    assert run("audit", path, "--fail-under", "100.1",
               "--checks", "balance", "-q").exit_code == 2  # out of range
    assert run("audit", path, "--fail-under", "99", "--checks", "balance", "-q").exit_code == 0
    conflicted = write_jsonl([{"text": "same text", "label": "a"}, {"text": "same text", "label": "b"}],
                             "c.jsonl")
    result = run("audit", conflicted, "--checks", "duplicates")
    assert result.exit_code == 1 and "BLOCKING" in result.output


@pytest.mark.parametrize("args, message", [
    (["audit", "missing.jsonl"], "Error: missing.jsonl: no such file"),
    (["audit", "{data}", "--checks", "nope"], "Error: --checks: unknown check 'nope'"),
    (["audit", "{data}", "--config", "missing.yaml"], "Error: missing.yaml: no such file"),
    (["audit", "{bad}"], "Error: {bad}: field 'text': no record has this field"),
])
def test_usage_and_input_errors_exit_2_without_traceback(write_jsonl, args, message):
    data = write_jsonl(CLEAN)
    bad = write_jsonl([{"body": "x"}], "bad.jsonl")
    args = [a.format(data=data, bad=bad) for a in args]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert message.format(bad=bad) in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_debug_shows_the_exception(write_jsonl):
    result = CliRunner().invoke(cli, ["--debug", "audit", "missing.jsonl"])
    assert result.exit_code == 1 and type(result.exception).__name__ == "InputError"


def test_init_writes_a_valid_commented_config(write_jsonl, tmp_path):
    path = write_jsonl([{"messages": [{"role": "user", "content": "hi"},
                                      {"role": "assistant", "content": "yo"}],
                         "intent": "greet", "uid": "1"}])
    result = run("init", path)
    assert result.exit_code == 0, result.output
    text = (tmp_path / "dqaudit.yaml").read_text()
    assert "# " in text
    fields = yaml.safe_load(text)["fields"]
    assert fields["text"] == "messages[user]" and fields["output"] == "messages[assistant]"
    assert fields["label"] == "intent" and fields["id"] == "uid"
    load_config(tmp_path / "dqaudit.yaml")
    again = run("init", path)
    assert again.exit_code == 2 and "already exists" in again.stderr


def test_checks_lists_every_checker_with_keys():
    result = run("checks", "--json")
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert {"schema", "duplicates", "balance", "text_quality"} <= set(rows)
    assert "max_conflicting_share" in rows["duplicates"]["config"]
    assert run("checks").exit_code == 0


def test_installed_entry_point_runs(write_jsonl, tmp_path):
    exe = shutil.which("dqaudit") or str(Path(sys.executable).parent / "dqaudit")
    path = write_jsonl(CLEAN)
    done = subprocess.run([exe, "audit", str(path), "--checks", "balance", "--json", "-q"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["verdict"] == "READY"
    missing = subprocess.run([exe, "audit", "nope.jsonl"], capture_output=True, text=True, cwd=tmp_path,
                             timeout=60)
    assert missing.returncode == 2 and missing.stderr.strip() == "Error: nope.jsonl: no such file"


def test_a_chat_role_typo_is_one_line_and_exit_2(write_jsonl, tmp_path):
    data = write_jsonl([{"messages": [{"role": "user", "content": "hi"},
                                      {"role": "assistant", "content": "hello"}]}])
    config = tmp_path / "typo.yaml"
    config.write_text("fields: {text: 'messages[usr]', output: 'messages[assistant]'}\n", encoding="utf-8")
    result = run("audit", data, "--config", config)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"Error: {data}: field 'messages[usr]': no record has this field "
        "(roles seen in 'messages': assistant, user); "
        "map it with fields.text in dqaudit.yaml"]
