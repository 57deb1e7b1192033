"""``policies.yaml``: the registry of superseded policies the ``stale_policy`` check looks for.

The file is untrusted input: it is read with the safe, alias-free YAML loader, validated
by strict models (unknown keys are errors that name the key and line), and every
regular expression is compiled at load time so a bad one is reported with its policy.

Regular expressions run on the ``regex`` package, not ``re`` or RE2: it has Unicode word
boundaries (``\\b`` works on Cyrillic and Kazakh text, where RE2's ``\\b`` is ASCII-only),
look-behind, and a per-call ``timeout`` that bounds catastrophic backtracking, which the
checker turns into a finding instead of a hung audit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import regex
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from .config import CheckParams
from .errors import ConfigError
from .yamlio import YamlDoc, load_yaml

#: Case-insensitive, Unicode-aware; VERSION0 keeps Python ``re`` syntax for users' patterns.
FLAGS = regex.IGNORECASE | regex.UNICODE | regex.VERSION0
_VERSION = re.compile(r"^\s*v?(\d+(?:\.\d+)*)\s*$", re.IGNORECASE)


def _scalar_to_str(value: Any) -> Any:
    """YAML reads ``labels: [3]`` and ``min_policy_version: 3`` as numbers; data fields are strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value) if isinstance(value, (int, float)) else value


Text = Annotated[str, Field(min_length=2, max_length=2000)]
LabelStr = Annotated[str, BeforeValidator(_scalar_to_str), Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NumberInContext(_Strict):
    """A superseded number near a context word: ``14`` within 3 words of ``days``/``дней``/``күн``."""

    value: Annotated[str, BeforeValidator(_scalar_to_str), Field(pattern=r"^\d+(?:[.,]\d+)?$")]
    near: list[Text] = Field(min_length=1, description="Context words (prefix match: 'day' matches 'days').")
    window: int = Field(3, ge=0, le=10, description="At most this many words between number and context.")


class Superseded(_Strict):
    phrases: list[Text] = Field(default_factory=list, description="Case-insensitive substrings.")
    patterns: list[Text] = Field(default_factory=list, description="Regular expressions (case-insensitive).")
    numbers: list[NumberInContext] = Field(default_factory=list, description="Numbers in context.")
    templates: list[Annotated[str, Field(min_length=20, max_length=20000)]] = Field(
        default_factory=list, description="Old answer templates; near-copies are found by MinHash.")


class Policy(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
    effective_from: date
    description: str | None = Field(None, max_length=500)
    superseded: Superseded = Superseded()
    current: list[Text] = Field(default_factory=list, description="What replaced it (shown in findings).")
    min_policy_version: Annotated[str, BeforeValidator(_scalar_to_str)] | None = Field(
        None, description="Records (with one of ``labels``, if given) below this version are stale.")
    labels: list[LabelStr] = Field(
        default_factory=list, description="Labels the policy governs: such records created before "
                                          "effective_from are stale unless they quote ``current``.")

    @model_validator(mode="after")
    def _flags_something(self) -> Policy:
        s = self.superseded
        content = s.phrases or s.patterns or s.numbers or s.templates
        if not (content or self.min_policy_version or self.labels):
            raise ValueError("flags nothing: give superseded content, min_policy_version or labels")
        if self.min_policy_version is not None and parse_version(self.min_policy_version) is None:
            raise ValueError(f"min_policy_version {self.min_policy_version!r} is not a version like 3 or 2.1")
        return self


class PolicyFile(_Strict):
    policies: list[Policy] = Field(description="May be empty: the check then skips with that reason.")

    @model_validator(mode="after")
    def _unique_ids(self) -> PolicyFile:
        seen: set[str] = set()
        for policy in self.policies:
            if policy.id in seen:
                raise ValueError(f"policy id '{policy.id}' is used twice")
            seen.add(policy.id)
        return self


@dataclass(frozen=True, slots=True)
class Term:
    """One compiled superseded (or current) expression; ``source`` is what the user wrote."""

    reason: Literal["phrase", "pattern", "number", "current"]
    source: str
    regex: Any  # regex.Pattern
    unsafe: str | None = None  # why the pattern is not run (see :func:`unsafe_pattern`)


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    policy: Policy
    terms: tuple[Term, ...]
    current: tuple[Term, ...]
    min_version: tuple[int, ...] | None

    @property
    def id(self) -> str:
        return self.policy.id


def parse_version(value: str) -> tuple[int, ...] | None:
    """``"3"``, ``"v3"``, ``"2.1"`` -> ``(3,)``, ``(3,)``, ``(2, 1)``; anything else -> None."""
    match = _VERSION.match(value)
    if match is None:
        return None
    parts = tuple(int(p) for p in match[1].split("."))
    while len(parts) > 1 and parts[-1] == 0:
        parts = parts[:-1]
    return parts


def phrase_regex(phrase: str) -> Any:
    """A literal phrase, matched case-insensitively with any run of whitespace between its words."""
    return regex.compile(r"\s+".join(regex.escape(word) for word in phrase.split()), FLAGS)


def number_regex(rule: NumberInContext) -> Any:
    """The number (not part of a longer number) within ``window`` words of a context word, either side."""
    whole, _, frac = rule.value.replace(",", ".").partition(".")
    number = r"(?<!\d)(?<!\d[.,])" + regex.escape(whole) + (r"[.,]" + frac if frac else "") + r"(?![.,]?\d)"
    context = r"(?<!\w)(?:" + "|".join(regex.escape(w.strip()) for w in rule.near) + r")\w*"
    gap = rf"(?:\W+\w+){{0,{rule.window}}}?\W*"
    return regex.compile(f"{number}{gap}{context}|{context}{gap}{number}", FLAGS)


def unsafe_pattern(pattern: str) -> str | None:
    """Why ``pattern`` could backtrack catastrophically, or None: a variably repeated group that itself
    holds a variable repetition.

    ``(a+)+``, ``(\\w+\\s?)*``, ``(x{1,9}){2,}`` take time exponential in the length of a near-miss;
    they are reported and not run. Overlapping alternatives (``(a|aa)+``) are not caught here; the
    per-match timeout and the per-pattern budget of the stale_policy check bound those.
    """
    repeats = [False]  # per open group: does it hold a variable repetition?
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "(":
            repeats.append(False)
            i += 1
            continue
        inner = False
        if c == ")":
            inner = repeats.pop() if len(repeats) > 1 else False
            i += 1
        elif c == "\\":
            i += 2
        elif c == "[":
            close = _CLASS_END.match(pattern, i)
            i = close.end() if close else len(pattern)
        else:
            i += 1
        length, varies = _quantifier(pattern, i)
        if c == ")" and inner and varies:
            return f"nested quantifier: the group ending at position {i} repeats a part that repeats"
        if varies or inner:
            repeats[-1] = True
        i += length
    return None


def _quantifier(pattern: str, at: int) -> tuple[int, bool]:
    """Length of the quantifier at ``at`` (with a lazy/possessive suffix) and whether its count varies."""
    match = _QUANTIFIER.match(pattern, at)
    if match is None:
        return 0, False
    body = match.group(1)
    if body in ("+", "*", "?"):
        return len(match.group()), body != "?"
    low, comma, high = body[1:-1].partition(",")
    return len(match.group()), bool(comma) and (not high or int(high) > max(int(low or 0), 1))


_QUANTIFIER = regex.compile(r"([+*?]|\{\d*(?:,\d*)?\})[?+]?")
_CLASS_END = regex.compile(r"\[\^?\]?(?:\\.|[^\]\\])*\]")


def compile_policy(policy: Policy, doc: YamlDoc | None = None, index: int = 0) -> CompiledPolicy:
    terms = [Term("phrase", p, phrase_regex(p)) for p in policy.superseded.phrases]
    for position, pattern in enumerate(policy.superseded.patterns):
        try:
            terms.append(Term("pattern", pattern, regex.compile(pattern, FLAGS), unsafe_pattern(pattern)))
        except (regex.error, ValueError, OverflowError) as exc:
            where = f"{doc.where(('policies', index, 'superseded', 'patterns', position))}: " if doc else ""
            raise ConfigError(f"{where}policy '{policy.id}': pattern {pattern!r} does not compile: {exc}"
                              ) from None
    terms += [Term("number", f"“{n.value}” near {'/'.join(n.near)}", number_regex(n))
              for n in policy.superseded.numbers]
    current = tuple(Term("current", c, phrase_regex(c)) for c in policy.current)
    version = parse_version(policy.min_policy_version) if policy.min_policy_version is not None else None
    return CompiledPolicy(policy, tuple(terms), current, version)


def parse_policies(data: Any, doc: YamlDoc | None = None) -> list[CompiledPolicy]:
    """Validate a loaded mapping into compiled policies; errors name the key and, with ``doc``, the line."""
    where = f"{doc.path}: " if doc else ""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}a policies file must be a mapping with a 'policies' list")
    try:
        parsed = PolicyFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, doc, data)) from None
    return [compile_policy(p, doc, i) for i, p in enumerate(parsed.policies)]


#: What ``dqaudit init`` writes: valid as it stands (no policies), with a full example to uncomment.
STARTER_POLICIES = """\
# Superseded policies for the stale_policy check. Use it with
#   checks: {stale_policy: {policies: policies.yaml}}   in dqaudit.yaml, or
#   dqaudit audit DATA --policies policies.yaml
# Uncomment the example and adapt it. Phrases match case-insensitively; patterns are
# regular expressions (case-insensitive, run with a timeout). Docs: docs/checks/stale_policy.md.
policies: []
# policies:
#   - id: refund-window-2025               # letters, digits, . _ -
#     effective_from: 2025-03-01           # YYYY-MM-DD
#     description: Refund window extended from 14 to 30 days.
#     superseded:
#       phrases: ["refund within 14 days", "возврат в течение 14 дней"]
#       patterns: ['\\b14[- ]day refund']
#       numbers:                           # 14 within 3 words of a context word (prefix match)
#         - {value: 14, near: [day, дн, күн], window: 3}
#       templates:                         # old answer texts; near-copies are flagged too
#         - "You can request a refund within 14 days of purchase in the mobile app."
#     current: ["refund within 30 days"]   # quoting it clears the effective-date rule
#     min_policy_version: 3                # records (with these labels) below it are stale
#     labels: [request_refund]             # these labels created before effective_from are stale
"""


def load_policies(path: str | Path) -> list[CompiledPolicy]:
    """Read, validate and compile ``policies.yaml``; any problem is one ConfigError line."""
    doc = load_yaml(path)
    return parse_policies(doc.data, doc)


def _describe(exc: ValidationError, doc: YamlDoc | None, data: Any) -> str:
    """``file:line: policies[0].superseded.phrases: what was wrong (policy 'id')``."""
    err = exc.errors()[0]
    loc: Sequence[str | int] = err["loc"]
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "(top level)"
    msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
    if "input" in err and err["type"] not in ("missing", "value_error", "extra_forbidden"):
        msg += f" (got {err['input']!r:.60})"
    policy = _policy_id(data, loc)
    where = f"{doc.where(loc)}: " if doc else ""
    return f"{where}{key}: {msg}" + (f" (policy '{policy}')" if policy else "")


def _policy_id(data: Any, loc: Sequence[str | int]) -> str | None:
    if len(loc) >= 2 and loc[0] == "policies" and isinstance(loc[1], int):
        policies = data.get("policies")
        if isinstance(policies, list) and loc[1] < len(policies) and isinstance(policies[loc[1]], dict):
            value = policies[loc[1]].get("id")
            return str(value) if value is not None else None
    return None


class PolicySettings(CheckParams):
    """Where the superseded policies are (the ``checks.stale_policy`` block): the stale-policy check and the
    conflicting-outputs check (which prefers answers quoting no superseded policy) read the same file."""

    policies: str | None = Field(
        None, description="policies.yaml with the superseded policies (relative to the current directory); "
                          "`dqaudit init` writes a commented example, `--policies FILE` overrides.")
