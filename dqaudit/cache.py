"""On-disk cache of per-record derived data (signatures, embeddings, languages), keyed by text hash.

A re-run on unchanged data reads everything back; a run on a dataset that grew
computes only the new rows and appends one shard. Shards are ``.npz`` files read
with ``allow_pickle=False``: the cache never unpickles anything.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .io import atomic_write


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
        stored_keys, stored_values = self._load(namespace)
        found = np.full(len(wanted), -1)
        if stored_values is not None:
            found = self._lookup(_native(stored_keys), wanted)
        missing = np.flatnonzero(found < 0)
        if len(missing):
            _, first = np.unique(wanted[missing], return_index=True)
            todo = missing[np.sort(first)]
            fresh = np.asarray(compute(todo))
            if len(fresh) != len(todo):
                raise ValueError(f"cache compute returned {len(fresh)} rows for {len(todo)} keys")
            self._append(namespace, key_array[todo], fresh)
            if stored_values is None:
                stored_keys, stored_values = key_array[todo], fresh
            else:
                stored_keys = np.concatenate([stored_keys, key_array[todo]])
                stored_values = np.concatenate([stored_values, fresh.astype(stored_values.dtype, copy=False)])
            found = self._lookup(_native(stored_keys), wanted)
        if stored_values is None:
            return np.asarray(compute(np.empty(0, dtype=np.int64)))
        return stored_values[found]

    @staticmethod
    def _lookup(stored: np.ndarray, wanted: np.ndarray) -> np.ndarray:
        """Position in ``stored`` of each wanted key (the first, if stored twice), or -1."""
        order = np.argsort(stored, kind="stable")
        ordered = stored[order]
        at = np.minimum(np.searchsorted(ordered, wanted), max(len(ordered) - 1, 0))
        hit = ordered[at] == wanted if len(ordered) else np.zeros(len(wanted), bool)
        return np.where(hit, order[at] if len(ordered) else -1, -1)

    def _load(self, namespace: str) -> tuple[np.ndarray, np.ndarray | None]:
        if self.root is None or not (self.root / namespace).is_dir():
            return np.empty(0, "S8"), None
        keys, values = [], []
        for shard in sorted((self.root / namespace).glob("*.npz")):
            try:
                with np.load(shard, allow_pickle=False) as data:
                    keys.append(data["keys"])
                    values.append(data["values"])
            except (OSError, ValueError, KeyError):
                continue  # a damaged shard is recomputed, never trusted
        if not values:
            return np.empty(0, "S8"), None
        try:
            return np.concatenate(keys), np.concatenate(values)
        except ValueError:
            return np.empty(0, "S8"), None

    def _append(self, namespace: str, keys: np.ndarray, values: np.ndarray) -> None:
        if self.root is None or values.dtype == object:
            return
        buffer = io.BytesIO()
        np.savez(buffer, keys=keys, values=values)
        name = hashlib.blake2b(keys.tobytes(), digest_size=8).hexdigest()
        atomic_write(self.root / namespace / f"{name}.npz", buffer.getvalue())


def _native(keys: np.ndarray) -> np.ndarray:
    """8-byte keys as native unsigned integers (same order as the bytes; native order searches far faster)."""
    return keys.view(">u8").astype(np.uint64)
