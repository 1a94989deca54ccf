"""`drift --timeline`: bisecting dates with the real solver on the dated fixture channel."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tm_helpers import env_text, run

from audit.drift.asof_timeline import bisect


def test_timeline_dates_each_upstream_change(tmp_path: Path, dated_channel: Path) -> None:
    (tmp_path / "environment.yml").write_text(
        env_text(dated_channel.as_uri(), ["python 3.12.*", "numpy", "six"])
    )
    args = [
        "drift",
        ".",
        "--timeline",
        "numpy",
        "--timeline",
        "six",
        "--from",
        "2024-01-01",
        "--to",
        "2025-06-01",
        "--format",
        "json",
    ]
    result = run(args, tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["kind"] == "repro-audit/drift-timeline" and data["unresolved"] == []
    got = [(t["date"][:10], t["package"], t["new"].split("-")[0]) for t in data["transitions"]]
    assert got == [
        # python 3.12.4 (2024-06-06) makes the environment installable at all
        ("2024-06-06", "numpy", "1.26.4"),
        ("2024-06-06", "six", "1.16.0"),
        ("2024-06-17", "numpy", "2.0.0"),
        ("2025-01-06", "six", "1.17.0"),
        ("2025-01-20", "numpy", "2.1.0"),
    ]
    assert data["first"] == {"numpy": "(unsolvable)", "six": "(unsolvable)"}
    assert data["solves"] <= 40
    text = run(args[:-2], tmp_path).stdout
    assert "numpy: (unsolvable) → 1.26.4-py312heda63a1_1 (2024-06-06) → 2.0.0" in text


def test_timeline_budget_is_a_bound_not_a_guess(tmp_path: Path, dated_channel: Path) -> None:
    (tmp_path / "environment.yml").write_text(env_text(dated_channel.as_uri(), ["six"]))
    args = [
        "drift",
        ".",
        "--timeline",
        "six",
        "--from",
        "2020-06-01",
        "--to",
        "2025-06-01",
        "--max-solves",
        "4",
        "--format",
        "json",
    ]
    data = json.loads(run(args, tmp_path).stdout)
    assert data["solves"] <= 4 and data["unresolved"]
    for item in data["unresolved"]:
        assert item["after"] < item["before"]


def test_bisect_finds_every_change_at_day_resolution() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    steps = [start + timedelta(days=d) for d in (37, 38, 200)]

    def picked(when: datetime) -> tuple[str, ...]:
        return (str(sum(1 for s in steps if when >= s)),)

    changes, unresolved, answers = bisect(picked, start, start + timedelta(days=365), 100)
    assert [c[0] for c in changes] == steps and unresolved == []
    assert len(answers) < 40  # logarithmic, not a day-by-day walk


def test_timeline_bad_input(tmp_path: Path, dated_channel: Path) -> None:
    (tmp_path / "environment.yml").write_text(env_text(dated_channel.as_uri(), ["six"]))
    bad = run(
        ["drift", ".", "--timeline", "six", "--from", "2025-01-01", "--to", "2024-01-01"], tmp_path
    )
    assert bad.returncode == 2 and "--from must be before --to" in bad.stderr
    bad = run(["drift", ".", "--timeline", "six", "--to", "tomorrow"], tmp_path)
    assert bad.returncode == 2 and "--to 'tomorrow': not an ISO date" in bad.stderr
