"""Refresh the first audit in README.md and docs/index.md with a real run: ``python docs/first_audit.py``.

Copies sample_data/ to a temporary folder, writes the dqaudit.yaml shown in the docs, runs the audit as a user
would (80 columns, stdout then the alert on stderr) and puts the transcript between the
``<!-- first-audit -->`` markers of each page. Run it when a change alters the sample's audit.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = (ROOT / "README.md", ROOT / "docs" / "index.md")
CONFIG = "fields: {output: answer}\nchecks:\n  stale_policy: {policies: sample_data/policies.yaml}\n"
COMMAND = ["audit", "sample_data/bank_support.jsonl", "--annotations", "sample_data/annotations_long.csv"]
BLOCK = re.compile(r"(<!-- first-audit -->\n)```console\n.*?```\n", re.S)


def transcript() -> str:
    """The console session: the config, the audit's stdout and stderr, and its exit code."""
    with tempfile.TemporaryDirectory(prefix="dqaudit-first-audit-") as tmp:
        shutil.copytree(ROOT / "sample_data", Path(tmp) / "sample_data")
        (Path(tmp) / "dqaudit.yaml").write_text(CONFIG, encoding="utf-8")
        env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"}
        run = subprocess.run([sys.executable, "-m", "dqaudit", *COMMAND], cwd=tmp, env=env,
                             capture_output=True, text=True, timeout=900)
    if run.returncode not in (0, 1):
        raise SystemExit(f"the audit failed (exit {run.returncode}):\n{run.stderr}")
    both = run.stdout.strip("\n") + "\n" + run.stderr.strip("\n")
    out = "\n".join(line.rstrip() for line in both.strip("\n").splitlines())
    return (f"$ cat dqaudit.yaml\n{CONFIG}$ dqaudit {' '.join(COMMAND)}\n{out}\n"
            f"$ echo $?\n{run.returncode}\n")


def main() -> int:
    session = transcript()
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        if not BLOCK.search(text):
            raise SystemExit(f"{page}: no <!-- first-audit --> block")
        text = BLOCK.sub(lambda m: f"{m.group(1)}```console\n{session}```\n", text)
        page.write_text(text, encoding="utf-8")
        print(f"updated {page.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
