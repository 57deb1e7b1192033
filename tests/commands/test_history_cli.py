"""``audit --history``, ``history`` and ``diff`` as a user runs them, and the scheduling examples."""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from dqaudit.cli import cli
from dqaudit.history import SCHEMA_VERSION
from dqaudit.registry import available_checkers

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / "examples" / "github-actions-nightly.yml"
CRON = REPO / "examples" / "nightly.cron"
SCHEMA = REPO / "dqaudit" / "reports" / "report.schema.json"
#: The fast checks only, so each audit takes a second; the nightly logic does not depend on which checks ran.
FAST = ["--checks", "duplicates"]


def rows(n: int = 60) -> list[dict[str, Any]]:
    return [{"id": f"r{i}", "text": f"customer request {i} about the card", "label": f"l{i % 4}"}
            for i in range(n)]


CONFLICT = [{"id": "c1", "text": "my card was stolen", "label": "card_lost"},
            {"id": "c2", "text": "my card was stolen", "label": "card_blocked"}]


def audit(*args: str) -> Any:
    return CliRunner().invoke(cli, ["audit", *args, *FAST, "-q"])


@pytest.fixture
def night(write_jsonl: Callable[..., Path], tmp_path: Path) -> Callable[[list[dict[str, Any]]], Any]:
    """Write the day's data to data.jsonl and audit it with --history --fail-on-regression."""
    (tmp_path / "reports").mkdir()

    def run(records: list[dict[str, Any]]) -> Any:
        write_jsonl(records, "data.jsonl")
        return audit("data.jsonl", "--history", "reports/history.sqlite", "--fail-on-regression")

    return run


def last_report(tmp_path: Path, name: str = "report.json") -> Path:
    return sorted((tmp_path / "reports").glob(f"data-*/{name}"))[-1]


def test_regression_exits_1_with_a_plain_alert_and_the_diff_in_the_reports(night, tmp_path: Path) -> None:
    first = night(rows())
    assert first.exit_code == 0, first.output
    assert first.stdout == "" and first.stderr == ""
    second = night(rows() + CONFLICT)
    assert second.exit_code == 1
    assert second.stdout == ""  # --quiet: the alert alone, on stderr
    alert = second.stderr.splitlines()
    assert alert[0].startswith("dqaudit: 2 regression(s) in data since run 1 (")
    assert re.fullmatch(r"- readiness fell 100 -> 9\d\.\d+ \(-\d\.\d+, limit 2\)", alert[1])
    assert alert[2] == ("- duplicates: 1 new conflicting-label groups (limit 0), e.g. 2 copies of "
                        "“my card was stolen” carry 2 different labels: card_blocked ×1, card_lost ×1")
    assert re.fullmatch(r"report: reports/data-\d{8}T\d{6}Z(-\d+)?/", alert[-1])
    report = json.loads(last_report(tmp_path).read_text(encoding="utf-8"))
    assert report["run"]["history"]["run_id"] == 2
    assert [r["id"] for r in report["run"]["history"]["runs"]] == [1, 2]
    regression = report["run"]["regression"]
    assert [o["rule"] for o in regression["regressions"]] == ["score_drop", "new_conflicting_groups"]
    assert regression["previous_run"]["id"] == 1 and regression["run"]["rows"] == 62
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(report, json.loads(SCHEMA.read_text(encoding="utf-8")))
    html = last_report(tmp_path, "report.html").read_text(encoding="utf-8")
    assert "<h2>Run history</h2>" in html and "<svg" in html and "Changes since run 1" in html


def test_first_run_has_no_diff_and_a_clean_rerun_no_alert(night, tmp_path: Path) -> None:
    assert night(rows()).exit_code == 0
    report = json.loads(last_report(tmp_path).read_text(encoding="utf-8"))
    assert report["run"]["regression"] is None
    again = night(rows() + [{"id": "new", "text": "a fresh question about fees", "label": "l1"}])
    assert again.exit_code == 0 and again.stdout == "" and again.stderr == ""


def test_without_fail_on_regression_the_alert_is_printed_but_the_exit_code_kept(night, write_jsonl) -> None:
    night(rows())
    write_jsonl(rows() + CONFLICT, "data.jsonl")
    result = audit("data.jsonl", "--history", "reports/history.sqlite")
    assert result.exit_code == 0
    assert result.stderr.startswith("dqaudit: 2 regression(s)")


def test_reordered_rows_without_ids_are_not_a_regression(night) -> None:
    records = [{k: v for k, v in r.items() if k != "id"} for r in rows() + CONFLICT]
    assert night(records).exit_code == 0
    reordered = night(records[::-1])
    assert reordered.exit_code == 0 and reordered.stdout == "" and reordered.stderr == ""


def test_fail_on_regression_needs_history() -> None:
    result = audit("data.jsonl", "--fail-on-regression")
    assert result.exit_code == 2
    assert result.stderr == "Error: --fail-on-regression needs --history PATH\n"


@pytest.mark.parametrize(("history", "message"), [
    ("nightly/history.sqlite", "Error: nightly/history.sqlite: folder 'nightly' does not exist; "
                               "create it first (mkdir -p nightly)\n"),
    ("newer.sqlite", f"Error: newer.sqlite: written by a newer dqaudit (history schema "
                     f"v{SCHEMA_VERSION + 1}; dqaudit 0.1.0 reads up to v{SCHEMA_VERSION}); upgrade dqaudit "
                     "to use it\n"),
])
def test_unusable_history_fails_before_the_audit(write_jsonl, tmp_path: Path, history: str,
                                                 message: str) -> None:
    write_jsonl(rows(), "data.jsonl")
    with sqlite3.connect(tmp_path / "newer.sqlite") as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    result = audit("data.jsonl", "--history", history)
    assert result.exit_code == 2
    assert result.stderr == message
    assert not (tmp_path / "reports").exists()


def test_history_and_diff_commands(night) -> None:
    night(rows())
    night(rows() + CONFLICT)
    runner = CliRunner()
    trend = runner.invoke(cli, ["history", "reports/history.sqlite"])
    assert trend.exit_code == 0
    lines = trend.stdout.splitlines()
    assert lines[0].endswith("data.jsonl")
    assert re.search(r"run\s*┃\s*started \(UTC\)\s*┃\s*rows\s*┃\s*readiness\s*┃\s*verdict\s*┃"
                     r"\s*duplicates$", lines[1])
    assert re.match(r"\s*1 │ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d │\s+60 │", lines[3])
    assert re.match(r"\s*2 │ .* │\s+62 │", lines[4])
    as_json = json.loads(runner.invoke(cli, ["history", "reports/history.sqlite", "--json", "-n1"]).stdout)
    assert [r["id"] for r in as_json] == [2] and as_json[0]["rows"] == 62

    diff = runner.invoke(cli, ["diff", "reports/history.sqlite", "--last", "2"])
    assert diff.exit_code == 1
    assert "REGRESSION duplicates: 1 new conflicting-label groups" in diff.stdout
    same = runner.invoke(cli, ["diff", "reports/history.sqlite", "1", "1", "--json"])
    assert same.exit_code == 0 and json.loads(same.stdout)["regressed"] is False
    backwards = json.loads(runner.invoke(cli, ["diff", "reports/history.sqlite", "2", "1", "--json"]).stdout)
    assert backwards["regressed"] is False
    assert {"check": "duplicates", "kind": "conflicting_labels", "before": 1, "after": 0, "new": 0,
            "resolved": 1} in backwards["findings"]


@pytest.mark.parametrize(("args", "message"), [
    (["history", "missing.sqlite"], "Error: missing.sqlite: no history database here; record runs with "
                                    "'dqaudit audit DATA --history missing.sqlite'\n"),
    (["diff", "one.sqlite"], "Error: one.sqlite: 1 run(s) recorded for dataset 'data'; a diff needs two\n"),
    (["diff", "one.sqlite", "1", "7"], "Error: one.sqlite: no run 7 (see 'dqaudit history one.sqlite')\n"),
    (["diff", "one.sqlite", "1"], "Error: give two run ids: BEFORE AFTER\n"),
])
def test_command_errors_are_one_line(write_jsonl, args: list[str], message: str) -> None:
    write_jsonl(rows(), "data.jsonl")
    assert audit("data.jsonl", "--history", "one.sqlite").exit_code == 0
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert result.stderr == message


# --- scheduling examples ------------------------------------------------------------------------------------


def workflow_commands() -> list[str]:
    steps = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["audit"]["steps"]
    return [step["run"] for step in steps if "run" in step and "pip install" not in step["run"]]


def cron_fields(expression: str) -> list[str]:
    fields = expression.split()
    limits = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
    assert len(fields) == 5, expression
    for field, (low, high) in zip(fields, limits, strict=True):
        for part in field.split(","):
            if part != "*":
                assert low <= int(part) <= high, expression
    return fields


def test_workflow_is_a_scheduled_job_that_uploads_the_reports() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as a boolean, as PyYAML does
    cron_fields(triggers["schedule"][0]["cron"])
    steps = workflow["jobs"]["audit"]["steps"]
    uses = {step["uses"].split("@")[0]: step for step in steps if "uses" in step}
    assert all(re.fullmatch(r"[\w-]+/[\w/-]+@v\d+", step["uses"]) for step in steps if "uses" in step)
    upload = uses["actions/upload-artifact"]
    assert upload["if"] == "always()" and upload["with"]["path"] == "reports/"
    assert uses["actions/cache/save"]["if"] == "always()"
    assert "reports/history.sqlite" in uses["actions/cache/restore"]["with"]["path"]


def test_workflow_and_cron_commands_parse_as_dqaudit_commands() -> None:
    lines = [line for run in workflow_commands() for line in run.splitlines()]
    cron = [line for line in CRON.read_text(encoding="utf-8").splitlines() if line and line[0].isdigit()]
    assert len(cron) == 1
    cron_fields(" ".join(cron[0].split()[:5]))
    lines += cron[0].split(None, 5)[5].split("&&")
    invocations = [shlex.split(re.split(r"\d?>|\|", line)[0]) for line in lines
                   if line.strip().startswith("dqaudit")]
    assert {args[1] for args in invocations} == {"audit", "history"}
    for args in invocations:
        ctx = cli.make_context("dqaudit", args[1:2])
        command = cli.get_command(ctx, args[1])
        assert command is not None
        command.make_context(args[1], args[2:])  # raises on an unknown option or a bad value


@pytest.mark.slow
def test_workflow_steps_run_two_nights_and_the_second_fails_on_a_regression(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}
    slow = [name for name in available_checkers() if name != "duplicates"]
    (tmp_path / "dqaudit.yaml").write_text(
        "checks:\n" + "".join(f"  {name}:\n    enabled: false\n" for name in slow), encoding="utf-8")
    (tmp_path / "data").mkdir()
    codes = []
    for records in (rows(), rows() + CONFLICT):
        (tmp_path / "data" / "bank_support.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        steps = [subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=300)
                 for script in workflow_commands()]
        codes.append([step.returncode for step in steps])
    assert codes == [[0, 0], [1, 0]], steps[0].stderr
    alert = (tmp_path / "reports" / "alert.txt").read_text(encoding="utf-8")
    assert alert.startswith("dqaudit: 2 regression(s) in bank_support since run 1")
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert summary.count("```") == 4 and "1 new conflicting-label groups" in summary


# --- nightly runs tied by name -----------------------------------------------------------------------------


def nightly_file(write_jsonl: Callable[..., Path], day: int, records: list[dict[str, Any]]) -> str:
    return write_jsonl(records, f"requests-2026-12-0{day}.jsonl").name


def test_dated_files_named_alike_regress_on_day_3_and_say_why_under_quiet(write_jsonl,
                                                                          tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    days = [rows(), rows() + [{"id": "n1", "text": "a fresh question about fees", "label": "l1"}],
            rows() + CONFLICT]
    results = [audit(nightly_file(write_jsonl, day, records), "--name", "requests", "--history",
                     "reports/history.sqlite", "--fail-on-regression") for day, records in enumerate(days, 1)]
    assert [r.exit_code for r in results] == [0, 0, 1]
    assert [r.stdout for r in results] == ["", "", ""] and results[1].stderr == ""
    alert = results[2].stderr.splitlines()
    assert alert[0].startswith("dqaudit: 2 regression(s) in requests since run 2 (")
    assert "card_blocked ×1, card_lost ×1" in alert[2]
    assert sorted(p.name[:9] for p in (tmp_path / "reports").glob("requests-*")) == ["requests-"] * 3
    report = json.loads(sorted((tmp_path / "reports").glob("requests-*/report.json"))[-1].read_text("utf-8"))
    assert report["dataset"]["name"] == "requests" and report["dataset"]["path"].endswith("-03.jsonl")

    diff = CliRunner().invoke(cli, ["diff", "reports/history.sqlite"])
    assert diff.exit_code == 1
    said = " ".join(diff.stdout.split())  # rich wraps at the test terminal's width
    assert "requests: run 2 (" in said
    assert ("REGRESSION duplicates: 1 new conflicting-label groups (limit 0), e.g. 2 copies of “my card was "
            "stolen” carry 2 different labels: card_blocked ×1, card_lost ×1") in said
    trend = CliRunner().invoke(cli, ["history", "reports/history.sqlite", "--name", "requests", "--json"])
    assert [r["name"] for r in json.loads(trend.stdout)] == ["requests"] * 3


def test_without_a_name_dated_files_are_different_datasets(write_jsonl) -> None:
    for day, records in ((1, rows()), (2, rows() + CONFLICT)):
        result = audit(nightly_file(write_jsonl, day, records), "--history", "h.sqlite",
                       "--fail-on-regression")
    assert result.exit_code == 0 and "regression" not in result.stderr
    diff = CliRunner().invoke(cli, ["diff", "h.sqlite"])
    assert diff.exit_code == 2 and "1 run(s) recorded for dataset 'requests-2026-12-02'" in diff.stderr


def test_dataset_name_in_the_config_names_the_runs(write_jsonl, tmp_path: Path) -> None:
    (tmp_path / "dqaudit.yaml").write_text("dataset:\n  name: bank\n", encoding="utf-8")
    assert audit(write_jsonl(rows()).name, "--history", "h.sqlite").exit_code == 0
    (folder,) = (tmp_path / "reports").iterdir()
    assert folder.name.startswith("bank-")
    runs = json.loads(CliRunner().invoke(cli, ["history", "h.sqlite", "--json"]).stdout)
    assert [r["name"] for r in runs] == ["bank"]


@pytest.mark.parametrize("name", ["../up", ".hidden", "a/b", "", "x" * 101])
def test_a_bad_name_is_a_usage_error(write_jsonl, name: str) -> None:
    result = audit(write_jsonl(rows()).name, "--name", name)
    assert result.exit_code == 2 and "is not a dataset name" in result.stderr
    assert "Traceback" not in result.output


def test_report_md_states_the_regression(night, tmp_path: Path) -> None:
    night(rows())
    night(rows() + CONFLICT)
    markdown = last_report(tmp_path, "report.md").read_text(encoding="utf-8")
    assert "**Regressed since run 1 (" in markdown
    assert "- duplicates: 1 new conflicting-label groups (limit 0)" in markdown
