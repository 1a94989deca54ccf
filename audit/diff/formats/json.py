"""Drift → JSON (stable, documented schema in docs/commands/diff.md): data in, string out."""

from __future__ import annotations

from typing import Any

from audit.core.jsonout import dumps, envelope
from audit.diff.classify import Drift, PlatformDrift

#: Bumped on any incompatible change of the document below.
DIFF_SCHEMA = 1


def diff_document(drift: Drift) -> dict[str, Any]:
    """The JSON document: summary counts, then changes per platform, all sorted."""
    return {
        "schema": DIFF_SCHEMA,
        "old": drift.old_source,
        "new": drift.new_source,
        "summary": drift.counts(),
        "changed": len(drift.changes),
        "platforms": [platform_document(p) for p in drift.platforms],
    }


def platform_document(p: PlatformDrift) -> dict[str, Any]:
    """One platform's changes (also used by the drift report's history section)."""
    return {
        "platform": p.platform,
        "old_source": p.old_source,
        "new_source": p.new_source,
        "old_count": p.old_count,
        "new_count": p.new_count,
        "summary": p.counts(),
        "changes": [c.to_json() for c in p.changes],
    }


def format_diff_json(drift: Drift, exit_code: int = 0) -> str:
    return dumps(envelope("diff", exit_code, diff_document(drift)))
