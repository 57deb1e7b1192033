"""Cleaned, leakage-safe export: train/val/test, quarantine and manifest, written atomically.

Every cleaning decision comes from an audit finding, through one small table, so
the export and the report always agree. A finding's decision is looked up by
``check.kind``, then ``check`` (``export.rules`` in dqaudit.yaml over each checker's own
``cleaning`` table), then by the action the checker itself recommends (:data:`ACTION_DEFAULTS`):

* ``keep``: no change (near-duplicate clusters still never cross splits);
* ``dedupe``: keep one record per duplicate cluster (near-copies whose labels differ in content:
  one per label), quarantine the other copies. The kept record is chosen after every other
  decision (:mod:`dqaudit.features.representatives`): never one quarantined for another
  reason, so a group with a clean member always keeps one;
* ``quarantine``: move every named record to quarantine.jsonl with the reason;
* ``mask``: keep the record with personal data masked in all its strings;
* ``relabel``: keep the record with the label the finding suggests (e.g. the annotators' consensus).

Every input row, malformed lines included, lands in exactly one output file.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import orjson
import pandas as pd

from . import __version__
from .data import LoadProblem, chat_key, iter_rows
from .errors import ConfigError, InputError
from .features.leakage import SPLITS, LeakReport, minhash_settings, written_leaks
from .features.representatives import kept_entries
from .findings import Action, CheckResult, Finding
from .masking import Masker, mask_deep, report_masker
from .publish import (
    MANIFEST,
    changed_input,
    check_destination,
    masking_state,
    staged_folder,
    write_manifest,
)
from .records import FILENAME as RECORDS
from .records import id_index, id_rows, parquet_bytes
from .registry import check_params, cleaning_rules
from .split import SplitOutcome, leakage_groups, stratified_split, time_split
from .text import displayable

if TYPE_CHECKING:
    from .config import AuditConfig, Decision
    from .context import AuditContext
    from .pipeline import AuditResult

#: What the checker's recommended action means for export when no rule names the finding.
ACTION_DEFAULTS: dict[Action, Decision] = {
    Action.DROP: "quarantine",
    Action.MASK: "mask",
    Action.RELABEL: "keep",
    Action.REVIEW: "keep",
    Action.ADD_DATA: "keep",
    Action.NONE: "keep",
}
QUARANTINE = "quarantine.jsonl"


def decision_for(finding: Finding, rules: Mapping[str, Decision]) -> Decision:
    """The export decision for one finding: ``check.kind`` rule, then ``check`` rule, then its action."""
    for key in (f"{finding.check}.{finding.kind}", finding.check):
        if key in rules:
            return rules[key]
    return ACTION_DEFAULTS[finding.action]


@dataclass
class CleaningPlan:
    """Per frame row: why it is quarantined (if it is), whether to mask it, its new label."""

    reasons: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    mask: set[int] = field(default_factory=set)
    relabel: dict[int, str] = field(default_factory=dict)
    decisions: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Per position in the findings list: the reasons of the copies its dedupe removed, so that
    #: :func:`settle_representatives` can give them the settled message the report shows.
    copies: dict[int, list[dict[str, Any]]] = field(default_factory=dict, repr=False)

    def quarantine(self, row: int, reason: dict[str, Any]) -> None:
        self.reasons.setdefault(row, []).append(reason)

    def also_quarantining(self, rows: np.ndarray, reason: dict[str, Any]) -> CleaningPlan:
        """A copy of the plan that quarantines ``rows`` too (``split --by-time``: rows with no date),
        leaving this one, the audit's (records.parquet), as it was."""
        reasons = dict(self.reasons)
        for row in rows.tolist():
            reasons[row] = [*reasons.get(row, ()), reason]
        return replace(self, reasons=reasons)


def cleaning_plan(frame: pd.DataFrame, findings: list[Finding], rules: Mapping[str, Decision],
                  clusters: Callable[[], np.ndarray], rolled_up: Mapping[str, list[int]] | None = None,
                  texts: Callable[[np.ndarray], np.ndarray] | None = None,
                  index: pd.Index | None = None) -> CleaningPlan:
    """Turn the audit findings into row decisions (quarantine wins over mask and relabel).

    Duplicate groups are settled last, once every other decision is known, so the copy
    kept is one the cleaning keeps anyway (:mod:`dqaudit.features.representatives`): two
    findings about one cluster never remove all of it. A quarantine finding may narrow the
    records it removes (``details["quarantine_ids"]``: a question's answers that are not
    kept). ``clusters()`` (a near-duplicate cluster id per row, the split's groups:
    :func:`~dqaudit.features.near_dups.near_duplicate_groups`) splits a dedupe finding that names
    no representative into its clusters; it is called only for such a finding, as those clusters
    may cost a near-duplicate search. A finding that sums up many clusters names no records: it
    applies to the rows ``rolled_up`` lists for its ``check.kind`` (:func:`dqaudit.records.rolled_up_rows`).
    ``texts`` gives the texts of row positions (``AuditContext.texts``; default: the frame's):
    only the duplicate groups' members are asked for, once. ``index``: the frame's
    :func:`~dqaudit.records.id_index` when the caller has built it.
    """
    plan = CleaningPlan()
    index = id_index(frame) if index is None else index
    dedupes: list[tuple[Finding, list[int], dict[str, Any]]] = []
    at: list[int] = []  # each dedupe's position in ``findings``
    flagged: set[int] = set()
    decisions = [decision_for(finding, rules) for finding in findings]
    named = [finding.details.get("quarantine_ids") if decision == "quarantine" else None
             for finding, decision in zip(findings, decisions, strict=True)]
    id_lists = [finding.record_ids if ids is None else ids
                for finding, ids in zip(findings, named, strict=True)]
    found = id_rows(index, id_lists)  # one lookup for every finding
    for k, (finding, decision, ids, hit) in enumerate(zip(findings, decisions, id_lists, found,
                                                          strict=True)):
        rows = (hit.tolist() if ids
                else list((rolled_up or {}).get(f"{finding.check}.{finding.kind}", ())))
        if not rows:
            continue
        reason = {"check": finding.check, "kind": finding.kind, "decision": decision,
                  "message": finding.message}
        tally = plan.decisions.setdefault(f"{finding.check}.{finding.kind}", {})
        tally[decision] = tally.get(decision, 0) + len(rows)
        if finding.action in (Action.RELABEL, Action.MASK):
            flagged.update(rows)
        if decision == "quarantine":
            for row in rows:
                plan.quarantine(row, reason)
        elif decision == "dedupe":
            dedupes.append((finding, rows, reason))
            at.append(k)
        elif decision == "mask":
            plan.mask.update(rows)
        elif decision == "relabel":
            for row, label in zip(rows, _suggested(finding, rows), strict=True):
                plan.relabel[row] = label
    _settle_duplicates(plan, frame, dedupes, functools.cache(clusters), flagged, texts)
    plan.copies = {at[f]: copies for f, copies in plan.copies.items()}  # by dedupe until here
    return plan


def _settle_duplicates(plan: CleaningPlan, frame: pd.DataFrame,
                       dedupes: list[tuple[Finding, list[int], dict[str, Any]]],
                       clusters: Callable[[], np.ndarray],
                       flagged: set[int], texts: Callable[[np.ndarray], np.ndarray] | None) -> None:
    """Quarantine every copy of each duplicate group but the ones :func:`kept_entries` keeps.

    Findings are settled in order: an earlier one's choices bar or prefer rows of a later one. Only
    findings that share rows depend on each other, so each finding joins the wave after the last one
    holding any of its rows, and a wave settles all its groups in one columnar call.
    """
    parts = [_groups(found, rows, clusters) for found, rows, _ in dedupes]
    rows = np.array([r for groups in parts for group in groups for r in group], np.int64)
    group = np.repeat(np.arange(sum(map(len, parts))), [len(g) for groups in parts for g in groups])
    finding = np.repeat(np.arange(len(parts)), [sum(map(len, groups)) for groups in parts])
    entry = _entries(frame, rows, group, texts)
    named = np.zeros(len(rows), bool)
    wave = np.zeros(len(parts), np.int64)
    last = np.zeros(len(frame), np.int64)  # per row: the last wave holding it
    bounds = np.searchsorted(finding, np.arange(len(parts) + 1))
    for k, (found, _, _) in enumerate(dedupes):
        at = rows[bounds[k]:bounds[k + 1]]
        wave[k] = int(last[at].max(initial=0)) + 1
        last[at] = wave[k]
        names = found.details.get("representatives") or [found.details.get("representative")]
        keep = {str(i) for i in names if i is not None}
        named[bounds[k]:bounds[k + 1]] = [i in keep for i in entry.ids[bounds[k]:bounds[k + 1]]]
    per_label = np.array([found.kind == "near_duplicates" for found, _, _ in dedupes], bool)[finding]
    barred = np.zeros(len(frame), bool)
    barred[list(plan.reasons)] = True
    is_flagged = np.zeros(len(frame), bool)
    is_flagged[list(flagged)] = True
    kept = np.zeros(len(frame), bool)
    chosen = np.zeros(len(rows), bool)
    copies = np.zeros(len(rows), bool)
    for w in range(1, int(wave.max(initial=0)) + 1):
        in_wave = wave[finding] == w
        for by_label in (False, True):
            at = np.flatnonzero(in_wave & (per_label == by_label))
            r = rows[at]
            chosen[at] = kept_entries(
                group[at], [entry.labels[k] for k in at.tolist()], [entry.times[k] for k in at.tolist()],
                entry.lines[at], [entry.texts[k] for k in at.tolist()], barred=barred[r],
                flagged=is_flagged[r], prefer=kept[r] | named[at], per_label=by_label)
        at = np.flatnonzero(in_wave)
        copies[at] = _copies(rows[at], group[at], chosen[at], barred[rows[at]])
        kept[rows[at[chosen[at]]]] = True
        barred[rows[at[copies[at]]]] = True
    _quarantine_copies(plan, [reason for _, _, reason in dedupes], entry, finding, chosen, copies)


@dataclass(frozen=True)
class _Entries:
    """The members of every duplicate group, one entry per (group, row), in finding and group order."""

    rows: np.ndarray
    group: np.ndarray
    ids: list[str]
    labels: list[str | None]
    times: list[str | None]
    lines: np.ndarray
    texts: list[str]


def _groups(finding: Finding, rows: list[int], clusters: Callable[[], np.ndarray]) -> list[list[int]]:
    """A finding's duplicate groups: its rows when it names a representative, else its rows per cluster."""
    if finding.details.get("representative") is not None:
        return [rows]
    return _by_cluster(np.asarray(rows, dtype=np.int64), clusters())


def _copies(rows: np.ndarray, group: np.ndarray, chosen: np.ndarray, barred: np.ndarray) -> np.ndarray:
    """Entries to quarantine: the first entry of each (group, row) whose row is neither kept in its group
    nor already barred (a repeated id lists its rows twice)."""
    pair = group * (int(rows.max(initial=0)) + 1) + rows
    return ~pd.Series(pair).duplicated().to_numpy() & ~barred & ~np.isin(pair, pair[chosen])


def _quarantine_copies(plan: CleaningPlan, reasons: list[dict[str, Any]], entry: _Entries,
                       finding: np.ndarray, chosen: np.ndarray, copies: np.ndarray) -> None:
    """Quarantine the copies in finding and group order, each naming its group's first kept line with
    the copy's own label (the group's first kept line when no kept copy has it)."""
    label = pd.factorize(np.array(entry.labels, dtype=object))[0] + 1  # 0: no label
    key = entry.group * (int(label.max(initial=0)) + 1) + label
    kept = np.flatnonzero(chosen)
    kept = kept[np.lexsort((kept, entry.lines[kept], entry.group[kept]))]
    by_label, by_group = pd.Series(kept, index=key[kept]), pd.Series(kept, index=entry.group[kept])
    by_label = by_label[~by_label.index.duplicated()]
    by_group = by_group[~by_group.index.duplicated()]
    at = np.flatnonzero(copies)
    same = by_label.reindex(key[at]).to_numpy()
    which = np.where(np.isnan(same), by_group.reindex(entry.group[at]).to_numpy(), same).astype(np.int64)
    for row, f, k in zip(entry.rows[at].tolist(), finding[at].tolist(), which.tolist(), strict=True):
        reason = {**reasons[f], "kept": entry.ids[k]}
        plan.quarantine(row, reason)
        plan.copies.setdefault(f, []).append(reason)


def settle_representatives(results: Sequence[CheckResult], plan: CleaningPlan, frame: pd.DataFrame,
                           rules: Mapping[str, Decision], mask: Masker | None,
                           index: pd.Index | None = None) -> list[CheckResult]:
    """Results whose duplicate findings name the copies the cleaning plan keeps.

    A checker names its group's representative before the other checks have spoken; the
    plan settles it once they have (a first copy quarantined as stale gives way to a clean
    one). So the report, records.parquet and ``split`` name the same kept copies: the
    finding's ``representative(s)`` and its "keep …" become the members the plan keeps
    (``none`` when another check quarantines every copy), and the plan's reasons for the copies
    the finding removes carry that message (quarantine.jsonl and the report say the same). ``index``: the
    frame's :func:`~dqaudit.records.id_index` when the caller has built it.
    """
    index = id_index(frame) if index is None else index
    id_of = index.to_numpy()
    out = []
    start = 0  # the result's first finding's position in the plan's findings
    for result in results:
        findings = list(result.findings)
        settled = [k for k, finding in enumerate(findings)
                   if finding.record_ids and decision_for(finding, rules) == "dedupe"]
        for k, hit in zip(settled, id_rows(index, [findings[k].record_ids for k in settled]), strict=True):
            finding = findings[k]
            rows = sorted(hit.tolist())
            kept = [str(id_of[r]) for r in rows if r not in plan.reasons]
            named = finding.details.get("representatives") or [finding.details.get("representative")]
            if sorted(map(str, named)) == sorted(kept):
                continue
            details = {**finding.details, "representative": kept[0] if kept else None}
            if "representatives" in details:
                details["representatives"] = kept
            message = finding.message
            if "; keep " in message:
                shown = ", ".join(kept) if kept else "none (another check quarantines every copy)"
                message = message[: message.rindex("; keep ")] + "; keep " + (mask(shown) if mask else shown)
            findings[k] = replace(finding, message=message, details=details)
            for reason in plan.copies.get(start + k, ()):
                reason["message"] = message
        out.append(replace(result, findings=tuple(findings)))
        start += len(findings)
    return out


def _entries(frame: pd.DataFrame, rows: np.ndarray, group: np.ndarray,
             texts: Callable[[np.ndarray], np.ndarray] | None) -> _Entries:
    """What the choice reads, for the groups' rows only; the texts asked once, for the distinct rows
    (``texts``: :meth:`~dqaudit.context.AuditContext.texts`; default: the frame's)."""
    distinct, back = np.unique(rows, return_inverse=True)
    if texts is not None:
        text = np.asarray(texts(distinct), dtype=object)[back]
    elif "text" in frame.columns:
        text = frame["text"].to_numpy()[rows]
    else:
        text = np.full(len(rows), "", dtype=object)

    def column(name: str) -> list[Any]:
        return frame[name].to_numpy()[rows].tolist() if name in frame.columns else [None] * len(rows)

    lines = frame["line"].to_numpy()[rows] if "line" in frame.columns else rows + 1
    return _Entries(rows, group, [str(i) for i in column("id")], [_missing(x) for x in column("label")],
                    [_missing(x) for x in column("created_at")], np.asarray(lines, np.int64),
                    [str(t) for t in text.tolist()])


def _by_cluster(rows: np.ndarray, clusters: np.ndarray) -> list[list[int]]:
    """``rows`` grouped by their cluster, clusters in ascending order,
    rows in their given order within one."""
    keys = clusters[rows]
    order = np.argsort(keys, kind="stable")
    keys, ordered = keys[order], rows[order].tolist()
    cuts = [0, *(np.flatnonzero(keys[1:] != keys[:-1]) + 1).tolist(), len(ordered)]
    return [ordered[a:b] for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def _missing(value: Any) -> str | None:
    return None if value is None or value != value else str(value)


def _suggested(finding: Finding, rows: list[int]) -> list[str]:
    """The label a finding proposes for its rows (``details["suggested"]``, as label_noise gives it)."""
    suggested = finding.details.get("suggested")
    if suggested is not None:
        return [str(suggested)] * len(rows)
    raise ConfigError(f"export.rules: '{finding.check}.{finding.kind}' is relabel but its finding suggests "
                      "no label; use quarantine or keep")


# --- export ---------------------------------------------------------------------------------------------




@dataclass
class PreparedExport:
    """Everything decided before writing: per-row split (-1 quarantined), cleaning plan, labels, manifest.

    Both engines share it, so only the writing differs between them.
    """

    plan: CleaningPlan
    labels: pd.Series
    split_of: np.ndarray
    rendering: Rendering
    manifest: dict[str, Any]


def export_splits(ctx: AuditContext, result: AuditResult, out: str | Path, *,
                  by_time: str | None = None) -> dict[str, Any]:
    """Clean, split, verify and write ``out/``; returns the manifest."""
    dataset = ctx.dataset
    source = Path(dataset.source.path)
    if dataset.source.format not in ("jsonl", "csv", "parquet") or not source.is_file():
        raise InputError(source, "export needs the input file the dataset was loaded from")
    target = check_destination(source, Path(out), owned_names(ctx.config.export.chat))
    prepared = prepare_export(ctx, result, by_time=by_time)
    records = None if result.records is None else parquet_bytes(result.records, report_masker(ctx.config),
                                                                ctx.cache)
    return _Writer(ctx, prepared).publish(source, target, prepared.manifest, records)


def prepare_export(ctx: AuditContext, result: AuditResult, *, by_time: str | None = None) -> PreparedExport:
    """Cleaning plan, group-aware split and the independent leakage check: all but the writing.

    The cleaning plan is the audit's own (``result.plan``, made by :func:`dqaudit.api.audit`), not
    made again: a result from :func:`~dqaudit.pipeline.run_checks` alone has none and is refused.
    The texts are read through ``ctx.texts`` and the engine's copy search (:func:`written_leaks`), never
    from the frame: on Spark they stay on the executors (the writer renders them there too).
    """
    config, frame = ctx.config, ctx.frame
    if result.plan is None:
        raise ValueError("export needs the cleaning plan of dqaudit.audit's result (run_checks makes none)")
    masking = masking_state(result, len(frame))  # fails closed before any work
    rules = {**cleaning_rules(), **config.export.rules}
    plan = result.plan
    labels = frame["label"].copy()
    for row, label in plan.relabel.items():
        labels.iat[row] = label
    if by_time is not None:
        times = _times(frame, config, by_time)
        plan = plan.also_quarantining(np.flatnonzero(times.isna().to_numpy()), {
            "check": "split", "kind": "missing_time", "decision": "quarantine",
            "message": f"--by-time {by_time}: no parseable date"})
    kept = np.ones(len(frame), dtype=bool)
    kept[list(plan.reasons)] = False
    kept_rows = np.flatnonzero(kept)
    groups = leakage_groups(ctx)[kept_rows]
    ratios = config.export.ratios
    if by_time is not None:
        outcome = time_split(groups, times.iloc[kept_rows], ratios, config.seed)
    else:
        outcome = stratified_split(groups, labels.iloc[kept_rows].tolist(),
                                   _languages(ctx, result).iloc[kept_rows].tolist(), ratios, config.seed)
    split_of = np.full(len(frame), -1, dtype=np.int8)
    split_of[kept_rows] = outcome.assignment
    rendering = Rendering(ctx.dataset.source.format, config.fields.label or "label",
                          tuple(check_params(config, "pii").types) if masking == "on" else None,
                          config.export.system_prompt, chat_key(ctx.dataset.fields.text))
    masked = np.isin(kept_rows, np.fromiter(plan.mask, np.int64, len(plan.mask)))
    leaks = written_leaks(ctx, kept_rows, masked, rendering.mask, outcome.assignment, SPLITS,
                          params=minhash_settings(config))
    manifest = _manifest_parts(ctx, result, plan, outcome, leaks, labels, split_of, rules, by_time)
    manifest["cleaning"]["masking"] = masking
    manifest = mask_deep(manifest, report_masker(config))  # labels, ids and the file name are data too
    return PreparedExport(plan, labels, split_of, rendering, manifest)


def owned_names(chat: bool) -> list[str]:
    """Every file a local export writes besides the manifest: the outputs and records.parquet."""
    return [*output_names(chat), RECORDS]


def write_records(path: Path, records: bytes, manifest: dict[str, Any]) -> dict[str, Any]:
    """records.parquet written and flushed to disk; returns the manifest's ``records`` entry."""
    with path.open("wb") as handle:
        handle.write(records)
        handle.flush()
        os.fsync(handle.fileno())
    return records_entry(records, manifest)


def records_entry(records: bytes, manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest's ``records`` entry: records.parquet, one row per input row, and its hash (``outputs``
    lists the JSONL files a trainer reads)."""
    return {"file": RECORDS, "rows": manifest["input"]["rows"], "sha256": hashlib.sha256(records).hexdigest()}


def output_names(chat: bool) -> list[str]:
    """Every file an export writes besides the manifest, in manifest order."""
    names = [*(f"{s}.jsonl" for s in SPLITS), QUARANTINE]
    return names + [f"{s}.chat.jsonl" for s in SPLITS] if chat else names


def _times(frame: pd.DataFrame, config: AuditConfig, by_time: str) -> pd.Series:
    """Parsed ``created_at`` (UTC); ``--by-time`` names it by its canonical or configured field name."""
    if by_time not in ("created_at", config.fields.created_at):
        raise ConfigError(f"--by-time: '{by_time}' is not the date field (fields.created_at is "
                          f"'{config.fields.created_at}'); set fields.created_at to it in dqaudit.yaml")
    values = frame["created_at"].astype("string").str.strip()
    return pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")


def _languages(ctx: AuditContext, result: AuditResult) -> pd.Series:
    """The detected language when the language check ran, else the language field as given."""
    from .features.language import detected_languages

    ran = any(r.check == "language" and r.status == "ok" for r in result.results)
    return detected_languages(ctx) if ran else ctx.frame["lang"]


def _mask_strings(value: Any, masker: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return masker(value)
    if isinstance(value, dict):
        return {k: _mask_strings(v, masker) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_strings(v, masker) for v in value]
    return value


def _set_path(obj: dict[str, Any], spec: str, value: str) -> None:
    """Set ``key`` or a dotted ``a.b`` path in a record."""
    *parents, last = spec.split(".") if spec not in obj else [spec]
    node = obj
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


class _HashingFile:
    """A file opened for writing that hashes what goes through it."""

    def __init__(self, path: Path) -> None:
        self.handle: IO[bytes] = path.open("wb")
        self.digest = hashlib.sha256()
        self.rows = 0

    def write(self, line: bytes) -> None:
        self.handle.write(line)
        self.handle.write(b"\n")
        self.digest.update(line + b"\n")
        self.rows += 1

    def close(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()


@dataclass(frozen=True)
class Rendering:
    """How an input row becomes an output line: plain data and pure methods, so that Spark executors
    run exactly the code the local writer runs and the two engines write the same bytes."""

    fmt: str
    label_field: str
    mask_types: tuple[str, ...] | None  # the PII check's types; None when no row is masked
    system_prompt: str | None
    chat_key: str | None = None  # the field holding a chat record's own turns (see :meth:`chat`)

    def mask(self, text: str) -> str:
        """The PII check's own masking, with the types it was configured to find."""
        from .pii import mask_text

        return mask_text(text, self.mask_types or ())

    def kept(self, raw: str, record: Callable[[], Any], masked: bool, relabel: str | None) -> bytes:
        """A kept record: the original line when unchanged (JSONL), else the cleaned record re-serialised.

        ``record()`` gives the parsed record; it is called only when the record is re-serialised.
        """
        if not masked and relabel is None and self.fmt == "jsonl":
            return raw.encode("utf-8")
        obj = record()
        if masked:
            obj = _mask_strings(obj, self.mask)
        if relabel is not None:
            _set_path(obj, self.label_field, relabel)
        return orjson.dumps(obj, default=str)

    def quarantined(self, where: dict[str, Any], record_id: str, reasons: list[dict[str, Any]],
                    obj: Any) -> bytes:
        """A record the plan removed; ``where`` is ``{"line": n}``, plus ``"file"`` for many input files.

        With masking on, its strings are masked like a kept record's: quarantine.jsonl is an output too.
        """
        entry = {**where, "id": record_id, "reasons": reasons, "record": obj}
        return orjson.dumps(self._masked(entry), default=str)

    def unloaded(self, where: dict[str, Any], kind: str, message: str, raw: str | None, obj: Any) -> bytes:
        """A row that did not load: its line as read when it did not parse, else the parsed value."""
        reason = {"check": "load", "kind": kind, "decision": "quarantine", "message": message}
        entry: dict[str, Any] = {**where, "reasons": [reason]}
        if isinstance(obj, LoadProblem):
            entry["raw"] = raw
        else:
            entry["record"] = obj
        return orjson.dumps(self._masked(entry), default=str)

    def _masked(self, entry: dict[str, Any]) -> dict[str, Any]:
        return entry if self.mask_types is None else _mask_strings(entry, self.mask)

    def chat(self, text: str, answer: Any, masked: bool, turns: Any = None) -> bytes | None:
        """OpenAI chat fine-tuning example: user = text, assistant = output (else the label).

        A chat record (``turns``: its ``messages`` list) keeps its own turns, system messages
        included; ``export.system_prompt`` is added only where it has no system message.
        """
        if answer is None:
            return None
        if masked:
            text, answer = self.mask(text), self.mask(str(answer))
        own = [{"role": t["role"], "content": t["content"]} for t in turns
               if isinstance(t, dict) and isinstance(t.get("role"), str) and isinstance(t.get("content"), str)
               ] if isinstance(turns, list) else []
        if any(t["role"] == "user" for t in own) and any(t["role"] == "assistant" for t in own):
            messages = [{**t, "content": self.mask(t["content"])} for t in own] if masked else own
        else:
            messages = [{"role": "user", "content": text}, {"role": "assistant", "content": str(answer)}]
        system = self.system_prompt
        if system and not any(t["role"] == "system" for t in messages):
            messages = [{"role": "system", "content": system}, *messages]
        return orjson.dumps({"messages": messages})


class _Writer:
    """Streams the input once, sending each physical row to exactly one output file."""

    def __init__(self, ctx: AuditContext, prepared: PreparedExport) -> None:
        self.ctx, self.prepared = ctx, prepared
        frame = ctx.frame
        self.row_of_line = dict(zip(frame["line"].tolist(), range(len(frame)), strict=True))
        self.problems = {p.line: p for p in ctx.dataset.problems}
        self.chat = ctx.config.export.chat

    def publish(self, source: Path, out: Path, manifest: dict[str, Any],
                records: bytes | None = None) -> dict[str, Any]:
        """Write into a hidden sibling folder, then swap it into place: old outputs or new, never half.

        ``records`` (records.parquet's bytes) goes beside the splits: why each row went where it went.
        """
        with staged_folder(out, owned_names(self.chat)) as tmp:
            manifest["outputs"] = self._write_all(source, tmp)
            if records is not None:
                manifest["records"] = write_records(tmp / RECORDS, records, manifest)
            write_manifest(tmp / MANIFEST, manifest)
        return manifest

    def _write_all(self, source: Path, tmp: Path) -> dict[str, dict[str, Any]]:
        files = {name: _HashingFile(tmp / name) for name in output_names(self.chat)}
        plan, render, split_of = self.prepared.plan, self.prepared.rendering, self.prepared.split_of
        frame = self.ctx.frame
        digest = hashlib.sha256()
        try:
            config = self.ctx.config
            for line, raw, obj in iter_rows(source, self.ctx.dataset.source.format, config.input, digest):
                row = self.row_of_line.get(line)
                where = {"line": line}
                if row is None or isinstance(obj, LoadProblem):
                    problem = obj if isinstance(obj, LoadProblem) else self.problems.get(line)
                    if problem is None:  # the loader accounted for every row it read: the file grew since
                        raise changed_input(source)
                    routed = row_lines(render, where, raw, lambda obj=obj: obj, problem=problem)
                else:
                    routed = row_lines(
                        render, where, raw, lambda obj=obj: obj, split=int(split_of[row]),
                        record_id=str(frame["id"].iat[row]), reasons=plan.reasons.get(row),
                        masked=row in plan.mask, relabel=plan.relabel.get(row), text=frame["text"].iat[row],
                        output=frame["output"].iat[row], label=frame["label"].iat[row], chat=self.chat)
                for name, value in routed:
                    files[name].write(value)
        finally:
            for handle in files.values():
                handle.close()
        if digest.hexdigest() != self.ctx.dataset.source.fingerprint:  # regenerated, appended to or cut
            raise changed_input(source)
        return {name: {"rows": f.rows, "sha256": f.digest.hexdigest()} for name, f in files.items()}


def row_lines(render: Rendering, where: dict[str, Any], raw: str, record: Callable[[], Any], *,
              problem: LoadProblem | None = None, split: int = -1, record_id: str = "",
              reasons: list[dict[str, Any]] | None = None, masked: bool = False, relabel: str | None = None,
              text: str = "", output: Any = None, label: Any = None,
              chat: bool = False) -> list[tuple[str, bytes]]:
    """Where one input row goes and what is written there, as ``(output file, line)`` pairs.

    A row that did not load (``problem``) or that the plan removed (``split`` < 0) goes to
    quarantine.jsonl; a kept row to its split's file and, with ``chat``, its example (user = text,
    assistant = the output, else the label after any relabelling; a chat record's own turns) to the
    split's chat file. Both engines' writers call this for every row (Spark on its executors), so
    routing cannot drift. ``record()`` gives the parsed row (a :class:`LoadProblem` where it did not
    parse); it is called only when needed, and at most once.
    """
    record = functools.cache(record)
    if problem is not None:
        return [(QUARANTINE, render.unloaded(where, problem.kind, problem.message, raw, record()))]
    if split < 0:
        return [(QUARANTINE, render.quarantined(where, record_id, reasons or [], record()))]
    name = SPLITS[split]
    routed = [(f"{name}.jsonl", render.kept(raw, record, masked, relabel))]
    if chat:
        answer = output if output is not None else relabel if relabel is not None else label
        obj = record() if render.chat_key else None
        turns = obj.get(render.chat_key) if isinstance(obj, dict) else None
        example = render.chat(text, answer, masked, turns)
        if example is not None:
            routed.append((f"{name}.chat.jsonl", example))
    return routed


def _manifest_parts(ctx: AuditContext, result: AuditResult, plan: CleaningPlan, outcome: SplitOutcome,
                    leaks: LeakReport,
                    labels: pd.Series, split_of: np.ndarray, rules: Mapping[str, Decision],
                    by_time: str | None) -> dict[str, Any]:
    """Everything the manifest says except the output hashes (added once the files are written)."""
    config = ctx.config
    kept = split_of >= 0
    table = pd.DataFrame({"split": split_of[kept], "label": labels[kept].fillna("(none)").astype(str),
                          "lang": _languages(ctx, result)[kept].fillna("(none)").astype(str)})
    counts: dict[str, Any] = {s: {} for s in SPLITS}
    for (split, label, lang), n in table.value_counts().sort_index().items():
        counts[SPLITS[split]].setdefault(label, {})[lang] = int(n)
    rows = {s: int((split_of == j).sum()) for j, s in enumerate(SPLITS)}
    total = int(kept.sum())
    quarantine: dict[str, int] = {}
    for reasons in plan.reasons.values():
        for key in sorted({f"{r['check']}.{r['kind']}" for r in reasons}):
            quarantine[key] = quarantine.get(key, 0) + 1
    for problem in ctx.dataset.problems:
        key = f"load.{problem.kind}"
        quarantine[key] = quarantine.get(key, 0) + 1
    return {
        "dqaudit_version": __version__,
        "input": {"file": displayable(Path(ctx.dataset.source.path).name),
                  "sha256": ctx.dataset.source.fingerprint, "rows": ctx.dataset.source.rows},
        "seed": config.seed,
        "strategy": outcome.strategy + (f" ({by_time})" if by_time else ""),
        "ratios": {"asked": dict(zip(SPLITS, config.export.ratios, strict=True)),
                   "achieved": {s: round(rows[s] / total, 4) if total else 0.0 for s in SPLITS}},
        "rows": {**rows, "quarantine": len(plan.reasons) + len(ctx.dataset.problems)},
        "groups": {"count": outcome.groups, "largest": outcome.largest_group},
        "rare_classes": outcome.rare_classes,
        "counts": counts,
        "quarantine_reasons": dict(sorted(quarantine.items())),
        "cleaning": {"rules": dict(sorted(rules.items())),
                     "action_defaults": {a.value: d for a, d in ACTION_DEFAULTS.items()},
                     "applied": dict(sorted(plan.decisions.items())),
                     "masked": len(plan.mask), "relabelled": len(plan.relabel)},
        "leakage": leaks.to_dict(),
        "config": config.model_dump(mode="json"),
    }
