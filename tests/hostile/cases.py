"""The hostile corpus: every case writes its input with code and states the outcome it must get.

An outcome is either a clear error (exit 2, one line naming the file and, where it
applies, the line and the field) or a completed audit (exit 0 or 1) whose report
accounts for every input row and carries the expected findings. What no case may
ever produce is checked by the runner for all of them: a traceback, a lost row, or
dataset text that reaches a terminal, a browser or a spreadsheet unneutralised.
"""

from __future__ import annotations

import codecs
import csv
import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

#: Written by injection payloads; found in any output, it means the payload survived verbatim.
MARK = "dqaudit-pwned"

#: One vocabulary per filler label, so the filler itself is clean (learnable labels, no near-duplicates).
_WORDS = {
    "billing": "refund fee charge invoice payment overdraft interest statement cashback chargeback "
    "salary transfer deposit currency exchange mortgage".split(),
    "access": "login password blocked locked pin code app mobile reset sms verification device "
    "browser session biometric token".split(),
}


@dataclass(frozen=True)
class Setup:
    """What a case built: the input, how many physical rows it holds, and extra CLI arguments."""

    data: Path
    rows: int
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Expect:
    """The outcome a case must get.

    ``exit`` 2 means a clear error whose one line contains every ``error`` fragment;
    0 or 1 means the audit ran, every row was loaded or quarantined (``quarantined``
    of them when given), and each ``findings`` fragment appears in a finding message.
    ``{data}`` in a fragment stands for the input path.
    """

    exit: int
    error: tuple[str, ...] = ()
    quarantined: int | None = None
    findings: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    max_seconds: float = 20.0

    def describe(self) -> str:
        if self.exit == 2:
            return "exit 2: " + " … ".join(self.error).replace("{data}", "DATA")
        parts = [f"exit {self.exit}"]
        if self.quarantined is not None:
            parts.append(f"{self.quarantined} quarantined")
        parts += [f"finding {k}" for k in self.kinds]
        return ", ".join(parts)


@dataclass(frozen=True)
class Case:
    name: str
    group: str
    what: str
    build: Callable[[Path], Setup]
    expect: Expect
    slow: bool = False
    extra: tuple[str, ...] = field(default=())  # output properties checked beyond the common ones
    #: Run every checker, label_noise included (seconds per run); otherwise the runner leaves it out.
    all_checks: bool = False
    #: A scenario beyond one audit (split, concurrency, a kill, a full disk...): run instead of the audit;
    #: see :mod:`tests.hostile.scenarios`.
    run: Callable[[Path, Setup], Any] | None = None


def filler(n: int, start: int = 0) -> list[dict[str, Any]]:
    """Ordinary, distinct records in two balanced classes, so a case's hostile rows stand out."""
    out = []
    for i in range(start, start + n):
        label = ("billing", "access")[i % 2]
        words = " ".join(random.Random(i).sample(_WORDS[label], 8))
        out.append({"id": f"r{i}", "text": f"Hello, question {i}: {words}?", "label": label})
    return out


def _dump(record: Any) -> str:
    return record if isinstance(record, str) else json.dumps(record, ensure_ascii=False)


def jsonl(
    directory: Path,
    lines: Iterable[Any],
    name: str = "data.jsonl",
    *,
    encoding: str = "utf-8",
    newline: str = "\n",
    bom: bytes = b"",
    trailing: bool = True,
    args: tuple[str, ...] = (),
) -> Setup:
    """Write records (dicts, or raw strings as-is) one per line; rows counts the non-blank lines."""
    texts = [_dump(r) for r in lines]
    body = newline.join(texts) + (newline if trailing else "")
    path = directory / name
    path.write_bytes(bom + body.encode(encoding))
    return Setup(path, sum(1 for t in texts if t.strip()), args)


def raw_file(directory: Path, name: str, data: bytes, rows: int, args: tuple[str, ...] = ()) -> Setup:
    path = directory / name
    path.write_bytes(data)
    return Setup(path, rows, args)


def csv_file(directory: Path, rows: list[list[Any]], name: str = "data.csv", delimiter: str = ",") -> Setup:
    """A CSV written by the csv module (quoting right); rows excludes the header."""
    path = directory / name
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)
    return Setup(path, len(rows) - 1)


def _csv_rows(records: list[dict[str, Any]]) -> list[list[Any]]:
    return [["id", "text", "label"]] + [[r["id"], r["text"], r["label"]] for r in records]


def parquet(directory: Path, table: pa.Table, name: str = "data.parquet") -> Setup:
    path = directory / name
    pq.write_table(table, path)
    return Setup(path, table.num_rows)


def with_config(setup: Setup, directory: Path, text: str | bytes, name: str = "dqaudit.yaml") -> Setup:
    """Attach a config file (``--config``) to a case's data."""
    path = directory / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return Setup(setup.data, setup.rows, (*setup.args, "--config", str(path)))


def with_policies(setup: Setup, directory: Path, text: str) -> Setup:
    """Point the stale_policy check at a policies file (written beside the data)."""
    policies = directory / "policies.yaml"
    policies.write_text(text, encoding="utf-8")
    return with_config(
        setup, directory, f"checks:\n  stale_policy:\n    policies: {json.dumps(str(policies))}\n"
    )


def _policy(patterns: str) -> str:
    return (
        "policies:\n  - id: refund-14\n    effective_from: 2024-01-01\n"
        f"    superseded:\n      patterns: {patterns}\n"
    )


# --- builders for cases that need more than one line --------------------------------------------------------


def _ids_mixed(d: Path) -> Setup:
    rows = filler(20) + [
        {"id": 7, "text": "integer id seven here", "label": "billing"},
        {"id": "7", "text": "string id seven here", "label": "access"},
        {"id": 7.0, "text": "float id seven here", "label": "billing"},
        {"id": True, "text": "boolean id here", "label": "access"},
        {"id": [7], "text": "list id here", "label": "billing"},
    ]
    return jsonl(d, rows)


def _huge_line(d: Path) -> Setup:
    big = json.dumps(
        {"id": "huge", "text": "lorem ipsum dolor sit amet " * (50_000_000 // 27), "label": "billing"}
    )
    return jsonl(d, [*filler(20), big])


def _million_rows(d: Path) -> Setup:
    path = d / "million.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        handle.writelines(
            f'{{"id":"m{i}","text":"row {i}","label":"{"ab"[i % 2]}"}}\n' for i in range(1_000_000)
        )
    return Setup(path, 1_000_000, ("--checks", "balance"))  # the loader is under test; checks scale elsewhere


def _wide_record(d: Path) -> Setup:
    wide = {f"k{i}": i for i in range(10_000)} | {
        "id": "wide",
        "text": "a record with ten thousand fields",
        "label": "billing",
    }
    return jsonl(d, [*filler(20), wide])


def _deep(depth: int) -> str:
    return '{"id":"deep","label":"billing","text":"deep nesting","meta":' + "[" * depth + "]" * depth + "}"


def _utf16(d: Path) -> Setup:
    return jsonl(d, filler(20), encoding="utf-16-le", bom=codecs.BOM_UTF16_LE)


def _csv_embedded(d: Path) -> Setup:
    rows = _csv_rows(filler(10))
    rows.insert(3, ["q1", 'she said "hi",\nthen\r\nleft; a|b', "billing"])
    return csv_file(d, rows)


def _csv_ragged(d: Path) -> Setup:
    body = "id,text,label\n" + "".join(f"r{i},text number {i},billing\n" for i in range(20))
    body += "x1,too,many,fields\nx2,too few\n"
    return raw_file(d, "data.csv", body.encode(), 22)


def _csv_long_field(d: Path) -> Setup:
    rows = _csv_rows(filler(20))
    rows.append(["long", "word " * 60_000, "billing"])  # 300 kB: past the csv module's 128 KiB default
    return csv_file(d, rows)


def _csv_invalid_utf8(d: Path) -> Setup:
    body = b"id,text,label\n" + b"".join(f"r{i},text {i},billing\n".encode() for i in range(5))
    return raw_file(d, "data.csv", body + b"bad,caf\xe9 latin-1,billing\n", 6)


def _parquet_wrong_schema(d: Path) -> Setup:
    return parquet(
        d, pa.table({"id": [f"p{i}" for i in range(10)], "text": list(range(10)), "label": ["billing"] * 10})
    )


def _parquet_struct_text(d: Path) -> Setup:
    good = filler(10)
    table = pa.table(
        {
            "id": [r["id"] for r in good] + ["s"],
            "text": [{"v": r["text"]} for r in good] + [{"v": "nested"}],
            "label": [r["label"] for r in good] + ["billing"],
        }
    )
    return parquet(d, table)


def _parquet_nan_labels(d: Path) -> Setup:
    good = filler(20)
    labels = [1.0 if i % 2 else 2.0 for i in range(20)]
    labels[5] = float("nan")
    return parquet(
        d,
        pa.table(
            {
                "id": [r["id"] for r in good],
                "text": [r["text"] for r in good],
                "label": pa.array(labels, type=pa.float64()),
            }
        ),
    )


def _symlink_loop(d: Path) -> Setup:
    path = d / "loop.jsonl"
    path.symlink_to(path)
    return Setup(path, 0)


def _html_payloads() -> list[dict[str, Any]]:
    """Texts and labels that would run, fetch or restyle if any report interpolated them raw."""
    payloads = [
        f"<script>document.title='{MARK}'</script>",
        f"<img src=x onerror=\"document.title='{MARK}'\">",
        f"</textarea></pre></svg><svg onload=\"document.title='{MARK}'\">",
        f"<iframe src=\"javascript:document.title='{MARK}'\"></iframe>",
        f'<meta http-equiv="refresh" content="0;url=http://127.0.0.1:9/{MARK}">',
        f"<style>body{{background:url(http://127.0.0.1:9/{MARK})}}</style>",
        f"\"'><a href=javascript:alert(1)>{MARK}</a>",
    ]
    rows = []
    for i, payload in enumerate(payloads):
        rows += [
            {"id": f"h{i}", "text": f"{payload} please help {i}", "label": payload},
            {"id": f"h{i}b", "text": f"{payload} please help {i}", "label": "billing"},
        ]
    return rows


TERMINAL = [
    "\x1b[2J\x1b[H\x1b[31mscreen cleared",
    "\x1b]0;" + MARK + "\x07title set",
    "\x9b31mC1 CSI",
    "bell\x07\x07 and \x08\x08backspace",
    "\u202eevil\u202c reversed",
    "\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\",
]
FORMULAS = [
    '=HYPERLINK("http://evil","x")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "=1+1",
]


def _terminal(d: Path) -> Setup:
    rows = filler(10) + [{"id": f"t{i}", "text": f"{t} text {i}", "label": t} for i, t in enumerate(TERMINAL)]
    rows.append({"\x1b[31m" + MARK: "escape in a key", "text": "key with escape", "label": "billing"})
    return jsonl(d, rows)


def _formulas(d: Path) -> Setup:
    rows = filler(10) + [{"id": f, "text": f, "label": f} for f in FORMULAS]
    return jsonl(d, rows + [{"id": f + "2", "text": f, "label": "billing"} for f in FORMULAS])


def _markdown(d: Path) -> Setup:
    labels = ["a | b", "[x](javascript:alert(1))", "`code`", "# heading", "<!-- comment", "line\nbreak"]
    rows = filler(10) + [
        {"id": f"m{i}", "text": f"markdown {label} text {i}", "label": label}
        for i, label in enumerate(labels * 2)
    ]
    return jsonl(d, rows)


def _error_key_injection(d: Path) -> Setup:
    return jsonl(d, [{"\x1b]0;" + MARK + "\x07body": "x"}, {"\x1b[2Jbody": "y"}])


# --- the corpus ---------------------------------------------------------------------------------------

_F = filler(20)
_LOADED = Expect(0, quarantined=0)


def _q(kind: str, line: int, field_name: str | None = None, n: int = 1, exit_code: int = 0) -> Expect:
    """A row quarantined with ``kind``: the schema finding names ``file:line`` (and the field)."""
    where = "{data}:" + str(line) + (f" field '{field_name}'" if field_name else "")
    return Expect(exit_code, quarantined=n, findings=(f"({kind}); first at {where}",), kinds=(kind,))


CASES: tuple[Case, ...] = (
    # JSONL: encodings and framing
    Case(
        "empty_file",
        "jsonl",
        "0-byte file",
        lambda d: raw_file(d, "data.jsonl", b"", 0),
        Expect(1, quarantined=0),
    ),
    Case(
        "blank_lines_only",
        "jsonl",
        "only blank and whitespace lines",
        lambda d: raw_file(d, "data.jsonl", b"\n  \n\r\n\t\n", 0),
        Expect(1, quarantined=0),
    ),
    Case("utf8_bom", "jsonl", "UTF-8 byte-order mark", lambda d: jsonl(d, _F, bom=codecs.BOM_UTF8), _LOADED),
    Case("crlf", "jsonl", "Windows line endings", lambda d: jsonl(d, _F, newline="\r\n"), _LOADED),
    Case("utf16_le_bom", "jsonl", "UTF-16 LE with BOM", _utf16, _LOADED),
    Case(
        "invalid_utf8",
        "jsonl",
        "latin-1 byte inside one line",
        lambda d: raw_file(
            d,
            "data.jsonl",
            b"".join(_dump(r).encode() + b"\n" for r in _F[:19])
            + b'{"id":"bad","text":"caf\xe9","label":"billing"}\n',
            20,
        ),
        _q("bad_encoding", 20),
    ),
    Case(
        "truncated_last_line",
        "jsonl",
        "file cut mid-record, no final newline",
        lambda d: jsonl(d, [*_F, '{"id":"cut","text":"this record was trun'], trailing=False),
        _q("malformed_json", 21),
    ),
    Case(
        "not_an_object",
        "jsonl",
        "valid JSON lines that are a list, string, number, null",
        lambda d: jsonl(d, [*_F, "[1, 2]", '"just a string"', "42", "null"]),
        _q("not_an_object", 21, n=4, exit_code=1),
    ),
    Case(
        "json_array_file",
        "jsonl",
        "a pretty-printed JSON array saved as .jsonl",
        lambda d: jsonl(d, ["[", *[json.dumps(r) + "," for r in _F[:3]], "]"]),
        _q("malformed_json", 1, n=5, exit_code=1),
    ),
    Case(
        "nested_text",
        "jsonl",
        "an object where the text string should be",
        lambda d: jsonl(d, [*_F, {"id": "n", "text": {"body": "hi"}, "label": "billing"}]),
        _q("bad_text", 21, "text"),
    ),
    Case(
        "null_label",
        "jsonl",
        "label null",
        lambda d: jsonl(d, [*_F, {"id": "n", "text": "no label here", "label": None}]),
        Expect(0, quarantined=0, kinds=("missing_label",)),
    ),
    Case(
        "number_label",
        "jsonl",
        "integer labels (kept as strings)",
        lambda d: jsonl(d, [{**r, "label": i % 2} for i, r in enumerate(_F)]),
        _LOADED,
    ),
    Case(
        "float_label",
        "jsonl",
        "a non-integer float label",
        lambda d: jsonl(d, [*_F, {"id": "f", "text": "float label", "label": 0.5}]),
        _q("bad_label", 21, "label"),
    ),
    Case(
        "list_label",
        "jsonl",
        "a list label",
        lambda d: jsonl(d, [*_F, {"id": "l", "text": "list label", "label": ["billing", "access"]}]),
        _q("bad_label", 21, "label"),
    ),
    Case(
        "bool_label",
        "jsonl",
        "a boolean label",
        lambda d: jsonl(d, [*_F, {"id": "b", "text": "bool label", "label": True}]),
        _q("bad_label", 21, "label"),
    ),
    Case(
        "nan_infinity",
        "jsonl",
        "NaN and Infinity literals (not JSON)",
        lambda d: jsonl(
            d, [*_F, '{"id":"n","text":"nan","label":NaN}', '{"id":"i","text":"inf","score":Infinity}']
        ),
        _q("malformed_json", 21, n=2, exit_code=1),
    ),
    Case(
        "duplicate_ids",
        "jsonl",
        "two different records with one id",
        lambda d: jsonl(d, [*_F, {**_F[0], "text": "different text, same id"}]),
        Expect(0, quarantined=0, kinds=("duplicate_ids",)),
    ),
    Case(
        "mixed_id_types",
        "jsonl",
        'ids 7, "7", 7.0, true, [7]',
        _ids_mixed,
        Expect(
            1,
            quarantined=2,
            kinds=("bad_id", "duplicate_ids"),
            findings=("(bad_id); first at {data}:24 field 'id'",),
        ),
    ),
    Case(
        "duplicate_keys",
        "jsonl",
        "the same key twice in one object (last wins)",
        lambda d: jsonl(d, [*_F, '{"id":"k","text":"first","text":"second wins","label":"billing"}']),
        _LOADED,
    ),
    Case(
        "lone_surrogate",
        "jsonl",
        "an unpaired UTF-16 surrogate escape",
        lambda d: jsonl(d, [*_F, '{"id":"s","text":"half \\ud800 pair","label":"billing"}']),
        _q("malformed_json", 21),
    ),
    Case(
        "nul_and_controls",
        "jsonl",
        "NUL and other C0 bytes inside text",
        lambda d: jsonl(d, [*_F, {"id": "z", "text": "nul\u0000byte\u0001\u001f end", "label": "billing"}]),
        _LOADED,
    ),
    Case(
        "huge_integer_id",
        "jsonl",
        "an id beyond 64 bits (read as a float: digits would change)",
        lambda d: jsonl(d, [*_F, '{"id":123456789012345678901234567890,"text":"big id","label":"billing"}']),
        _q("bad_id", 21, "id"),
    ),
    Case(
        "deep_nesting_bomb",
        "jsonl",
        "100,000 nested arrays (recursion)",
        lambda d: jsonl(d, [*_F, _deep(100_000)]),
        _q("malformed_json", 21),
    ),
    Case(
        "deep_nesting_ok",
        "jsonl",
        "500 nested arrays in an ignored field",
        lambda d: jsonl(d, [*_F, _deep(500)]),
        _LOADED,
    ),
    Case(
        "huge_line_50mb",
        "scale",
        "one 50 MB line among normal records",
        _huge_line,
        _q("text_too_long", 21, "text"),
        slow=True,
    ),
    Case(
        "million_rows",
        "scale",
        "1,000,000 tiny records",
        _million_rows,
        Expect(0, quarantined=0, max_seconds=59),
        slow=True,
    ),
    Case("ten_thousand_fields", "scale", "a record with 10,000 fields", _wide_record, _LOADED, slow=True),
    Case(
        "text_missing_everywhere",
        "jsonl",
        "no record has the text field",
        lambda d: jsonl(d, [{"id": "1", "body": "x"}, {"id": "2", "body": "y"}]),
        Expect(2, error=("{data}:", "field 'text'", "no record has this field", "keys seen: body, id")),
    ),
    Case(
        "escape_in_error_message",
        "injection",
        "terminal escapes in the keys quoted by an error",
        _error_key_injection,
        Expect(2, error=("{data}:", "field 'text'", f"]0;{MARK}body")),
    ),
    # CSV
    Case(
        "csv_embedded_newlines", "csv", "quoted field with newlines, quotes, ; and |", _csv_embedded, _LOADED
    ),
    Case(
        "csv_wrong_delimiter",
        "csv",
        "semicolon-delimited file read as comma",
        lambda d: csv_file(d, _csv_rows(_F), delimiter=";"),
        Expect(2, error=("{data}:1:", "looks ';'-delimited", "input.delimiter")),
    ),
    Case(
        "csv_ragged_rows",
        "csv",
        "rows with too many and too few fields",
        _csv_ragged,
        _q("bad_row", 22, n=2, exit_code=1),
    ),
    # the open quote makes lines 2-3 one CSV row: it is quarantined whole, raw text and all
    Case(
        "csv_unclosed_quote",
        "csv",
        "an opening quote never closed",
        lambda d: raw_file(d, "data.csv", b'id,text,label\nr1,"never closed,billing\nr2,ok,access\n', 1),
        Expect(1, quarantined=1, kinds=("bad_row",), findings=("spans lines 2-3: a quote left open?",)),
    ),
    Case("csv_long_field", "csv", "a 300 kB text field", _csv_long_field, _LOADED),
    Case(
        "csv_invalid_utf8",
        "csv",
        "latin-1 byte in a UTF-8 CSV",
        _csv_invalid_utf8,
        Expect(2, error=("{data}:7:", "invalid UTF-8", "re-encode")),
    ),
    Case(
        "csv_bom_utf16",
        "csv",
        "UTF-16 CSV with BOM",
        lambda d: raw_file(
            d,
            "data.csv",
            codecs.BOM_UTF16_LE
            + "id,text,label\r\na,hello there,billing\r\nb,good morning,access\r\n".encode("utf-16-le"),
            2,
        ),
        _LOADED,
    ),
    Case(
        "csv_header_only",
        "csv",
        "a header and no rows",
        lambda d: raw_file(d, "data.csv", b"id,text,label\n", 0),
        Expect(1, quarantined=0),
    ),
    Case(
        "csv_nul_byte",
        "csv",
        "NUL byte inside a quoted field",
        lambda d: raw_file(d, "data.csv", b'id,text,label\n1,"a\x00b",billing\n2,fine,access\n', 2),
        _LOADED,
    ),
    Case(
        "csv_no_text_column",
        "csv",
        "no column named text",
        lambda d: csv_file(d, [["id", "body"], ["1", "x"], ["2", "y"]]),
        Expect(2, error=("{data}:", "field 'text'", "keys seen: body, id")),
    ),
    # Parquet
    Case(
        "parquet_wrong_schema",
        "parquet",
        "text column of integers",
        _parquet_wrong_schema,
        _q("bad_text", 1, "text", n=10, exit_code=1),
    ),
    Case(
        "parquet_struct_text",
        "parquet",
        "text column of structs",
        _parquet_struct_text,
        _q("bad_text", 1, "text", n=11, exit_code=1),
    ),
    Case(
        "parquet_nan_label",
        "parquet",
        "float labels with a NaN",
        _parquet_nan_labels,
        _q("bad_label", 6, "label"),
    ),
    Case(
        "parquet_corrupt",
        "parquet",
        "random bytes named .parquet",
        lambda d: raw_file(d, "data.parquet", b"PAR1" + bytes(range(256)) * 4, 0),
        Expect(2, error=("{data}:", "not a readable Parquet file")),
    ),
    Case(
        "parquet_empty",
        "parquet",
        "a valid file with zero rows",
        lambda d: parquet(d, pa.table({"text": pa.array([], pa.string())})),
        Expect(1, quarantined=0),
    ),
    # paths
    Case(
        "directory_as_input",
        "path",
        "a directory",
        lambda d: Setup(d, 0),
        Expect(2, error=("{data}:", "is a directory")),
    ),
    Case(
        "missing_path",
        "path",
        "a path that does not exist",
        lambda d: Setup(d / "nope.jsonl", 0),
        Expect(2, error=("{data}:", "no such file")),
    ),
    Case(
        "symlink_loop",
        "path",
        "a symlink to itself",
        _symlink_loop,
        Expect(2, error=("{data}:", "no such file")),
    ),
    Case(
        "unknown_extension",
        "path",
        "data.txt",
        lambda d: jsonl(d, _F, name="data.txt"),
        Expect(2, error=("{data}:", "cannot tell the format from '.txt'")),
    ),
    # configuration
    Case(
        "config_unknown_key",
        "config",
        "a misspelt section",
        lambda d: with_config(jsonl(d, _F), d, "version: 1\nsede: 3\n"),
        Expect(2, error=("dqaudit.yaml:2:", "sede: unknown key")),
    ),
    Case(
        "config_wrong_type",
        "config",
        "seed: a string",
        lambda d: with_config(jsonl(d, _F), d, "seed: not-a-number\n"),
        Expect(2, error=("dqaudit.yaml:1:", "seed:", "integer")),
    ),
    Case(
        "config_alias_bomb",
        "config",
        "billion-laughs YAML anchors",
        lambda d: with_config(
            jsonl(d, _F),
            d,
            "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
            "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n",
        ),
        Expect(2, error=("dqaudit.yaml:2:", "aliases", "not allowed"), max_seconds=5),
    ),
    Case(
        "config_python_tag",
        "config",
        "!!python/object/apply:os.system",
        lambda d: with_config(
            jsonl(d, _F), d, f"seed: !!python/object/apply:os.system ['touch {d}/{MARK}']\n"
        ),
        Expect(2, error=("dqaudit.yaml:1:", "invalid YAML")),
        extra=("no_file_created",),
    ),
    Case(
        "config_not_mapping",
        "config",
        "a YAML list",
        lambda d: with_config(jsonl(d, _F), d, "- a\n- b\n"),
        Expect(2, error=("dqaudit.yaml:", "mapping")),
    ),
    Case(
        "config_broken_yaml",
        "config",
        "unbalanced brackets",
        lambda d: with_config(jsonl(d, _F), d, "seed: [1, 2\nfields: {\n"),
        Expect(2, error=("dqaudit.yaml:", "invalid YAML")),
    ),
    Case(
        "config_not_utf8",
        "config",
        "latin-1 bytes",
        lambda d: with_config(jsonl(d, _F), d, b"fields:\n  text: caf\xe9\n"),
        Expect(2, error=("dqaudit.yaml:", "not UTF-8")),
    ),
    Case(
        "config_too_large",
        "config",
        "a 6 MB config",
        lambda d: with_config(jsonl(d, _F), d, "# " + "x" * 6_000_000 + "\n"),
        Expect(2, error=("dqaudit.yaml:", "larger than")),
    ),
    # policies.yaml
    Case(
        "policy_catastrophic_regex",
        "policies",
        "(a|aa)+$ against 'aaaa…b' texts",
        lambda d: with_policies(
            jsonl(d, [*_F, *({"id": f"a{i}", "text": "a" * 40 + "b", "label": "billing"} for i in range(5))]),
            d,
            _policy("['(a|aa)+$']"),
        ),
        Expect(0, quarantined=0, kinds=("pattern_timeout",), max_seconds=10),
    ),
    Case(
        "policy_regex_does_not_compile",
        "policies",
        "an unbalanced parenthesis",
        lambda d: with_policies(jsonl(d, _F), d, _policy("['(refund']")),
        Expect(2, error=("policies.yaml:", "refund-14", "does not compile")),
    ),
    Case(
        "policy_alias_bomb",
        "policies",
        "YAML anchors in policies.yaml",
        lambda d: with_policies(jsonl(d, _F), d, "x: &x [a, a]\npolicies: [*x]\n"),
        Expect(2, error=("policies.yaml:2:", "aliases")),
    ),
    Case(
        "policy_python_tag",
        "policies",
        "!!python/name tag in policies.yaml",
        lambda d: with_policies(jsonl(d, _F), d, "policies: !!python/name:os.system\n"),
        Expect(2, error=("policies.yaml:1:", "invalid YAML")),
    ),
    # injection: the reports and the terminal must neutralise dataset text
    Case(
        "html_script_payloads",
        "injection",
        "<script>, onerror, <svg onload>, javascript: in texts and labels",
        lambda d: jsonl(d, [*filler(10), *_html_payloads()]),
        Expect(1, quarantined=0),
        all_checks=True,
    ),
    Case(
        "terminal_escapes",
        "injection",
        "ANSI/OSC/C1 escapes and bidi overrides in texts, labels and keys",
        _terminal,
        Expect(0, quarantined=0),
        all_checks=True,
    ),
    Case(
        "formula_prefixes",
        "injection",
        "texts, ids and labels starting with = + - @ and tab",
        _formulas,
        Expect(1, quarantined=0),
        all_checks=True,
    ),
    Case(
        "markdown_specials",
        "injection",
        "pipes, links, backticks, headings and newlines in labels",
        _markdown,
        Expect(0, quarantined=0),
        all_checks=True,
    ),
)

from .scenarios import SCENARIOS  # noqa: E402  (scenarios build on the helpers above)

CASES += SCENARIOS
BY_NAME = {case.name: case for case in CASES}
assert len(BY_NAME) == len(CASES), "case names must be unique"
