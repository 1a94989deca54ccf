"""Check result → JSON (documented in docs/commands/check.md): data in, string out."""

from __future__ import annotations

from audit.check.run import CheckResult
from audit.core.jsonout import dumps, envelope


def format_check_json(result: CheckResult) -> str:
    """Sorted keys, findings in their deterministic order."""
    return dumps(envelope("check", result.exit_code, result.to_json()))
