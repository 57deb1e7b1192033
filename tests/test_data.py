import codecs
import hashlib
import json
import random
import re
from itertools import islice
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dqaudit import data
from dqaudit.config import FieldsConfig, InputConfig
from dqaudit.data import Dataset, SourceInfo, dataset_from_frame, load_dataset
from dqaudit.errors import InputError
from dqaudit.text import text_hash


def test_jsonl_keeps_every_row(write_jsonl):
    path = write_jsonl([
        {"id": "a", "text": "hello there", "label": "x"},
        '{"id": "b", "text": "trunc',
        "[1, 2]",
        {"id": "c", "label": "x"},
        {"id": "d", "text": {"nested": 1}, "label": "x"},
        "",
        {"text": "no id here", "label": 3},
    ])
    ds = load_dataset(path)
    assert ds.source.rows == 6
    assert len(ds) + len(ds.problems) == ds.source.rows
    assert [p.kind for p in ds.problems] == ["malformed_json", "not_an_object", "missing_text", "bad_text"]
    assert [p.line for p in ds.problems] == [2, 3, 4, 5]
    auto = ds.frame.iloc[1]
    assert auto["id"].startswith("auto-7-") and auto["label"] == "3"


def test_auto_id_is_stable(write_jsonl):
    first = load_dataset(write_jsonl([{"text": "same"}], "a.jsonl")).frame["id"][0]
    second = load_dataset(write_jsonl([{"text": "same"}], "b.jsonl")).frame["id"][0]
    assert first == second


def test_bom_crlf_and_utf16(tmp_path):
    record = json.dumps({"text": "Сәлем әлем", "label": "greet"}, ensure_ascii=False)
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(codecs.BOM_UTF8 + (record + "\r\n").encode() * 2)
    assert load_dataset(bom).frame["text"].tolist() == ["Сәлем әлем"] * 2
    utf16 = tmp_path / "u16.jsonl"
    utf16.write_bytes((record + "\n").encode("utf-16"))
    assert load_dataset(utf16).frame["text"][0] == "Сәлем әлем"


def test_invalid_utf8_line_is_quarantined(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"text": "ok"}\n{"text": "\xff\xfe bad"}\n')
    ds = load_dataset(path)
    assert len(ds) == 1 and ds.problems[0].kind == "bad_encoding" and ds.problems[0].line == 2


def test_missing_text_everywhere_is_an_input_error(write_jsonl):
    path = write_jsonl([{"body": "x", "label": "y"}] * 3)
    message = r"data.jsonl: field 'text': no record has this field \(keys seen: body"
    with pytest.raises(InputError, match=message):
        load_dataset(path)


def test_missing_path_and_directory(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_dataset(tmp_path / "nope.jsonl")
    with pytest.raises(InputError, match="is a directory"):
        load_dataset(tmp_path)


def test_csv_with_embedded_newlines_and_line_numbers(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('id,text,label\n1,"two\nlines",a\n2,plain,b\n3,too,many,fields\n', encoding="utf-8")
    ds = load_dataset(path)
    assert ds.frame["text"].tolist() == ["two\nlines", "plain"]
    assert ds.frame["line"].tolist() == [2, 4]
    assert ds.problems[0].kind == "bad_row" and ds.problems[0].line == 5


def test_csv_wrong_delimiter_is_explained(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("id;text;label\n1;hi;a\n", encoding="utf-8")
    with pytest.raises(InputError, match="looks ';'-delimited"):
        load_dataset(path)
    ds = load_dataset(path, input_config=InputConfig(delimiter=";"))
    assert ds.frame["text"].tolist() == ["hi"]


def test_parquet_roundtrip_and_wrong_schema(tmp_path):
    frame = pd.DataFrame({"id": ["a", "b"], "text": ["one", "two"], "label": ["x", "y"]})
    frame.to_parquet(tmp_path / "d.parquet")
    assert load_dataset(tmp_path / "d.parquet").frame["text"].tolist() == ["one", "two"]
    frame.rename(columns={"text": "body"}).to_parquet(tmp_path / "w.parquet")
    with pytest.raises(InputError, match="field 'text'"):
        load_dataset(tmp_path / "w.parquet")


def test_chat_and_prompt_completion_fields(write_jsonl):
    turns = [("system", "be nice"), ("user", "hi"), ("assistant", "hello"), ("user", "bye")]
    chat = write_jsonl([{"messages": [{"role": r, "content": c} for r, c in turns], "intent": "greet"}])
    ds = load_dataset(chat, FieldsConfig(text="messages[user]", output="messages[assistant]", label="intent"))
    row = ds.frame.iloc[0]
    assert (row["text"], row["output"], row["label"]) == ("hi\nbye", "hello", "greet")
    pc = write_jsonl([{"prompt": "p", "completion": "c", "meta": {"lang": "kk"}}], "pc.jsonl")
    row = load_dataset(pc, FieldsConfig(text="prompt", output="completion", lang="meta.lang")).frame.iloc[0]
    assert (row["text"], row["output"], row["lang"]) == ("p", "c", "kk")


def test_bad_label_types_are_quarantined_with_field(write_jsonl):
    ds = load_dataset(write_jsonl([{"text": "a", "label": ["x"]}, {"text": "b", "label": 1.5},
                                   {"text": "c", "label": True}, {"text": "d", "label": None}]))
    assert [(p.kind, p.field) for p in ds.problems] == [("bad_label", "label")] * 3
    assert ds.frame["label"].tolist() == [None]


def test_dataframe_input():
    ds = dataset_from_frame(pd.DataFrame({"text": ["a", None, "b"], "label": ["x", "y", float("nan")]}))
    assert len(ds) == 2 and ds.problems[0].kind == "missing_text"
    assert ds.frame["label"].tolist() == ["x", None]


# --- the batched JSONL path against the row-by-row rules -------------------------------------------

#: (line as written, what the default fields must make of it): ("record", id, text, label), a problem
#: kind, or "blank". Most are plain records, so that whole blocks take the batched path.
_LINES: list[tuple[str | bytes, Any]] = [
    ('{"id": "p1", "text": "plain row", "label": "a"}', ("record", "p1", "plain row", "a")),
    ('{"text": "only text"}', ("record", None, "only text", None)),
    ('{"id": 7, "text": "int id and label", "label": 3}', ("record", "7", "int id and label", "3")),
    ('{"id": -2, "text": "negative id"}', ("record", "-2", "negative id", None)),
    ('{"id": 18446744073709551615, "text": "u64"}', ("record", "18446744073709551615", "u64", None)),
    ('{"id": 1180591620717411303424, "text": "beyond 64 bits"}', "bad_id"),
    ('{"id": "f", "text": "integral float", "label": 2.0}', ("record", "f", "integral float", "2")),
    ('{"id": "g", "text": "fractional label", "label": 2.5}', "bad_label"),
    ('{"id": true, "text": "bool id"}', "bad_id"),
    ('{"id": "b", "text": "bool label", "label": false}', "bad_label"),
    ('{"id": "n", "text": "nulls", "label": null, "lang": null}', ("record", "n", "nulls", None)),
    ('{"id": "m", "text": "meta", "lang": "kk", "group": 4, "created_at": "2024-01-01", "policy_version": 2}',
     ("record", "m", "meta", None)),
    ('{"id": "ann", "text": "annotated", "annotations": [{"annotator": "x", "label": "a"}, {"label": 1}]}',
     ("record", "ann", "annotated", None)),
    ('{"id": "ann2", "text": "bad annotations", "annotations": {"x": "a"}}', "bad_annotations"),
    ('{"id": "chat", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],'
     ' "meta": {"id": "c1", "intent": "greet"}}', "missing_text"),
    ('{"id": "chat2", "messages": [{"role": "user", "content": 1}]}', "missing_text"),
    ('{"id": "pc", "prompt": "p", "completion": "c", "meta": {"lang": "ru"}, "meta.lang": "kk"}',
     "missing_text"),
    ('{"id": "pc2", "prompt": "p", "completion": 3}', "missing_text"),
    ('{"id": "nested", "text": {"body": "x"}}', "bad_text"),
    ('{"id": "long", "text": "' + "x" * 60 + '"}', "text_too_long"),
    ('{"id": "dup", "text": "first", "text": "last wins"}', ("record", "dup", "last wins", None)),
    ('{"id": "esc", "text": "tab\\tline\\nq\\" \\u00e9"}', ("record", "esc", 'tab\tline\nq" é', None)),
    ('{"id": "crlf", "text": "windows line"}\r', ("record", "crlf", "windows line", None)),
    ('{"id": "cyr", "text": "Сәлем әлем"}', ("record", "cyr", "Сәлем әлем", None)),
    ("", "blank"),
    ("   \t", "blank"),
    ("\r", "blank"),
    ('{"id": "cut", "text": "trunc', "malformed_json"),
    ('{"id": "surrogate", "text": "\\ud800"}', "malformed_json"),
    ("[1, 2]", "not_an_object"),
    ("42", "not_an_object"),
    ("null", "not_an_object"),
    (b'{"id": "bytes", "text": "\xff\xfe"}', "bad_encoding"),
]


def _write_lines(path: Path, lines: list[str | bytes], bom: bytes = b"", trailing: bool = True) -> Path:
    encoded = [line if isinstance(line, bytes) else line.encode() for line in lines]
    path.write_bytes(bom + b"\n".join(encoded) + (b"\n" if trailing else b""))
    return path


def _mixed(seed: int, n: int) -> list[tuple[str | bytes, Any]]:
    """Mostly plain rows with every special line sprinkled in, as a plausibly dirty file looks."""
    rng = random.Random(seed)
    rows: list[tuple[str | bytes, Any]] = []
    for i in range(n):
        if rng.random() < 0.15 and i < n - 3:
            rows.append(rng.choice(_LINES))
        else:  # and always the last rows, so that a partial last chunk can go in a batch
            rid, text, label = f"r{i}", f"row {i} " + "w" * rng.randrange(30), rng.choice("ab")
            rows.append((json.dumps({"id": rid, "text": text, "label": label}), ("record", rid, text, label)))
    return rows


def _row_by_row(path: Path, fields: FieldsConfig) -> Dataset:
    """The per-row rules alone: every line through ``_Builder.add``, as the loader did before batching."""
    builder = data._Builder(path, fields)
    digest = hashlib.sha256()
    for line, raw, obj in data.iter_rows(path, "jsonl", InputConfig(), digest):
        builder.add(line, raw, obj)
    return builder.finish(SourceInfo(str(path), "jsonl", digest.hexdigest(), builder.rows))


def _assert_same(got: Dataset, want: Dataset) -> None:
    pd.testing.assert_frame_equal(got.frame, want.frame, check_exact=True)
    for name in got.frame.columns:  # object columns: make sure 3 and "3" are told apart
        assert list(map(type, got.frame[name])) == list(map(type, want.frame[name])), name
    assert got.problems == want.problems
    assert got.source == want.source


_CHAT = FieldsConfig(text="messages[user]", output="messages[assistant]", id="meta.id", label="meta.intent")
_PROMPT = FieldsConfig(text="prompt", output="completion", lang="meta.lang", annotations=None, group=None)


@pytest.mark.parametrize("block", [1 << 20, 64, 7])
@pytest.mark.parametrize("fields", [FieldsConfig(), _CHAT, _PROMPT], ids=["default", "chat", "prompt"])
def test_batched_jsonl_matches_row_by_row(tmp_path, monkeypatch, block, fields):
    monkeypatch.setattr(data, "MAX_TEXT_CHARS", 50)
    monkeypatch.setattr(data, "_BLOCK_BYTES", block)  # small blocks: lines split across reads, many batches
    monkeypatch.setattr(data, "_CHUNK_ROWS", 4)  # so that some chunks of a dirty block are clean
    batched: list[int] = []  # rows of each batch that went in whole
    add_batch = data._Builder._add_batch

    def spy(self: Any, lines: range, objs: list[Any]) -> bool:
        added = add_batch(self, lines, objs)
        batched.extend([len(objs)] if added else [])
        return added

    monkeypatch.setattr(data._Builder, "_add_batch", spy)
    rows = _mixed(seed=block, n=403)  # with the unterminated last line apart, the last chunk has 2 rows
    lines = [line for line, _ in rows]
    path = _write_lines(tmp_path / "mixed.jsonl", lines, bom=codecs.BOM_UTF8, trailing=False)
    got = load_dataset(path, fields)
    _assert_same(got, _row_by_row(path, fields))
    if fields != FieldsConfig():
        return
    assert sum(batched) > len(rows) // 4  # the batched path did much of the work, and agreed
    expected = {number: outcome for number, (_, outcome) in enumerate(rows, start=1) if outcome != "blank"}
    assert got.source.rows == len(expected)
    problems = [(number, outcome) for number, outcome in expected.items() if isinstance(outcome, str)]
    assert [(p.line, p.kind) for p in got.problems] == problems
    records = {number: outcome[1:] for number, outcome in expected.items() if not isinstance(outcome, str)}
    assert got.frame["line"].tolist() == list(records)
    assert got.frame["text"].tolist() == [text for _, text, _ in records.values()]
    assert got.frame["label"].tolist() == [label for _, _, label in records.values()]
    given = [rid if rid is not None else f"auto-{number}-{text_hash(text)[:8]}"
             for number, (rid, text, _) in records.items()]
    seen: set[str] = set()
    unique = []   # a later holder of an id is <id>#<line> (issue 20: ids are names, not identity)
    for number, rid in zip(records, given, strict=True):
        unique.append(rid if rid not in seen else f"{rid}#{number}")
        seen.add(rid)
    assert got.frame["id"].tolist() == unique


_VALUE = st.one_of(
    st.none(), st.booleans(), st.text(max_size=8), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.sampled_from([2.0, -0.0, 1e20, 2**53 + 1.0]), st.lists(st.integers(0, 3), max_size=2),
)
_NOTE = st.one_of(st.fixed_dictionaries({"annotator": _VALUE, "label": _VALUE}), _VALUE)
_RECORD = st.fixed_dictionaries(
    {"text": st.one_of(st.text(max_size=12), _VALUE)},
    optional={name: _VALUE for name in ("id", "label", "lang", "group", "created_at", "policy_version",
                                        "split")}
    | {"annotations": st.one_of(st.lists(_NOTE, max_size=3), _VALUE), "output": _VALUE},
)
_LINE = st.one_of(
    _RECORD.map(json.dumps), _RECORD.map(json.dumps), _RECORD.map(json.dumps),
    _RECORD.map(lambda r: json.dumps(r)[:-1] + ', "text": "dup"}'),  # a duplicate key: the last one wins
    st.sampled_from([line for line, _ in _LINES]),
    st.binary(max_size=12).filter(lambda b: b"\n" not in b),
)


@given(lines=st.lists(_LINE, min_size=1, max_size=60), block=st.sampled_from([1 << 20, 64, 9]))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_batched_loader_reads_any_file_as_the_row_by_row_rules_do(tmp_path, monkeypatch, lines, block):
    """Generated files (every value type in every field, hostile lines, small blocks): the batches read
    exactly what the per-row rules read, rows, problems and types alike."""
    monkeypatch.setattr(data, "MAX_TEXT_CHARS", 10)
    monkeypatch.setattr(data, "_BLOCK_BYTES", block)
    monkeypatch.setattr(data, "_CHUNK_ROWS", 4)
    path = _write_lines(tmp_path / "generated.jsonl", lines)
    first = [obj for _, _, obj in islice(data.iter_rows(path, "jsonl", InputConfig()), data._SAMPLES)]
    try:  # with the fields the loader picks (chat records read as messages[user])
        want = _row_by_row(path, data.chat_fields(FieldsConfig(), lambda: first))
    except InputError as error:
        with pytest.raises(InputError) as got:
            load_dataset(path)
        assert str(got.value) == str(error)
        return
    _assert_same(load_dataset(path), want)


def test_batched_jsonl_values(tmp_path):
    records = [(line, outcome) for line, outcome in _LINES if not isinstance(outcome, str)]
    frame = load_dataset(_write_lines(tmp_path / "d.jsonl", [line for line, _ in records])).frame
    auto = f"auto-2-{text_hash('only text')[:8]}"
    assert frame["id"].tolist()[:5] == ["p1", auto, "7", "-2", "18446744073709551615"]
    assert frame["text"].tolist() == [outcome[2] for _, outcome in records]
    by_id = frame.set_index("id")
    assert by_id.loc["ann", "annotations"] == (("x", "a"), ("#1", "1"))
    assert by_id.loc["p1", "annotations"] is None
    meta = by_id.loc["m"]
    assert meta[["lang", "group", "created_at", "policy_version"]].tolist() == ["kk", "4", "2024-01-01", "2"]
    assert frame["text_hash"].tolist() == [text_hash(t) for t in frame["text"]]


def test_selectors_in_batches(tmp_path):
    chat = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                         {"role": "user", "content": "c"}], "meta": {"id": 5, "intent": "greet"}}
    literal = {**chat, "messages[user]": "literal"}
    path = _write_lines(tmp_path / "d.jsonl", [json.dumps(chat), json.dumps(literal)])
    frame = load_dataset(path, _CHAT).frame
    assert frame[["id", "text", "output", "label"]].values.tolist() == [
        ["5", "a\nc", "b", "greet"], ["5#2", "literal", "b", "greet"]]  # a key named like the spec wins
    pc = _write_lines(tmp_path / "pc.jsonl", ['{"prompt": "p", "completion": "c", "meta": {"lang": "ru"}}',
                                              '{"prompt": "q", "meta": {"lang": "ru"}, "meta.lang": "kk"}'])
    frame = load_dataset(pc, _PROMPT).frame
    assert frame[["text", "output", "lang"]].values.tolist() == [["p", "c", "ru"], ["q", None, "kk"]]


def test_jsonl_without_text_anywhere_lists_keys_seen(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "_BLOCK_BYTES", 16)
    path = _write_lines(tmp_path / "d.jsonl", ['{"body": "x", "id": 1}'] * 5 + ["[1]"])
    with pytest.raises(InputError, match=r"keys seen: body, id\)"):
        load_dataset(path)


CHAT_ROWS = ['{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}, '
             '{"role": "assistant", "content": "hello"}], "intent": "greet", "ticket_id": "t1"}'] * 3


@pytest.mark.parametrize(("fields", "named", "seen"), [
    ({"text": "messages[usr]"}, "messages[usr]", "roles seen in 'messages': assistant, system, user"),
    ({"text": "messages[user]", "output": "messages[bot]"}, "messages[bot]", "roles seen in 'messages'"),
    ({"text": "messages[user]", "label": "label_name"}, "label_name",
     "keys seen: intent, messages, ticket_id"),
    ({"text": "messages[user]", "id": "uuid"}, "uuid", "keys seen: intent"),
    ({"text": "messages[user]", "output": "answer"}, "answer", "keys seen: intent"),
])
def test_a_mapped_field_no_record_has_names_the_key_and_what_was_seen(tmp_path, fields, named, seen):
    path = _write_lines(tmp_path / "chat.jsonl", CHAT_ROWS)
    with pytest.raises(InputError, match=rf"field '{re.escape(named)}': no record has this field \(.*"
                                         rf"{re.escape(seen)}"):
        load_dataset(path, FieldsConfig(**fields))


def test_default_field_names_may_be_absent(tmp_path):
    frame = load_dataset(_write_lines(tmp_path / "d.jsonl", ['{"text": "x"}'])).frame  # no id, label, lang...
    assert frame["label"].isna().all()


def test_chat_records_are_read_without_a_mapping(tmp_path):
    dataset = load_dataset(_write_lines(tmp_path / "chat.jsonl", CHAT_ROWS))
    assert dataset.fields.text == "messages[user]" and dataset.fields.output == "messages[assistant]"
    assert dataset.frame[["text", "output"]].values.tolist() == [["hi", "hello"]] * 3
    plain = load_dataset(_write_lines(tmp_path / "plain.jsonl", ['{"text": "x", "messages": []}']))
    assert plain.fields.text == "text" and plain.fields.output is None
