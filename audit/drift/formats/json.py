"""DriftReport → JSON (schema documented in docs/commands/drift.md): data in, string out."""

from __future__ import annotations

from typing import Any

from audit.core.jsonout import dumps, envelope
from audit.drift.report import DriftReport

DRIFT_SCHEMA = 1


def drift_document(report: DriftReport) -> dict[str, Any]:
    return {
        "schema": DRIFT_SCHEMA,
        "repository": report.repository,
        "lockfile": report.lockfile,
        "head": report.head,
        "exit_code": report.exit_code,
        "summary": {
            "findings": len(report.findings),
            "causes": report.cause_counts(),
            "sections": {s.name: s.status for s in report.sections},
        },
        "sections": [s.to_json() for s in report.sections],
        "history": report.history.to_json() if report.history else None,
    }


def format_drift_json(report: DriftReport) -> str:
    return dumps(envelope("drift", report.exit_code, drift_document(report)))
