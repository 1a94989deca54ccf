"""Which package timelines a report shows, and in what order (shared by md and html)."""

from __future__ import annotations

from audit.diff.classify import version_sort_key
from audit.drift.history import History


def chart_series(
    history: History, platform: str, limit: int = 16
) -> list[tuple[str, list[str], list[str]]]:
    """(label, version per revision, versions oldest→newest) for the busiest packages."""
    rows = []
    for (p, manager, name), versions in history.timelines.items():
        if p != platform:
            continue
        moves = sum(1 for a, b in zip(versions, versions[1:], strict=False) if a != b)
        order = sorted({v for v in versions if v}, key=version_sort_key(manager))
        label = name if manager == "conda" else f"{name} ({manager})"
        rows.append((-moves, label, versions, order))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [(label, versions, order) for _, label, versions, order in rows[:limit]]


def transitions(versions: list[str], shas: list[str]) -> str:
    """`1.0 → 1.1 (abc1234) → 1.2 (def5678)`: each version and the revision it came in."""
    out: list[str] = []
    previous = None
    for version, sha in zip(versions, shas, strict=False):
        if version != previous:
            label = version or "absent"
            out.append(label if previous is None else f"{label} ({sha[:7]})")
            previous = version
    return " → ".join(out)
