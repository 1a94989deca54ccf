"""`--as-of` parsing: every spelling becomes one canonical UTC instant."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from audit.core.asof import format_instant, parse_as_of
from audit.core.errors import InputError

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-14", "2025-03-14T00:00:00Z"),
        ("2025-03-14T12:30", "2025-03-14T12:30:00Z"),
        ("2025-03-14T12:30:00Z", "2025-03-14T12:30:00Z"),
        ("2025-03-14T12:30:00.750+02:00", "2025-03-14T10:30:00Z"),
        (" 2025-03-14T23:00:00-05:00 ", "2025-03-15T04:00:00Z"),
    ],
)
def test_spellings(text: str, expected: str) -> None:
    assert format_instant(parse_as_of(text, now=NOW)) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yesterday", "--as-of 'yesterday': not an ISO date or datetime"),
        ("2025-02-30", "not an ISO date"),
        ("2026-01-01T00:00:01Z", "--as-of 2026-01-01T00:00:01Z is in the future"),
    ],
)
def test_bad(text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_as_of(text, now=NOW)
    assert message in info.value.one_line()
