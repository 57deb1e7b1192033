"""``pii``: personal data (e-mail, phone, card, IBAN, IIN/BIN, names) in the text or the answer.

A training set that carries customers' card numbers teaches a model to repeat
them. Every value is validated (Luhn, mod-97, IIN check digit, ``phonenumbers``)
so order numbers, dates and amounts are not flagged; detection lives in
:mod:`dqaudit.pii`. This checker also supplies the report masker, so no
report shows a raw value, whichever checker quoted the text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from pydantic import Field

from ..context import AuditContext
from ..features.pii_counts import FIELDS, pii_counts
from ..findings import Action, CheckResult, Finding, Severity
from ..masking import masker_for
from ..pii import PII_TYPES, PiiSettings, mask_text
from ..text import preview
from .base import Checker, Points

_NAMES = {
    "email": "e-mail addresses",
    "phone": "phone numbers",
    "card": "payment card numbers",
    "iban": "IBANs",
    "iin": "Kazakhstan IIN/BIN numbers",
    "person": "names of people",
}
_SEVERE = frozenset({"card", "iban", "iin"})


class PiiParams(PiiSettings):
    export: Literal["mask", "drop"] = Field(
        "mask",
        description="What the exporter does with records that "
        "carry personal data: mask the values or drop the records.",
    )
    max_share: float = Field(
        0.01,
        ge=0,
        le=1,
        description="Blocking gate: share of records with card, IBAN or "
        "IIN numbers above which the data is NOT READY.",
    )
    examples: int = Field(3, ge=0, le=20, description="Masked example excerpts per finding.")


class PiiChecker(Checker[PiiParams]):
    name = "pii"
    description = "Personal data (e-mail, phone, card, IBAN, IIN/BIN, names), validated; masks every report."
    default_weight = 2.0
    order = 110
    #: per 1 % of records holding the type; card, IBAN and IIN numbers are severe
    points = {"severe": Points(2.0), "other": Points(1.0)}
    reads_whole = frozenset()  # per-record counts (a feature) and a few example texts, through ctx.texts

    def masker(self, ctx: AuditContext) -> Callable[[str], str] | None:
        """The report masker (:func:`~dqaudit.masking.masker_for`): its verdicts are kept in the cache."""
        return masker_for(tuple(self.params.types))

    def check(self, ctx: AuditContext) -> CheckResult:
        params = self.params
        frame = ctx.frame
        n = len(frame)
        if n == 0:
            return self.skip("no records")
        table = pii_counts(ctx)
        fields = {name: table[:, k, :-1] for k, name in enumerate(FIELDS)
                  if name == "text" or table[:, k, -1].any()}  # answers scanned when there are any
        total = sum(fields.values())
        wanted = [PII_TYPES.index(t) for t in params.types]
        action = Action.MASK if params.export == "mask" else Action.DROP
        findings: list[Finding] = []
        penalties: list[float] = []
        shown = {col: np.flatnonzero((total[:, col] > 0) & (fields["text"][:, col] > 0))[:params.examples]
                 for col in wanted}  # the example texts of every type, fetched at once
        rows = np.concatenate([np.empty(0, np.int64), *shown.values()])
        text_of = dict(zip(rows.tolist(), ctx.texts(rows).tolist(), strict=True))
        for col in wanted:
            kind = PII_TYPES[col]
            hit = total[:, col] > 0
            if not hit.any():
                continue
            ids = frame.loc[hit, "id"].tolist()
            where = {name: int((counts[:, col] > 0).sum()) for name, counts in fields.items()}
            examples = [preview(mask_text(str(text_of[row]), params.types), 100)
                        for row in shown[col].tolist()]
            findings.append(
                self.finding(
                    kind,
                    Severity.HIGH if kind in _SEVERE else Severity.MEDIUM,
                    f"{len(ids)} records contain {_NAMES[kind]} ({int(total[hit, col].sum())} values; "
                    + ", ".join(f"{k}: {v}" for k, v in where.items() if v)
                    + f"): {params.export} them before training",
                    action,
                    ids,
                    type=kind,
                    values=int(total[hit, col].sum()),
                    fields=where,
                    examples=examples,
                )
            )
            penalties.append(self.penalty("severe" if kind in _SEVERE else "other", len(ids), n))
        any_hit = total[:, wanted].sum(axis=1) > 0
        severe = total[:, [PII_TYPES.index(t) for t in params.types if t in _SEVERE]].sum(axis=1) > 0
        share = float(severe.mean())
        gate = self.gate(
            "payment_or_id_numbers",
            share > params.max_share,
            f"{share:.1%} of records carry card, IBAN or IIN numbers (limit {params.max_share:.0%})",
        )
        metrics = {
            "records_with_pii": int(any_hit.sum()),
            "share_with_pii": round(float(any_hit.mean()), 4),
            "records_by_type": {PII_TYPES[c]: int((total[:, c] > 0).sum()) for c in wanted},
            "values_by_type": {PII_TYPES[c]: int(total[:, c].sum()) for c in wanted},
            "fields_scanned": list(fields),
            "export": params.export,
        }
        kinds: list[list[str]] = [[] for _ in range(n)]
        for col in wanted:
            for row in np.flatnonzero(total[:, col] > 0).tolist():
                kinds[row].append(PII_TYPES[col])
        return self.result(findings, penalties=penalties, metrics=metrics, gates=[gate],
                           records={"pii": kinds})
