"""Every error is one line on stderr with exit code 2, whatever the data put in it (issue 20)."""

import json

from click.testing import CliRunner

from dqaudit.cli import cli


def test_a_data_key_with_a_newline_gives_a_one_line_error(write_jsonl, tmp_path):
    source = write_jsonl([{"id": "1", "bo\ndy\r\nx": "hello"}, {"id": "2", "bo\ndy\r\nx": "there"}])
    result = CliRunner().invoke(cli, ["audit", str(source), "--out", str(tmp_path / "r"), "--no-cache"])
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and "no record has this field" in result.stderr


def test_config_error_quoting_data_stays_on_one_line(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"id": "1", "text": "x"}) + "\n")
    (tmp_path / "dqaudit.yaml").write_text('fields:\n  text: "a\\nb\\u001b]0;t\\u0007"\n')
    result = CliRunner().invoke(cli, ["audit", str(data), "--config", str(tmp_path / "dqaudit.yaml"),
                                      "--no-cache", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and "\x1b" not in result.stderr
