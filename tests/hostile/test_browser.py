"""The HTML report of a hostile dataset, opened in a real browser (headless Chromium).

Parsing the HTML (test_corpus) proves the markup is escaped; this proves the result in
the engine that matters: no script from the data ran (the payloads would retitle the
page), nothing was fetched (every payload URL points at a local server that counts
requests), and the charts rendered (SVG bars with a size in the live DOM).
"""

from __future__ import annotations

import http.server
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from dqaudit.cli import cli

from .cases import MARK, filler, jsonl

BROWSER = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None
)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        BROWSER is None,
        reason="chromium is not installed (.ci/run installs Debian's chromium package when it can)",
    ),
]


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        _Counter.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"document.title='" + MARK.encode() + b"'")

    def log_message(self, *args: object) -> None:
        """Silence the per-request log line."""


@pytest.fixture
def trap() -> Iterator[str]:
    """A local server that every payload points at; any request it receives is a leak."""
    _Counter.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _payloads(url: str) -> list[str]:
    return [
        f"<script>document.title='{MARK}'</script>",
        f"<script src='{url}/script.js'></script>",
        f"<img src='{url}/img.png' onerror=\"document.title='{MARK}'\">",
        f"</pre></td></table><svg onload=\"document.title='{MARK}'\"><image href='{url}/svg.png'/></svg>",
        f"<iframe src='{url}/frame'></iframe><object data='{url}/object'></object>",
        f"<link rel=stylesheet href='{url}/style.css'><style>@import '{url}/import.css';</style>",
        f"<meta http-equiv='refresh' content='0;url={url}/refresh'>",
        f"<base href='{url}/'><a href='javascript:document.title=\"{MARK}\"'>x</a>",
        f"]]></text><foreignObject><body onload=\"document.title='{MARK}'\"></body></foreignObject>",
    ]


def _report(tmp_path: Path, url: str) -> Path:
    records = filler(20)
    for i, payload in enumerate(_payloads(url)):
        records += [
            {"id": f"p{i}", "text": f"{payload} help {i}", "label": payload},
            {"id": f"p{i}b", "text": f"{payload} help {i}", "label": "billing"},
        ]
    data = jsonl(tmp_path, records)
    result = CliRunner().invoke(
        cli, ["audit", str(data.data), "--out", str(tmp_path / "r"), "--no-cache", "-q"]
    )
    assert result.exit_code in (0, 1), result.output
    (html,) = (tmp_path / "r").glob("*/report.html")
    return html


def _chromium(page: Path, profile: Path, *flags: str) -> str:
    args = [
        BROWSER,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=3000",
        *flags,
        page.as_uri(),
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_no_data_script_runs_and_nothing_is_fetched(tmp_path: Path, trap: str) -> None:
    html = _report(tmp_path, trap)
    dom = _chromium(html, tmp_path / "profile", "--dump-dom")
    title = re.search(r"<title>(.*?)</title>", dom, re.S)
    assert title and MARK not in title.group(1) and title.group(1).startswith("dqaudit report")
    assert "<script" not in dom.lower() and "<iframe" not in dom.lower() and "<img" not in dom.lower()
    assert _Counter.hits == []
    charts = re.findall(r"<svg class=\"chart\"[^>]*>.*?</svg>", dom, re.S)
    bars = [float(w) for chart in charts for w in re.findall(r"<rect [^>]*width=\"([\d.]+)\"", chart)]
    assert charts and any(w > 1 for w in bars), "the charts did not render"


def test_the_charts_paint(tmp_path: Path, trap: str) -> None:
    """A screenshot of the report is not blank: the score chart's bars are painted in their colours."""
    html = _report(tmp_path, trap)
    shot = tmp_path / "shot.png"
    _chromium(
        html, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1200,900", "--hide-scrollbars"
    )
    assert shot.stat().st_size > 5000 and _Counter.hits == []


def test_the_trap_would_catch_a_leak(tmp_path: Path, trap: str) -> None:
    """Control: a page that does interpolate a payload raw is caught by both signals."""
    page = tmp_path / "leaky.html"
    page.write_text(
        f"<html><head><title>t</title></head><body>{_payloads(trap)[0]}"
        f"<img src='{trap}/img.png'></body></html>",
        encoding="utf-8",
    )
    dom = _chromium(page, tmp_path / "profile", "--dump-dom")
    assert MARK in dom and _Counter.hits
