"""Run one hostile case through ``dqaudit audit`` and inspect everything it wrote.

The checks here apply to every case, whatever it expects: no traceback, every input
row loaded or quarantined, and no dataset text that reaches the terminal, the HTML
report or the Markdown report in a form that could act (escape sequences, elements
or attributes that run code or fetch, cells that a spreadsheet evaluates).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
from click.testing import CliRunner

from dqaudit.cli import cli
from dqaudit.registry import available_checkers

from .cases import MARK, Case, Setup

#: Characters that steer a terminal: C0 (but tab and newline), DEL, C1, bidi overrides and isolates.
TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: Every element the report template and the SVG charts use; anything else came from data.
HTML_TAGS = frozenset(
    "html head meta title style body main h1 h2 h3 h4 div span p b i em strong small code sub "
    "sup br hr ul ol li table thead tbody tr th td details summary pre svg g text tspan rect "
    "line polyline polygon path circle".split()
)
_FORMULA = re.compile(r"^[=+\-@\t\r]")
_NUMBER_OR_RULE = re.compile(r"^(?:[+-]?\d[\d.,]*%?|:?-{3,}:?)$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
#: Left out unless a case asks for every checker: cross-validated training costs seconds even on 20 rows.
SLOW_CHECKS = ("label_noise",)


@dataclass
class Outcome:
    """What one run did, as the table in docs/hostile.md reports it."""

    exit_code: int
    seconds: float
    traceback: bool
    error: str
    rows_in: int
    rows: int | None = None
    loaded: int | None = None
    quarantined: int | None = None
    kinds: set[str] = field(default_factory=set)
    messages: list[str] = field(default_factory=list)
    unsafe: list[str] = field(default_factory=list)
    skipped: str | None = None  # a scenario this machine cannot stage (mounting a tmpfs)

    @property
    def lost(self) -> int:
        """Input rows neither loaded nor quarantined (0 when the run stopped with a clear error)."""
        if self.loaded is None or self.quarantined is None:
            return 0
        return self.rows_in - self.loaded - self.quarantined


def run_case(case: Case, workdir: Path) -> tuple[Setup, Outcome]:
    """Build the case in ``workdir`` and audit it in-process (as the console script would)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if case.run is not None:
        return _run_scenario(case, workdir)
    with contextlib.chdir(workdir):  # no stray ./dqaudit.yaml or cache is picked up
        setup = case.build(workdir)
        out = workdir / "reports"
        args = ["audit", str(setup.data), "--out", str(out), "--no-cache", *setup.args]
        if not case.all_checks and "--checks" not in args:
            args += ["--checks", ",".join(c for c in available_checkers() if c not in SLOW_CHECKS)]
        began = time.perf_counter()
        result = CliRunner().invoke(cli, args)
        seconds = time.perf_counter() - began
    text = result.stdout + result.stderr
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    error = next((line for line in result.stderr.splitlines() if line.startswith("Error:")), "")
    outcome = Outcome(result.exit_code, seconds, crashed or "Traceback" in text, error, setup.rows)
    if crashed:
        outcome.error = f"{type(result.exception).__name__}: {result.exception}"
    outcome.unsafe += terminal_problems(text)
    reports = sorted(out.glob("*/report.json")) if out.is_dir() else []
    if reports:
        _read_reports(reports[-1].parent, outcome)
    if "no_file_created" in case.extra and (workdir / MARK).exists():
        outcome.unsafe.append("the config's !!python tag ran a command")
    return setup, outcome


def _run_scenario(case: Case, workdir: Path) -> tuple[Setup, Outcome]:
    """A scenario case: its own commands, then the same checks on what it printed and wrote.

    A scenario returns a :class:`~tests.hostile.scenarios.Ran`: the exit code and output of its
    deciding command, the problems it saw itself (a foreign file touched, raw personal data in an
    output, a leftover folder), and where its report or export is, to be read like an audit's.
    """
    with contextlib.chdir(workdir):
        setup = case.build(workdir)
        began = time.perf_counter()
        ran = case.run(workdir, setup)
        seconds = time.perf_counter() - began
    if ran.skipped is not None:
        outcome = Outcome(case.expect.exit, seconds, False, "", setup.rows, skipped=ran.skipped)
        return setup, outcome
    text = ran.stdout + ran.stderr
    crashed = ran.exception is not None and not isinstance(ran.exception, SystemExit)
    error = next((line for line in ran.stderr.splitlines() if line.startswith("Error:")), "")
    outcome = Outcome(ran.exit_code, seconds, crashed or "Traceback" in text, error, setup.rows)
    if crashed:
        outcome.error = f"{type(ran.exception).__name__}: {ran.exception}"
    if ran.exit_code == 2 and len(ran.stderr.strip().splitlines()) > 1:
        outcome.unsafe.append(f"the error took {len(ran.stderr.strip().splitlines())} lines")
    outcome.unsafe += terminal_problems(text) + ran.problems
    reports = sorted(ran.reports.glob("*/report.json")) if ran.reports and ran.reports.is_dir() else []
    if reports:
        _read_reports(reports[-1].parent, outcome)
    if ran.export is not None and (ran.export / "manifest.json").is_file():
        manifest = json.loads((ran.export / "manifest.json").read_text(encoding="utf-8"))
        outcome.rows = manifest["input"]["rows"]
        files = {name: (ran.export / name) for name in ("train.jsonl", "val.jsonl", "test.jsonl",
                                                        "quarantine.jsonl")}
        counts = {n: sum(1 for _ in p.open("rb")) if p.is_file() else 0 for n, p in files.items()}
        outcome.quarantined = counts.pop("quarantine.jsonl")
        outcome.loaded = sum(counts.values())
        outcome.kinds |= set(manifest.get("quarantine_reasons", {}))
    return setup, outcome


def _read_reports(folder: Path, outcome: Outcome) -> None:
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    schema = json.loads(files("dqaudit.reports").joinpath("report.schema.json").read_text(encoding="utf-8"))
    try:
        jsonschema.validate(report, schema)
    except jsonschema.ValidationError as exc:
        outcome.unsafe.append(f"report.json breaks its schema: {exc.message[:120]}")
    dataset = report["dataset"]
    outcome.rows, outcome.loaded, outcome.quarantined = (
        dataset["rows"],
        dataset["loaded"],
        dataset["quarantined"],
    )
    for check in report["checks"].values():
        for finding in check["findings"]:
            outcome.kinds.add(finding["kind"])
            outcome.messages.append(finding["message"])
    outcome.kinds |= {g["name"] for g in report["gates"]}
    if (folder / "report.html").exists():
        outcome.unsafe += html_problems((folder / "report.html").read_text(encoding="utf-8"))
    if (folder / "report.md").exists():
        outcome.unsafe += markdown_problems((folder / "report.md").read_text(encoding="utf-8"))


def terminal_problems(text: str) -> list[str]:
    """Control sequences in what the CLI printed (rich emits none when not on a terminal)."""
    found = sorted({repr(c) for c in TERMINAL_CONTROL.findall(text)})
    return [f"terminal output has control characters {', '.join(found)}"] if found else []


class _Elements(HTMLParser):
    """Collects every element and attribute of a page, as a browser's tokenizer would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(tag, name, value or "") for name, value in attrs]


def html_problems(html: str) -> list[str]:
    """Elements, handlers, URLs or markers in report.html that dataset text could have put there."""
    parser = _Elements()
    parser.feed(html)
    problems = [f"<{tag}> element" for tag in sorted(set(parser.tags) - HTML_TAGS)]
    for tag, name, value in parser.attrs:
        if name.startswith("on") or name in ("src", "href", "xlink:href", "action", "formaction", "srcdoc"):
            problems.append(f"<{tag} {name}=…> attribute")
        elif tag == "meta" and name == "http-equiv" and value.lower() != "content-security-policy":
            problems.append(f"<meta http-equiv={value}>")
    csp = [v for t, n, v in parser.attrs if t == "meta" and n == "content"]
    if not any("default-src 'none'" in v for v in csp) or parser.tags.count("meta") > 3:
        problems.append("the Content-Security-Policy meta is missing or not alone")
    if TERMINAL_CONTROL.search(html.replace("\r", "")):
        problems.append("report.html has control characters")
    return problems


def markdown_problems(md: str) -> list[str]:
    """Raw HTML, control characters, or table cells a spreadsheet would evaluate, in report.md."""
    problems = []
    if re.search(r"(?<!\\)<(?!sub>|/sub>)[a-zA-Z!/]", md):  # md_cell escapes < as \<
        problems.append("report.md has raw HTML")
    if TERMINAL_CONTROL.search(md):
        problems.append("report.md has control characters")
    for line in md.splitlines():
        if not line.startswith("|"):
            continue
        for cell in _CELL_SPLIT.split(line.strip().strip("|")):
            cell = cell.strip()
            if _FORMULA.match(cell) and not _NUMBER_OR_RULE.match(cell):
                problems.append(f"report.md cell starts a formula: {cell[:40]!r}")
    return problems


def mismatches(case: Case, setup: Setup, outcome: Outcome) -> list[str]:
    """Everything about ``outcome`` that differs from what ``case`` expects, or that no case may do."""
    e = case.expect
    data = str(setup.data)
    if outcome.skipped is not None:
        return []
    wrong = []
    if outcome.traceback:
        wrong.append(f"traceback: {outcome.error}")
    if outcome.exit_code != e.exit:
        wrong.append(f"exit {outcome.exit_code}, expected {e.exit} ({outcome.error or 'no error'})")
    for fragment in e.error:
        if fragment.format(data=data) not in outcome.error:
            wrong.append(f"error {outcome.error!r} lacks {fragment.format(data=data)!r}")
    if e.exit in (0, 1) and not (case.run is not None and outcome.rows is None):
        if outcome.rows is None:
            wrong.append("no report.json")
        else:
            if outcome.rows != setup.rows or outcome.lost:
                wrong.append(
                    f"{setup.rows} rows in, report counts {outcome.rows}: "
                    f"{outcome.loaded} loaded + {outcome.quarantined} quarantined"
                )
            if e.quarantined is not None and outcome.quarantined != e.quarantined:
                wrong.append(f"{outcome.quarantined} quarantined, expected {e.quarantined}")
    wrong += [f"no finding of kind {k}" for k in e.kinds if k not in outcome.kinds]
    for fragment in e.findings:
        if not any(fragment.format(data=data) in m for m in outcome.messages):
            wrong.append(f"no finding says {fragment.format(data=data)!r}")
    if outcome.seconds > e.max_seconds:
        wrong.append(f"took {outcome.seconds:.1f}s (limit {e.max_seconds:g}s)")
    return wrong + outcome.unsafe


def summary_row(case: Case, setup: Setup, outcome: Outcome, wrong: list[str]) -> dict[str, Any]:
    """One line of the generated table."""
    if outcome.skipped is not None:
        got = f"skipped: {outcome.skipped}"
    elif outcome.exit_code == 2:
        got = "exit 2: " + _plain(outcome.error.removeprefix("Error: ").replace(str(setup.data), "DATA"))
    elif outcome.loaded is None:
        got = f"exit {outcome.exit_code}"
    else:
        got = f"exit {outcome.exit_code}, {outcome.loaded} loaded, {outcome.quarantined} quarantined"
        shown = [k for k in case.expect.kinds if k in outcome.kinds]
        if shown:
            got += "; " + ", ".join(shown)
    return {
        "case": case.name,
        "group": case.group,
        "input": case.what,
        "expected": case.expect.describe(),
        "got": got,
        "rows": setup.rows,
        "lost": outcome.lost,
        "traceback": outcome.traceback,
        "seconds": round(outcome.seconds, 1),
        "ok": not wrong,
        "problems": wrong,
    }


def _plain(text: str, limit: int = 110) -> str:
    text = TERMINAL_CONTROL.sub("", text).replace(str(Path.cwd()), ".")
    text = re.sub(r"/tmp/\S*?/(?=[\w.-]+\.(?:jsonl|csv|parquet|yaml|txt)\b)", "", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def warm_up(workdir: Path) -> None:
    """One throw-away audit with every checker, so case timings measure the case, not the imports."""
    from .cases import filler, jsonl

    workdir.mkdir(parents=True, exist_ok=True)
    with contextlib.chdir(workdir):
        setup = jsonl(workdir, filler(20))
        CliRunner().invoke(cli, ["audit", str(setup.data), "--out", str(workdir / "r"), "--no-cache", "-q"])
