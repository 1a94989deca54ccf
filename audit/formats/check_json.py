"""Check result → JSON (documented in README `## check`): data in, string out."""

from __future__ import annotations

import json

from audit.check import CheckResult


def format_check_json(result: CheckResult) -> str:
    """Sorted keys, findings in their deterministic order."""
    return json.dumps(result.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
