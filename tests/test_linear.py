"""Work linear in the input: bad or blank lines in one read block, many labels (issue 20).

Counted, not timed: the number of parse calls and the size of what the report keeps.
"""

from __future__ import annotations

import json

from dqaudit import data
from dqaudit.api import audit
from dqaudit.config import AuditConfig


class _CountingLines(list):
    """The lines of one read block, counting every line handed out by iteration."""

    handed = 0

    def __iter__(self):  # type: ignore[no-untyped-def]
        for line in super().__iter__():
            type(self).handed += 1
            yield line


def test_blank_and_bad_lines_in_one_block_are_visited_once_each():
    good = json.dumps({"id": "a", "text": "first", "label": "x"}).encode()
    lines = _CountingLines([good] + [b"", b"not json", b"   ", b"{broken"] * 2000 + [good])
    objs = data._parse_all(lines)
    assert len(objs) == len(lines) and objs[0]["id"] == "a" and objs[-1]["id"] == "a"
    assert objs[1:-1] == [None] * 8000
    # was ~len(lines)**2 / 2: each failure restarted the block
    assert _CountingLines.handed <= 2 * len(lines)


def test_a_file_of_blank_lines_loads_with_every_row_accounted(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps({"id": "a", "text": "first", "label": "x"}) + "\n" + "\n" * 50_000
                    + "oops\n" + json.dumps({"id": "b", "text": "last", "label": "y"}) + "\n")
    dataset = data.load_dataset(path)
    assert dataset.frame["id"].tolist() == ["a", "b"] and [p.line for p in dataset.problems] == [50_002]


def test_twenty_thousand_rare_labels_give_a_bounded_report(write_jsonl):
    rows = [{"id": f"r{i}", "text": f"text number {i}", "label": f"label-{i // 2}"} for i in range(40_000)]
    config = AuditConfig(cache={"enabled": False})
    result = audit(write_jsonl(rows), config, checks=["balance"]).check("balance")
    assert len(result.findings) <= 52
    summary = next(f for f in result.findings if f.kind == "rare_classes")
    listed = [f for f in result.findings if f.kind == "rare_class"]
    assert summary.details["classes"] + len(listed) == 20_000 == result.metrics["rare_class_count"]
    assert summary.details["records"] + sum(len(f.record_ids) for f in listed) == 40_000
    assert summary.record_ids == ()   # counts, not 40,000 ids
    assert (len(result.metrics["distribution"]) <= 51
            and sum(result.metrics["distribution"].values()) == 40_000)
    assert len(result.charts[0].data["labels"]) <= 51
    assert len(json.dumps(result.metrics)) < 20_000
