"""report.html as a person sees it: the top of the page in headless Chromium.

The first screen must hold the verdict, why it is blocked, what did not run and what to fix
first; the checks follow collapsed, so a report with dozens of findings stays a few pages long.
Skipped without Chromium (CI installs Debian's chromium package when it can).
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dqaudit.cli import cli

BROWSER = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(n)), None)
pytestmark = [pytest.mark.slow, pytest.mark.skipif(BROWSER is None, reason="chromium is not installed")]

# verdict/gate, "did not run" bar, table head
RED, GREY, HEADER = (220, 38, 38), (156, 163, 175), (243, 244, 246)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A blocked audit with a skipped check and 40 findings of one check."""
    folder = tmp_path_factory.mktemp("browser")
    rows = [f'{{"id": "u{i}", "text": "distinct request number {i} about my card", "label": "l{i % 3}"}}'
            for i in range(60)]
    rows += [f'{{"id": "d{i}-{k}", "text": "duplicated request {i} about a transfer", "label": "l{i % 3}"}}'
             for i in range(40) for k in range(2)]
    rows += [f'{{"id": "c{i}-{k}", "text": "conflicting request {i}", "label": "l{k}"}}' for i in range(6)
             for k in range(2)]
    (folder / "data.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["audit", str(folder / "data.jsonl"), "--out", str(folder / "r"),
                                      "--no-cache", "--checks", "duplicates,contamination,balance", "-q"])
    assert result.exit_code == 1, result.output  # the conflicting copies block
    (html,) = (folder / "r").glob("*/report.html")
    return html


def chromium(page: Path, profile: Path, *flags: str) -> str:
    done = subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={profile}", *flags, page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def png_pixels(path: Path) -> np.ndarray:
    """RGB pixels of an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        header, idat = (body, idat) if kind == b"IHDR" else (header, idat + body if kind == b"IDAT" else idat)
        pos += 12 + length
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and color in (2, 6) and interlace == 0
    bpp = 3 if color == 2 else 4
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, 1 + width * bpp)
    out = np.zeros((height, width * bpp), dtype=np.int32)
    prev = np.zeros(width * bpp, dtype=np.int32)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if kind in (0, 2):
            row = (line + (prev if kind == 2 else 0)) % 256
        else:  # Sub, Average, Paeth: each byte depends on the one bpp to its left
            row = np.zeros_like(line)
            for x in range(len(line)):
                left = row[x - bpp] if x >= bpp else 0
                up, corner = prev[x], (prev[x - bpp] if x >= bpp else 0)
                if kind == 1:
                    guess = left
                elif kind == 3:
                    guess = (left + up) // 2
                else:
                    p = left + up - corner
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                    guess = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                row[x] = (line[x] + guess) % 256
        out[y], prev = row, row
    return out.reshape(height, width, bpp)[:, :, :3]


def count(pixels: np.ndarray, rgb: tuple[int, int, int]) -> int:
    return int((np.abs(pixels - np.array(rgb)).sum(axis=2) <= 6).sum())


def test_the_first_screen_holds_the_verdict_the_blocking_reason_what_did_not_run_and_what_to_fix(
        report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "top.png"
    chromium(report, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1200,800",
             "--hide-scrollbars")
    top = png_pixels(shot)
    assert top.shape[:2] == (800, 1200)
    upper = top[:400]
    assert count(upper, RED) > 500, "the NOT READY badge and the blocking bar are not near the top"
    assert count(upper, GREY) > 50, "the 'did not run' bar is not near the top"
    assert count(top, HEADER) > 5000, "the fix-first table is not on the first screen"
    dom = chromium(report, tmp_path / "profile", "--dump-dom")
    marks = [dom.find(m) for m in ('id="verdict"', 'id="blocking"', 'id="not-run"', 'id="fix-first"',
                                   'id="chart-scores"', 'class="check"')]
    assert -1 not in marks and marks == sorted(marks)
    assert re.search(r'id="not-run".*?contamination</b> \(skipped\)', dom, re.S)


def test_checks_are_collapsed_sections_and_the_page_stays_short(report: Path, tmp_path: Path) -> None:
    dom = chromium(report, tmp_path / "profile", "--dump-dom")
    sections = re.findall(r'<details class="check" id="check-(\w+)"( open="")?>', dom)
    assert [name for name, _ in sections] == ["duplicates", "contamination", "balance"]
    assert dict(sections)["duplicates"] and not dict(sections)["balance"]  # blocking: open; clean: collapsed
    assert "46 findings" in dom and "41 more findings" in dom  # 5 shown, the rest folded
    pdf = tmp_path / "page.pdf"
    chromium(report, tmp_path / "profile", f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))
    assert 1 <= pages <= 3, f"{pages} printed pages"
    assert "<script" not in dom.lower()
