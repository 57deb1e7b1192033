"""One row per pathological input shape: ``python benchmarks/pathological.py [--quick]``.

Each shape is an input that once made dqaudit do work out of proportion to its size
(issue 20): blank or unparseable lines in one read block (the loader was quadratic), tens
of thousands of labels (``balance`` scanned the table once per rare label), a policy
pattern just under the per-match timeout on every record (unbounded in total), a deeply
nested YAML file (RecursionError), many damaged cache shards. Each runs in a fresh
subprocess with its own wall-clock limit; the table gives the seconds and what the run
produced, so a regression to the old behaviour shows as a time or a "timeout".
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

LIMIT_S = 300

SHAPES: dict[str, tuple[str, str]] = {
    # name: (what, python code run in the subprocess with `d` the work folder; prints one line of result)
    "blank_lines_400k": ("2 records around 400,000 blank lines", """
from dqaudit.data import load_dataset
p = d / "x.jsonl"
p.write_text('{"id":"a","text":"x"}\\n' + "\\n" * 400_000 + '{"id":"b","text":"y"}\\n')
ds = load_dataset(p)
print(f"{len(ds)} loaded, {len(ds.problems)} quarantined")
"""),
    "bad_lines_200k": ("2 records around 200,000 unparseable lines", """
from dqaudit.data import load_dataset
p = d / "x.jsonl"
p.write_text('{"id":"a","text":"x"}\\n' + "not json\\n" * 200_000 + '{"id":"b","text":"y"}\\n')
ds = load_dataset(p)
print(f"{len(ds)} loaded, {len(ds.problems)} quarantined")
"""),
    "labels_20k": ("40,000 rows, 20,000 labels (balance)", """
import json
from dqaudit.config import AuditConfig
from dqaudit.api import audit
from dqaudit.reports.json_report import render_json
p = d / "x.jsonl"
p.write_text("".join(json.dumps({"id": f"r{i}", "text": f"t {i}", "label": f"l{i // 2}"}) + "\\n"
                     for i in range(40_000)))
r = audit(p, AuditConfig(cache={"enabled": False}), checks=["balance"])
print(f"{len(r.check('balance').findings)} findings, report.json {len(render_json(r)) / 1e6:.2f} MB")
"""),
    "labels_100k": ("200,000 rows, 100,000 labels (balance)", """
import json
from dqaudit.config import AuditConfig
from dqaudit.api import audit
from dqaudit.reports.json_report import render_json
p = d / "x.jsonl"
p.write_text("".join(json.dumps({"id": f"r{i}", "text": f"t {i}", "label": f"l{i // 2}"}) + "\\n"
                     for i in range(200_000)))
r = audit(p, AuditConfig(cache={"enabled": False}), checks=["balance"])
print(f"{len(r.check('balance').findings)} findings, report.json {len(render_json(r)) / 1e6:.2f} MB")
"""),
    "policy_under_timeout_3k": ("(a|aa)+$ at ~15 ms a record on 3,000 records, default budget", """
import json
from dqaudit.config import AuditConfig
from dqaudit.api import audit
p = d / "x.jsonl"
p.write_text("".join(json.dumps({"id": f"r{i}", "text": "a" * 20 + "b"}) + "\\n" for i in range(3000)))
(d / "p.yaml").write_text("policies:\\n  - id: p\\n    effective_from: 2024-01-01\\n"
                          "    superseded:\\n      patterns: ['(a|aa)+$']\\n")
cfg = AuditConfig(cache={"enabled": False}).with_check("stale_policy", policies=str(d / "p.yaml"),
                                                       pattern_timeout=0.5)
r = audit(p, cfg, checks=["stale_policy"]).check("stale_policy")
print(", ".join(sorted({f.kind for f in r.findings})) or "no findings")
"""),
    "yaml_depth_20k": ("dqaudit.yaml of 20,000 nested lists", """
from dqaudit.config import load_config
from dqaudit.errors import ConfigError
(d / "c.yaml").write_text("a: " + "[" * 20_000 + "]" * 20_000 + "\\n")
try:
    load_config(d / "c.yaml")
except ConfigError as exc:
    print("ConfigError:", str(exc)[:70])
"""),
    "damaged_cache_200_shards": ("200 shards of 5,000 rows, each with a flipped byte: the re-run", """
import time, warnings
import numpy as np
from dqaudit.cache import Cache
warnings.simplefilter("ignore")
keys = [[f"{k:08x}{j:08x}" for j in range(5000)] for k in range(200)]
for k in range(200):  # one shard per run, as 200 incremental runs would leave
    c = Cache(d / "c")
    c.per_record("ns", keys[k], lambda pos: np.ones((len(pos), 64), np.uint32))
    c.flush()
for s in (d / "c" / "ns").glob("*.shard"):
    b = bytearray(s.read_bytes()); b[-1] ^= 0xFF; s.write_bytes(bytes(b))
calls = []
began = time.perf_counter()
c = Cache(d / "c")
v = c.per_record("ns", [x for ks in keys for x in ks],
                 lambda pos: calls.append(len(pos)) or np.ones((len(pos), 64), np.uint32))
c.flush()
print(f"{sum(calls)} of {len(v)} rows recomputed; re-run {time.perf_counter() - began:.2f} s")
"""),
}


def run(name: str) -> dict[str, object]:
    what, code = SHAPES[name]
    with tempfile.TemporaryDirectory(prefix="dqaudit-patho-") as tmp:
        script = f"from pathlib import Path\nd = Path({tmp!r})\n" + code
        began = time.perf_counter()
        try:
            done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                  timeout=LIMIT_S)
            seconds = time.perf_counter() - began
            result = (done.stdout.strip().splitlines() or [done.stderr.strip().splitlines()[-1]])[-1]
        except subprocess.TimeoutExpired:
            seconds, result = float(LIMIT_S), f"timeout after {LIMIT_S} s"
    return {"shape": name, "what": what, "seconds": round(seconds, 2), "result": result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Leave out labels_100k.")
    parser.add_argument("--json", action="store_true", help="Print JSON rows instead of the table.")
    args = parser.parse_args()
    rows = [run(name) for name in SHAPES if not (args.quick and name == "labels_100k")]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print("| shape | input | s (incl. interpreter start) | result |\n|---|---|---:|---|")
    for row in rows:
        print(f"| {row['shape']} | {row['what']} | {row['seconds']} | {row['result']} |")


if __name__ == "__main__":
    main()
