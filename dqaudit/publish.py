"""Publishing an export folder: dqaudit writes, replaces and removes only what it wrote.

An export folder is written into a hidden sibling (``.<out>.tmp-<pid>-<random>``) and
swapped into place, so readers see the old export or the new one, never half. Each
folder dqaudit writes holds a marker file (:data:`MARKER`) with a random token that
the manifest repeats; a non-empty folder is replaced only when both agree and it holds
nothing but the files an export writes. A folder with a ``manifest.json`` of its own
(a web app, a browser extension) is therefore never mistaken for a previous export.

Leftovers of a killed run (hidden siblings whose process is gone, holding the marker
or nothing) are removed by the next run on the same folder; the swap itself runs under
an exclusive lock on the parent folder, so two runs into one folder leave one whole export.

The steps are written once, over a :class:`Store`: :class:`LocalStore` (this machine's
disk) here, and the Spark engine's Hadoop FileSystem store (``hdfs://``, ``s3a://``...),
so both engines publish with the same rules and the same messages.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from . import __version__
from .errors import DqauditError, InputError

if TYPE_CHECKING:
    from .pipeline import AuditResult

#: The file that marks a folder as written by dqaudit; it holds the token the manifest repeats.
MARKER = ".dqaudit-export"
MANIFEST = "manifest.json"
_MARKER_BYTES = 4096  # a marker is a few dozen bytes; anything larger is not ours


class Store(Protocol):
    """The filesystem operations publishing needs, on the store's own paths (a ``Path`` locally)."""

    def join(self, folder: Any, name: str) -> Any: ...
    def parent(self, path: Any) -> Any: ...
    def name(self, path: Any) -> str: ...
    def show(self, path: Any) -> str: ...
    def kind(self, path: Any) -> str | None:
        """``"dir"``, ``"file"``, ``"link"`` or ``"other"``; None when nothing is there."""
    def holds(self, folder: Any, path: Any) -> bool:
        """Whether ``path`` is ``folder`` or lies inside it."""
    def names(self, folder: Any) -> list[str]: ...
    def glob(self, folder: Any, pattern: str) -> list[Any]: ...
    def mtime(self, path: Any) -> float: ...
    def read(self, path: Any, limit: int | None = None) -> bytes | None:
        """A regular file's bytes; None when it is absent, not a regular file, or over ``limit`` bytes."""
    def write(self, path: Any, data: bytes) -> None:
        """Create or replace a file, on disk (synced) before this returns."""
    def rename(self, source: Any, target: Any) -> None: ...
    def settle(self, path: Any) -> None:
        """Make a file renamed into place durable (a no-op where renames are)."""
    def remove(self, path: Any) -> None: ...
    def make_hidden(self, parent: Any, prefix: str) -> Any:
        """A new empty folder in ``parent`` named ``prefix`` plus a random suffix."""
    def locked(self, folder: Any) -> AbstractContextManager[None]:
        """Exclusive use of ``folder``'s entries for the block (as far as the store can lock)."""
    def abandoned(self, name: str) -> bool:
        """Whether the hidden sibling ``name`` belongs to a run that is gone."""


class LocalStore:
    """This machine's disk: ``fsync`` after writes, ``flock`` on the parent, owners known by process id."""

    def join(self, folder: Path, name: str) -> Path:
        return folder / name

    def parent(self, path: Path) -> Path:
        return path.parent

    def name(self, path: Path) -> str:
        return path.name

    def show(self, path: Path) -> str:
        return str(path)

    def kind(self, path: Path) -> str | None:
        if path.is_symlink():
            return "link"
        if path.is_dir():
            return "dir"
        if path.is_file():
            return "file"
        return "other" if path.exists() else None

    def holds(self, folder: Path, path: Path) -> bool:
        folder, path = folder.resolve(), path.resolve()
        return folder == path or folder in path.parents

    def names(self, folder: Path) -> list[str]:
        return sorted(p.name for p in folder.iterdir())

    def glob(self, folder: Path, pattern: str) -> list[Path]:
        return sorted(folder.glob(pattern))

    def mtime(self, path: Path) -> float:
        return path.stat().st_mtime

    def read(self, path: Path, limit: int | None = None) -> bytes | None:
        try:
            if path.is_symlink() or not path.is_file():
                return None
            if limit is not None and path.stat().st_size > limit:
                return None
            return path.read_bytes()
        except OSError:
            return None

    def write(self, path: Path, data: bytes) -> None:
        with path.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    def rename(self, source: Path, target: Path) -> None:
        os.replace(source, target)

    def settle(self, path: Path) -> None:
        with path.open("rb") as handle:
            os.fsync(handle.fileno())

    def remove(self, path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def make_hidden(self, parent: Path, prefix: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))

    @contextmanager
    def locked(self, folder: Path) -> Iterator[None]:
        """An exclusive lock on ``folder`` itself (no lock file left behind), held for the block."""
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def abandoned(self, name: str) -> bool:
        pid = name.rsplit(".", 1)[-1].split("-")[1] if "-" in name else ""
        return not (pid.isdigit() and _alive(int(pid)))


LOCAL = LocalStore()


def destination(out: Path) -> Path:
    """The folder to write: ``out`` itself, or the folder a symlinked ``out`` points to (the link is kept)."""
    if out.is_symlink():
        target = Path(os.path.realpath(out))
        if not target.exists():
            raise InputError(out, f"is a symlink to {target}, which does not exist; create that folder "
                                  "or give another --out")
        return target
    return out.absolute()


def check_destination(data: Path | None, out: Path, names: Iterable[str] | None = None) -> Path:
    """Refuse an output folder that holds the input, or an existing folder dqaudit did not write.

    ``data`` is None when the input is not on this machine (a Spark read from ``s3a://``...).
    ``names`` are the files an export may hold besides the marker and the manifest (any
    when None). Returns the folder to write (a symlink resolved).
    """
    target = destination(out)
    check_folder(LOCAL, target, [] if data is None else [data], names, shown=str(out))
    return target


def check_folder(store: Store, out: Any, inputs: Iterable[Any], names: Iterable[str] | None = None, *,
                 shown: str | None = None) -> None:
    """:func:`check_destination` on any store: ``out`` must not hold an input, and must be new, empty,
    or a previous dqaudit export (``shown`` names it in errors; default: the store's own spelling)."""
    shown = store.show(out) if shown is None else shown
    for data in inputs:
        if store.holds(out, data):
            raise InputError(shown, f"the output folder would hold the input {store.show(data)}; "
                                    "choose a folder elsewhere")
    kind = store.kind(out)
    if kind is not None and kind != "dir":
        raise InputError(shown, "exists and is not a folder")
    if kind == "dir":
        _check_owned(store, shown, out, names)


def _check_owned(store: Store, shown: str, folder: Any, names: Iterable[str] | None) -> None:
    """Raise unless ``folder`` is empty or a dqaudit export holding only export files."""
    entries = store.names(folder)
    if not entries:
        return
    token = read_token(folder, store)
    if token is None or _manifest_token(store, folder) != token:
        raise InputError(shown, f"is not empty and was not written by dqaudit (no {MARKER} matching its "
                                f"{MANIFEST}), so it is not replaced; choose an empty or new folder")
    if names is not None:
        allowed = {MARKER, MANIFEST, *names}
        foreign = [name for name in entries if name not in allowed]
        if foreign:
            raise InputError(shown, f"holds '{foreign[0]}', which dqaudit did not write; move it out or "
                                    "choose another folder (the export would delete it)")


def read_token(folder: Any, store: Store = LOCAL) -> str | None:
    """The token of ``folder``'s marker, or None when there is no regular marker file holding one."""
    data = store.read(store.join(folder, MARKER), _MARKER_BYTES)
    try:
        token = json.loads(data).get("token") if data is not None else None
    except (ValueError, AttributeError):
        return None
    return token if isinstance(token, str) and len(token) >= 32 else None


def _manifest_token(store: Store, folder: Any) -> str | None:
    data = store.read(store.join(folder, MANIFEST))
    try:
        token = json.loads(data).get("export_token") if data is not None else None
    except (ValueError, AttributeError):
        return None
    return token if isinstance(token, str) else None


def write_marker(folder: Any, store: Store = LOCAL) -> str:
    """Mark ``folder`` as a dqaudit export with a fresh random token; returns the token."""
    token = secrets.token_hex(16)
    text = json.dumps({"written_by": "dqaudit", "dqaudit_version": __version__, "token": token})
    store.write(store.join(folder, MARKER), (text + "\n").encode("utf-8"))
    return token


def write_manifest(path: Any, manifest: dict[str, Any], store: Store = LOCAL) -> None:
    """manifest.json with the folder's export token, on disk before the folder is swapped in."""
    from .findings import json_text

    token = read_token(store.parent(path), store)
    if token is not None:
        manifest["export_token"] = token
    store.write(path, (json_text(manifest) + "\n").encode("utf-8"))


@contextmanager
def staged_folder(out: Any, names: Iterable[str] | None = None,
                  store: Store = LOCAL) -> Iterator[Any]:
    """A marked hidden sibling of ``out`` to write into: swapped into place when the block succeeds,
    removed if it fails. ``out`` must be a real path (see :func:`destination`)."""
    parent, name = store.parent(out), store.name(out)
    with store.locked(parent):
        _clean_leftovers(out, store)
    tmp = store.make_hidden(parent, f".{name}.tmp-{os.getpid()}-")
    try:
        write_marker(tmp, store)
        yield tmp
        with store.locked(parent):
            if store.kind(out) == "dir":  # someone may have put files there while this run was writing
                _check_owned(store, store.show(out), out, names)
            _swap(store, tmp, out)
    except BaseException:
        store.remove(tmp)
        raise


def _clean_leftovers(out: Any, store: Store = LOCAL) -> None:
    """Put back an export stranded mid-swap, and remove the hidden folders of runs that died.

    A kill between :func:`_swap`'s two renames leaves ``out`` missing and the previous export
    beside it as ``.<out>.old-<pid>-<random>``; the newest such (marked) export is restored first.
    """
    parent, name = store.parent(out), store.name(out)
    stranded = [p for p in store.glob(parent, f".{name}.old-*") if _ours_and_dead(store, p)]
    if store.kind(out) is None and stranded:
        newest = max(stranded, key=store.mtime)
        store.rename(newest, out)
        stranded.remove(newest)
    dead = [p for p in store.glob(parent, f".{name}.tmp-*") if _ours_and_dead(store, p)]
    for leftover in [*stranded, *dead]:
        store.remove(leftover)


def _ours_and_dead(store: Store, path: Any) -> bool:
    """A hidden sibling left by a run that is gone, holding dqaudit's marker (or nothing at all)."""
    if store.kind(path) != "dir" or not store.abandoned(store.name(path)):
        return False
    return read_token(path, store) is not None or not store.names(path)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _swap(store: Store, tmp: Any, out: Any) -> None:
    """Replace ``out`` by ``tmp``; if the final rename fails the previous export is put back."""
    old = None
    if store.kind(out) is not None:
        old = store.join(store.parent(out), f".{store.name(out)}.old-{os.getpid()}-{secrets.token_hex(4)}")
        store.rename(out, old)
    try:
        store.rename(tmp, out)
    except BaseException:
        if old is not None:
            store.rename(old, out)
        raise
    if old is not None:
        store.remove(old)


def changed_input(source: Path) -> InputError:
    """The error for an input whose bytes differ from those the audit read: nothing is exported."""
    return InputError(source, "changed while dqaudit was reading it (its bytes differ from the audited "
                              "ones); nothing was exported: run again once the file is no longer written to")


def masking_state(result: AuditResult, rows: int) -> str:
    """``"on"`` when the pii check ran, ``"off"`` when it was turned off or not selected; else fail closed.

    A pii check that crashed (a damaged cache, a bug) or was skipped found nothing, which is not
    the same as there being nothing: exporting then would publish raw personal data.
    """
    ran = next((r for r in result.results if r.check == "pii"), None)
    if ran is None:
        return "off"
    if ran.error or (ran.skipped and rows):
        problem = f"error ({ran.error})" if ran.error else f"skipped ({ran.skipped})"
        raise DqauditError(f"the pii check ended in {problem}, so personal data would go out unmasked: "
                           "nothing was exported; fix the cause, or set checks.pii.enabled: false to "
                           "export without masking")
    return "on"
