"""The export writes exactly the audited snapshot, and never unmasked data when masking failed (issue 20)."""

import json

import pytest
from click.testing import CliRunner

from dqaudit.api import audit
from dqaudit.api import split as split_dataset
from dqaudit.cli import cli
from dqaudit.config import AuditConfig
from dqaudit.data import load_dataset
from dqaudit.errors import DqauditError, InputError
from dqaudit.export import export_splits

CHECKS = ["duplicates", "pii"]


def rows(n: int = 40, start: int = 0) -> list[dict]:
    return [{"id": f"r{i}", "text": f"plain question {i} about fees number {i * 3}", "label": "ab"[i % 2]}
            for i in range(start, start + n)]


def audited(source, config):
    result = audit(load_dataset(source, config.fields, config.input), config, checks=CHECKS)
    return result.context, result


def write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.mark.parametrize("change", ["regenerated", "appended", "shrunk"])
def test_an_input_changed_after_the_audit_is_not_exported(tmp_path, change):
    source = tmp_path / "data.jsonl"
    write(source, rows())
    config = AuditConfig(cache={"enabled": False})
    ctx, result = audited(source, config)
    if change == "regenerated":   # same line count, raw personal data the audit never saw
        write(source, [{**r, "text": f"mail me at anna{i}@example.com card 4111 1111 1111 1111"}
                       for i, r in enumerate(rows())])
    elif change == "appended":
        with source.open("a") as handle:
            handle.write("".join(json.dumps(r) + "\n" for r in rows(5, start=100)))
    else:
        write(source, rows(10))
    with pytest.raises(InputError, match="changed while dqaudit was reading it"):
        export_splits(ctx, result, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["data.jsonl"]


def test_a_change_during_split_is_exit_2_one_line(tmp_path, monkeypatch):
    source = tmp_path / "data.jsonl"
    write(source, rows())
    import dqaudit.api as api

    real = api.run_checks

    def audit_then_append(*args, **kwargs):
        result = real(*args, **kwargs)
        with source.open("a") as handle:
            handle.write(json.dumps({"id": "late", "text": "call +7 701 555 12 34", "label": "a"}) + "\n")
        return result

    monkeypatch.setattr(api, "run_checks", audit_then_append)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["split", str(source), "--out", str(out), "--checks", "duplicates,pii",
                                      "--no-cache", "-q"])
    assert result.exit_code == 2, result.output
    assert "changed while dqaudit was reading it" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not out.exists()


def test_a_crashed_pii_check_blocks_the_export(tmp_path, monkeypatch):
    source = tmp_path / "data.jsonl"
    write(source, [*rows(), {"id": "p", "text": "write to anna@example.com", "label": "a"}])
    from dqaudit.checkers.pii import PiiChecker

    def crash(self, ctx):
        raise RuntimeError("bad shard")

    monkeypatch.setattr(PiiChecker, "check", crash)
    with pytest.raises(DqauditError, match="pii check .*error.*masking"):
        split_dataset(source, tmp_path / "out", AuditConfig(cache={"enabled": False}), checks=CHECKS)
    assert not (tmp_path / "out").exists()
    cli_run = CliRunner().invoke(cli, ["split", str(source), "--out", str(tmp_path / "out"), "--checks",
                                       "duplicates,pii", "--no-cache", "-q"])
    assert cli_run.exit_code == 2 and len(cli_run.stderr.strip().splitlines()) == 1
    # masking explicitly off: the user said so, the export goes on
    off = AuditConfig(cache={"enabled": False}, checks={"pii": {"enabled": False}})
    manifest = split_dataset(source, tmp_path / "out", off)
    assert manifest["cleaning"]["masking"] == "off"


def test_no_row_is_lost_or_added_when_the_file_is_unchanged(tmp_path):
    source = tmp_path / "data.jsonl"
    write(source, [*rows(), {"id": "p", "text": "write to anna@example.com", "label": "a"}])
    manifest = split_dataset(source, tmp_path / "out", AuditConfig(cache={"enabled": False}), checks=CHECKS)
    assert sum(manifest["rows"].values()) == 41 == manifest["input"]["rows"]
    assert manifest["cleaning"]["masking"] == "on"
