"""Points in time for "as of" solves: parsing `--as-of`, one canonical UTC spelling.

A lock made as of a date must say that date the same way on every machine (it is part of
the lock's metadata and input digest), so every instant is kept as an aware UTC datetime
and written as `YYYY-MM-DDTHH:MM:SSZ`. A bare date means the start of that day, UTC: the
channels as they stood when the day began.
"""

from __future__ import annotations

from datetime import UTC, datetime

from audit.core.errors import InputError

#: What to do with records that carry no timestamp when solving as of a date.
UNDATED_POLICIES = ("exclude", "allow")


def parse_as_of(text: str, *, option: str = "--as-of", now: datetime | None = None) -> datetime:
    """`2025-03-14`, `2025-03-14T12:00`, `2025-03-14T12:00:00+02:00`, `…Z` → aware UTC.

    Naive datetimes are UTC. A date in the future is bad input: no channel can answer it.
    """
    raw = text.strip()
    try:
        when = datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw)
    except ValueError:
        raise InputError(
            f"{option} {text!r}: not an ISO date or datetime",
            hint="e.g. 2025-03-14 or 2025-03-14T12:00:00Z",
        ) from None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    when = when.replace(microsecond=0)
    current = now or datetime.now(UTC)
    if when > current:
        raise InputError(
            f"{option} {format_instant(when)} is in the future",
            hint="a channel can only answer for dates that have passed",
        )
    return when


def format_instant(when: datetime) -> str:
    """The canonical spelling: `2025-03-14T00:00:00Z`."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_epoch_ms(value: int | float) -> datetime:
    """A repodata `timestamp` (milliseconds, older channels wrote seconds) as aware UTC."""
    seconds = value / 1000 if value > 1e11 else value
    return datetime.fromtimestamp(seconds, UTC)


def check_undated_policy(value: str) -> str:
    """`exclude` or `allow`, else the one-line usage error."""
    if value not in UNDATED_POLICIES:
        raise InputError(f"--undated must be one of {', '.join(UNDATED_POLICIES)}, not {value!r}")
    return value
