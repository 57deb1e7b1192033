"""Ownership of export folders: dqaudit replaces only what it wrote (issue 20)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dqaudit.api import split as split_dataset
from dqaudit.config import AuditConfig
from dqaudit.errors import InputError
from dqaudit.publish import MARKER, check_destination

FAST = ["duplicates", "text_quality"]


def config() -> AuditConfig:
    return AuditConfig(cache={"enabled": False})


def rows(n: int = 30) -> list[dict]:
    return [{"id": f"r{i}", "text": f"question number {i} about card {i * 7}", "label": "ab"[i % 2]}
            for i in range(n)]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_foreign_manifest_is_not_a_previous_export(write_jsonl, tmp_path):
    """The probe's case: a web project with its own manifest.json must survive untouched."""
    source = write_jsonl(rows())
    project = tmp_path / "myproject"
    (project / "src").mkdir(parents=True)
    (project / "manifest.json").write_text('{"name": "my extension"}')
    (project / "src" / "main.js").write_text("console.log(1)")
    (project / "README.md").write_text("# mine")
    before = snapshot(project)
    with pytest.raises(InputError, match="not written by dqaudit"):
        split_dataset(source, project, config(), checks=FAST)
    assert snapshot(project) == before


def test_export_is_marked_and_its_token_is_in_the_manifest(write_jsonl, tmp_path):
    source = write_jsonl(rows())
    manifest = split_dataset(source, tmp_path / "out", config(), checks=FAST)
    token = json.loads((tmp_path / "out" / MARKER).read_text())["token"]
    assert len(token) >= 32 and manifest["export_token"] == token
    again = split_dataset(source, tmp_path / "out", config(), checks=FAST)   # its own export: replaced
    assert again["export_token"] != token
    assert json.loads((tmp_path / "out" / MARKER).read_text())["token"] == again["export_token"]


def test_marker_without_matching_manifest_is_refused(write_jsonl, tmp_path):
    """A copied marker alone does not make a folder ours: the manifest must carry the same token."""
    source = write_jsonl(rows())
    out = tmp_path / "out"
    split_dataset(source, out, config(), checks=FAST)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["export_token"] = "0" * 32
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="not written by dqaudit"):
        split_dataset(source, out, config(), checks=FAST)


def test_a_file_added_to_a_previous_export_is_never_deleted(write_jsonl, tmp_path):
    source = write_jsonl(rows())
    out = tmp_path / "out"
    split_dataset(source, out, config(), checks=FAST)
    (out / "my_notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="my_notes.txt"):
        split_dataset(source, out, config(), checks=FAST)
    assert (out / "my_notes.txt").read_text() == "keep me"


def test_out_equal_to_the_input_folder_is_refused(write_jsonl, tmp_path):
    source = write_jsonl(rows())
    with pytest.raises(InputError, match="would hold the input"):
        check_destination(source, tmp_path)


def test_out_inside_the_input_folder_leaves_the_input_and_its_neighbours(write_jsonl, tmp_path):
    source = write_jsonl(rows())
    (tmp_path / "other.txt").write_text("neighbour")
    before = snapshot(tmp_path)
    split_dataset(source, tmp_path / "clean", config(), checks=FAST)
    after = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("clean/")}
    assert after == before


def test_symlinked_out_is_written_through_and_the_link_kept(write_jsonl, tmp_path):
    source = write_jsonl(rows())
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    split_dataset(source, link, config(), checks=FAST)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert (real / "manifest.json").is_file() and (real / MARKER).is_file()
    split_dataset(source, link, config(), checks=FAST)   # and again, through the link
    assert link.is_symlink() and (real / "train.jsonl").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.jsonl", "link", "real"]


def test_dangling_symlink_out_is_one_clear_error(write_jsonl, tmp_path):
    source = write_jsonl(rows())
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "gone")
    with pytest.raises(InputError, match="symlink to .*gone.*does not exist"):
        split_dataset(source, link, config(), checks=FAST)
    assert link.is_symlink() and not (tmp_path / "gone").exists()


def test_stale_temporary_folders_of_a_killed_run_are_removed(write_jsonl, tmp_path):
    source = write_jsonl(rows())
    out = tmp_path / "out"
    split_dataset(source, out, config(), checks=FAST)
    dead = _dead_pid()
    stale = tmp_path / f".out.tmp-{dead}-abc123"
    stale.mkdir()
    (stale / MARKER).write_text(json.dumps({"token": "x" * 32, "written_by": "dqaudit"}))
    (stale / "train.jsonl").write_text("partial copy\n")
    foreign = tmp_path / f".out.tmp-{dead}-notours"   # no marker: not ours, left alone
    foreign.mkdir()
    (foreign / "x").write_text("x")
    split_dataset(source, out, config(), checks=FAST)
    assert not stale.exists() and (foreign / "x").read_text() == "x"


def test_two_splits_into_one_folder_leave_one_complete_export(write_jsonl, tmp_path):
    source = write_jsonl(rows(200))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "dqaudit", "split", str(source), "--out", str(out), "--checks",
               "duplicates", "--no-cache", "-q"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    procs = [subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert [code for code, _ in results] == [0, 0], results
    manifest = json.loads((out / "manifest.json").read_text())
    assert json.loads((out / MARKER).read_text())["token"] == manifest["export_token"]
    assert sum(manifest["rows"].values()) == 200
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.jsonl", "out"]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
