"""Exact-duplicate keys and group numbers: the rules both engines use."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dqaudit import parallel
from dqaudit.cache import Cache
from dqaudit.config import AuditConfig
from dqaudit.context import AuditContext
from dqaudit.data import dataset_from_frame
from dqaudit.features import exact
from dqaudit.features.exact import EMPTY_KEY, exact_keys, normalized_keys, number_groups
from dqaudit.parallel import can_fork


def test_keys_are_equal_exactly_for_texts_equal_after_normalising():
    keys = exact_keys(["Hello  World", "hello world", "HELLO WORLD\n", "hello, world", "", "  \t"])
    assert keys.dtype == np.uint64
    assert keys[0] == keys[1] == keys[2] != keys[3]
    assert keys[4] == keys[5] == EMPTY_KEY


def test_groups_are_numbered_by_first_row_and_each_empty_text_stands_alone():
    keys = np.array([7, 5, 7, 0, 5, 0, 9], np.uint64)
    groups = number_groups(keys, keys == 0, pd.RangeIndex(7))
    assert groups.tolist() == [0, 1, 0, 4, 1, 5, 3]  # 0 is the empty key: rows 3 and 5 get 4 and 5
    roots = np.array([0, 1, 0, -1, 1, -1, 6])  # the Spark engine numbers each group's first row instead
    assert number_groups(roots, roots < 0, pd.RangeIndex(7)).equals(groups)


@pytest.mark.skipif(not can_fork(), reason="the keys' worker processes are forked")
def test_many_texts_are_keyed_over_worker_processes_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             fork_runs: Callable[[Any], list[int]]) -> None:
    texts = [f"Request {k % 7}: where is my CARD?" if k % 3 else f"request {k % 7}:  where is my card?"
             for k in range(30)]
    texts += ["", "   "]
    frame = pd.DataFrame({"text": texts})
    monkeypatch.setattr(exact, "_CHUNK", 4)
    monkeypatch.setattr(exact, "_PARALLEL_MIN", 10)
    chunks = fork_runs(parallel)
    ctx = AuditContext(dataset_from_frame(frame), AuditConfig(), cache=Cache(tmp_path / "cache"))
    keys = normalized_keys(ctx)
    assert len(set(texts)) == 16 and chunks == [4]  # each distinct text keyed once, in chunks of 4
    np.testing.assert_array_equal(keys, exact_keys(texts).view(np.int64))
    assert keys[30] == keys[31] == EMPTY_KEY.view(np.int64)
