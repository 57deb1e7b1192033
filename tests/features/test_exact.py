"""Exact-duplicate keys and group numbers: the rules both engines use."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dqaudit.features.exact import EMPTY_KEY, exact_keys, number_groups


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
