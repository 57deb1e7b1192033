"""The README is current, and documents every command and every checker (as in sqlite-utils' test_docs)."""

import importlib.util
from pathlib import Path

import pytest
from click.testing import CliRunner

from dqaudit.cli import cli
from dqaudit.registry import available_checkers

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_is_built_from_its_parts():
    spec = importlib.util.spec_from_file_location("build_readme", ROOT / "docs" / "build_readme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert README == module.build(), "README.md is stale: run python docs/build_readme.py"


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_has_help_and_is_documented(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0 and cli.commands[command].help
    assert f"dqaudit {command}" in README


@pytest.mark.parametrize("check", sorted(available_checkers()))
def test_every_checker_is_documented(check):
    assert f"`{check}`" in README
