from dqaudit import AuditConfig, audit


def test_schema_findings_from_great_expectations_and_loader(write_jsonl):
    path = write_jsonl([
        {"id": "a", "text": "first request", "label": "card_lost"},
        {"id": "a", "text": "second request", "label": "card_lost"},
        {"id": "b", "text": "third request", "label": None},
        {"id": "c", "text": "fourth request", "label": "weird"},
        {"id": "d", "text": "fifth request", "label": "Card_Lost "},
        '{"id": "e", "text": "broken',
        {"id": "f", "label": "card_lost"},
    ])
    config = AuditConfig(checks={"schema": {"allowed_labels": ["card_lost", "Card_Lost "]}})
    result = audit(path, config, checks=["schema"]).check("schema")
    kinds = {f.kind: f for f in result.findings}
    assert set(kinds["duplicate_ids"].record_ids) == {"a", "a#2"}   # ids made unique, both holders named
    assert kinds["missing_label"].record_ids == ("b",)
    assert set(kinds["unknown_label"].record_ids) == {"b", "c"} or kinds["unknown_label"].record_ids == ("c",)
    assert "label_variants" not in kinds  # the label_variants check reports them
    assert kinds["malformed_json"].details["lines"] == [6]
    assert f"{path}:6" in kinds["malformed_json"].message
    assert kinds["missing_text"].details["lines"] == [7]
    assert result.metrics["quarantined"] == 2
    assert result.gates[0].triggered  # 3 of 7 rows unusable


def test_clean_schema(write_jsonl):
    path = write_jsonl([{"id": str(i), "text": f"request {i}", "label": "x"} for i in range(10)])
    result = audit(path, AuditConfig(), checks=["schema"]).check("schema")
    assert result.score == 100.0 and result.findings == ()


def test_warm_rerun_equals_cold_run_and_gx_judges_only_new_values(write_jsonl, monkeypatch):
    from dqaudit.checkers import schema

    validated: list[list[str]] = []
    original = schema._validate

    def spy(column, values, suite):
        validated.append(sorted(map(repr, values)))
        return original(column, values, suite)

    monkeypatch.setattr(schema, "_validate", spy)
    config = AuditConfig(checks={"schema": {"allowed_labels": ["x", "y"], "min_chars": 5, "max_chars": 30}})
    rows = [{"id": f"r{i}", "text": "request " + "x" * (i % 4), "label": "x" if i % 5 else "y"}
            for i in range(30)]
    audit(write_jsonl(rows, "night1.jsonl"), config, checks=["schema"])
    assert validated == [["'x'", "'y'"], ["10", "11", "7", "9"]]  # each distinct label and length, once
    path = write_jsonl(rows + [{"id": "r1", "text": "request", "label": "z"},
                               {"id": "n2", "text": "too long " * 5, "label": None},
                               {"id": "n3", "text": "request x", "label": "x"}], "night2.jsonl")
    validated.clear()
    warm = audit(path, config, checks=["schema"]).check("schema")
    assert validated == [["'z'", "None"], ["44"]]  # only the values GX has not judged
    validated.clear()
    assert audit(path, config, checks=["schema"]).check("schema") == warm and validated == []
    cold_config = config.model_copy(update={"cache": config.cache.model_copy(update={"enabled": False})})
    cold = audit(path, cold_config, checks=["schema"]).check("schema")
    assert warm == cold
    kinds = {f.kind: f for f in warm.findings}
    assert kinds["duplicate_ids"].record_ids == ("r1", "r1#31")
    assert kinds["missing_label"].record_ids == ("n2",)
    assert kinds["unknown_label"].record_ids == ("r1#31",)
    assert kinds["text_length"].record_ids == ("n2",)


def test_findings_are_what_gx_finds_validating_every_row(sample_path):
    """The per-value verdicts give the rows and percentages GX gives on the whole table."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    import pandas as pd

    from dqaudit.data import load_dataset

    labels = ["card_lost", "card_blocked"]
    config = AuditConfig(checks={"schema": {"allowed_labels": labels, "max_chars": 60}})
    result = audit(sample_path, config, checks=["schema"]).check("schema")
    frame = load_dataset(sample_path).frame
    table = pd.DataFrame({"id": frame["id"].astype(str), "label": frame["label"],
                          "text_chars": frame["text"].str.strip().str.len()})
    batch = (gx.get_context(mode="ephemeral").data_sources.add_pandas("t").add_dataframe_asset("r")
             .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": table}))
    suite = gx.ExpectationSuite(name="s")
    for expectation in (gxe.ExpectColumnValuesToBeUnique(column="id"),
                        gxe.ExpectColumnValuesToNotBeNull(column="label"),
                        gxe.ExpectColumnValuesToBeInSet(column="label", value_set=labels),
                        gxe.ExpectColumnValuesToBeBetween(column="text_chars", min_value=1, max_value=60)):
        suite.add_expectation(expectation)
    expected = {}
    for item in batch.validate(suite, result_format={"result_format": "COMPLETE"}).results:
        if not item.success:
            rows = item.result["unexpected_index_list"]
            expected[item.expectation_config.type] = (tuple(frame["id"].iloc[rows]),
                                                      item.result["unexpected_percent"])
    found = {f.details["expectation"]: (f.record_ids, f.details["unexpected_percent"])
             for f in result.findings if "expectation" in f.details}
    assert found == expected and len(found) >= 2
