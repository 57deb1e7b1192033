"""``dqaudit init``: a commented starter dqaudit.yaml, with field names guessed from the data."""

from __future__ import annotations

import itertools
import os
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from .config import AuditConfig, FieldsConfig, InputConfig
from .data import LoadProblem, detect_format, iter_rows
from .errors import ConfigError, InputError
from .io import atomic_write
from .registry import available_checkers

#: Keys ending so name a record's id when their values are unique in the sample
#: (``ticket_id``, ``request_id``).
ID_SUFFIX = "_id"
#: Candidate keys per logical field, most likely first.
CANDIDATES: dict[str, tuple[str, ...]] = {
    "id": ("id", "uuid", "uid", "guid", "key", "_id"),  # then any unique-valued *_id key (ID_SUFFIX)
    "text": ("text", "messages[user]", "prompt", "query", "question", "utterance", "input", "content",
             "sentence"),
    "label": ("label", "intent", "category", "class", "labels", "target"),
    "annotations": ("annotations", "annotator_labels", "ratings"),
    "lang": ("lang", "language", "locale"),
    "created_at": ("created_at", "date", "timestamp", "created", "time"),
    "policy_version": ("policy_version", "policy", "template_version"),
    "group": ("group", "conversation_id", "customer_id", "session_id", "thread_id", "doc_id"),
    "output": ("output", "messages[assistant]", "completion", "answer", "response", "reply"),
}


def guess_fields(path: Path, sample: int = 200, fmt: str | None = None) -> tuple[FieldsConfig, str]:
    """Pick, for each logical field, the first candidate present in the sampled records;
    and the format read."""
    fmt = detect_format(path, InputConfig(format=fmt or "auto"))
    seen: Counter[str] = Counter()
    values: dict[str, set[str]] = {}
    rows = 0
    for _, _, obj in itertools.islice(iter_rows(path, fmt, InputConfig()), sample):
        if isinstance(obj, LoadProblem) or not isinstance(obj, dict):
            continue
        rows += 1
        seen.update(obj.keys())
        for key, value in obj.items():
            if str(key).endswith(ID_SUFFIX) and isinstance(value, (str, int)) and str(value).strip():
                values.setdefault(str(key), set()).add(str(value))
        for turn in obj.get("messages") or []:
            if isinstance(turn, dict) and "role" in turn:
                seen[f"messages[{turn['role']}]"] += 1 / max(1, len(obj["messages"]))
    if rows == 0:
        raise InputError(path, "no readable records in the first rows; cannot guess fields")
    # an *_id key is an id when every sampled record has it with its own value (not a customer or thread id)
    unique_ids = tuple(sorted(k for k, v in values.items() if len(v) == rows == seen[k]
                              and k not in CANDIDATES["group"]))
    chosen: dict[str, str | None] = {}
    for name, options in CANDIDATES.items():
        options = options + unique_ids if name == "id" else options
        present = [o for o in options if seen[o] > 0 and o not in chosen.values()]
        chosen[name] = present[0] if present else None
    if chosen["text"] is None:
        raise InputError(path, f"no text-like field among {sorted(k for k in seen if '[' not in k)[:20]}; "
                               "write dqaudit.yaml by hand and set fields.text", field="text")
    return FieldsConfig(**chosen), fmt


def starter_yaml(fields: FieldsConfig, fmt: str, detected: str | None = None,
                 policies: str | None = None) -> str:
    """The commented starter config: every section, every checker and its keys with defaults.

    ``fmt`` is what ``input.format`` says (``auto`` unless a format was asked for: a pinned format
    would misread the next file of another kind); ``policies`` is the example policies file, wired
    as a commented line of ``checks.stale_policy``.
    """
    defaults = AuditConfig()
    note = f"; {detected} detected in the sampled file" if detected and fmt == "auto" else ""
    out = [
        "# dqaudit configuration. Unknown keys are errors. Docs: docs/configuration.md",
        "version: 1",
        "",
        "input:",
        f"  format: {fmt}            # auto (by file extension) | jsonl | csv | parquet{note}",
        "",
        "# Where each field lives: a key, a dotted path (meta.lang), or messages[role] for chat data.",
        "fields:",
    ]
    for name, value in fields.model_dump().items():
        out.append(f"  {name}: {_scalar(value)}")
    out += ["", "# Per-check settings: enabled, weight (in the readiness mean) and thresholds.", "checks:"]
    for name, cls in available_checkers().items():
        out.append(f"  {name}:                # {cls.description}")
        for key, field in cls.Params.model_fields.items():
            default = cls.default_enabled if key == "enabled" else (
                cls.default_weight if key == "weight" else field.get_default(call_default_factory=True))
            comment = f"  # {field.description}" if field.description else ""
            if name == "stale_policy" and key == "policies" and policies is not None:
                default, comment = (policies,
                                    "  # uncomment to check answers against the example policies file")
            out.append(f"    # {key}: {_scalar(default)}{comment}")
    out += [
        "",
        "# Verdict bands: READY >= ready, NEEDS WORK >= needs_work, else NOT READY. Gates override.",
        "score:",
        f"  ready: {defaults.score.ready:g}",
        f"  needs_work: {defaults.score.needs_work:g}",
        "  # fail_under: 80        # exit 1 when readiness is below this",
        "",
        "output:",
        f"  dir: {defaults.output.dir}",
        f"  formats: [{', '.join(defaults.output.formats)}]",
        "",
        "cache:",
        f"  enabled: {str(defaults.cache.enabled).lower()}",
        f"  dir: {defaults.cache.dir}",
        "",
        f"seed: {defaults.seed}",
        "",
    ]
    return "\n".join(out)


def write_starter_config(data: Path, output: Path, *, force: bool = False,
                         fmt: str | None = None) -> list[Path]:
    """dqaudit.yaml for ``data`` (``input.format: auto`` unless ``fmt`` pins one),
    and an example policies.yaml beside it unless one exists."""
    if output.exists() and not force:
        raise ConfigError(f"{output}: already exists (use --force to overwrite)")
    fields, detected = guess_fields(data, fmt=fmt)
    policies = output.parent / "policies.yaml"
    try:
        # checks.stale_policy.policies is read relative to the current folder
        wired = os.path.relpath(policies)
    except ValueError:  # another drive on Windows
        wired = str(policies.resolve())
    text = starter_yaml(fields, fmt or "auto", detected, wired)
    from .config import parse_config

    parse_config(yaml.safe_load(text))  # the starter file must itself be valid
    written = [atomic_write(output, text)]
    if not policies.exists():
        from .policies import STARTER_POLICIES

        written.append(atomic_write(policies, STARTER_POLICIES))
    return written


def _scalar(value: Any) -> str:
    dumped = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True).strip()
    return dumped.removesuffix("\n...").removesuffix("...").strip()
