import subprocess
import sys

import dqaudit


def test_all_is_sorted_complete_and_importable():
    assert dqaudit.__all__ == sorted(dqaudit.__all__)
    for name in dqaudit.__all__:
        assert getattr(dqaudit, name) is not None


def test_help_does_not_import_heavy_libraries():
    code = ("import sys; from click.testing import CliRunner; from dqaudit.cli import cli; "
            "CliRunner().invoke(cli, ['--help']); "
            "print(sorted(m for m in ('pandas', 'great_expectations', 'sklearn', 'torch') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
