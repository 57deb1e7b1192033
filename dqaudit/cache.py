"""On-disk cache of per-record derived data (signatures, embeddings, languages), keyed by text hash.

A re-run on unchanged data reads everything back; a run on a dataset that grew
computes only the new rows and appends one shard. A shard is one ``.npy`` file of
(key, value) records, written through a memory map and read memory-mapped, so a
re-run copies only the rows it asks for (a 1M-row signature cache is 512 MB); it is
loaded with ``allow_pickle=False``: the cache never unpickles anything.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .io import atomic_file


class Cache:
    """Per-record arrays under ``root/<namespace>/``; ``root=None`` disables persistence."""

    def __init__(self, root: str | Path | None) -> None:
        self.root = Path(root) if root is not None else None

    @staticmethod
    def namespace(name: str, **params: object) -> str:
        """A directory name that changes whenever a parameter that affects the values changes."""
        digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:12]
        return f"{name}-{digest}"

    def per_record(self, namespace: str, keys: Sequence[str],
                   compute: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Values for ``keys`` (hex text hashes), computing only the missing ones.

        ``compute(positions)`` receives the positions in ``keys`` that are missing
        and returns one row per position (first axis). Duplicated keys are computed once.
        Lookups are sorted-array searches on the keys as 64-bit integers: no per-key Python work.
        """
        key_array = np.frombuffer(bytes.fromhex("".join(keys)), dtype="S8") if keys else np.empty(0, "S8")
        wanted = _native(key_array)
        shards = self._load(namespace)
        found = self._lookup(shards, wanted)
        missing = np.flatnonzero(found < 0)
        if len(missing):
            _, first = np.unique(wanted[missing], return_index=True)
            todo = missing[np.sort(first)]
            fresh = np.asarray(compute(todo))
            if len(fresh) != len(todo):
                raise ValueError(f"cache compute returned {len(fresh)} rows for {len(todo)} keys")
            self._append(namespace, key_array[todo], fresh)
            shards.append((key_array[todo], fresh))
            found = self._lookup(shards, wanted)
        if not shards:
            return np.asarray(compute(np.empty(0, dtype=np.int64)))
        return _gather([values for _, values in shards], found)

    @staticmethod
    def _lookup(shards: list[tuple[np.ndarray, np.ndarray]], wanted: np.ndarray) -> np.ndarray:
        """Position of each wanted key among the shards' keys end to end (the first, if stored twice), or -1."""
        if not shards:
            return np.full(len(wanted), -1)
        stored = _native(np.concatenate([keys for keys, _ in shards]))
        order = np.argsort(stored, kind="stable")
        ordered = stored[order]
        at = np.minimum(np.searchsorted(ordered, wanted), max(len(ordered) - 1, 0))
        hit = ordered[at] == wanted if len(ordered) else np.zeros(len(wanted), bool)
        return np.where(hit, order[at] if len(ordered) else -1, -1)

    def _load(self, namespace: str) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each shard's keys and (memory-mapped) values; none at all if any shard is damaged or differs."""
        if self.root is None or not (self.root / namespace).is_dir():
            return []
        shards, kinds = [], set()
        for path in sorted((self.root / namespace).glob("*.npy")):
            try:
                records = np.load(path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError):
                continue  # a damaged shard is recomputed, never trusted
            if records.ndim != 1 or records.dtype.names != ("key", "value") or records.dtype["key"] != "S8":
                continue
            shards.append((np.asarray(records["key"]), records["value"]))
            kinds.add(records.dtype["value"])
        return shards if len(kinds) == 1 else []

    def _append(self, namespace: str, keys: np.ndarray, values: np.ndarray) -> None:
        if self.root is None or values.dtype == object:
            return
        name = hashlib.blake2b(keys.tobytes(), digest_size=8).hexdigest()
        dtype = np.dtype([("key", "S8"), ("value", values.dtype, values.shape[1:])])
        with atomic_file(self.root / namespace / f"{name}.npy") as tmp:
            shard = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=(len(keys),))
            shard["key"], shard["value"] = keys, values
            shard.flush()
            del shard


def _gather(parts: list[np.ndarray], found: np.ndarray) -> np.ndarray:
    """Rows ``found`` of the parts end to end, copying only those rows out of the memory maps."""
    if len(parts) == 1:
        return np.asarray(parts[0][found])
    out = np.empty((len(found), *parts[0].shape[1:]), parts[0].dtype)
    offset = 0
    for part in parts:
        inside = (found >= offset) & (found < offset + len(part))
        out[inside] = part[found[inside] - offset]
        offset += len(part)
    return out


def _native(keys: np.ndarray) -> np.ndarray:
    """8-byte keys as native unsigned integers (same order as the bytes; native order searches far faster)."""
    return keys.view(">u8").astype(np.uint64)
