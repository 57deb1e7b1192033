"""report.json: the versioned contract that scripts, the nightly diff and CI gates read.

Its JSON Schema ships as ``dqaudit/reports/report.schema.json``. Everything
outside the ``run`` block is deterministic for the same data, config and seed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..findings import json_text, jsonable

if TYPE_CHECKING:
    from ..pipeline import AuditResult

SCHEMA_VERSION = "1.0"


def report_dict(result: AuditResult) -> dict[str, Any]:
    from .. import __version__

    checks = {}
    for r in result.results:
        checks[r.check] = {
            "description": result.descriptions.get(r.check, ""),
            "status": r.status,
            "score": None if r.score is None else round(r.score, 2),
            "weight": result.weights[r.check],
            "metrics": jsonable(r.metrics),
            "findings": [f.to_dict() for f in r.findings],
            "gates": [g.to_dict() for g in r.gates],
            "charts": [c.to_dict() for c in r.charts],
            "skipped": r.skipped,
            "error": r.error,
            "files": sorted(r.files),
        }
    return {
        "schema_version": SCHEMA_VERSION,
        "dqaudit_version": __version__,
        "dataset": {
            "name": result.name,
            "path": result.source.path,
            "format": result.source.format,
            "fingerprint": result.source.fingerprint,
            "rows": result.source.rows,
            "loaded": result.rows_loaded,
            "quarantined": result.rows_quarantined,
        },
        "config_hash": result.config.fingerprint(),
        "seed": result.config.seed,
        "readiness_score": result.readiness_score,
        "verdict": result.verdict.value,
        "bands": {"ready": result.config.score.ready, "needs_work": result.config.score.needs_work},
        "gates": [g.to_dict() for g in result.gates],
        "checks": checks,
        "fix_first": [item.to_dict() for item in result.fix_first],
        "run": {"started_at": result.started_at, "durations_s": result.durations,
                **jsonable(result.run_extras)},
    }


def render_json(result: AuditResult) -> str:
    return json_text(report_dict(result)) + "\n"
