"""On-disk cache of per-record derived data (signatures, embeddings, languages), keyed by text hash.

A re-run on unchanged data reads everything back; a run on a dataset that grew
computes only the new rows and appends one shard. A shard is one file: a magic line,
a JSON header (format version, namespace, dqaudit version, dtype, shape and a blake2b
checksum of everything after the header), then the keys and the values, raw. The values
are memory-mapped once the checksum holds, so a re-run copies only the rows it asks for.

Nothing in a shard is trusted on its shape: a shard whose checksum, namespace, version
or sizes do not hold is ignored (one :class:`CacheWarning` per namespace) and its rows
recomputed; only regular files inside the folder are opened (no FIFOs, devices or
symlinks), sizes are checked against the file before anything is allocated, and object
arrays are refused, so the cache never unpickles anything. The checksum catches damage
and stale or foreign files, not a forger: anyone who can write the cache folder can write
a shard, so the folder is created private (0700) and should stay so.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import struct
import tempfile
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from . import __version__
from .errors import ConfigError

#: Shards being fsynced and renamed into place, per namespace folder (resolved), across ``Cache`` objects.
_IN_FLIGHT: dict[Path, list[tuple[threading.Thread, list[BaseException]]]] = {}
_IN_FLIGHT_LOCK = threading.Lock()


#: First bytes of every shard; the format version is the header's ``format``.
MAGIC = b"DQAUDIT-CACHE\n"
FORMAT = 2
SUFFIX = ".shard"
#: The file :meth:`Cache.save_arrays` keeps in its namespace folder.
_ARRAYS = "arrays.npz"
_HEADER_MAX = 1 << 16  # bytes of JSON header; a real one is about 250
_ALIGN = 64
#: Plain numbers, bytes and fixed-width strings: nothing that could hold an object.
_DTYPE = re.compile(r"^[<>|=][iufb][1248]$|^\|S[1-9][0-9]{0,3}$|^[<>=]U[1-9][0-9]{0,3}$")


class CacheWarning(UserWarning):
    """A shard was damaged, foreign or unreadable: it was ignored and its rows recomputed."""


class Cache:
    """Per-record arrays under ``root/<namespace>/``; ``root=None`` disables persistence."""

    def __init__(self, root: str | Path | None) -> None:
        self.root = Path(root) if root is not None else None
        root = self.root
        if root is not None and (root.exists() or root.is_symlink()) and not root.is_dir():
            raise ConfigError(f"cache.dir: {self.root} exists and is not a folder; point cache.dir at a "
                              "folder (or remove the file), or run with --no-cache")
        self._warned: set[str] = set()

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
        return self._per_key(namespace, key_array, compute)

    def per_key(self, namespace: str, keys: np.ndarray,
                compute: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """:meth:`per_record` for keys that are 64-bit integers already (a vectorised hash of many short
        strings costs less than a hex digest per string)."""
        return self._per_key(namespace, np.asarray(keys, dtype=np.uint64).astype(">u8").view("S8"), compute)

    def _per_key(self, namespace: str, key_array: np.ndarray,
                 compute: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """:meth:`per_record` on keys as 8-byte strings (big-endian, as the shards hold them)."""
        wanted = _native(key_array)
        shards = self._load(namespace)
        found = self._lookup(shards, wanted)
        missing = np.flatnonzero(found < 0)
        if len(missing):
            _, first, inverse = np.unique(wanted[missing], return_index=True, return_inverse=True)
            rank = np.empty(len(first), np.int64)
            rank[np.argsort(first, kind="stable")] = np.arange(len(first))
            todo = missing[np.sort(first)]
            fresh = np.asarray(compute(todo))
            if len(fresh) != len(todo):
                raise ValueError(f"cache compute returned {len(fresh)} rows for {len(todo)} keys")
            found[missing] = sum(len(values) for _, values in shards) + rank[inverse]  # no second lookup
            shards.append((key_array[todo], fresh))
            result = _gather([values for _, values in shards], found)
            self._append(namespace, key_array[todo], fresh)  # after the gather: ``fresh`` is the writer's now
            return result
        if not shards:
            return np.asarray(compute(np.empty(0, dtype=np.int64)))
        return _gather([values for _, values in shards], found)

    @staticmethod
    def _lookup(shards: list[tuple[np.ndarray, np.ndarray]], wanted: np.ndarray) -> np.ndarray:
        """Where each wanted key is among the shards' keys end to end (first if stored twice), or -1.

        The wanted keys are searched in sorted order too, so the search and the gathers after it walk
        memory forward instead of jumping at random (a quarter less time at a million keys).
        """
        stored = _native(np.concatenate([keys for keys, _ in shards])) if shards else np.empty(0, np.uint64)
        if not len(stored):
            return np.full(len(wanted), -1)
        order = _stable_order(stored)
        ordered = stored[order]
        queries = _stable_order(wanted)
        sought = wanted[queries]
        at = np.minimum(np.searchsorted(ordered, sought), len(ordered) - 1)
        found = np.empty(len(wanted), dtype=np.int64)
        found[queries] = np.where(ordered[at] == sought, order[at], -1)
        return found

    def _load(self, namespace: str) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each sound shard's keys and (memory-mapped) values; none at all if their values differ in kind."""
        try:
            self.flush(namespace)  # this run's own earlier shards count too
        except OSError as exc:  # one that could not be written: its rows are recomputed
            self._warn(namespace, f"cache: a shard could not be written ({exc.strerror or exc}); its rows "
                                  "are recomputed")
        shards: list[tuple[np.ndarray, np.ndarray]] = []
        folder = self.root / namespace if self.root is not None else None
        if folder is None or folder.is_symlink() or not folder.is_dir():
            return shards
        bad: list[str] = []
        for path in sorted(folder.glob(f"*{SUFFIX}")):
            try:
                shards.append(_read_shard(path, namespace))
            except (OSError, ValueError) as exc:
                bad.append(f"{path.name}: {exc}")  # recomputed, never trusted
        if bad:
            self._warn(namespace, f"cache: ignored {len(bad)} unusable shard(s) in {folder} and recomputed "
                                  f"their rows ({bad[0]})")
        kinds = {(values.dtype, values.shape[1:]) for _, values in shards}
        return shards if len(kinds) == 1 else []

    def _warn(self, namespace: str, message: str) -> None:
        """One warning per namespace and run, shown whatever filters a dependency installed globally."""
        if namespace not in self._warned:
            self._warned.add(namespace)
            warn(message)

    def _append(self, namespace: str, keys: np.ndarray, values: np.ndarray) -> None:
        """Write a shard to a temporary file, fsync and rename it into place, all on a background thread.

        Checksumming and writing a 1M-row signature shard (512 MB) costs one to three seconds, and
        its fsync about a second of waiting on the disk; the run goes on meanwhile and :meth:`flush`
        waits for it. ``values`` must not change afterwards (the caller hands them over). Until
        the rename, readers do not see the shard, so a crash leaves no partial shard behind, only a
        temporary file. The cache is an optimisation: a full or read-only disk costs a warning, not
        the check.
        """
        if self.root is None or values.dtype.hasobject or not _DTYPE.match(values.dtype.str):
            return
        name = hashlib.blake2b(keys.tobytes(), digest_size=8).hexdigest()
        folder = self.root / namespace
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            folder.mkdir(mode=0o700, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
        except OSError as exc:
            self._warn(namespace, f"cache: could not write to {folder} ({exc.strerror or exc}); this run's "
                                  "values are not kept")
            return
        errors: list[BaseException] = []
        keys, values = np.ascontiguousarray(keys), np.ascontiguousarray(values)

        def publish() -> None:
            try:
                with os.fdopen(fd, "wb") as handle:
                    _write_shard(handle, namespace, keys, values)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, folder / f"{name}{SUFFIX}")
            except BaseException as exc:  # re-raised by flush(), in the caller's thread
                Path(tmp).unlink(missing_ok=True)
                errors.append(exc)

        thread = threading.Thread(target=publish, name=f"dqaudit-cache-{name}")
        thread.start()
        with _IN_FLIGHT_LOCK:
            _IN_FLIGHT.setdefault(folder.resolve(), []).append((thread, errors))

    def save_arrays(self, namespace: str, arrays: dict[str, np.ndarray]) -> None:
        """Keep ``arrays`` (plain numbers) as the one set of ``namespace``, replacing the last one atomically.

        For state that is not per record (a fitted model); like shards, a failed write costs a warning.
        """
        if self.root is None:
            return
        folder = self.root / namespace
        tmp = None
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            folder.mkdir(mode=0o700, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".arrays.", suffix=".tmp", dir=folder)
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **arrays)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, folder / _ARRAYS)
        except OSError as exc:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            self._warn(namespace, f"cache: could not write to {folder} ({exc.strerror or exc}); this run's "
                                  "model is not kept")

    def load_arrays(self, namespace: str) -> dict[str, np.ndarray] | None:
        """What :meth:`save_arrays` kept for ``namespace``, or None (absent, or unreadable: then a warning).

        Read without unpickling (object arrays refused), from a regular file only.
        """
        if self.root is None:
            return None
        path = self.root / namespace / _ARRAYS
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                raise ValueError("not a regular file")
            with np.load(path, allow_pickle=False) as stored:
                return {name: stored[name] for name in stored.files}
        except FileNotFoundError:
            return None
        except (OSError, ValueError, EOFError) as exc:
            self._warn(namespace, f"cache: ignored unusable {path} ({exc}); recomputed")
            return None


def warn(message: str) -> None:
    """A :class:`CacheWarning`, always shown: each names its own folder and cause."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", CacheWarning)
        warnings.warn(message, CacheWarning, stacklevel=3)


def _write_shard(handle: BinaryIO, namespace: str, keys: np.ndarray, values: np.ndarray) -> None:
    """Magic, header length, JSON header (with the body's checksum), then the body: padding, keys, values."""
    header = {"format": FORMAT, "namespace": namespace, "dqaudit_version": __version__, "rows": len(keys),
              "dtype": values.dtype.str, "shape": list(values.shape)}
    fixed = len(MAGIC) + 4 + len(_header_bytes({**header, "blake2b": "0" * 64}))
    body = [bytes(-fixed % _ALIGN), keys.tobytes(), memoryview(values).cast("B")]
    digest = _digest(header)
    for part in body:
        digest.update(part)
    head = _header_bytes({**header, "blake2b": digest.hexdigest()})
    handle.write(MAGIC + struct.pack("<I", len(head)) + head)
    for part in body:
        handle.write(part)


def _header_bytes(header: dict[str, object]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("ascii")


def _digest(header: dict[str, object]) -> hashlib.blake2b:
    """blake2b over the header's fields (all but the checksum) and then the body."""
    digest = hashlib.blake2b(digest_size=32)
    digest.update(_header_bytes({k: v for k, v in header.items() if k != "blake2b"}))
    return digest


def _read_shard(path: Path, namespace: str) -> tuple[np.ndarray, np.ndarray]:
    """A shard's keys and memory-mapped values, once its header and checksum hold (else ValueError/OSError).

    Opened without following symlinks and without blocking (a FIFO would hang a plain open);
    anything but a regular file is refused before a byte is read.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        size = info.st_size
        if handle.read(len(MAGIC)) != MAGIC:
            raise ValueError("not a dqaudit cache shard")
        (length,) = struct.unpack("<I", handle.read(4).ljust(4, b"\0"))
        if length > min(_HEADER_MAX, size):
            raise ValueError("header too large")
        header = _header(handle.read(length), namespace)
        keys_at = len(MAGIC) + 4 + length + (-(len(MAGIC) + 4 + length) % _ALIGN)
        dtype, shape = np.dtype(header["dtype"]), tuple(header["shape"])
        rows = header["rows"]
        values_at = keys_at + 8 * rows
        if values_at + dtype.itemsize * int(np.prod(shape, dtype=object)) != size:
            raise ValueError("sizes in the header do not fit the file")
        digest = _digest(header)
        handle.seek(len(MAGIC) + 4 + length)
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
        if digest.hexdigest() != header["blake2b"]:
            raise ValueError("checksum mismatch")
        handle.seek(keys_at)
        keys = np.frombuffer(handle.read(8 * rows), dtype="S8")
        values = np.memmap(handle, dtype=dtype, mode="r", offset=values_at, shape=shape) \
            if rows and dtype.itemsize else np.empty(shape, dtype)
    return keys, values


def _header(raw: bytes, namespace: str) -> dict:
    """The parsed header, refused unless it is this format, namespace and version, with sane fields."""
    header = json.loads(raw)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError("unknown shard format")
    if header.get("namespace") != namespace:
        raise ValueError(f"written for {header.get('namespace')!r}")
    if header.get("dqaudit_version") != __version__:
        raise ValueError(f"written by dqaudit {header.get('dqaudit_version')}")
    rows, shape, dtype = header.get("rows"), header.get("shape"), header.get("dtype")
    if not (isinstance(rows, int) and rows >= 0 and isinstance(shape, list) and shape and shape[0] == rows
            and all(isinstance(n, int) and n >= 0 for n in shape) and isinstance(dtype, str)
            and _DTYPE.match(dtype) and isinstance(header.get("blake2b"), str)):
        raise ValueError("malformed header")
    return header


def _gather(parts: list[np.ndarray], found: np.ndarray) -> np.ndarray:
    """Rows ``found`` of the parts end to end, copying only those rows out of the memory maps.

    The largest part (on a nightly re-run, the first night's shard) fills every row with one ``take``,
    rows of other parts getting a placeholder that the few rows of those parts then overwrite: a
    boolean mask per part over a million 512-byte signatures cost ten times as much.
    """
    if len(parts) == 1:
        return np.asarray(np.take(parts[0], found, axis=0))
    sizes = [len(part) for part in parts]
    starts = np.cumsum([0, *sizes])
    big = int(np.argmax(sizes))
    if not sizes[big] or not len(found):
        return np.empty((len(found), *parts[0].shape[1:]), parts[0].dtype)
    out = np.asarray(np.take(parts[big], np.clip(found - starts[big], 0, sizes[big] - 1), axis=0))
    out = out.astype(parts[0].dtype, copy=False)
    for k, part in enumerate(parts):
        if k != big and sizes[k]:
            rows = np.flatnonzero((found >= starts[k]) & (found < starts[k + 1]))
            out[rows] = np.take(part, found[rows] - starts[k], axis=0)
    return out


#: The key arrays sorted most recently and their orders: the namespaces of one run look up the same text
#: hashes in shards that hold the same keys, so each sort of a million keys would be repeated a dozen times.
#: Six, used most recently first: a nightly re-run at 1M sorts about a dozen distinct arrays (each
#: namespace's stored keys and the rows it asks for), and two kept let 20 of its 26 sorts miss.
_ORDERS: list[tuple[np.ndarray, np.ndarray]] = []
_ORDERS_KEPT = 6


def _stable_order(keys: np.ndarray) -> np.ndarray:
    """``np.argsort(keys, kind="stable")``, remembered for the :data:`_ORDERS_KEPT` arrays used last (compared
    by content, which costs a thousandth of the sort)."""
    for at, (known, order) in enumerate(_ORDERS):
        if np.array_equal(known, keys):
            _ORDERS.insert(0, _ORDERS.pop(at))
            return order
    order = np.argsort(keys, kind="stable")
    _ORDERS[:] = [(keys.copy(), order), *_ORDERS[: _ORDERS_KEPT - 1]]
    return order


def _native(keys: np.ndarray) -> np.ndarray:
    """8-byte keys as native unsigned integers (same order as the bytes; native order searches far faster)."""
    return keys.view(">u8").astype(np.uint64)
