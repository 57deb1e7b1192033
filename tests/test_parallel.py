import os

import pytest

from dqaudit import parallel
from dqaudit.parallel import can_fork, default_workers, fork_map, map_chunks


def _pid_and_square(x: int) -> tuple[int, int]:
    return os.getpid(), x * x


@pytest.mark.skipif(not can_fork(), reason="worker processes are forked, and this platform cannot fork")
def test_fork_map_returns_results_in_order_from_worker_processes() -> None:
    out = list(fork_map(_pid_and_square, list(range(20)), workers=2))
    assert [square for _, square in out] == [x * x for x in range(20)]
    assert os.getpid() not in {pid for pid, _ in out}


def test_fork_map_runs_in_this_process_with_one_worker_or_one_item() -> None:
    assert list(fork_map(_pid_and_square, [3, 4], workers=1)) == [(os.getpid(), 9), (os.getpid(), 16)]
    assert list(fork_map(_pid_and_square, [5], workers=4)) == [(os.getpid(), 25)]
    assert list(fork_map(_pid_and_square, [], workers=4)) == []


def test_default_workers_counts_usable_cores() -> None:
    assert 1 <= default_workers() <= (os.cpu_count() or 1)


def test_nothing_forks_on_macos(monkeypatch: pytest.MonkeyPatch) -> None:
    """On macOS a fork after the system frameworks start threads can crash the child: run in-process."""
    monkeypatch.setattr(parallel.sys, "platform", "darwin")
    assert not can_fork()
    assert list(fork_map(_pid_and_square, [2, 3], workers=2)) == [(os.getpid(), 4), (os.getpid(), 9)]


def _pid_and_sum(chunk: list[int]) -> tuple[int, int]:
    return os.getpid(), sum(chunk)


def test_map_chunks_cuts_consecutive_slices_and_forks_only_from_the_threshold(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "default_workers", lambda: 2)
    values = list(range(10))
    below = list(map_chunks(_pid_and_sum, values, 4, parallel_min=11))
    assert below == [(os.getpid(), 6), (os.getpid(), 22), (os.getpid(), 17)]
    if can_fork():
        above = list(map_chunks(_pid_and_sum, values, 4, parallel_min=10))
        assert [total for _, total in above] == [6, 22, 17]
        assert os.getpid() not in {pid for pid, _ in above}
