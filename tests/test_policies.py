"""policies.yaml: the issue's shape loads, every mistake is one line naming file, key, line (and policy)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from dqaudit.cli import cli
from dqaudit.errors import ConfigError
from dqaudit.policies import (
    STARTER_POLICIES,
    NumberInContext,
    load_policies,
    number_regex,
    parse_policies,
    parse_version,
    phrase_regex,
)

ISSUE_SHAPE = """\
policies:
  - id: refund-window-2025
    effective_from: 2025-03-01
    superseded:
      phrases: ["refund within 14 days"]          # case-insensitive substring
      patterns: ['\\b14[- ]day refund']           # regular expressions
    current: ["refund within 30 days"]            # optional: what replaced it (shown in findings)
    min_policy_version: 3                         # optional: records with a lower policy_version are stale
    labels: [request_refund]                      # optional
"""


def write(text: str, name: str = "policies.yaml") -> Path:
    path = Path(name)
    path.write_text(text, encoding="utf-8")
    return path


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_policies(write(text))
    return str(info.value)


def test_issue_shape_loads() -> None:
    [policy] = load_policies(write(ISSUE_SHAPE))
    assert policy.id == "refund-window-2025"
    assert [(t.reason, t.source) for t in policy.terms] == [
        ("phrase", "refund within 14 days"), ("pattern", r"\b14[- ]day refund")]
    assert policy.min_version == (3,)
    assert policy.policy.labels == ["request_refund"]
    assert policy.policy.effective_from.isoformat() == "2025-03-01"
    assert policy.terms[1].regex.search("a 14-Day Refund is possible")


def test_unknown_key_names_file_key_line_and_policy() -> None:
    message = error_of(ISSUE_SHAPE.replace("    superseded:", "    superseeded:"))
    assert message.startswith("policies.yaml:4: policies[0].superseeded: unknown key")
    assert "refund-window-2025" in message


def test_bad_regex_names_policy_and_line() -> None:
    message = error_of(ISSUE_SHAPE.replace(r"'\b14[- ]day refund'", "'(unclosed'"))
    assert message.startswith(
        "policies.yaml:6: policy 'refund-window-2025': pattern '(unclosed' does not compile")


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("effective_from: 2025-03-01", "effective_from: 2025-13-45",
     "policies.yaml:3: invalid YAML: invalid date"),
    ("effective_from: 2025-03-01", "effective_from: soon", "policies.yaml:3: policies[0].effective_from"),
    ("    effective_from: 2025-03-01\n", "", "policies.yaml:2: policies[0].effective_from: Field required"),
    ("min_policy_version: 3", "min_policy_version: three", "is not a version like 3 or 2.1"),
    ("id: refund-window-2025", "id: 'refund window'", "policies.yaml:2: policies[0].id"),
    ('phrases: ["refund within 14 days"]', 'phrases: [""]',
     "policies.yaml:5: policies[0].superseded.phrases[0]"),
    ("labels: [request_refund]", "labels: {a: 1}", "policies.yaml:9: policies[0].labels"),
])
def test_invalid_values_are_one_line_errors(old: str, new: str, expected: str) -> None:
    message = error_of(ISSUE_SHAPE.replace(old, new))
    assert expected in message and "\n" not in message


def test_duplicate_ids_and_empty_policies_are_errors() -> None:
    body = ISSUE_SHAPE.split("\n", 1)[1]
    assert "policy id 'refund-window-2025' is used twice" in error_of("policies:\n" + body + body)
    assert "flags nothing" in error_of("policies:\n  - id: p1\n    effective_from: 2025-01-01\n")


@pytest.mark.parametrize(("text", "expected"), [
    ("- just a list\n", "must be a mapping with a 'policies' list"),
    ("policies: &a [1]\nagain: *a\n", "aliases"),
    ("policies: !!python/object/apply:os.system ['true']\n", "invalid YAML"),
    ("policies: [\n", "invalid YAML"),
    ("rules: []\n", "policies: Field required"),
])
def test_malformed_files_are_refused(text: str, expected: str) -> None:
    assert expected in error_of(text)


def test_numbers_in_yaml_become_strings() -> None:
    [policy] = load_policies(write(ISSUE_SHAPE.replace("[request_refund]", "[7, request_refund]")
                                   .replace("min_policy_version: 3", "min_policy_version: 2.1")))
    assert policy.policy.labels == ["7", "request_refund"]
    assert policy.min_version == (2, 1)
    assert NumberInContext(value=14.0, near=["days"]).value == "14"
    assert NumberInContext(value=0.5, near=["fee"]).value == "0.5"


@pytest.mark.parametrize(("raw", "parsed"), [
    ("3", (3,)), ("v3", (3,)), (" V3.0 ", (3,)), ("2.1", (2, 1)), ("10", (10,)), ("three", None), ("", None),
    ("3-beta", None),
])
def test_parse_version(raw: str, parsed: tuple[int, ...] | None) -> None:
    assert parse_version(raw) == parsed


def test_versions_compare_numerically() -> None:
    assert parse_version("10") > parse_version("9") > parse_version("2.1") > parse_version("2")  # type: ignore[operator]


@pytest.mark.parametrize(("text", "span"), [
    ("refund within 14 days", "14 days"),
    ("a 14-day refund", "14-day"),
    ("Days to wait: 14", "Days to wait: 14"),
    ("days to wait for it: 14", None),
    ("возврат в течение 14 календарных дней", "14 календарных дней"),
    ("14 күн ішінде қайтарамыз", "14 күн"),
    ("114 days", None),
    ("14.5 days", None),
    ("1,14 days", None),
    ("Monday 14", None),
    ("14 of the next few business days", None),
])
def test_number_in_context(text: str, span: str | None) -> None:
    rule = NumberInContext(value=14, near=["day", "дн", "күн"], window=3)
    match = number_regex(rule).search(text)
    assert (match.group() if match else None) == span


def test_decimal_numbers_match_either_separator() -> None:
    pattern = number_regex(NumberInContext(value="1.5", near=["percent", "процент"], window=1))
    assert pattern.search("fee of 1,5 процента").group() == "1,5 процента"
    assert pattern.search("fee of 11.5 percent") is None


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzабвгдеёжзийклмнопрстуфхцчшщъыьэюяәғқңөұүһі ", min_size=2,
               max_size=30).filter(lambda s: len(s.strip()) >= 2),
       st.text(max_size=20), st.text(max_size=20))
def test_phrase_matches_whatever_case_and_spacing(phrase: str, before: str, after: str) -> None:
    shouted = "  \n".join(phrase.split()).upper()
    assert phrase_regex(phrase).search(f"{before} {shouted} {after}") is not None


def test_starter_file_is_valid_and_its_example_too() -> None:
    assert parse_policies(yaml.safe_load(STARTER_POLICIES)) == []
    _, _, example = STARTER_POLICIES.partition("policies: []\n")
    uncommented = "\n".join(line.removeprefix("# ") for line in example.splitlines())
    [policy] = parse_policies(yaml.safe_load(uncommented))
    assert policy.id == "refund-window-2025" and len(policy.terms) == 4 and policy.policy.superseded.templates


def test_example_file_in_repo_is_valid() -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "policies.yaml"
    assert len(load_policies(example)) >= 2


def test_init_writes_policies_next_to_config_once(write_jsonl) -> None:
    data = write_jsonl([{"id": "1", "text": "hello there", "label": "greet"}])
    runner = CliRunner()
    Path("conf").mkdir()
    result = runner.invoke(cli, ["init", str(data), "-o", "conf/dqaudit.yaml"])
    assert result.exit_code == 0, result.output
    assert "wrote conf/policies.yaml" in result.output
    assert Path("conf/policies.yaml").read_text(encoding="utf-8") == STARTER_POLICIES
    Path("conf/policies.yaml").write_text("policies: []  # mine\n", encoding="utf-8")
    result = runner.invoke(cli, ["init", str(data), "-o", "conf/dqaudit.yaml", "--force"])
    assert result.exit_code == 0 and "policies.yaml" not in result.output
    assert Path("conf/policies.yaml").read_text(encoding="utf-8") == "policies: []  # mine\n"
