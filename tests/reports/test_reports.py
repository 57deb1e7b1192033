import json
import os
import stat
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from importlib.resources import files

import jsonschema
from click.testing import CliRunner

from dqaudit import AuditConfig, audit
from dqaudit.cli import cli
from dqaudit.reports import (
    prune_reports,
    render_html,
    render_json,
    render_markdown,
    report_dir,
    write_reports,
)

HOSTILE = [
    {"id": "x1", "text": "<script>alert('pwned')</script> please help", "label": "<b>bold</b>"},
    {"id": "x2", "text": "<script>alert('pwned')</script> please help", "label": "other"},
    {"id": "x3", "text": "=HYPERLINK(\"http://evil\") \x1b[31mred\x1b[0m | pipe", "label": "a"},
    {"id": "x4", "text": "=HYPERLINK(\"http://evil\") \x1b[31mred\x1b[0m | pipe", "label": "b"},
] + [{"id": f"n{i}", "text": f"normal request {i} about my card", "label": "a"} for i in range(10)]


def schema():
    return json.loads(files("dqaudit.reports").joinpath("report.schema.json").read_text())


def test_report_json_matches_schema(write_jsonl):
    result = audit(write_jsonl(HOSTILE + ['{"broken']), AuditConfig())
    report = json.loads(render_json(result))
    jsonschema.validate(report, schema())
    assert report["dataset"]["rows"] == 15 and report["dataset"]["quarantined"] == 1
    assert report["checks"]["duplicates"]["findings"][0]["record_ids"]
    assert set(report["checks"]) >= {"schema", "duplicates", "text_quality", "balance"}


def test_report_is_deterministic_apart_from_run_block(write_jsonl):
    path = write_jsonl(HOSTILE)
    first, second = (json.loads(render_json(audit(path, AuditConfig()))) for _ in range(2))
    first.pop("run"), second.pop("run")
    assert first == second


class _Scripts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts = 0
        self.handlers = []

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        self.handlers += [name for name, _ in attrs if name.startswith("on")]


def test_html_escapes_dataset_text(write_jsonl):
    html = render_html(audit(write_jsonl(HOSTILE), AuditConfig()))
    parser = _Scripts()
    parser.feed(html)
    assert parser.scripts == 0 and parser.handlers == []
    assert "&lt;script&gt;" in html and "<b>bold</b>" not in html
    assert "Content-Security-Policy" in html and "\x1b" not in html
    assert "<svg" in html  # the score chart rendered


def test_markdown_neutralises_formulas_and_markup(write_jsonl):
    md = render_markdown(audit(write_jsonl(HOSTILE), AuditConfig()))
    assert "<script>" not in md and "\x1b" not in md
    assert "| =HYPERLINK" not in md


def test_write_reports_atomically(write_jsonl, tmp_path):
    result = audit(write_jsonl(HOSTILE), AuditConfig())
    written = write_reports(result, tmp_path / "out", ["json", "md", "html"])
    assert sorted(p.name for p in written.values()) == ["records.parquet", "report.html", "report.json",
                                                        "report.md"]
    assert not list((tmp_path / "out").glob(".*tmp"))


def test_reports_get_the_umask_mode_not_0600(write_jsonl, tmp_path):
    result = audit(write_jsonl(HOSTILE), AuditConfig(), checks=["duplicates"])
    old = os.umask(0o022)
    try:
        written = write_reports(result, tmp_path / "out", ["json", "md"])
    finally:
        os.umask(old)
    assert {stat.S_IMODE(p.stat().st_mode) for p in written.values()} == {0o644}


def test_keep_prunes_only_old_folders_dqaudit_wrote(write_jsonl, tmp_path):
    result = audit(write_jsonl(HOSTILE), AuditConfig(), checks=["duplicates"])
    base = tmp_path / "reports"
    folders = [report_dir(base, "data", datetime(2026, 12, day, 2, 30, tzinfo=UTC)) for day in range(1, 6)]
    for folder in folders:
        write_reports(result, folder, ["json", "md"])
    (folders[0] / "notes.txt").write_text("mine", encoding="utf-8")  # a person's file: that folder stays
    other = base / "data-20261130T023000Z"
    other.mkdir()
    (other / "report.json").write_text("{}", encoding="utf-8")  # looks like ours, no marker: stays
    elsewhere = report_dir(base, "bank", datetime(2026, 11, 1, tzinfo=UTC))
    write_reports(replace(result, config=AuditConfig(dataset={"name": "bank"})), elsewhere, ["json"])
    removed = prune_reports(base, "data", keep=2)
    assert sorted(removed) == folders[1:3]
    assert sorted(p.name for p in base.iterdir()) == sorted(
        [folders[0].name, other.name, elsewhere.name, folders[3].name, folders[4].name])
    assert (folders[0] / "notes.txt").exists() and (folders[0] / "report.json").exists()


def test_keep_from_the_command_line(write_jsonl, tmp_path):
    path = write_jsonl(HOSTILE[4:])
    for _ in range(3):
        assert CliRunner().invoke(cli, ["audit", str(path), "--checks", "duplicates", "-q",
                                        "--keep", "2"]).exit_code == 0
    assert len(list((tmp_path / "reports").iterdir())) == 2


def test_every_report_says_at_the_top_which_checks_did_not_run(write_jsonl):
    from rich.console import Console

    from dqaudit.terminal import print_summary

    result = audit(write_jsonl([{"id": str(i), "text": f"request number {i}"} for i in range(5)]),
                   AuditConfig(), checks=["duplicates", "balance", "label_variants", "conflicting_outputs"])
    markdown = render_markdown(result)
    top = markdown.split("| check |")[0]
    assert "- balance, label_variants: the dataset has no labels" in top
    assert "- conflicting_outputs: no outputs: set fields.output" in top
    html = render_html(result)
    assert html.index("<b>balance</b> (skipped): the dataset has no labels") < html.index("<h2>Scores</h2>")
    console = Console(record=True, width=200)
    print_summary(result, console)
    text = console.export_text()
    assert "NOT RUN balance, label_variants: the dataset has no labels" in text
    assert text.index("NOT RUN") < text.index("check ")
