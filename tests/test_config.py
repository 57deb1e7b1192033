import pytest

from dqaudit.config import AuditConfig
from dqaudit.errors import ConfigError
from dqaudit.registry import check_params, load_config, parse_config


def write(tmp_path, text):
    path = tmp_path / "dqaudit.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_when_no_file():
    config = load_config()
    assert config == AuditConfig()
    assert config.score.ready == 85 and config.score.needs_work == 60


def test_reads_dqaudit_yaml_from_cwd(tmp_path):
    write(tmp_path, "seed: 13\nchecks:\n  duplicates:\n    max_conflicting_share: 0.1\n")
    config = load_config()
    assert config.seed == 13
    assert check_params(config, "duplicates").max_conflicting_share == 0.1


def test_unknown_top_level_key_names_key_and_line(tmp_path):
    path = write(tmp_path, "version: 1\nsede: 3\n")
    with pytest.raises(ConfigError, match=r"dqaudit.yaml:2: sede: unknown key"):
        load_config(path)


def test_wrong_type_names_nested_key(tmp_path):
    path = write(tmp_path, "score:\n  ready: high\n")
    with pytest.raises(ConfigError, match=r"dqaudit.yaml:2: score.ready: .*valid number.*'high'"):
        load_config(path)


def test_unknown_check_lists_known_ones(tmp_path):
    path = write(tmp_path, "checks:\n  dupes: {}\n")
    with pytest.raises(ConfigError, match=r"unknown check 'dupes' \(known: schema, duplicates"):
        load_config(path)


def test_checker_params_reject_typos(tmp_path):
    path = write(tmp_path, "checks:\n  balance:\n    min_cout: 5\n")
    with pytest.raises(ConfigError, match=r"dqaudit.yaml:3: checks.balance.min_cout: unknown key"):
        load_config(path)


def test_bands_must_be_ordered():
    with pytest.raises(ConfigError, match="needs_work must not exceed score.ready"):
        parse_config({"score": {"ready": 50, "needs_work": 70}})


@pytest.mark.parametrize("text, message", [
    ("a: &x [1]\nb: *x\n", "aliases"),
    ("seed: !!python/object/apply:os.system ['echo hi']\n", "invalid YAML"),
    ("seed: [1, 2\n", "invalid YAML"),
    ("- 1\n- 2\n", "must be a mapping"),
])
def test_unsafe_or_broken_yaml_is_refused(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


def test_with_check_and_fingerprint_change():
    base = AuditConfig()
    changed = base.with_check("balance", min_count=3)
    assert check_params(changed, "balance").min_count == 3
    assert base.fingerprint() != changed.fingerprint()
