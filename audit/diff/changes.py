"""Helpers shared by the diff and drift formats: one-line descriptions and grouping."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby
from typing import Any

from audit.diff.classify import KINDS, Change

#: Short glyphs for text formats; HTML uses the kind name as a CSS class.
KIND_MARK = {
    "added": "+",
    "removed": "-",
    "upgraded": "↑",
    "downgraded": "↓",
    "rebuilt": "~",
    "channel-changed": "⇄",
    "hash-changed": "!",
    "moved": "→",
    "metadata-changed": "·",
}


def describe(change: Change, limit: int = 4) -> str:
    """What else differs, in a few words: channels, managers, hashes, dependencies."""
    parts: list[str] = []
    details: dict[str, Any] = change.details or {}
    if change.kind == "moved":
        parts.append(f"{details.get('from_manager', '?')} → {details.get('to_manager', '?')}")
    fields = details.get("fields") or {}
    if "channel" in fields:
        parts.append(f"channel {fields['channel']['old']} → {fields['channel']['new']}")
    if change.kind == "hash-changed":
        for name in ("sha256", "md5"):
            if name in fields:
                parts.append(
                    f"{name} {str(fields[name]['old'])[:12]}… → {str(fields[name]['new'])[:12]}…"
                )
    elif change.kind == "metadata-changed" and "url" in fields:
        parts.append("url changed")
    depends = details.get("depends") or {}
    dep_bits = [f"+{n}" for n in depends.get("added", {})]
    dep_bits += [f"-{n}" for n in depends.get("removed", {})]
    dep_bits += [f"~{n}" for n in depends.get("changed", {})]
    if dep_bits:
        more = f" (+{len(dep_bits) - limit} more)" if len(dep_bits) > limit else ""
        parts.append("depends " + " ".join(dep_bits[:limit]) + more)
    return "; ".join(parts)


def cause(change: Change) -> str:
    """Why an OS package differs between two images (`base image moved (…)`, a step); ""."""
    return change.attribution.text if change.attribution is not None else ""


def has_causes(changes: Iterable[Change]) -> bool:
    """Whether a table of these changes needs a cause column."""
    return any(c.attribution is not None for c in changes)


def by_manager(changes: Iterable[Change]) -> list[tuple[str, list[Change]]]:
    """Changes grouped by manager (input sorted by platform, manager, name)."""
    ordered = sorted(changes, key=lambda c: (c.manager, c.name, KINDS.index(c.kind)))
    return [(m, list(group)) for m, group in groupby(ordered, key=lambda c: c.manager)]


def summary_text(counts: dict[str, int]) -> str:
    """`2 upgraded, 1 added` in the fixed kind order; "no changes" when empty."""
    parts = [f"{counts[k]} {k}" for k in KINDS if counts.get(k)]
    return ", ".join(parts) or "no changes"
