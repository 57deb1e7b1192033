import json
from html.parser import HTMLParser
from importlib.resources import files

import jsonschema

from dqaudit import AuditConfig, audit
from dqaudit.reports import render_html, render_json, render_markdown, write_reports

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
    assert sorted(p.name for p in written.values()) == ["report.html", "report.json", "report.md"]
    assert not list((tmp_path / "out").glob(".*tmp"))
