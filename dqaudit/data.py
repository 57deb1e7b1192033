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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from .config import FieldsConfig, InputConfig
from .errors import InputError
from .text import text_hash

#: Canonical columns of ``Dataset.frame``; ``line`` is the 1-based physical line (row for Parquet).
COLUMNS = (
    "id", "text", "label", "annotations", "lang", "created_at",
    "policy_version", "group", "output", "line", "text_hash",
)
_SELECTOR = re.compile(r"^(?P<key>[^\[\]]+)\[(?P<role>[^\[\]]+)\]$")
#: Longer texts are quarantined: no training example is this long, and checkers' cost grows with it.
MAX_TEXT_CHARS = 1_000_000
_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".tsv": "csv",
            ".parquet": "parquet", ".pq": "parquet"}


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
    builder = _Builder(path, fields)
    for line, raw, obj in iter_rows(path, fmt, input_config):
        builder.add(line, raw, obj)
    return builder.finish(SourceInfo(str(path), fmt, _file_digest(path), builder.rows))


def iter_rows(path: Path, fmt: str, input_config: InputConfig) -> Iterator[tuple[int, str, Any]]:
    """Yield ``(line, raw_text, parsed_or_problem)`` for every non-blank physical row.

    A row that cannot be parsed yields a :class:`LoadProblem` in place of the object.
    The exporter uses the same iterator to copy original records unchanged.
    """
    if fmt == "jsonl":
        yield from _iter_jsonl(path)
    elif fmt == "csv":
        yield from _iter_csv(path, input_config)
    else:
        yield from _iter_parquet(path)


def _iter_jsonl(path: Path) -> Iterator[tuple[int, str, Any]]:
    with path.open("rb") as handle:
        head = handle.read(4)
        handle.seek(0)
        if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            stream: Any = io.BytesIO(handle.read().decode("utf-16").encode("utf-8"))
        else:
            stream = handle
        for number, raw_bytes in enumerate(stream, start=1):
            if number == 1 and raw_bytes.startswith(codecs.BOM_UTF8):
                raw_bytes = raw_bytes[len(codecs.BOM_UTF8):]
            raw_bytes = raw_bytes.rstrip(b"\r\n")
            if not raw_bytes.strip():
                continue
            try:
                raw = raw_bytes.decode("utf-8")
            except UnicodeDecodeError as exc:
                raw = raw_bytes.decode("utf-8", "replace")
                yield number, raw, LoadProblem(number, "bad_encoding",
                                               f"invalid UTF-8 at byte {exc.start}", raw)
                continue
            try:
                yield number, raw, orjson.loads(raw_bytes)
            except orjson.JSONDecodeError as exc:
                yield number, raw, LoadProblem(number, "malformed_json", f"invalid JSON: {exc}", raw)


def _iter_csv(path: Path, input_config: InputConfig) -> Iterator[tuple[int, str, Any]]:
    with path.open("rb") as handle:
        data = handle.read()
    encoding = "utf-16" if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(path, f"invalid UTF-8 at byte {exc.start}; re-encode the file as UTF-8",
                         line=line) from None
    delimiter = input_config.delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")
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


def _iter_parquet(path: Path) -> Iterator[tuple[int, str, Any]]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
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
        self.keys_seen: set[str] = set()

    def add(self, line: int, raw: str, obj: Any) -> None:
        self.rows += 1
        if isinstance(obj, LoadProblem):
            self.problems.append(obj)
            return
        if not isinstance(obj, dict):
            self.problems.append(LoadProblem(line, "not_an_object",
                                             f"expected a JSON object, got {type(obj).__name__}", raw))
            return
        if len(self.keys_seen) < 64:
            self.keys_seen.update(map(str, list(obj)[:64]))
        try:
            record = self._extract(obj)
        except _FieldProblem as bad:
            self.problems.append(LoadProblem(line, bad.kind, bad.message, raw or _dump(obj), bad.field))
            return
        record["line"] = line
        record["text_hash"] = text_hash(record["text"])
        if record["id"] is None:
            record["id"] = f"auto-{line}-{record['text_hash'][:8]}"
        for name in COLUMNS:
            self.columns[name].append(record[name])

    def _extract(self, obj: dict[str, Any]) -> dict[str, Any]:
        f = self.fields
        text = _select(obj, f.text)
        if text is _MISSING or text is None:
            raise _FieldProblem("missing_text", "missing text", f.text)
        if not isinstance(text, str):
            raise _FieldProblem("bad_text", f"expected a string, got {_kind(text)}", f.text)
        self.seen_text = True
        if len(text) > MAX_TEXT_CHARS:
            raise _FieldProblem("text_too_long", f"text has {len(text):,} characters "
                                                 f"(limit {MAX_TEXT_CHARS:,}); split or drop it", f.text)
        record: dict[str, Any] = {"text": text}
        record["id"] = _scalar(obj, f.id, "bad_id")
        record["label"] = _scalar(obj, f.label, "bad_label")
        record["lang"] = _scalar(obj, f.lang, "bad_lang")
        record["group"] = _scalar(obj, f.group, "bad_group")
        record["created_at"] = _scalar(obj, f.created_at, "bad_created_at")
        record["policy_version"] = _scalar(obj, f.policy_version, "bad_policy_version")
        output = _select(obj, f.output) if f.output else None
        if output is not _MISSING and output is not None and not isinstance(output, str):
            raise _FieldProblem("bad_output", f"expected a string, got {_kind(output)}", f.output)
        record["output"] = None if output is _MISSING else output
        record["annotations"] = _annotations(obj, f.annotations)
        return record

    def finish(self, source: SourceInfo) -> Dataset:
        if not self.seen_text and self.rows:
            kinds = {p.kind for p in self.problems}
            if kinds <= {"missing_text", "not_an_object", "bad_text"} and "missing_text" in kinds:
                keys = ", ".join(sorted(self.keys_seen)[:20]) or "none"
                raise InputError(self.path, f"no record has this field (keys seen: {keys}); "
                                            "map it with fields.text in dqaudit.yaml", field=self.fields.text)
        frame = pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in self.columns.items()})
        frame["line"] = frame["line"].astype("int64")
        return Dataset(frame, tuple(self.problems), source, self.fields)


class _FieldProblem(Exception):
    def __init__(self, kind: str, message: str, field: str | None) -> None:
        super().__init__(message)
        self.kind, self.message, self.field = kind, message, field


_MISSING = object()


def _select(obj: dict[str, Any], spec: str | None) -> Any:
    """Resolve a field spec: ``key``, ``a.b`` or ``messages[role]`` (joins that role's turns)."""
    if spec is None:
        return _MISSING
    if spec in obj:
        return obj[spec]
    match = _SELECTOR.match(spec)
    if match:
        turns = _select(obj, match["key"])
        if not isinstance(turns, list):
            return _MISSING
        parts = [t.get("content") for t in turns if isinstance(t, dict) and t.get("role") == match["role"]]
        if not parts:
            return _MISSING
        if not all(isinstance(p, str) for p in parts):
            raise _FieldProblem("bad_text", "a message's content is not a string", spec)
        return "\n".join(parts)
    node: Any = obj
    for part in spec.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _scalar(obj: dict[str, Any], spec: str | None, kind: str) -> str | None:
    """A string-ish field: strings pass, integers become strings, anything else is a problem."""
    value = _select(obj, spec)
    if value is _MISSING or value is None:
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


def _annotations(obj: dict[str, Any], spec: str | None) -> tuple[tuple[str, str], ...] | None:
    """``[{annotator, label}, ...]`` as a tuple of (annotator, label) pairs."""
    value = _select(obj, spec)
    if value is _MISSING or value is None:
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


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
