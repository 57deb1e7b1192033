"""Assemble README.md from docs/readme/*.md (in file-name order): ``python docs/build_readme.py``.

Each part is owned by one feature; tests/test_docs.py fails when README.md is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARTS = ROOT / "docs" / "readme"
NOTICE = "<!-- Generated from docs/readme/*.md by `python docs/build_readme.py`: edit those files. -->\n"


def build() -> str:
    parts = [p.read_text(encoding="utf-8").strip() + "\n" for p in sorted(PARTS.glob("*.md"))]
    return NOTICE + "\n".join(parts)


def main() -> int:
    (ROOT / "README.md").write_text(build(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
