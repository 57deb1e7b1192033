"""``dqaudit.yaml``: validated configuration with errors that name the key and what was expected.

Sections: ``dataset`` (its name in history and reports), ``input``, ``fields``,
``checks`` (one block per checker, validated by that checker's own ``Params`` model),
``score`` (verdict bands), ``output``, ``cache``,
``regression`` (nightly thresholds), ``engine`` (local or Spark).
Unknown keys are errors everywhere, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError
from .yamlio import YamlDoc, load_yaml

DEFAULT_CONFIG_NAME = "dqaudit.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: A dataset name: it becomes part of report folder names, so no path separators or leading dot.
NAME_PATTERN = re.compile(r"[^\W_][\w.-]{0,99}")


def check_name(name: str) -> str:
    """The name unchanged, or ValueError saying what a name may contain."""
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError(f"'{name[:100]}' is not a dataset name: use 1-100 letters, digits, '_', '.' or '-', "
                         "starting with a letter or digit")
    return name


def default_name(path: str) -> str:
    """A dataset's name when none is given: the file's stem (``requests-2026-12-04.jsonl`` ->
    ``requests-2026-12-04``, so dated nightly files need ``--name`` to be compared)."""
    return Path(path).name.split(".")[0] or "dataset"


class DatasetConfig(_Strict):
    name: str | None = Field(None, description="Names the dataset in the run history and report folders; "
                                               "runs of one name are compared (default: the file's stem).")

    @field_validator("name")
    @classmethod
    def _valid(cls, name: str | None) -> str | None:
        return None if name is None else check_name(name)
class CheckParams(BaseModel):
    """Settings every checker has; subclasses add their own typed, described fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Run this check.")
    weight: float | None = Field(None, ge=0,
                                 description="Weight in the readiness mean (default: the checker's).")
    max_seconds: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="Time budget: a check still running after this many "
        "seconds is abandoned and reported as an error, and the audit goes on (`--max-seconds` sets it for "
        "every check).")

    @classmethod
    def of(cls, config: AuditConfig, check: str) -> Self:
        """This model's settings from the ``checks.<check>`` block (keys of other models ignored).

        Features read their part of a checker's block this way, so they need not import the checker;
        the whole block is validated against the checker's own model when the config is loaded.
        """
        block = config.checks.get(check, {})
        try:
            return cls(**{k: v for k, v in block.items() if k in cls.model_fields})
        except ValidationError as exc:
            raise ConfigError(describe(exc, prefix=("checks", check))) from None


class EngineConfig(BaseModel):
    """``engine:`` in dqaudit.yaml: ``engine: spark`` or a block with the master and extra Spark conf."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["local", "spark"] = Field("local", description="local: this process; spark: Apache Spark.")
    master: str | None = Field(
        None,
        description="Spark master URL (spark://host:7077, yarn, k8s://…); "
        "unset: local[*], or whatever spark-submit set.",
    )
    app_name: str = Field("dqaudit", description="Spark application name.")
    conf: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Extra Spark settings, e.g. spark.executor.memory: 8g."
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        """``engine: spark`` is short for ``engine: {name: spark}``."""
        return {"name": data} if isinstance(data, str) else data


class RegressionConfig(BaseModel):
    """Thresholds, one per regression rule (same names, see :mod:`dqaudit.regressions`);
    ``null`` turns a rule off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score_drop: float | None = Field(2.0, ge=0, description="Readiness points the score may lose since the "
                                                             "previous run.")
    new_conflicting_groups: int | None = Field(0, ge=0, description="New groups of identical texts with "
                                                                    "different labels tolerated.")
    new_near_conflicting_groups: int | None = Field(0, ge=0, description="New near-duplicate groups with "
                                                                         "different labels tolerated.")
    alpha_drop: float | None = Field(0.05, ge=0, description="Fall in Krippendorff's alpha tolerated.")
    new_stale_records: int | None = Field(0, ge=0, description="New records teaching a superseded policy "
                                                               "tolerated.")
    language_cells: int | None = Field(0, ge=0, description="(label, language) cells that fell under the "
                                                            "language check's min_per_cell tolerated.")
    new_contamination: int | None = Field(0, ge=0, description="Rise in exact/near-duplicate pairs across "
                                                               "train, val and test tolerated.")


class InputConfig(_Strict):
    format: Literal["auto", "jsonl", "csv", "parquet"] = Field(
        "auto", description="File format; 'auto' goes by the file extension."
    )
    delimiter: str | None = Field(None, description="CSV delimiter; sniffed from the header when unset.")


#: The canonical table's columns that hold texts (the request, the answer): the bulk of the table, which
#: an engine may keep off the driver (``AuditContext.texts``, ``Checker.reads_whole``).
TEXT_COLUMNS = frozenset({"text", "output"})


class FieldsConfig(_Strict):
    """Where each logical field lives in a record.

    A spec is a key (``text``), a dotted path (``meta.lang``), or a chat selector
    ``messages[user]`` that joins the content of every turn with that role.
    ``None`` means the dataset has no such field.
    """

    id: str | None = "id"
    text: str = "text"
    label: str | None = "label"
    annotations: str | None = "annotations"
    lang: str | None = "lang"
    created_at: str | None = "created_at"
    policy_version: str | None = "policy_version"
    group: str | None = "group"
    output: str | None = Field(None, description="The answer/completion a model is trained to produce.")
    split: str | None = Field(None, description="The split a record belongs to (train, val or test): the "
                                                "contamination check counts copies across splits.")


class ScoreConfig(_Strict):
    ready: float = Field(85.0, ge=0, le=100, description="Readiness at or above this is READY.")
    needs_work: float = Field(60.0, ge=0, le=100, description="At or above this (below ready) is NEEDS WORK.")
    fail_under: float | None = Field(None, ge=0, le=100, description="Exit 1 when readiness is below this.")

    @model_validator(mode="after")
    def _ordered(self) -> ScoreConfig:
        if self.needs_work > self.ready:
            raise ValueError("score.needs_work must not exceed score.ready")
        return self


class OutputConfig(_Strict):
    dir: str = Field("reports", description="Reports go to <dir>/<dataset>-<UTC timestamp>/.")
    formats: tuple[Literal["json", "md", "html"], ...] = ("json", "md", "html")
    max_record_ids: int = Field(
        50, ge=1, description="Record ids shown per finding in report.html (JSON lists all).")
    keep: int | None = Field(None, ge=1,
                             description="Keep the newest N report folders of this dataset under dir "
                                         "and remove older ones dqaudit wrote (default: keep all).")


class CacheConfig(_Strict):
    enabled: bool = True
    dir: str = Field(".dqaudit_cache", description="Per-record derived data, keyed by content hash.")


#: What ``dqaudit split`` does with the records a finding names (docs/split.md, "Cleaning decisions").
Decision = Literal["keep", "dedupe", "quarantine", "mask", "relabel"]


class ExportConfig(_Strict):
    """``dqaudit split``: split shares and the cleaning rule for each kind of finding."""

    ratios: tuple[float, float, float] = Field((0.8, 0.1, 0.1),
                                               description="train, val, test shares (sum 1).")
    rules: dict[str, Decision] = Field(default_factory=dict,
                                       description="'check.kind' or 'check' -> decision; "
                                       "merged over the built-in table.")
    chat: bool = Field(False, description="Also write <split>.chat.jsonl in OpenAI chat fine-tuning format.")
    system_prompt: str | None = Field(None, description="System message of every chat example.")

    @field_validator("ratios")
    @classmethod
    def _shares(cls, ratios: tuple[float, float, float]) -> tuple[float, float, float]:
        if not all(math.isfinite(r) for r in ratios) or min(ratios) < 0 or ratios[0] <= 0 \
                or abs(sum(ratios) - 1) > 1e-6:
            raise ValueError("ratios must be three finite, non-negative shares summing to 1 (within 1e-6), "
                             "with train > 0")
        return ratios


class AuditConfig(_Strict):
    version: Literal[1] = 1
    dataset: DatasetConfig = DatasetConfig()
    input: InputConfig = InputConfig()
    fields: FieldsConfig = FieldsConfig()
    checks: dict[str, dict[str, Any]] = Field(default_factory=dict)
    score: ScoreConfig = ScoreConfig()
    output: OutputConfig = OutputConfig()
    cache: CacheConfig = CacheConfig()
    export: ExportConfig = ExportConfig()
    regression: RegressionConfig = Field(RegressionConfig(),
                                         description="Thresholds for --fail-on-regression and dqaudit diff.")
    seed: int = Field(0, ge=0, lt=2**32, description="Seed for every random choice (folds, splits, "
                      "permutations); 0 <= seed < 2**32.")
    engine: EngineConfig = Field(EngineConfig(), description="Where heavy stages run: local or spark.")

    @field_validator("checks", mode="before")
    @classmethod
    def _empty_blocks(cls, checks: Any) -> Any:
        """``schema:`` with every key commented out is an empty block, not an error."""
        return {k: ({} if v is None else v) for k, v in checks.items()} if isinstance(checks, dict) \
            else checks

    def with_check(self, name: str, **settings: Any) -> AuditConfig:
        """A copy with ``settings`` merged into one checker's block (used by CLI overrides)."""
        checks = {**self.checks, name: {**self.checks.get(name, {}), **settings}}
        return self.model_copy(update={"checks": checks})

    def fingerprint(self) -> str:
        """Hash of the effective configuration, recorded with every run (the engine, the dataset's name and
        report pruning change no result)."""
        dump = self.model_dump(mode="json", exclude={"engine": True, "dataset": True, "output": {"keep"}})
        payload = json.dumps(dump, sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:16]


def describe(exc: ValidationError, prefix: tuple[str, ...] = (), doc: YamlDoc | None = None) -> str:
    """First validation error as ``file:line: key.path: what was expected``."""
    err = exc.errors()[0]
    loc = (*prefix, *(str(p) for p in err["loc"]))
    key = ".".join(loc) or "(top level)"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif "input" in err and err["type"] not in ("missing", "value_error"):
        msg += f" (got {err['input']!r:.60})"
    where = f"{doc.where(loc)}: " if doc else ""
    return f"{where}{key}: {msg.removeprefix('Value error, ')}"


def parse_config(data: Any, doc: YamlDoc | None = None) -> AuditConfig:
    """Validate a mapping (e.g. loaded YAML) into an AuditConfig; the ``checks`` blocks are validated
    against the installed checkers by :func:`dqaudit.registry.load_config`, the function users call."""
    if not isinstance(data, dict):
        where = f"{doc.path}: " if doc else ""
        raise ConfigError(f"{where}the configuration must be a mapping of sections")
    try:
        return AuditConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe(exc, doc=doc)) from None


def read_config(path: str | Path | None = None) -> tuple[AuditConfig, YamlDoc | None]:
    """Read ``path``, or ./dqaudit.yaml when it exists, or the defaults (checker blocks not yet validated)."""
    if path is None:
        if not Path(DEFAULT_CONFIG_NAME).is_file():
            return AuditConfig(), None
        path = DEFAULT_CONFIG_NAME
    doc = load_yaml(path)
    return parse_config(doc.data, doc), doc
