"""Hostile scenarios beyond one audit (issue 20): splits into folders dqaudit does not own, inputs that
change mid-run, lying caches, personal data outside the texts, unbounded work, concurrency, a full or
read-only disk, a kill mid-run.

Each scenario builds its input like any case, then runs its own commands and returns a :class:`Ran`:
the deciding command's exit code and output, plus the problems it saw itself (a foreign file touched,
raw personal data in an output, a folder left behind). The runner then applies the common checks
(no traceback, one-line errors, no control characters on the terminal, every row accounted for).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from click.testing import CliRunner

from dqaudit.cli import cli

from .cases import Case, Expect, Setup, filler, jsonl, with_config, with_policies

REPO = Path(__file__).resolve().parents[2]
#: Checks a split scenario runs: fast, and pii among them (a split fails closed without it).
SPLIT_CHECKS = "duplicates,near_duplicates,pii,schema,text_quality"
AUDIT_CHECKS = "duplicates,near_duplicates,pii,schema,text_quality,balance"
#: Checks of the multi-process scenarios: each child pays its own imports, so light ones that use the cache.
CONCURRENT_CHECKS = "duplicates,pii,text_quality,balance"
RAW = ("anna.k@example.com", "+7 701 555 12 34", "4111 1111 1111 1111", "boss@corp.kz")


@dataclass
class Ran:
    """What a scenario's deciding command did, and what the scenario itself found wrong."""

    exit_code: int
    stdout: str = ""
    stderr: str = ""
    exception: BaseException | None = None
    problems: list[str] = field(default_factory=list)
    reports: Path | None = None
    export: Path | None = None
    skipped: str | None = None


def invoke(args: list[str], **where: Path | None) -> Ran:
    """The CLI in-process, as the hostile audits run it."""
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return Ran(result.exit_code, result.stdout, result.stderr, result.exception, **where)


def process(args: list[str], cwd: Path, timeout: float = 50) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "dqaudit", *map(str, args)],
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        errors="replace",
    )


def finish(proc: subprocess.Popen[str], timeout: float = 50) -> Ran:
    out, err = proc.communicate(timeout=timeout)
    return Ran(proc.returncode, out, err)


def split(d: Path, setup: Setup, *extra: Any, out: Path | None = None, checks: str = SPLIT_CHECKS) -> Ran:
    out = out or d / "out"
    return invoke(["split", setup.data, "--out", out, "--no-cache", "--checks", checks, *extra], export=out)


def audit(d: Path, setup: Setup, *extra: Any, checks: str = AUDIT_CHECKS) -> Ran:
    return invoke(
        ["audit", setup.data, "--out", d / "reports", "--checks", checks, *extra], reports=d / "reports"
    )


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (links as their target), to compare before and after."""
    out = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            out[key] = b"-> " + os.readlink(path).encode()
        elif path.is_file():
            out[key] = path.read_bytes()
    return out


def changed(
    before: dict[str, bytes], folder: Path, ignore: Callable[[str], bool] = lambda k: False
) -> list[str]:
    after = {k: v for k, v in tree(folder).items() if not ignore(k)}
    before = {k: v for k, v in before.items() if not ignore(k)}
    if after == before:
        return []
    touched = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return [f"foreign files touched: {', '.join(touched[:5])}"]


def leaks(paths: list[Path], values: tuple[str, ...] = RAW, text: str = "") -> list[str]:
    """Raw personal data in any of ``paths`` (files, or every file under a folder) or in ``text``."""
    found = []
    files = [f for p in paths for f in ([p] if p.is_file() else sorted(p.rglob("*")) if p.is_dir() else [])]
    for path in files:
        if path.is_file():
            blob = path.read_bytes()
            found += [f"{v!r} raw in {path.name}" for v in values if v.encode() in blob]
    found += [f"{v!r} raw on the terminal" for v in values if v in text]
    return found


def leftovers(folder: Path, prefix: str = ".out.") -> list[str]:
    return [f"left behind: {p.name}" for p in folder.iterdir() if p.name.startswith(prefix)]


def rows(n: int = 40, start: int = 0) -> list[dict[str, Any]]:
    return filler(n, start)


def data(d: Path, records: list[dict[str, Any]] | None = None, name: str = "data.jsonl") -> Setup:
    return jsonl(d, records if records is not None else rows(), name=name)


@contextlib.contextmanager
def mounted(folder: Path, options: str) -> Iterator[bool]:
    """A small tmpfs at ``folder`` (root only); yields False when mounting is not possible here."""
    folder.mkdir(parents=True, exist_ok=True)
    done = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
        ).returncode
        == 0
        if os.geteuid() == 0
        else False
    )
    try:
        yield done
    finally:
        if done:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def skipped(reason: str) -> Ran:
    """A scenario this machine cannot stage (no tmpfs): reported as skipped, with the reason."""
    return Ran(0, skipped=reason)


# --- split: ownership of the output folder ---------------------------------------------------------------


def _foreign_project(d: Path, s: Setup) -> Ran:
    project = d / "myproject"
    (project / "src").mkdir(parents=True)
    (project / "manifest.json").write_text('{"name": "my extension", "version": "1.0"}')
    (project / "src" / "main.js").write_text("console.log('mine')")
    (project / "README.md").write_text("# mine")
    before = tree(project)
    ran = split(d, s, out=project)
    ran.export = None
    ran.problems += changed(before, project)
    return ran


def _file_added_to_export(d: Path, s: Setup) -> Ran:
    first = split(d, s)
    (d / "out" / "notes.txt").write_text("my notes")
    before = tree(d / "out")
    ran = split(d, s)
    ran.export = None
    ran.problems += changed(before, d / "out") + first.problems
    return ran


def _forged_marker(d: Path, s: Setup) -> Ran:
    out = d / "out"
    out.mkdir()
    (out / ".dqaudit-export").write_text(json.dumps({"written_by": "dqaudit", "token": "f" * 32}))
    (out / "manifest.json").write_text('{"export_token": "0000"}')
    (out / "train.jsonl").write_text("my own training data\n")
    before = tree(out)
    ran = split(d, s)
    ran.export = None
    ran.problems += changed(before, out)
    return ran


def _marker_is_a_link(d: Path, s: Setup) -> Ran:
    split(d, s)
    out = d / "out"
    elsewhere = d / "elsewhere.json"
    elsewhere.write_bytes((out / ".dqaudit-export").read_bytes())
    (out / ".dqaudit-export").unlink()
    (out / ".dqaudit-export").symlink_to(elsewhere)
    before = tree(out)
    ran = split(d, s)
    ran.export = None
    ran.problems += changed(before, out)
    return ran


def _out_is_input_folder(d: Path, s: Setup) -> Ran:
    before = tree(d)
    ran = split(d, s, out=d)
    ran.export = None
    ran.problems += changed(before, d)
    return ran


def _out_inside_input_folder(d: Path, s: Setup) -> Ran:
    (d / "neighbour.txt").write_text("next to the data")
    before = tree(d)
    ran = split(d, s, out=d / "clean")
    ran.problems += changed(before, d, ignore=lambda k: k.startswith("clean/"))
    return ran


def _out_symlink(d: Path, s: Setup) -> Ran:
    (d / "real").mkdir()
    (d / "link").symlink_to(d / "real")
    ran = split(d, s, out=d / "link")
    again = split(d, s, out=d / "link")
    if not (d / "link").is_symlink() or not (d / "real" / "manifest.json").is_file():
        ran.problems.append("the symlinked --out was replaced, not written through")
    ran.problems += again.problems + leftovers(d, ".link.") + leftovers(d, ".real.")
    ran.exit_code = max(ran.exit_code, again.exit_code)
    return ran


def _out_dangling_symlink(d: Path, s: Setup) -> Ran:
    (d / "link").symlink_to(d / "gone")
    ran = split(d, s, out=d / "link")
    if not (d / "link").is_symlink() or (d / "gone").exists():
        ran.problems.append("the dangling link was changed")
    ran.export = None
    return ran


def _out_is_a_file(d: Path, s: Setup) -> Ran:
    (d / "out").write_text("a file")
    ran = split(d, s)
    ran.export = None
    if (d / "out").read_text() != "a file":
        ran.problems.append("the file was replaced")
    return ran


def _stale_tmp(d: Path, s: Setup) -> Ran:
    split(d, s)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = d / f".out.tmp-{dead.pid}-abcdef"
    stale.mkdir()
    (stale / ".dqaudit-export").write_text(json.dumps({"written_by": "dqaudit", "token": "e" * 32}))
    (stale / "train.jsonl").write_text("partial copy of the data\n")
    foreign = d / f".out.tmp-{dead.pid}-notours"
    foreign.mkdir()
    (foreign / "x").write_text("not ours")
    ran = split(d, s)
    if stale.exists():
        ran.problems.append("a killed run's hidden folder was left in place")
    if not (foreign / "x").is_file():
        ran.problems.append("a hidden folder dqaudit did not write was removed")
    return ran


def _rerun_replaces(d: Path, s: Setup) -> Ran:
    first = split(d, s)
    token = json.loads((d / "out" / "manifest.json").read_text())["export_token"]
    ran = split(d, s, "--seed", "7")
    if json.loads((d / "out" / "manifest.json").read_text())["export_token"] == token:
        ran.problems.append("the second run did not replace the first export")
    ran.problems += first.problems + leftovers(d)
    return ran


def _two_splits_at_once(d: Path, s: Setup) -> Ran:
    args = ["split", s.data, "--out", d / "out", "--no-cache", "--checks", "duplicates,pii", "-q"]
    procs = [process(args, d) for _ in range(2)]
    runs = [finish(p) for p in procs]
    ran = Ran(
        max(r.exit_code for r in runs),
        "".join(r.stdout for r in runs),
        "".join(r.stderr for r in runs),
        export=d / "out",
    )
    ran.problems += leftovers(d)
    return ran


# --- split: the input changes, masking fails ------------------------------------------------------------


def _changing_input(change: str) -> Callable[[Path, Setup], Ran]:
    def scenario(d: Path, s: Setup) -> Ran:
        import dqaudit.api as api

        real = api.run_checks

        def then_change(*args: Any, **kwargs: Any) -> Any:
            result = real(*args, **kwargs)
            if change == "appended":
                with s.data.open("a") as handle:
                    handle.write(
                        json.dumps({"id": "late", "text": "mail anna.k@example.com", "label": "x"}) + "\n"
                    )
            elif change == "regenerated":
                s.data.write_text(
                    "".join(
                        json.dumps({**r, "text": f"card 4111 1111 1111 1111 {i}"}) + "\n"
                        for i, r in enumerate(rows())
                    )
                )
            else:
                s.data.write_text("".join(json.dumps(r) + "\n" for r in rows(10)))
            return result

        with mock.patch.object(api, "run_checks", then_change):
            ran = split(d, s)
        ran.export = None
        if (d / "out").exists():
            ran.problems.append("an export was published from a changed input")
        return ran

    return scenario


def _pii_check_crashes(d: Path, s: Setup) -> Ran:
    from dqaudit.checkers.pii import PiiChecker

    def crash(self: Any, ctx: Any) -> Any:
        raise RuntimeError("damaged shard")

    with mock.patch.object(PiiChecker, "check", crash):
        ran = split(d, s)
    ran.export = None
    if (d / "out").exists():
        ran.problems.append("split exported although masking failed")
    return ran


def _masking_off(d: Path, s: Setup) -> Ran:
    ran = split(d, s, checks="duplicates,schema")
    if json.loads((d / "out" / "manifest.json").read_text())["cleaning"].get("masking") != "off":
        ran.problems.append("the manifest does not say masking was off")
    return ran


def _shared_ids_split(d: Path, s: Setup) -> Ran:
    ran = split(d, s, checks="duplicates,schema")
    reasons = json.loads((d / "out" / "manifest.json").read_text())["quarantine_reasons"]
    if reasons.get("duplicates.exact_duplicates", 0) != 1:
        ran.problems.append(f"rows that only share an id were deduplicated: {reasons}")
    return ran


def _pii_everywhere_split(d: Path, s: Setup) -> Ran:
    ran = split(d, s, checks="duplicates,pii,schema,balance")
    ran.problems += leaks(
        [d / "out" / "manifest.json", d / "out" / "quarantine.jsonl"], text=ran.stdout + ran.stderr
    )
    return ran


def _disk_full_split(d: Path, s: Setup) -> Ran:
    disk = d / "disk"
    with mounted(disk, "size=64k") as ok:
        if not ok:
            return skipped("cannot mount a tmpfs here")
        ran = split(d, s, out=disk / "out")
        ran.export = None
        if (disk / "out").exists() or any(disk.iterdir()):
            ran.problems.append(f"left on the full disk: {[p.name for p in disk.iterdir()]}")
        return ran


def _read_only_split(d: Path, s: Setup) -> Ran:
    disk = d / "ro"
    with mounted(disk, "ro,size=64k") as ok:
        if not ok:
            return skipped("cannot mount a tmpfs here")
        ran = split(d, s, out=disk / "out")
        ran.export = None
        return ran


def _split_args(*extra: str) -> Callable[[Path, Setup], Ran]:
    def scenario(d: Path, s: Setup) -> Ran:
        ran = split(d, s, *extra)
        ran.export = None
        if (d / "out").exists():
            ran.problems.append("an export was written despite the bad argument")
        return ran

    return scenario


# --- caches ----------------------------------------------------------------------------------------------


def _cached_audit(d: Path, s: Setup, cache: Path, *extra: Any, checks: str = AUDIT_CHECKS) -> Ran:
    (d / "c.yaml").write_text(f"cache:\n  dir: {json.dumps(str(cache))}\n")
    return invoke(
        [
            "audit",
            s.data,
            "--out",
            d / "reports",
            "--checks",
            checks,
            "--config",
            d / "c.yaml",
            "--json",
            "-q",
            *extra,
        ],
        reports=d / "reports",
    )


def _findings(ran: Ran) -> list[tuple[str, str, str]]:
    report = json.loads(ran.stdout)
    return sorted(
        (c, f["kind"], f["message"]) for c, check in report["checks"].items() for f in check["findings"]
    )


def _cache_tampered(tamper: Callable[[Path], None]) -> Callable[[Path, Setup], Ran]:
    """Audit once to fill the cache, tamper with it, audit again: the findings must equal a clean run's."""

    def scenario(d: Path, s: Setup) -> Ran:
        clean = _cached_audit(d, s, d / "fresh")
        _cached_audit(d, s, d / "cache")
        tamper(d / "cache")
        ran = _cached_audit(d, s, d / "cache")
        if ran.exit_code in (0, 1) and clean.exit_code in (0, 1) and _findings(ran) != _findings(clean):
            ran.problems.append("the tampered cache changed the findings")
        return ran

    return scenario


def _every_shard(edit: Callable[[bytearray], None]) -> Callable[[Path], None]:
    def tamper(cache: Path) -> None:
        for shard in cache.glob("*/*.shard"):
            blob = bytearray(shard.read_bytes())
            edit(blob)
            shard.write_bytes(bytes(blob))

    return tamper


def _zero_values(blob: bytearray) -> None:
    blob[-min(64, len(blob) // 4) :] = bytes(min(64, len(blob) // 4))


def _flip_middle(blob: bytearray) -> None:
    blob[len(blob) // 2] ^= 0xFF


def _truncate(blob: bytearray) -> None:
    del blob[-9:]


def _huge_header(blob: bytearray) -> None:
    """The header rewritten (length prefix and all) to claim 10**15 rows of the same shape."""
    magic = blob.index(b"\n") + 1
    length = int.from_bytes(blob[magic : magic + 4], "little")
    header = json.loads(bytes(blob[magic + 4 : magic + 4 + length]))
    header["rows"], header["shape"] = 10**15, [10**15, *header["shape"][1:]]
    body = json.dumps(header).encode()
    blob[:] = blob[:magic] + len(body).to_bytes(4, "little") + body + blob[magic + 4 + length :]


def _fifo(cache: Path) -> None:
    for folder in cache.iterdir():
        os.mkfifo(folder / "trap.shard")


def _link_out(cache: Path) -> None:
    secret = cache.parent / "outside.bin"
    secret.write_bytes(b"\0" * 4096)
    for folder in cache.iterdir():
        (folder / "link.shard").symlink_to(secret)


def _garbage(cache: Path) -> None:
    for folder in cache.iterdir():
        (folder / "junk.shard").write_bytes(os.urandom(3000))
        (folder / "empty.shard").write_bytes(b"")


def _cache_is_file(d: Path, s: Setup) -> Ran:
    (d / "cachefile").write_text("not a folder")
    return _cached_audit(d, s, d / "cachefile")


def _cache_fifo_subprocess(d: Path, s: Setup) -> Ran:
    """The FIFO case in a child process, so that a regression hangs the child, not the suite."""
    _cached_audit(d, s, d / "cache")
    _fifo(d / "cache")
    (d / "c.yaml").write_text(f"cache:\n  dir: {json.dumps(str(d / 'cache'))}\n")
    proc = process(
        ["audit", s.data, "--out", d / "reports", "--checks", AUDIT_CHECKS, "--config", d / "c.yaml", "-q"], d
    )
    try:
        ran = finish(proc, timeout=45)
    except subprocess.TimeoutExpired:
        proc.kill()
        return Ran(124, problems=["the audit hung on a FIFO in the cache"])
    ran.reports = d / "reports"
    return ran


def _two_audits_at_once(d: Path, s: Setup) -> Ran:
    (d / "c.yaml").write_text(f"cache:\n  dir: {json.dumps(str(d / 'cache'))}\n")
    args = [
        "audit",
        s.data,
        "--out",
        d / "reports",
        "--checks",
        CONCURRENT_CHECKS,
        "--config",
        d / "c.yaml",
        "--history",
        d / "h.db",
        "--json",
        "-q",
    ]
    runs = [finish(p) for p in [process(args, d) for _ in range(2)]]
    ran = Ran(max(r.exit_code for r in runs), "", "".join(r.stderr for r in runs), reports=d / "reports")
    try:
        first, second = (_findings(r) for r in runs)
    except ValueError:
        ran.problems.append("an audit printed no report")
        return ran
    if first != second:
        ran.problems.append("two concurrent audits disagree")
    history = invoke(["history", d / "h.db", "--json"])
    if history.exit_code != 0 or len(json.loads(history.stdout)) != 2:
        ran.problems.append(f"the history holds {history.stdout[:80]!r}, not two runs")
    return ran


def _killed_then_rerun(d: Path, s: Setup) -> Ran:
    """SIGKILL an audit mid-run (cache and history in use), then audit again: same findings as a clean run."""
    (d / "c.yaml").write_text(f"cache:\n  dir: {json.dumps(str(d / 'cache'))}\n")
    args = [
        "audit",
        s.data,
        "--out",
        d / "reports",
        "--checks",
        CONCURRENT_CHECKS,
        "--config",
        d / "c.yaml",
        "--history",
        d / "h.db",
        "--json",
        "-q",
    ]
    victim = process(args, d)
    time.sleep(2.5)
    victim.send_signal(signal.SIGKILL)
    victim.communicate()
    ran = finish(process(args, d))
    ran.reports = d / "reports"
    clean = _cached_audit(d, s, d / "fresh", checks=CONCURRENT_CHECKS)
    if ran.exit_code in (0, 1) and _findings(ran) != _findings(clean):
        ran.problems.append("the re-run after a kill differs from a clean run")
    return ran


def _cache_disk_full(d: Path, s: Setup) -> Ran:
    """The cache on a full 16 kB tmpfs: the findings of a run without a cache, no check error."""
    disk = d / "disk"
    with mounted(disk, "size=16k") as ok:
        if not ok:
            return skipped("cannot mount a tmpfs here")
        (disk / "cache").mkdir()
        with contextlib.suppress(OSError), (disk / "filler").open("wb") as handle:
            while True:  # fill the disk
                handle.write(bytes(4096))
                handle.flush()
        clean = _cached_audit(d, s, d / "fresh")
        ran = _cached_audit(d, s, disk / "cache")
        if ran.exit_code in (0, 1) and _findings(ran) != _findings(clean):
            ran.problems.append("a full cache disk changed the findings")
        # the warning itself is asserted in tests/test_cache_integrity.py: under pytest, warnings are recorded
        # by pytest rather than printed on the CLI's stderr
        return ran


def _reports_disk_full(d: Path, s: Setup) -> Ran:
    disk = d / "disk"
    with mounted(disk, "size=16k") as ok:
        if not ok:
            return skipped("cannot mount a tmpfs here")
        ran = invoke(
            [
                "audit",
                s.data,
                "--out",
                disk,
                "--no-cache",
                "--checks",
                AUDIT_CHECKS,
                "--config",
                d / "big.yaml",
            ]
        )
        partial = [p for p in disk.rglob("*") if p.is_file() and p.name.endswith(".tmp")]
        ran.problems += [f"partial file left: {p.name}" for p in partial]
        return ran


def _reports_read_only(d: Path, s: Setup) -> Ran:
    disk = d / "ro"
    with mounted(disk, "ro,size=16k") as ok:
        if not ok:
            return skipped("cannot mount a tmpfs here")
        return invoke(["audit", s.data, "--out", disk / "reports", "--no-cache", "--checks", AUDIT_CHECKS])


# --- personal data outside the texts -----------------------------------------------------------------------


def _pii_audit(d: Path, s: Setup, *extra: Any, checks: str = AUDIT_CHECKS) -> Ran:
    ran = audit(d, s, "--no-cache", "--history", d / "h.db", *extra, checks=checks)
    ran.problems += leaks([d / "reports", d / "h.db"], text=ran.stdout + ran.stderr)
    return ran


def _pii_records(where: str) -> list[dict[str, Any]]:
    out = rows(40)
    for i in (3, 17):
        if where == "id":
            out[i] = {**out[i], "id": f"{RAW[0]}-{i}" if i == 3 else RAW[3]}
        elif where == "label":
            out[i] = {**out[i], "label": f"vip {RAW[3]}"}
        elif where == "annotator":
            pass
    if where == "annotator":
        out = [
            {
                **r,
                "annotations": [
                    {"annotator": "a1", "label": r["label"]},
                    {"annotator": RAW[0], "label": "billing"},
                ],
            }
            for r in out
        ]
    if where == "text":
        out[5] = {**out[5], "text": f"reach me at {RAW[0]} or {RAW[1]}, card {RAW[2]}"}
    return out


def _pii_file_name(d: Path, s: Setup) -> Ran:
    return _pii_audit(d, s)


# --- bounded work ---------------------------------------------------------------------------------------


def _max_seconds(d: Path, s: Setup) -> Ran:
    from dqaudit.checkers.balance import BalanceChecker

    def hang(self: Any, ctx: Any) -> Any:
        time.sleep(40)

    with mock.patch.object(BalanceChecker, "check", hang):
        ran = audit(d, s, "--no-cache", "--max-seconds", "3", checks="schema,balance")
    return ran


# --- the terminal --------------------------------------------------------------------------------------


def _audit_plain(d: Path, s: Setup) -> Ran:
    return audit(d, s, "--no-cache")


def _audit_out(name: str) -> Callable[[Path, Setup], Ran]:
    def scenario(d: Path, s: Setup) -> Ran:
        ran = invoke(
            ["audit", s.data, "--out", d / name, "--no-cache", "--checks", "schema"], reports=d / name
        )
        printed = "".join(ran.stdout.split())  # rich folds a long path over several lines
        if name not in printed or "[red]data[reset]" not in printed:
            ran.problems.append("a path with brackets is not printed as it is (read as markup)")
        return ran

    return scenario


def _audit_args(*extra: str) -> Callable[[Path, Setup], Ran]:
    def scenario(d: Path, s: Setup) -> Ran:
        return invoke(["audit", s.data, "--out", d / "reports", "--no-cache", "--checks", "schema", *extra])

    return scenario


def _rare_label_escapes(d: Path, s: Setup) -> Ran:
    return split(d, s, checks="duplicates,pii,balance")


def _policy_file(pattern: str, budget: str = "") -> Callable[[Path], Setup]:
    def build(d: Path) -> Setup:
        records = [
            *rows(20),
            *({"id": f"a{i}", "text": "a" * 24 + "b", "label": "billing"} for i in range(400)),
        ]
        setup = data(d, records)
        setup = with_policies(
            setup,
            d,
            "policies:\n  - id: p1\n    effective_from: 2024-01-01\n    superseded:\n"
            f"      patterns: [{json.dumps(pattern)}]\n",
        )
        if budget:
            text = (
                d / "dqaudit.yaml"
            ).read_text() + f"    pattern_budget: {budget}\n    pattern_timeout: 0.5\n"
            (d / "dqaudit.yaml").write_text(text)
        return setup

    return build


def _non_utf8(d: Path) -> Setup:
    name = os.fsdecode(b"data-\xff\xfe.jsonl")
    return jsonl(d, rows(), name=name)


def _escaped_name(d: Path) -> Setup:
    return jsonl(d, rows(), name="data\x1b]0;pwned\x07\x1b[2J.jsonl")


def _markup_name(d: Path) -> Setup:
    (d / "[draft]").mkdir()
    return jsonl(d / "[draft]", rows(), name="[red]data[reset].jsonl")


def _pii_name(d: Path) -> Setup:
    folder = d / RAW[3]
    folder.mkdir()
    return jsonl(folder, rows())


def _shared_ids(d: Path) -> Setup:
    first = [{**r, "id": str(i)} for i, r in enumerate(rows(30))]
    second = [
        {**r, "id": str(i), "text": r["text"].replace("Hello", "Good morning")}
        for i, r in enumerate(rows(30, 30))
    ]
    return data(d, [*first, *second, dict(first[4])])


def _labels_20k(d: Path) -> Setup:
    return data(d, [{"id": f"r{i}", "text": f"text {i}", "label": f"l{i // 2}"} for i in range(40_000)])


def _blank_lines(d: Path) -> Setup:
    path = d / "data.jsonl"
    path.write_text(json.dumps(rows(1)[0]) + "\n" + "\n" * 200_000 + json.dumps(rows(1, 1)[0]) + "\n")
    return Setup(path, 2)


def _bad_lines(d: Path) -> Setup:
    path = d / "data.jsonl"
    path.write_text(json.dumps(rows(1)[0]) + "\n" + "not json\n" * 50_000 + json.dumps(rows(1, 1)[0]) + "\n")
    return Setup(path, 50_002)


def _deep_yaml(d: Path) -> Setup:
    return with_config(data(d), d, "fields: " + "[" * 20_000 + "]" * 20_000 + "\n")


def _deep_policies(d: Path) -> Setup:
    return with_policies(data(d), d, "policies: " + "{a: " * 5_000 + "1" + "}" * 5_000 + "\n")


def _intl_phone(d: Path) -> Setup:
    return data(d, [*rows(20), {"id": "p", "text": "call me at +7 704 750 45 49 tonight", "label": "access"}])


def _big_config(d: Path) -> Setup:
    setup = data(d, rows(200))
    (d / "big.yaml").write_text("output:\n  formats: [json, md, html]\n")
    return setup


def _label_escapes(d: Path) -> Setup:
    out = rows(40)
    out[3] = {**out[3], "label": "\x1b]0;pwned\x07rare"}
    return data(d, out)


_OK = Expect(0)
_DONE = Expect(1)  # the audit finished; a gate or a blocking finding makes it NOT READY


def _exit2(*fragments: str) -> Expect:
    return Expect(2, error=fragments)


def _s(
    name: str,
    group: str,
    what: str,
    build: Callable[[Path], Setup],
    run: Callable[[Path, Setup], Ran],
    expect: Expect,
    seconds: float = 50,
) -> Case:
    return Case(
        name,
        group,
        what,
        build,
        Expect(expect.exit, expect.error, expect.quarantined, expect.findings, expect.kinds, seconds),
        run=run,
    )


SCENARIOS: tuple[Case, ...] = (
    # split: the output folder
    _s("split_plain", "split", "an ordinary split", data, lambda d, s: split(d, s), _OK),
    _s(
        "split_out_foreign_project",
        "split",
        "--out is a web project with its own manifest.json",
        data,
        _foreign_project,
        _exit2("myproject", "not written by dqaudit"),
    ),
    _s(
        "split_out_file_added_to_export",
        "split",
        "a file the user added to a previous export",
        data,
        _file_added_to_export,
        _exit2("notes.txt", "dqaudit did not write"),
    ),
    _s(
        "split_out_forged_marker",
        "split",
        "a marker whose token the manifest does not repeat",
        data,
        _forged_marker,
        _exit2("not written by dqaudit"),
    ),
    _s(
        "split_out_marker_is_a_link",
        "split",
        "the export marker replaced by a symlink",
        data,
        _marker_is_a_link,
        _exit2("not written by dqaudit"),
    ),
    _s(
        "split_out_is_input_folder",
        "split",
        "--out is the input's own folder",
        data,
        _out_is_input_folder,
        _exit2("would hold the input"),
    ),
    _s(
        "split_out_inside_input_folder",
        "split",
        "--out is a new folder beside the input",
        data,
        _out_inside_input_folder,
        _OK,
    ),
    _s("split_out_symlink", "split", "--out is a symlink to a folder (twice)", data, _out_symlink, _OK),
    _s(
        "split_out_dangling_symlink",
        "split",
        "--out is a symlink to nothing",
        data,
        _out_dangling_symlink,
        _exit2("symlink to", "does not exist"),
    ),
    _s("split_out_is_a_file", "split", "--out is a file", data, _out_is_a_file, _exit2("not a folder")),
    _s(
        "split_stale_tmp_folders",
        "split",
        "hidden folders of a killed split (ours and a stranger's)",
        data,
        _stale_tmp,
        _OK,
    ),
    _s(
        "split_rerun_replaces_own_export",
        "split",
        "a second split into its own export",
        data,
        _rerun_replaces,
        _OK,
    ),
    _s(
        "split_two_at_once",
        "concurrency",
        "two splits into one --out at the same time",
        lambda d: data(d, rows(300)),
        _two_splits_at_once,
        _OK,
        55,
    ),
    # split: the input and masking
    _s(
        "split_input_appended",
        "snapshot",
        "the input grows between audit and export",
        data,
        _changing_input("appended"),
        _exit2("changed while dqaudit was reading it"),
    ),
    _s(
        "split_input_regenerated",
        "snapshot",
        "the input rewritten in place (same rows, raw card numbers)",
        data,
        _changing_input("regenerated"),
        _exit2("changed while dqaudit was reading it"),
    ),
    _s(
        "split_input_shrunk",
        "snapshot",
        "the input cut to 10 rows mid-run",
        data,
        _changing_input("shrunk"),
        _exit2("changed while dqaudit was reading it"),
    ),
    _s(
        "split_pii_check_crashes",
        "snapshot",
        "the pii check crashes: no unmasked export",
        lambda d: data(d, _pii_records("text")),
        _pii_check_crashes,
        _exit2("pii check", "unmasked"),
    ),
    _s(
        "split_masking_off",
        "snapshot",
        "checks.pii.enabled: false (masking explicitly off)",
        lambda d: with_config(data(d), d, "checks:\n  pii:\n    enabled: false\n"),
        _masking_off,
        _OK,
    ),
    _s(
        "split_shared_ids",
        "identity",
        "two sources numbered alike, one true copy",
        _shared_ids,
        _shared_ids_split,
        _OK,
    ),
    _s(
        "split_pii_everywhere",
        "privacy",
        "personal data in ids, labels and texts: manifest, quarantine, terminal",
        lambda d: data(
            d, [*_pii_records("id")[:20], *_pii_records("label")[20:], *_pii_records("text")[5:6]]
        ),
        _pii_everywhere_split,
        _OK,
    ),
    _s(
        "split_rare_label_escapes",
        "terminal",
        "a rare label with terminal escapes in the split summary",
        _label_escapes,
        _rare_label_escapes,
        _OK,
    ),
    _s(
        "split_non_utf8_name",
        "terminal",
        "an input file name that is not UTF-8",
        _non_utf8,
        lambda d, s: split(d, s),
        _OK,
    ),
    _s(
        "split_disk_full",
        "disk",
        "--out on a full 64 kB tmpfs",
        lambda d: data(d, rows(2000)),
        _disk_full_split,
        _exit2("No space left"),
    ),
    _s(
        "split_read_only",
        "disk",
        "--out on a read-only filesystem",
        data,
        _read_only_split,
        _exit2("Read-only file system"),
    ),
    # split: arguments
    _s("split_seed_negative", "arguments", "--seed -1", data, _split_args("--seed", "-1"), _exit2("--seed")),
    _s(
        "split_seed_too_big",
        "arguments",
        "--seed 2**32",
        data,
        _split_args("--seed", str(2**32)),
        _exit2("--seed"),
    ),
    _s(
        "split_ratios_nan",
        "arguments",
        "--ratios nan,0.5,0.5",
        data,
        _split_args("--ratios", "nan,0.5,0.5"),
        _exit2("ratios", "finite"),
    ),
    _s(
        "split_ratios_inf",
        "arguments",
        "--ratios inf,-inf,1",
        data,
        _split_args("--ratios", "inf,-inf,1"),
        _exit2("ratios"),
    ),
    _s(
        "split_ratios_sum",
        "arguments",
        "--ratios 0.8,0.1,0.2",
        data,
        _split_args("--ratios", "0.8,0.1,0.2"),
        _exit2("ratios", "summing to 1"),
    ),
    _s(
        "split_ratios_text",
        "arguments",
        "--ratios a,b,c",
        data,
        _split_args("--ratios", "a,b,c"),
        _exit2("three numbers"),
    ),
    _s(
        "split_by_time_unknown_field",
        "arguments",
        "--by-time names no date field",
        data,
        _split_args("--by-time", "updated_at"),
        _exit2("--by-time"),
    ),
    # caches
    _s(
        "cache_dir_is_a_file",
        "cache",
        "cache.dir is a plain file",
        data,
        _cache_is_file,
        _exit2("not a folder"),
    ),
    _s(
        "cache_zeroed_values",
        "cache",
        "every shard's values zeroed under a valid header",
        lambda d: data(d, _pii_records("text")),
        _cache_tampered(_every_shard(_zero_values)),
        _DONE,
    ),
    _s(
        "cache_flipped_byte",
        "cache",
        "one byte flipped in the middle of every shard",
        lambda d: data(d, _pii_records("text")),
        _cache_tampered(_every_shard(_flip_middle)),
        _DONE,
    ),
    _s(
        "cache_truncated",
        "cache",
        "every shard cut short by 9 bytes",
        lambda d: data(d, _pii_records("text")),
        _cache_tampered(_every_shard(_truncate)),
        _DONE,
    ),
    _s(
        "cache_huge_header",
        "cache",
        "headers claiming 10**15 rows",
        lambda d: data(d, _pii_records("text")),
        _cache_tampered(_every_shard(_huge_header)),
        _DONE,
    ),
    _s(
        "cache_symlink_out",
        "cache",
        "a shard that is a symlink out of the cache",
        lambda d: data(d, _pii_records("text")),
        _cache_tampered(_link_out),
        _DONE,
    ),
    _s(
        "cache_garbage_files",
        "cache",
        "random bytes and empty files named *.shard",
        lambda d: data(d, _pii_records("text")),
        _cache_tampered(_garbage),
        _DONE,
    ),
    _s(
        "cache_fifo",
        "cache",
        "a FIFO named *.shard (used to hang the audit)",
        lambda d: data(d, _pii_records("text")),
        _cache_fifo_subprocess,
        _DONE,
    ),
    _s(
        "audits_two_at_once",
        "concurrency",
        "two audits on one cache and one history database",
        lambda d: data(d, rows(300)),
        _two_audits_at_once,
        _OK,
        58,
    ),
    _s(
        "audit_killed_then_rerun",
        "concurrency",
        "SIGKILL mid-audit, then a re-run on the same cache and history",
        lambda d: data(d, rows(3000)),
        _killed_then_rerun,
        _OK,
        58,
    ),
    _s(
        "cache_disk_full",
        "disk",
        "cache.dir on a full 16 kB tmpfs",
        lambda d: data(d, _pii_records("text")),
        _cache_disk_full,
        _DONE,
    ),
    _s(
        "reports_disk_full",
        "disk",
        "report folder on a full 16 kB tmpfs",
        _big_config,
        _reports_disk_full,
        _exit2("No space left"),
    ),
    _s(
        "reports_read_only",
        "disk",
        "report folder on a read-only filesystem",
        data,
        _reports_read_only,
        _exit2("Read-only file system"),
    ),
    # personal data outside the texts
    _s(
        "pii_in_ids",
        "privacy",
        "e-mail addresses as record ids",
        lambda d: data(d, _pii_records("id")),
        lambda d, s: _pii_audit(d, s),
        _OK,
    ),
    _s(
        "pii_in_labels",
        "privacy",
        "an e-mail address as a (rare) label",
        lambda d: data(d, _pii_records("label")),
        lambda d, s: _pii_audit(d, s),
        _OK,
    ),
    _s(
        "pii_in_annotators",
        "privacy",
        "an e-mail address as an annotator's name",
        lambda d: data(d, _pii_records("annotator")),
        lambda d, s: _pii_audit(d, s, checks=AUDIT_CHECKS + ",agreement"),
        _DONE,
    ),
    _s(
        "pii_in_texts",
        "privacy",
        "e-mail, phone and card in texts: reports, history, terminal",
        lambda d: data(d, _pii_records("text")),
        lambda d, s: _pii_audit(d, s),
        _DONE,
    ),
    _s(
        "pii_in_file_name",
        "privacy",
        "an e-mail address in the dataset's path",
        _pii_name,
        _pii_file_name,
        _OK,
    ),
    _s(
        "pii_international_phone",
        "privacy",
        "+7 704 750 45 49 (outside the assigned ranges)",
        _intl_phone,
        lambda d, s: _pii_audit(d, s),
        Expect(0, kinds=("phone",)),
    ),
    # bounded work
    _s(
        "policy_budget",
        "bounds",
        "(a|aa)+$ under the per-match timeout on 400 records, 1 s budget",
        _policy_file("(a|aa)+$", "1"),
        lambda d, s: audit(d, s, "--no-cache", checks="stale_policy"),
        Expect(0, kinds=("pattern_budget",)),
    ),
    _s(
        "policy_nested_quantifier",
        "bounds",
        "(a+)+$ caught before it runs",
        _policy_file("(a+)+$"),
        lambda d, s: audit(d, s, "--no-cache", checks="stale_policy"),
        Expect(0, kinds=("pattern_unsafe",)),
    ),
    _s(
        "config_deep_nesting",
        "bounds",
        "dqaudit.yaml nested 20,000 levels",
        _deep_yaml,
        lambda d, s: audit(d, s, "--no-cache"),
        _exit2("dqaudit.yaml", "nested deeper than"),
    ),
    _s(
        "policies_deep_nesting",
        "bounds",
        "policies.yaml nested 5,000 levels",
        _deep_policies,
        lambda d, s: audit(d, s, "--no-cache", checks="stale_policy"),
        _exit2("policies.yaml", "nested deeper than"),
    ),
    _s("check_over_max_seconds", "bounds", "a check that hangs, --max-seconds 3", data, _max_seconds, _DONE),
    _s(
        "blank_lines_200k",
        "bounds",
        "2 records around 200,000 blank lines",
        _blank_lines,
        lambda d, s: audit(d, s, "--no-cache", checks="schema,duplicates"),
        _OK,
    ),
    _s(
        "bad_lines_50k",
        "bounds",
        "2 records around 50,000 unparseable lines",
        _bad_lines,
        lambda d, s: audit(d, s, "--no-cache", checks="schema,duplicates"),
        _DONE,
    ),
    _s(
        "labels_20k",
        "bounds",
        "40,000 rows with 20,000 labels",
        _labels_20k,
        lambda d, s: audit(d, s, "--no-cache", checks="balance"),
        Expect(0, kinds=("rare_classes",)),
    ),
    # identity
    _s(
        "audit_shared_ids",
        "identity",
        "two sources numbered alike: reported, never deduplicated",
        _shared_ids,
        lambda d, s: audit(d, s, "--no-cache", checks="schema,duplicates"),
        Expect(0, kinds=("duplicate_ids",)),
    ),
    # the terminal and arguments
    _s(
        "file_name_escapes",
        "terminal",
        "terminal escapes in the input's file name",
        _escaped_name,
        _audit_plain,
        _OK,
    ),
    _s(
        "file_name_markup",
        "terminal",
        "[draft]/[red]data[reset].jsonl: rich markup in the path",
        _markup_name,
        _audit_out("[bold]reports"),
        _OK,
    ),
    _s(
        "file_name_not_utf8", "terminal", "an input file name that is not UTF-8", _non_utf8, _audit_plain, _OK
    ),
    _s(
        "audit_seed_negative",
        "arguments",
        "audit --seed -5",
        data,
        _audit_args("--seed", "-5"),
        _exit2("--seed"),
    ),
    _s(
        "audit_fail_under_nan",
        "arguments",
        "audit --fail-under nan",
        data,
        _audit_args("--fail-under", "nan"),
        _exit2("--fail-under", "finite"),
    ),
    _s(
        "audit_max_seconds_zero",
        "arguments",
        "audit --max-seconds 0",
        data,
        _audit_args("--max-seconds", "0"),
        _exit2("--max-seconds"),
    ),
)
