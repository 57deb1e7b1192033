"""The docs build, and document every command, option, check and config key (as in sqlite-utils' test_docs).

README.md is one hand-written page; the rest is the mkdocs site under docs/, whose CLI and configuration
references are generated from the code by docs/gen_reference.py (an mkdocs hook).
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from dqaudit.cli import cli
from dqaudit.registry import available_checkers, unregister

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text(encoding="utf-8")
#: every check has them; the configuration page documents them once
COMMON_KEYS = {"enabled", "weight", "max_seconds"}


def _generator():
    spec = importlib.util.spec_from_file_location("gen_reference", DOCS / "gen_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nav_pages() -> list[str]:
    def walk(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)
        elif isinstance(node, dict):
            for value in node.values():
                yield from walk(value)

    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    return list(walk(config["nav"]))


def test_readme_has_the_exact_commands_ci_runs():
    """.ci/run installs and tests "as the README says": the README's test line is CI's commands, in order."""
    steps = []
    for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines():
        command = line.split("#")[0].strip()
        if command.startswith(("pip install", "python -m pytest")):
            steps.append(re.sub(r" -q(?= )", "", command))
    assert len(steps) == 3, steps
    assert " && ".join(steps) in README


def test_readme_is_one_page():
    assert len(README.encode()) < 12_000, "README.md is one page; longer text belongs on the docs site"
    for target in re.findall(r"\]\((docs/[^)#]+)", README):
        assert (ROOT / target).is_file(), f"README links to a missing page: {target}"


def test_readme_first_audit_shows_every_check():
    """The first audit in README.md is a run of today's checks (a new check: python docs/first_audit.py)."""
    session = README.split("<!-- first-audit -->", 1)[1].split("\n```\n", 1)[0]
    table = {line.split()[0] for line in session.splitlines() if "│" in line and line[0] != " "}
    assert table == set(available_checkers()), "run python docs/first_audit.py"


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_has_help_and_is_documented(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0 and cli.commands[command].help
    assert f"dqaudit {command}" in README


def test_cli_reference_lists_every_command_and_option():
    reference = _generator().cli_reference()
    root = click.Context(cli, info_name="dqaudit")
    for name, command in cli.commands.items():
        assert f"`dqaudit {name}`" in reference
        for param in command.get_params(click.Context(command, info_name=name, parent=root)):
            for flag in param.opts if isinstance(param, click.Option) else ():
                assert re.search(rf"`[^`]*{re.escape(flag)}\b[^`]*`", reference), f"{name} {flag}"


def test_config_reference_lists_every_key():
    from pydantic import BaseModel

    from dqaudit.config import AuditConfig

    reference = _generator().config_reference()
    for key, field in AuditConfig.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            for sub in field.annotation.model_fields:
                assert f"`{key}.{sub}`" in reference
        elif key != "checks":
            assert f"`{key}`" in reference
    for name, checker in available_checkers().items():
        for sub in checker.Params.model_fields:
            assert f"`checks.{name}.{sub}`" in reference


def test_scoring_page_lists_every_points_table():
    assert "<!-- generated: points -->" in (DOCS / "scoring.md").read_text(encoding="utf-8")
    reference = _generator().points_reference()
    for name, checker in available_checkers().items():
        for charge, points in checker.points.items():
            assert f"| [`{name}`](checks/{name}.md) | `{charge}` | {points.scale:g} |" in reference


@pytest.mark.parametrize("check", sorted(available_checkers()))
def test_every_checker_has_a_page_that_explains_its_keys(check):
    page = DOCS / "checks" / f"{check}.md"
    assert page.is_file() and f"checks/{check}.md" in _nav_pages()
    text = page.read_text(encoding="utf-8")
    assert f"`{check}`" in text
    # each key in a table or in prose (`key`), or in a YAML example with a comment that says what it does
    missing = [k for k in available_checkers()[check].Params.model_fields if k not in COMMON_KEYS
               and f"`{k}`" not in text and not re.search(rf"^ +{k}: .*#", text, re.M)]
    assert not missing, f"docs/checks/{check}.md does not explain {missing}"


def test_mkdocs_build_strict(tmp_path):
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install -e '.[dev]')")
    pytest.importorskip("material", reason="mkdocs-material is not installed (pip install -e '.[dev]')")
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))  # hook imports dqaudit
    env = {**os.environ, "PYTHONPATH": path, "NO_MKDOCS_2_WARNING": "1"}
    site = tmp_path / "site"
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "dqaudit check-split" in (site / "cli" / "index.html").read_text(encoding="utf-8")
    configuration = (site / "configuration" / "index.html").read_text(encoding="utf-8")
    assert "checks.near_duplicates.threshold" in configuration
    schema = json.loads((ROOT / "dqaudit" / "reports" / "report.schema.json").read_text(encoding="utf-8"))
    shown = (site / "report-schema" / "index.html").read_text(encoding="utf-8")
    assert all(f'"{key}"' in shown for key in schema["properties"]), "schema not shown"


def test_design_example_checker_is_one_file_plus_its_test(tmp_path, monkeypatch):
    """The example on the design page, saved as one file in the checkers package, is found by the registry
    (no list to edit) and its test passes."""
    import dqaudit.checkers
    from dqaudit import registry

    text = (DOCS / "design.md").read_text(encoding="utf-8")
    blocks = {name: code for code, name in re.findall(r"```python\n(# (\S+)\n.*?)```", text, re.S)}
    checker, test = blocks["dqaudit/checkers/shouting.py"], blocks["tests/checkers/test_shouting.py"]
    (tmp_path / "shouting.py").write_text(checker, encoding="utf-8")
    monkeypatch.setattr(dqaudit.checkers, "__path__", [*dqaudit.checkers.__path__, str(tmp_path)])
    assert "shouting" not in available_checkers()
    registry._load_plugins.cache_clear()
    try:
        assert "shouting" in available_checkers()
        assert registry.cleaning_rules()["shouting.shouting"] == "quarantine"
        namespace: dict = {"__name__": "docs_example_test_shouting"}
        exec(compile(test, "tests/checkers/test_shouting.py", "exec"), namespace)
        namespace["test_shouting_flags_texts_in_capitals"]()
    finally:
        unregister("shouting")
        registry._load_plugins.cache_clear()


def test_design_page_places_every_module():
    """Each module and package of dqaudit/ is named on the design page, so the layer table cannot go stale."""
    design = (DOCS / "design.md").read_text(encoding="utf-8")
    package = ROOT / "dqaudit"
    names = [f"{p.stem}.py" for p in package.glob("*.py") if not p.stem.startswith("__")]
    names += [f"{p.name}/" for p in package.iterdir() if (p / "__init__.py").is_file()]
    missing = [name for name in names if f"{name}" not in design]
    assert not missing, f"add {missing} to the layer table in docs/design.md"


def _resolves(dotted: str) -> bool:
    """``dqaudit.a.b.name`` is an importable module, or an attribute of the longest importable prefix."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


def test_docs_name_only_code_that_exists():
    """Module paths and dotted names the pages quote exist (when code moves, the pages must follow)."""
    pages = [ROOT / "README.md", *DOCS.rglob("*.md")]
    stale = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        quoted = r"`((?:dqaudit|tests|benchmarks|examples|sample_data)/[\w./-]*\w)(?:::\w+)?`"
        for path in re.findall(quoted, text):
            if not (ROOT / path).exists():
                stale.append(f"{page.relative_to(ROOT)}: {path}")
        for dotted in re.findall(r"`(dqaudit(?:\.[A-Za-z_]\w*)+)(?:\(|`)", text):
            if dotted != "dqaudit.yaml" and not _resolves(dotted):
                stale.append(f"{page.relative_to(ROOT)}: {dotted}")
    assert not stale, "names that no longer exist:\n" + "\n".join(sorted(set(stale)))
