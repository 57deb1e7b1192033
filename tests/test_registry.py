import pytest

from dqaudit import AuditConfig, Checker, CheckParams, audit, register
from dqaudit.errors import RegistryError
from dqaudit.registry import available_checkers, get_checker, unregister


@pytest.fixture
def custom_checker():
    @register
    class Exploding(Checker):
        name = "exploding_test"
        description = "Always raises, to show failures become data."
        default_enabled = False
        Params = CheckParams

        def check(self, ctx):
            raise RuntimeError("kaboom")

    yield Exploding
    unregister("exploding_test")


def test_builtins_are_listed_in_pipeline_order():
    names = list(available_checkers())
    assert names[:2] == ["schema", "duplicates"]
    assert {"text_quality", "balance"} <= set(names)


def test_unknown_checker_lists_valid_names():
    with pytest.raises(RegistryError, match=r"unknown check 'nope' \(known: schema, duplicates"):
        get_checker("nope")


def test_duplicate_name_is_refused(custom_checker):
    with pytest.raises(RegistryError, match="two checkers are named 'exploding_test'"):
        @register
        class Other(custom_checker):  # a different class, same name
            pass


def test_crashing_checker_becomes_an_error_result(write_jsonl, custom_checker):
    path = write_jsonl([{"text": "hello world", "label": "a"}])
    result = audit(path, AuditConfig(), checks=["exploding_test", "balance"])
    crashed = result.check("exploding_test")
    assert crashed.status == "error" and "kaboom" in crashed.error
    assert result.verdict.value == "NOT READY"
    assert result.check("balance").status == "ok"


def test_off_by_default_checker_runs_only_when_enabled(write_jsonl, custom_checker):
    path = write_jsonl([{"text": "hello world", "label": "a"}])
    default = audit(path, AuditConfig(), checks=None)
    assert "exploding_test" not in {r.check for r in default.results}
    enabled = audit(path, AuditConfig(checks={"exploding_test": {"enabled": True}}))
    assert enabled.check("exploding_test").status == "error"


def test_every_builtin_module_contributes_a_checker():
    from dqaudit.registry import builtin_modules

    modules = {cls.__module__ for cls in available_checkers().values()}
    assert set(builtin_modules()) <= modules

