"""The Spark writer routes and renders rows with the local writer's function: same bytes on a chat file."""

from __future__ import annotations

import json
from pathlib import Path

from dqaudit.api import split as split_data
from dqaudit.export import output_names
from dqaudit.registry import parse_config

CHAT = Path(__file__).resolve().parents[3] / "sample_data" / "support_chat.jsonl"


def test_chat_records_keep_their_own_turns_on_both_engines(spark, tmp_path):
    """Each record's own turns (its system message included) reach the chat files on both engines."""
    config = {"seed": 7, "export": {"chat": True, "system_prompt": "Answer as the bank."}}
    checks = ["duplicates", "near_duplicates", "pii"]
    local_out, spark_out = tmp_path / "local", tmp_path / "spark"
    split_data(CHAT, local_out, parse_config(config), checks=checks)
    split_data(str(CHAT), spark_out, parse_config({"engine": "spark", **config}), checks=checks)
    for name in output_names(True):
        assert (spark_out / name).read_bytes() == (local_out / name).read_bytes(), name
    examples = [json.loads(line) for line in (spark_out / "train.chat.jsonl").read_text().splitlines()]
    systems = [[m["content"] for m in e["messages"] if m["role"] == "system"] for e in examples]
    assert len(examples) > 100 and all(len(s) == 1 for s in systems)  # the prompt only where none was
    own = sum(s != ["Answer as the bank."] for s in systems)
    assert 0 < own < len(examples)  # records' own system turns kept, the configured prompt added elsewhere
