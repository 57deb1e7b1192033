"""A failing audit says why on stderr, even with --quiet; the summary names the --fail-under threshold."""

from __future__ import annotations

from click.testing import CliRunner

from dqaudit.cli import cli

CLEAN = [{"id": str(i), "text": f"please check the status of my request number {i}",
          "label": ["a", "b"][i % 2]}
         for i in range(40)]
CONFLICT = [{"id": "x", "text": "same text", "label": "a"}, {"id": "y", "text": "same text", "label": "b"}]


def audit(path: object, *args: str) -> object:
    return CliRunner().invoke(cli, ["audit", str(path), *args])


def test_fail_under_prints_the_threshold_under_quiet(write_jsonl) -> None:
    path = write_jsonl(CLEAN[:30] + [{"id": "s", "text": "hi", "label": "a"}] * 3)
    result = audit(path, "--checks", "duplicates", "--fail-under", "99.5", "-q")
    assert result.exit_code == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("dqaudit: data is ")
    assert any(line.startswith("- readiness ") and line.endswith(" is under --fail-under 99.5")
               for line in lines)
    assert lines[-1].startswith("report: reports/data-")


def test_summary_states_the_threshold_when_fail_under_fails(write_jsonl) -> None:
    path = write_jsonl(CLEAN[:30] + [{"id": "s", "text": "hi", "label": "a"}] * 3)
    loud = audit(path, "--checks", "duplicates", "--fail-under", "99.5")
    assert loud.exit_code == 1
    assert "FAILED: under --fail-under 99.5" in loud.stdout
    assert "is under --fail-under 99.5" in loud.stderr
    passed = audit(path, "--checks", "duplicates", "--fail-under", "10")
    assert passed.exit_code == 0 and "fail-under" not in passed.stdout + passed.stderr


def test_a_blocking_gate_prints_its_reason_under_quiet(write_jsonl) -> None:
    result = audit(write_jsonl(CLEAN[:10] + CONFLICT), "--checks", "duplicates", "-q")
    assert result.exit_code == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("dqaudit: data is NOT READY (readiness ")
    assert lines[1].startswith("- blocking (duplicates): ") and "conflicting labels" in lines[1]


def test_a_clean_quiet_run_prints_nothing(write_jsonl) -> None:
    result = audit(write_jsonl(CLEAN), "--checks", "duplicates,balance", "-q")
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""
