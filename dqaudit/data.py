"""Loading JSONL, CSV and Parquet into one canonical table, without losing a row.

Every physical input row ends up either in ``Dataset.frame`` (one row per usable
record) or in ``Dataset.problems`` (with its line number, a reason and the raw
text), so the exporter can account for every row. Whole-file problems (missing
path, unknown format, no text field anywhere) raise :class:`InputError`.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import islice, repeat
from operator import methodcaller
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from .config import FieldsConfig, InputConfig
from .errors import InputError
from .text import text_hash

#: Canonical columns of ``Dataset.frame``; ``line`` is the 1-based physical line (row for Parquet).
COLUMNS = (
    "id", "text", "label", "annotations", "lang", "created_at",
    "policy_version", "group", "split", "output", "line", "text_hash",
)
_SELECTOR = re.compile(r"^(?P<key>[^\[\]]+)\[(?P<role>[^\[\]]+)\]$")
#: Longer texts are quarantined: no training example is this long, and checkers' cost grows with it.
MAX_TEXT_CHARS = 1_000_000
_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".tsv": "csv",
            ".parquet": "parquet", ".pq": "parquet"}
#: JSONL is read in blocks this large (at least 3 bytes: the first block must hold any BOM);
#: each block's lines are parsed and mapped as one batch.
_BLOCK_BYTES = 1 << 20
#: A block with an unusual row is retried in chunks of this many rows.
_CHUNK_ROWS = 64


@dataclass(frozen=True, slots=True)
class LoadProblem:
    """An input row that could not become a record: it goes to quarantine with this reason."""

    line: int
    kind: str
    message: str
    raw: str
    field: str | None = None


@dataclass(frozen=True, slots=True)
class SourceInfo:
    path: str
    format: str
    fingerprint: str
    rows: int  # physical rows read (records + problems), blank lines excluded


@dataclass(slots=True)
class Dataset:
    """The canonical table, the rows that did not load, and where it all came from."""

    frame: pd.DataFrame
    problems: tuple[LoadProblem, ...]
    source: SourceInfo
    fields: FieldsConfig
    #: Rows (positions) whose id the data gave to more than one record; see :func:`unique_ids`.
    shared_ids: tuple[int, ...] = ()

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def has_labels(self) -> bool:
        return bool(self.frame["label"].notna().any())


def detect_format(path: Path, config: InputConfig) -> str:
    if config.format != "auto":
        return config.format
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(path, f"cannot tell the format from '{path.suffix}'; set input.format "
                               "(jsonl, csv or parquet)")
    return fmt


def load_dataset(path: str | Path, fields: FieldsConfig | None = None,
                 input_config: InputConfig | None = None) -> Dataset:
    """Read ``path`` into a :class:`Dataset`; raises InputError only for whole-file problems."""
    path = Path(path)
    fields, input_config = fields or FieldsConfig(), input_config or InputConfig()
    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        raise InputError(path, "is a directory; give a file")
    fmt = detect_format(path, input_config)
    first = islice(iter_rows(path, fmt, input_config), _SAMPLES)
    fields = chat_fields(fields, lambda: [obj for _, _, obj in first])
    builder = _Builder(path, fields)
    digest = hashlib.sha256()  # of the bytes parsed, as they are read: the snapshot the audit describes
    if fmt == "jsonl":
        for first, lines in _jsonl_blocks(path, digest):
            builder.add_lines(first, lines)
    else:
        for line, raw, obj in iter_rows(path, fmt, input_config, digest):
            builder.add(line, raw, obj)
    return builder.finish(SourceInfo(str(path), fmt, digest.hexdigest(), builder.rows))


def iter_rows(path: Path, fmt: str, input_config: InputConfig,
              digest: Any = None) -> Iterator[tuple[int, str, Any]]:
    """Yield ``(line, raw_text, parsed_or_problem)`` for every non-blank physical row.

    A row that cannot be parsed yields a :class:`LoadProblem` in place of the object.
    The exporter uses the same iterator to copy original records unchanged. ``digest``
    (a hashlib object) is fed every byte of the file as it is read, so a reader can tell
    whether it saw the same bytes as an earlier read.
    """
    if fmt == "jsonl":
        yield from _iter_jsonl(path, digest)
    elif fmt == "csv":
        yield from _iter_csv(path, input_config, digest)
    else:
        yield from _iter_parquet(path, digest)


def _iter_jsonl(path: Path, digest: Any = None) -> Iterator[tuple[int, str, Any]]:
    for first, lines in _jsonl_blocks(path, digest):
        yield from _parse_lines(first, lines)


def _jsonl_blocks(path: Path, digest: Any = None) -> Iterator[tuple[int, list[bytes]]]:
    """The file's ``\\n``-separated lines in blocks, each with the number of its first line.

    Reading blocks instead of lines lets a whole block be parsed and mapped at once;
    a line longer than a block is assembled from pieces, never by repeated copying.
    """
    number = 1
    pending: list[bytes] = []
    for block in _utf8_blocks(path, digest):
        lines = block.split(b"\n")
        pending.append(lines[0])
        if len(lines) == 1:
            continue
        lines[0] = b"".join(pending)
        pending = [lines.pop()]  # the start of the line the next block ends
        yield number, lines
        number += len(lines)
    tail = b"".join(pending)
    if tail:
        yield number, [tail]


def _utf8_blocks(path: Path, digest: Any = None) -> Iterator[bytes]:
    """The file as UTF-8 blocks: UTF-16 (by its BOM) re-encoded, a leading UTF-8 BOM dropped."""
    with path.open("rb") as handle:
        read = partial(_read_hashed, handle, digest)
        first = read(_BLOCK_BYTES)
        if first[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            first = (first + read(-1)).decode("utf-16").encode("utf-8")
        yield first.removeprefix(codecs.BOM_UTF8)
        yield from iter(partial(read, _BLOCK_BYTES), b"")


def _read_hashed(handle: Any, digest: Any, size: int) -> bytes:
    """``handle.read(size)``, fed to ``digest`` too when there is one."""
    data = handle.read(size)
    if digest is not None:
        digest.update(data)
    return data


def _parse_all(lines: list[bytes]) -> list[Any]:
    """orjson.loads of every line, at C speed between failures; a line that fails reads as None.

    ``list.extend`` keeps the rows parsed before a failure, and the one iterator has already
    passed the failing line, so parsing resumes right after it: each line is visited once,
    however many blank or bad lines a block holds (restarting from the failure was quadratic).
    Like a ``null`` line, None is not an object: the per-row rules then say what the line is.
    """
    objs: list[Any] = []
    remaining = iter(lines)
    while len(objs) < len(lines):
        try:
            objs.extend(map(orjson.loads, remaining))
        except orjson.JSONDecodeError:
            objs.append(None)
    return objs


def _parse_lines(first: int, lines: list[bytes]) -> Iterator[tuple[int, str, Any]]:
    """Yield ``(line, raw_text, parsed_or_problem)`` for the non-blank ``lines``, numbered from ``first``."""
    for number, raw_bytes in enumerate(lines, start=first):
        raw_bytes = raw_bytes.rstrip(b"\r\n")
        if not raw_bytes.strip():
            continue
        try:
            raw = raw_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            raw = raw_bytes.decode("utf-8", "replace")
            yield number, raw, LoadProblem(number, "bad_encoding", f"invalid UTF-8 at byte {exc.start}", raw)
            continue
        try:
            yield number, raw, orjson.loads(raw_bytes)
        except orjson.JSONDecodeError as exc:
            yield number, raw, LoadProblem(number, "malformed_json", f"invalid JSON: {exc}", raw)


def _iter_csv(path: Path, input_config: InputConfig, digest: Any = None) -> Iterator[tuple[int, str, Any]]:
    with path.open("rb") as handle:
        data = _read_hashed(handle, digest, -1)
    yield from csv_rows(data, path, input_config)


def csv_rows(data: bytes, path: str | Path, input_config: InputConfig) -> Iterator[tuple[int, str, Any]]:
    """:func:`iter_rows` for a CSV file's bytes (``path`` names it in errors; its suffix picks TSV).

    Quoted newlines are joined, so a row's number is the line it starts on. Both engines parse
    CSV with it (Spark per file, on an executor).
    """
    encoding = "utf-16" if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(path, f"invalid UTF-8 at byte {exc.start}; re-encode the file as UTF-8",
                         line=line) from None
    delimiter = input_config.delimiter or ("\t" if Path(str(path)).suffix.lower() == ".tsv" else ",")
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))  # the default 128 KiB rejects long texts
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    if len(header) == 1 and input_config.delimiter is None:
        guess = next((d for d in (";", "\t", "|") if d in header[0]), None)
        if guess:
            raise InputError(path, f"the header has one column; the file looks {guess!r}-delimited: "
                                   f"set input.delimiter", line=1)
    start = reader.line_num + 1
    try:
        for row in reader:
            line = start
            start = reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            raw = delimiter.join(row)
            if len(row) != len(header):
                end = start - 1
                spans = f" (the row spans lines {line}-{end}: a quote left open?)" if end > line else ""
                message = f"{len(row)} fields where the header has {len(header)}{spans}"
                yield line, raw, LoadProblem(line, "bad_row", message, raw)
                continue
            yield line, raw, dict(zip(header, row, strict=True))
    except csv.Error as exc:
        raise InputError(path, f"CSV parse error: {exc}", line=reader.line_num) from None


def _iter_parquet(path: Path, digest: Any = None) -> Iterator[tuple[int, str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with path.open("rb") as handle:  # read once, so that the rows come from exactly the bytes hashed
        data = _read_hashed(handle, digest, -1)
    try:
        parquet = pq.ParquetFile(pa.py_buffer(data))
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise InputError(path, f"not a readable Parquet file ({exc})") from None
    number = 0
    for batch in parquet.iter_batches(batch_size=65536):
        for record in batch.to_pylist():
            number += 1
            yield number, "", record


class _Builder:
    """Maps parsed rows onto the canonical columns, sending unusable rows to ``problems``."""

    def __init__(self, path: Path, fields: FieldsConfig) -> None:
        self.path, self.fields = path, fields
        self.columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
        self.problems: list[LoadProblem] = []
        self.rows = 0
        self.seen_text = False
        #: The first few objects read: the keys and chat roles an error message lists.
        self.samples: list[dict[str, Any]] = []
        self.ids_given = False  # whether any record had an id before auto ids filled the gaps
        f = fields
        self._text = _field(f.text)
        specs = {name: getattr(f, name) for name in _SCALAR_FIELDS}
        self._scalars = [(name, _field(spec) if spec is not None else None, f"bad_{name}")
                         for name, spec in specs.items()]
        self._output = _field(f.output) if f.output else None  # an empty spec means no output
        self._annotations = _field(f.annotations) if f.annotations is not None else None

    def add(self, line: int, raw: str, obj: Any) -> None:
        self.rows += 1
        if isinstance(obj, LoadProblem):
            self.problems.append(obj)
            return
        if not isinstance(obj, dict):
            self.problems.append(LoadProblem(line, "not_an_object",
                                             f"expected a JSON object, got {type(obj).__name__}", raw))
            return
        if len(self.samples) < _SAMPLES:
            self.samples.append(obj)
        try:
            record = self._extract(obj)
        except _FieldProblem as bad:
            self.problems.append(LoadProblem(line, bad.kind, bad.message, raw or _dump(obj), bad.field))
            return
        record["line"] = line
        record["text_hash"] = text_hash(record["text"])
        self.ids_given = self.ids_given or record["id"] is not None
        if record["id"] is None:
            record["id"] = f"auto-{line}-{record['text_hash'][:8]}"
        for name in COLUMNS:
            self.columns[name].append(record[name])

    def add_lines(self, first: int, lines: list[bytes]) -> None:
        """JSONL ``lines`` numbered from ``first``: in batches of plain records, other rows one by one.

        A line orjson parses is valid UTF-8 and not blank, so the row-by-row rules would
        give it the same object. A block with an unusual row is retried in small chunks,
        so that a few bad rows send only their own chunks down the exact per-row path.
        """
        objs = _parse_all(lines)
        if self._add_batch(range(first, first + len(lines)), objs):
            return
        for start in range(0, len(lines), _CHUNK_ROWS):
            end = start + _CHUNK_ROWS
            if not self._add_batch(range(first + start, first + min(end, len(lines))), objs[start:end]):
                for line, raw, obj in _parse_lines(first + start, lines[start:end]):
                    self.add(line, raw, obj)

    def _add_batch(self, lines: range, objs: list[Any]) -> bool:
        """Add rows column by column; False, adding nothing, when some row needs the per-row rules.

        Whole-column type checks (``set(map(type, ...))``) replace per-row checks: a column
        of str/None values passes untouched, anything else goes through the per-row converter.
        """
        if set(map(type, objs)) != {dict}:
            return False
        if len(self.samples) < _SAMPLES:
            self.samples.extend(objs[:_SAMPLES - len(self.samples)])
        keys = set().union(*objs)
        absent = [None] * len(objs)
        try:
            texts = self._text.column(objs, keys)
            if texts is None or set(map(type, texts)) != {str} or max(map(len, texts)) > MAX_TEXT_CHARS:
                return False
            batch: dict[str, list[Any]] = {"text": texts}
            for name, field, kind in self._scalars:
                values = field.column(objs, keys) if field else None
                types = set(map(type, values)) if values is not None else _PLAIN
                # integers (not booleans) read as _scalar reads them, without a call per row
                if types <= _INTEGRAL:
                    values = [str(v) if type(v) is int else v for v in values] if int in types else values
                else:
                    values = [v if v is None or type(v) is str else _scalar(v, field.spec, kind)
                              for v in values]
                batch[name] = absent if values is None else values
            output = self._output.column(objs, keys) if self._output else None
            if output is not None and not set(map(type, output)) <= _PLAIN:
                return False
            notes = self._annotations.column(objs, keys) if self._annotations else None
            if notes is not None:
                notes = [None if v is None else _annotations(v, self._annotations.spec) for v in notes]
        except _FieldProblem:
            return False
        batch["output"] = absent if output is None else output
        batch["annotations"] = absent if notes is None else notes
        self.rows += len(objs)
        self.seen_text = True
        batch["line"] = list(lines)
        batch["text_hash"] = hashes = list(map(text_hash, texts))
        self.ids_given = self.ids_given or any(rid is not None for rid in batch["id"])
        if None in batch["id"]:
            batch["id"] = [rid if rid is not None else f"auto-{line}-{h[:8]}"
                           for rid, line, h in zip(batch["id"], lines, hashes, strict=True)]
        for name in COLUMNS:
            self.columns[name].extend(batch[name])
        return True

    def _extract(self, obj: dict[str, Any]) -> dict[str, Any]:
        f = self.fields
        text = self._text.get(obj)
        if text is None:
            raise _FieldProblem("missing_text", "missing text", f.text)
        if not isinstance(text, str):
            raise _FieldProblem("bad_text", f"expected a string, got {_kind(text)}", f.text)
        self.seen_text = True
        if len(text) > MAX_TEXT_CHARS:
            raise _FieldProblem("text_too_long", f"text has {len(text):,} characters "
                                                 f"(limit {MAX_TEXT_CHARS:,}); split or drop it", f.text)
        record: dict[str, Any] = {"text": text}
        for name, field, kind in self._scalars:
            record[name] = _scalar(field.get(obj), field.spec, kind) if field else None
        output = self._output.get(obj) if self._output else None
        if output is not None and not isinstance(output, str):
            raise _FieldProblem("bad_output", f"expected a string, got {_kind(output)}", f.output)
        record["output"] = output
        field = self._annotations
        record["annotations"] = _annotations(field.get(obj), field.spec) if field else None
        return record

    def finish(self, source: SourceInfo) -> Dataset:
        if not self.seen_text and self.rows:
            kinds = {p.kind for p in self.problems}
            if kinds <= {"missing_text", "not_an_object", "bad_text"} and "missing_text" in kinds:
                raise self._unmatched("text")
        if self.seen_text:
            defaults = FieldsConfig()
            for name in ("output", "annotations", *_SCALAR_FIELDS):
                spec = getattr(self.fields, name)
                found = self.ids_given if name == "id" else any(v is not None for v in self.columns[name])
                if spec and spec != getattr(defaults, name) and not found:
                    raise self._unmatched(name)
        frame = pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in self.columns.items()})
        frame["line"] = frame["line"].astype("int64")
        shared = unique_ids(frame)
        return Dataset(frame, tuple(self.problems), source, self.fields, shared)


    def _unmatched(self, name: str) -> InputError:
        """A mapped field no record has:
        name the key and what the records hold (keys, or a chat field's roles)."""
        spec = getattr(self.fields, name)
        seen = sorted({str(k) for obj in self.samples for k in obj})
        what = f"keys seen: {', '.join(seen[:20]) or 'none'}"
        match = _SELECTOR.match(spec)
        if match:
            turns_of = _field(match["key"])
            roles = sorted({str(turn["role"]) for obj in self.samples for turn in _turns(turns_of.get(obj))})
            if roles:
                what = f"roles seen in '{match['key']}': {', '.join(roles)}"
        return InputError(self.path, f"no record has this field ({what}); map it with fields.{name} in "
                                     "dqaudit.yaml", field=spec)


def unique_ids(frame: pd.DataFrame) -> tuple[int, ...]:
    """Make ``frame["id"]`` unique in place; returns the rows whose id the data shared.

    An id is a name the data gives, not identity: two sources numbered 0..n and concatenated
    share every id although their texts differ. Every later holder of an id becomes
    ``<id>#<line>``, so findings, the cleaning plan and the quarantine name exactly one row;
    the schema check still reports the shared ids.
    """
    ids = frame["id"].astype(str)
    later = ids.duplicated(keep="first")
    if not later.any():
        return ()
    shared = tuple(int(r) for r in np.flatnonzero(ids.duplicated(keep=False).to_numpy()))
    lines = frame["line"].astype(str)
    while later.any():  # "7#12" may itself be an id some record already has
        ids = ids.where(~later, ids + "#" + lines)
        later = ids.duplicated(keep="first")
    frame["id"] = ids.astype(object)
    return shared


class _FieldProblem(Exception):
    def __init__(self, kind: str, message: str, field: str | None) -> None:
        super().__init__(message)
        self.kind, self.message, self.field = kind, message, field


#: Objects kept for error messages (their keys and chat roles).
_SAMPLES = 20
#: String-ish fields, in the order their problems are reported.
_SCALAR_FIELDS = ("id", "label", "lang", "group", "created_at", "policy_version", "split")
#: Value types a string field keeps as they are (an absent field reads as None).
_PLAIN = {str, type(None)}
#: Value types a string field takes in a batch without a check per row (an integer becomes its digits).
_INTEGRAL = {int, str, type(None)}


@dataclass(frozen=True, slots=True)
class _Field:
    """A field spec compiled once: ``key``, ``a.b`` or ``messages[role]`` (joins that role's turns).

    ``get`` returns None for an absent field (every caller treats absent and null alike);
    a key literally named like the spec wins over its path or selector reading.
    """

    spec: str
    get: Callable[[dict[str, Any]], Any]
    roots: frozenset[str]  # a row with none of these keys has no value for the field

    def column(self, objs: list[dict[str, Any]], keys: set[str]) -> list[Any] | None:
        """The value in every row of ``objs``; None when no row has it (``keys``: all their keys)."""
        if self.roots.isdisjoint(keys):
            return None
        if self.roots == {self.spec}:  # a plain key: no Python call per row
            return list(map(dict.get, objs, repeat(self.spec)))
        return list(map(self.get, objs))


def _field(spec: str) -> _Field:
    match = _SELECTOR.match(spec)
    if match:
        turns_of, role = _field(match["key"]), match["role"]

        def select(obj: dict[str, Any]) -> Any:
            if spec in obj:
                return obj[spec]
            turns = turns_of.get(obj)
            if not isinstance(turns, list):
                return None
            parts = [t.get("content") for t in turns if isinstance(t, dict) and t.get("role") == role]
            if not parts:
                return None
            if not all(isinstance(p, str) for p in parts):
                raise _FieldProblem("bad_text", "a message's content is not a string", spec)
            return "\n".join(parts)

        return _Field(spec, select, turns_of.roots | {spec})
    if "." not in spec:
        return _Field(spec, methodcaller("get", spec), frozenset({spec}))
    path = spec.split(".")

    def walk(obj: dict[str, Any]) -> Any:
        if spec in obj:
            return obj[spec]
        node: Any = obj
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    return _Field(spec, walk, frozenset({spec, path[0]}))


def chat_key(spec: str) -> str | None:
    """The key holding the turns of a chat selector (``messages`` for ``messages[user]``);
    None for a plain key."""
    match = _SELECTOR.match(spec)
    return match["key"] if match and "." not in match["key"] else None


def _turns(value: Any) -> list[dict[str, Any]]:
    """The chat turns (objects with a role) of a ``messages``-like value; anything else has none."""
    return [t for t in value if isinstance(t, dict) and "role" in t] if isinstance(value, list) else []


def chat_fields(fields: FieldsConfig, first_rows: Callable[[], list[Any]]) -> FieldsConfig:
    """Chat records read without a mapping: ``messages[user]`` as text, ``messages[assistant]`` as output.

    Applies only while the text field is the default ``text`` and no output is mapped, and when the
    first records (``first_rows()``: the first :data:`_SAMPLES` parsed rows, read only then) have no
    ``text`` key but a ``messages`` list with user turns (OpenAI chat format, as ``dqaudit split --chat``
    writes it), so that its exports audit and check without a config. Both engines call it.
    """
    if fields.text != FieldsConfig().text or fields.output is not None:
        return fields
    objs = [obj for obj in first_rows() if isinstance(obj, dict)]
    if not objs or any(fields.text in obj for obj in objs):
        return fields
    if not any(turn.get("role") == "user" for obj in objs for turn in _turns(obj.get("messages"))):
        return fields
    return fields.model_copy(update={"text": "messages[user]", "output": "messages[assistant]"})


def _scalar(value: Any, spec: str | None, kind: str) -> str | None:
    """A string-ish field: strings pass, integers become strings, anything else is a problem."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) <= 2**53:
        return str(int(value))
    # orjson reads integers beyond 64 bits as floats: converting back would invent digits
    hint = "; too large to keep exactly: quote it" if isinstance(value, float) and abs(value) > 2**53 else ""
    raise _FieldProblem(kind, f"expected a string or integer, got {_kind(value)}{hint}", spec)


def _annotations(value: Any, spec: str | None) -> tuple[tuple[str, str], ...] | None:
    """``[{annotator, label}, ...]`` as a tuple of (annotator, label) pairs."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise _FieldProblem("bad_annotations", f"expected a list, got {_kind(value)}", spec)
    pairs = []
    for item in value:
        if not isinstance(item, dict) or "label" not in item:
            raise _FieldProblem("bad_annotations", "each annotation needs 'annotator' and 'label'", spec)
        annotator, label = item.get("annotator"), item.get("label")
        if label is None:
            continue
        if not isinstance(label, (str, int)) or isinstance(label, bool):
            raise _FieldProblem("bad_annotations", f"annotation label is {_kind(label)}", spec)
        pairs.append((str(annotator) if annotator is not None else f"#{len(pairs)}", str(label)))
    return tuple(pairs)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "a boolean"}.get(type(value), type(value).__name__)


def _dump(obj: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def dataset_from_frame(frame: pd.DataFrame, fields: FieldsConfig | None = None,
                       name: str = "<dataframe>") -> Dataset:
    """Build a Dataset from an in-memory DataFrame (the Python API's other entry point)."""
    fields = fields or FieldsConfig()
    builder = _Builder(Path(name), fields)
    for position, record in enumerate(frame.to_dict(orient="records"), start=1):
        clean = {k: (None if _is_nan(v) else v) for k, v in record.items()}
        builder.add(position, "", clean)
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame.astype(str), index=False).values.tobytes())
    return builder.finish(SourceInfo(name, "dataframe", digest.hexdigest(), builder.rows))


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
