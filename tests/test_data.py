import codecs
import json

import pandas as pd
import pytest

from dqaudit.config import FieldsConfig, InputConfig
from dqaudit.data import dataset_from_frame, load_dataset
from dqaudit.errors import InputError


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
    with pytest.raises(InputError, match=r"data.jsonl: field 'text': no record has this field \(keys seen: body"):
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
    chat = write_jsonl([{"messages": [{"role": "system", "content": "be nice"}, {"role": "user", "content": "hi"},
                                      {"role": "assistant", "content": "hello"}, {"role": "user", "content": "bye"}],
                         "intent": "greet"}])
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
