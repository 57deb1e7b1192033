"""The pii check's per-record table: matches per record, field and type."""

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
from dqaudit.features import pii_counts as module
from dqaudit.features.pii_counts import pii_counts
from dqaudit.parallel import can_fork
from dqaudit.pii import PII_TYPES


def _context(frame: pd.DataFrame, cache: Path) -> AuditContext:
    config = AuditConfig(fields={"output": "answer"})
    return AuditContext(dataset_from_frame(frame, config.fields), config, cache=Cache(cache))


@pytest.mark.skipif(not can_fork(), reason="the scan's worker processes are forked")
def test_worker_processes_give_the_same_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              fork_runs: Callable[[Any], list[int]]) -> None:
    """Large inputs are scanned in chunks over forked workers; rows come back in order."""
    texts = ["write to anna.petrova@example.com", "no personal data here", "call +7 701 234 56 78 today",
             "card 4111 1111 1111 1111 and mail b@x.org", "thanks", "Привет, Алия Нурланова"] * 7
    texts = [f"{text} (request {k})" for k, text in enumerate(texts)]  # distinct: the cache scans each once
    answers = [f"mail me at c{k}@d.kz" if k % 2 == 0 else None for k in range(42)]
    frame = pd.DataFrame({"text": texts, "answer": answers})
    serial = pii_counts(_context(frame, tmp_path / "one"))
    assert serial[:, 0, PII_TYPES.index("email")].sum() == 14 and serial[:, 1, -1].sum() == 21
    monkeypatch.setattr(module, "_CHUNK", 4)
    monkeypatch.setattr(module, "_PARALLEL_MIN", 10)
    chunks = fork_runs(parallel)
    pooled = pii_counts(_context(frame, tmp_path / "two"))
    assert chunks == [11, 6]  # 42 texts, then the 21 answers, in chunks of 4
    np.testing.assert_array_equal(pooled, serial)
