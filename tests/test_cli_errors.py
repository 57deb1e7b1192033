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


def test_a_file_name_that_is_not_utf8_is_audited_and_shown_safely(tmp_path):
    import os

    name = os.fsdecode(b"bad\xff\x1b]0;pwn\x07name.jsonl")
    path = tmp_path / name
    path.write_text("".join(json.dumps({"id": str(i), "text": f"hello number {i} here", "label": "ab"[i % 2]})
                            + "\n" for i in range(20)))
    result = CliRunner().invoke(cli, ["audit", str(path), "--no-cache", "--checks", "schema,duplicates",
                                      "--out", str(tmp_path / "r"), "--json", "--history",
                                      str(tmp_path / "h.db")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert "\ufffd" in report["dataset"]["path"] and "\x1b" not in result.output
    split = CliRunner().invoke(cli, ["split", str(path), "--no-cache", "--checks", "duplicates",
                                     "--out", str(tmp_path / "o")])
    assert split.exit_code == 0, split.output
    assert "\ufffd" in json.loads((tmp_path / "o" / "manifest.json").read_text())["input"]["file"]
