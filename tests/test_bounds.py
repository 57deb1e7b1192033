"""Bounded work and validated arguments:
nothing hangs, nothing runs unbounded, bad values are exit 2 (issue 20)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from dqaudit.api import audit
from dqaudit.checkers.stale_policy import StalePolicyChecker
from dqaudit.cli import cli
from dqaudit.config import AuditConfig
from dqaudit.errors import ConfigError
from dqaudit.policies import unsafe_pattern
from dqaudit.registry import load_config


def _policies(tmp_path: Path, pattern: str, budget: float | None = None) -> AuditConfig:
    path = tmp_path / "policies.yaml"
    path.write_text("policies:\n  - id: p1\n    effective_from: 2024-01-01\n    superseded:\n"
                    f"      patterns: [{json.dumps(pattern)}]\n")
    settings = {"policies": str(path), **({"pattern_budget": budget, "pattern_timeout": 0.5}
                                          if budget else {})}
    return AuditConfig(cache={"enabled": False}).with_check("stale_policy", **settings)


def test_a_slow_pattern_under_the_per_match_timeout_is_stopped_by_its_budget(write_jsonl, tmp_path):
    """The probe: (a|aa)+$ at ~25 ms a record stayed under the 50 ms timeout; 3,000 rows took 190 s."""
    rows = [{"id": f"a{i}", "text": "a" * 20 + "b", "label": "x"} for i in range(3000)]  # ~15 ms each
    config = _policies(tmp_path, "(a|aa)+$", budget=1.0)
    began = time.perf_counter()
    result = audit(write_jsonl(rows), config, checks=["stale_policy"]).check("stale_policy")
    assert time.perf_counter() - began < 20
    kinds = {f.kind for f in result.findings}
    assert "pattern_budget" in kinds, [f.message for f in result.findings]
    budget = next(f for f in result.findings if f.kind == "pattern_budget")
    assert "budget" in budget.message and "(a|aa)+$" in budget.message


@pytest.mark.parametrize("pattern", [r"(a+)+$", r"(\w+\s?)*x", r"(?:x*y*)+z", r"(a{1,9}){2,}"])
def test_nested_quantifiers_are_caught_before_they_run(pattern):
    assert unsafe_pattern(pattern)


@pytest.mark.parametrize("pattern", [r"refund within \d+ days", r"(?:fee|charge)s?", r"(ab)+", r"\w+@\w+"])
def test_ordinary_patterns_pass_the_pre_check(pattern):
    assert unsafe_pattern(pattern) is None


def test_an_unsafe_pattern_is_reported_and_not_run(write_jsonl, tmp_path, monkeypatch):
    rows = [{"id": "a", "text": "a" * 30 + "!", "label": "x"}, {"id": "b", "text": "fine", "label": "y"}]
    result = audit(write_jsonl(rows), _policies(tmp_path, "(a+)+$"),
                   checks=["stale_policy"]).check("stale_policy")
    unsafe = [f for f in result.findings if f.kind == "pattern_unsafe"]
    assert unsafe and "nested quantifier" in unsafe[0].message


def _deep_yaml(depth: int) -> str:
    return "a: " + "[" * depth + "]" * depth + "\n"


def test_deep_yaml_config_is_one_line_exit_2(write_jsonl, tmp_path):
    (tmp_path / "dqaudit.yaml").write_text(_deep_yaml(20_000))
    with pytest.raises(ConfigError, match="nested deeper than"):
        load_config(tmp_path / "dqaudit.yaml")
    source = write_jsonl([{"id": "1", "text": "hello there", "label": "a"}])
    result = CliRunner().invoke(cli, ["audit", str(source), "--config", str(tmp_path / "dqaudit.yaml")])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1, result.output
    assert "dqaudit.yaml" in result.stderr and "nested deeper than" in result.stderr


def test_deep_policies_yaml_is_exit_2_not_a_crashed_check(write_jsonl, tmp_path):
    (tmp_path / "policies.yaml").write_text("policies: " + "[" * 20_000 + "]" * 20_000 + "\n")
    source = write_jsonl([{"id": "1", "text": "hello there", "label": "a"}])
    result = CliRunner().invoke(cli, ["audit", str(source), "--policies", str(tmp_path / "policies.yaml"),
                                      "--checks", "stale_policy", "--no-cache"])
    assert result.exit_code == 2, result.output
    assert "policies.yaml" in result.stderr and "nested deeper than" in result.stderr


def test_a_check_over_its_time_budget_becomes_a_check_error(write_jsonl, tmp_path, monkeypatch):
    def slow(self, ctx):
        time.sleep(30)

    monkeypatch.setattr(StalePolicyChecker, "check", slow)
    source = write_jsonl([{"id": "1", "text": "hello there", "label": "a"}])
    (tmp_path / "p.yaml").write_text("policies: []\n")
    began = time.perf_counter()
    result = CliRunner().invoke(cli, ["audit", str(source), "--checks", "stale_policy,balance", "--no-cache",
                                      "--max-seconds", "3", "--json", "-q", "--policies",
                                      str(tmp_path / "p.yaml")])
    assert time.perf_counter() - began < 25
    report = json.loads(result.stdout)
    assert report["checks"]["stale_policy"]["status"] == "error"
    assert ("3s" in report["checks"]["stale_policy"]["error"]
            and report["checks"]["balance"]["status"] != "error")


@pytest.mark.parametrize("args", [
    ["--seed", "-1"], ["--seed", str(2**32)], ["--ratios", "nan,0.5,0.5"], ["--ratios", "inf,-inf,1"],
    ["--ratios", "0.8,0.1,0.10001"],
])
def test_bad_seeds_and_ratios_are_one_line_exit_2(write_jsonl, tmp_path, args):
    source = write_jsonl([{"id": str(i), "text": f"text {i}", "label": "a"} for i in range(10)])
    result = CliRunner().invoke(cli, ["split", str(source), "--out", str(tmp_path / "o"), "--no-cache",
                                      "--checks", "duplicates", *args])
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args", [["--seed", "-5"], ["--fail-under", "nan"], ["--seed", "99999999999"]])
def test_bad_audit_arguments_are_one_line_exit_2(write_jsonl, tmp_path, args):
    source = write_jsonl([{"id": str(i), "text": f"text {i}", "label": "a"} for i in range(10)])
    result = CliRunner().invoke(cli, ["audit", str(source), "--out", str(tmp_path / "r"), "--no-cache",
                                      *args])
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_seed_in_the_config_is_bounded(tmp_path):
    (tmp_path / "dqaudit.yaml").write_text(f"seed: {2**32}\n")
    with pytest.raises(ConfigError, match="seed"):
        load_config(tmp_path / "dqaudit.yaml")
