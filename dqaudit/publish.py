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
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .errors import DqauditError, InputError

if TYPE_CHECKING:
    from .pipeline import AuditResult

#: The file that marks a folder as written by dqaudit; it holds the token the manifest repeats.
MARKER = ".dqaudit-export"
MANIFEST = "manifest.json"
_MARKER_BYTES = 4096  # a marker is a few dozen bytes; anything larger is not ours


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
    resolved = target.resolve()
    if data is not None and (data.resolve() == resolved or resolved in data.resolve().parents):
        raise InputError(out, f"the output folder would hold the input {data}; choose a folder elsewhere")
    if target.exists() and not target.is_dir():
        raise InputError(out, "exists and is not a folder")
    if target.is_dir():
        _check_owned(out, target, names)
    return target


def _check_owned(shown: Path, folder: Path, names: Iterable[str] | None) -> None:
    """Raise unless ``folder`` is empty or a dqaudit export holding only export files."""
    entries = sorted(p.name for p in folder.iterdir())
    if not entries:
        return
    token = read_token(folder)
    if token is None or _manifest_token(folder) != token:
        raise InputError(shown, f"is not empty and was not written by dqaudit (no {MARKER} matching its "
                                f"{MANIFEST}), so it is not replaced; choose an empty or new folder")
    if names is not None:
        allowed = {MARKER, MANIFEST, *names}
        foreign = [name for name in entries if name not in allowed]
        if foreign:
            raise InputError(shown, f"holds '{foreign[0]}', which dqaudit did not write; move it out or "
                                    "choose another folder (the export would delete it)")


def read_token(folder: Path) -> str | None:
    """The token of ``folder``'s marker, or None when there is no regular marker file holding one."""
    path = folder / MARKER
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > _MARKER_BYTES:
            return None
        token = json.loads(path.read_text(encoding="utf-8")).get("token")
    except (OSError, ValueError, AttributeError):
        return None
    return token if isinstance(token, str) and len(token) >= 32 else None


def _manifest_token(folder: Path) -> str | None:
    path = folder / MANIFEST
    try:
        if path.is_symlink() or not path.is_file():
            return None
        with path.open("rb") as handle:
            head = handle.read()
        token = json.loads(head).get("export_token")
    except (OSError, ValueError, AttributeError):
        return None
    return token if isinstance(token, str) else None


def write_marker(folder: Path) -> str:
    """Mark ``folder`` as a dqaudit export with a fresh random token; returns the token."""
    token = secrets.token_hex(16)
    text = json.dumps({"written_by": "dqaudit", "dqaudit_version": __version__, "token": token})
    with (folder / MARKER).open("w", encoding="utf-8") as handle:
        handle.write(text + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return token


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """manifest.json with the folder's export token, flushed to disk before the folder is swapped in."""
    from .findings import json_text

    token = read_token(path.parent)
    if token is not None:
        manifest["export_token"] = token
    with path.open("w", encoding="utf-8") as handle:
        handle.write(json_text(manifest) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


@contextmanager
def staged_folder(out: Path, names: Iterable[str] | None = None) -> Iterator[Path]:
    """A marked hidden sibling of ``out`` to write into: swapped into place when the block succeeds,
    removed if it fails. ``out`` must be a real path (see :func:`destination`)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with _locked(out.parent):
        _clean_leftovers(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
    try:
        write_marker(tmp)
        yield tmp
        with _locked(out.parent):
            if out.is_dir():  # someone may have put files there while this run was writing
                _check_owned(out, out, names)
            _swap(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on ``folder`` itself (no lock file left behind), held for the block."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _clean_leftovers(out: Path) -> None:
    """Put back an export stranded mid-swap, and remove the hidden folders of runs that died.

    A kill between :func:`_swap`'s two renames leaves ``out`` missing and the previous export
    beside it as ``.<out>.old-<pid>``; the newest such (marked) export is restored first.
    """
    stranded = [p for p in out.parent.glob(f".{out.name}.old-*") if _ours_and_dead(p)]
    if not out.exists() and stranded:
        newest = max(stranded, key=lambda p: p.stat().st_mtime)
        os.replace(newest, out)
        stranded.remove(newest)
    for leftover in [*stranded, *(p for p in out.parent.glob(f".{out.name}.tmp-*") if _ours_and_dead(p))]:
        shutil.rmtree(leftover, ignore_errors=True)


def _ours_and_dead(path: Path) -> bool:
    """A hidden sibling left by a process that is gone, holding dqaudit's marker (or nothing at all)."""
    if path.is_symlink() or not path.is_dir():
        return False
    pid = path.name.rsplit(".", 1)[-1].split("-")[1] if "-" in path.name else ""
    if pid.isdigit() and _alive(int(pid)):
        return False
    return read_token(path) is not None or not any(path.iterdir())


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


def _swap(tmp: Path, out: Path) -> None:
    """Replace ``out`` by ``tmp``; if the final rename fails the previous export is put back."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
    try:
        os.replace(tmp, out)
    except BaseException:
        if old is not None:
            os.replace(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


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
