"""The one JSON envelope every command prints, and the one stable JSON dump.

Every `--format json` document starts with the same three keys, so a CI script can branch
on any command's output the same way:

    {"schema": N, "kind": "repro-audit/<command>", "exit_code": E, ...}

`schema` is the version of that command's document (bumped when a key changes meaning);
`kind` names the command; `exit_code` is the process's exit code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def dumps(data: Any, indent: int | None = 2) -> str:
    """Deterministic JSON text: sorted keys, UTF-8 kept, one trailing newline."""
    return json.dumps(data, indent=indent, sort_keys=True, ensure_ascii=False) + "\n"


def dumps_compact(data: Any) -> str:
    """Deterministic JSON for hashing and cache keys: sorted keys, no whitespace."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def envelope(command: str, exit_code: int, data: Mapping[str, Any], schema: int = 1) -> dict:
    """`data` wrapped in the common envelope (its own `schema`, if any, wins)."""
    out = dict(data)
    out["schema"] = int(out.get("schema", schema))
    out["kind"] = f"repro-audit/{command}"
    out["exit_code"] = exit_code
    return out
