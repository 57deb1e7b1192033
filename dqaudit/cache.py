"""On-disk cache of per-record derived data (signatures, embeddings, languages), keyed by text hash.

A re-run on unchanged data reads everything back; a run on a dataset that grew
computes only the new rows and appends one shard. A shard is one file holding two
``.npy`` arrays back to back (keys, then values), written straight from the arrays and
read with the values memory-mapped, so a re-run copies only the rows it asks for (a
1M-row signature cache is 512 MB). Object arrays are refused: the cache never
unpickles anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

#: Shards being fsynced and renamed into place, per namespace folder (resolved), across ``Cache`` objects.
_IN_FLIGHT: dict[Path, list[tuple[threading.Thread, list[BaseException]]]] = {}
_IN_FLIGHT_LOCK = threading.Lock()


class Cache:
    """Per-record arrays under ``root/<namespace>/``; ``root=None`` disables persistence."""

    def __init__(self, root: str | Path | None) -> None:
        self.root = Path(root) if root is not None else None

    def flush(self, namespace: str | None = None) -> None:
        """Wait until the shards written so far under this root (in ``namespace``, or all) are in place.

        Shards in flight are tracked per folder for the whole process, so a second ``Cache``
        on the same folder (a second audit in one session) waits for them rather than missing
        them. A shard that failed to publish raises here, in the caller's thread.
        """
        if self.root is None:
            return
        root = self.root.resolve()
        with _IN_FLIGHT_LOCK:
            folders = [f for f in _IN_FLIGHT if f.parent == root and namespace in (None, f.name)]
            waiting = [job for folder in folders for job in _IN_FLIGHT.pop(folder, [])]
        for thread, errors in waiting:
            thread.join()
            if errors:
                raise errors[0]

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
        """Where each wanted key is among the shards' keys end to end (first if stored twice), or -1."""
        if not shards:
            return np.full(len(wanted), -1)
        stored = _native(np.concatenate([keys for keys, _ in shards]))
        order = np.argsort(stored, kind="stable")
        ordered = stored[order]
        at = np.minimum(np.searchsorted(ordered, wanted), max(len(ordered) - 1, 0))
        hit = ordered[at] == wanted if len(ordered) else np.zeros(len(wanted), bool)
        return np.where(hit, order[at] if len(ordered) else -1, -1)

    def _load(self, namespace: str) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each shard's keys and (memory-mapped) values; none at all if the shards' values differ in kind."""
        self.flush(namespace)  # this run's own earlier shards count too
        shards: list[tuple[np.ndarray, np.ndarray]] = []
        if self.root is None or not (self.root / namespace).is_dir():
            return shards
        for path in sorted((self.root / namespace).glob("*.npy")):
            try:
                shards.append(_read_shard(path))
            except (OSError, ValueError):
                continue  # a damaged shard is recomputed, never trusted
        kinds = {(values.dtype, values.shape[1:]) for _, values in shards}
        return shards if len(kinds) == 1 else []

    def _append(self, namespace: str, keys: np.ndarray, values: np.ndarray) -> None:
        """Write a shard to a temporary file, then fsync and rename it into place on a background thread.

        The fsync of a 1M-row signature shard takes about a second of waiting on the disk; the
        run goes on meanwhile and :meth:`flush` waits for it. Until the rename, readers do not
        see the shard, so a crash leaves no partial shard behind, only a temporary file.
        """
        if self.root is None or values.dtype.hasobject:
            return
        name = hashlib.blake2b(keys.tobytes(), digest_size=8).hexdigest()
        folder = self.root / namespace
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.lib.format.write_array(handle, np.ascontiguousarray(keys))
                np.lib.format.write_array(handle, np.ascontiguousarray(values))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        errors: list[BaseException] = []

        def publish() -> None:
            try:
                with open(tmp, "rb+") as handle:
                    os.fsync(handle.fileno())
                os.replace(tmp, folder / f"{name}.npy")
            except BaseException as exc:  # re-raised by flush(), in the caller's thread
                Path(tmp).unlink(missing_ok=True)
                errors.append(exc)

        thread = threading.Thread(target=publish, name=f"dqaudit-cache-{name}")
        thread.start()
        with _IN_FLIGHT_LOCK:
            _IN_FLIGHT.setdefault(folder.resolve(), []).append((thread, errors))


def _read_shard(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A shard: the keys array then the values array, both in ``.npy`` format, one after the other.

    The keys are read; the values are memory-mapped, so only the rows a run asks for are
    copied. Object arrays and shapes that do not fit the file are refused (ValueError).
    """
    with path.open("rb") as handle:
        keys_dtype, keys_count = _header(handle)
        if keys_dtype != np.dtype("S8") or len(keys_count) != 1:
            raise ValueError(f"{path}: not a cache shard")
        keys = np.fromfile(handle, dtype="S8", count=keys_count[0])
        if len(keys) != keys_count[0]:
            raise ValueError(f"{path}: truncated")
        values_dtype, values_shape = _header(handle)
        offset = handle.tell()
    if values_shape[:1] != (len(keys),):
        raise ValueError(f"{path}: keys and values differ in length")
    if offset + values_dtype.itemsize * int(np.prod(values_shape)) != path.stat().st_size:
        raise ValueError(f"{path}: truncated")
    values = np.memmap(path, dtype=values_dtype, mode="r", offset=offset, shape=values_shape) \
        if len(keys) else np.empty(values_shape, values_dtype)
    return keys, values


def _header(handle: BinaryIO) -> tuple[np.dtype, tuple[int, ...]]:
    """The dtype and shape of the ``.npy`` array at the handle's position (C order, no objects)."""
    fmt = np.lib.format
    version = fmt.read_magic(handle)
    read = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}.get(version)
    if read is None:
        raise ValueError(f"unknown .npy version {version}")
    shape, fortran, dtype = read(handle)
    if fortran or dtype.hasobject:
        raise ValueError("not a cache array")
    return dtype, shape


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
