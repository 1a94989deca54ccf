"""`drift --timeline PACKAGE`: when did the version a solve picks change upstream?

The environment file is solved as of dates between `--from` and `--to` (rattler's
`exclude_newer`), and the interval is bisected wherever the picked versions differ, down
to one day: each change is dated to the first day its new version was picked. Solves
are bounded (`--max-solves`); an interval left unsplit when the budget runs out is
reported as such, never guessed. Two dates that pick the same version are taken to
have picked it in between too (a release withdrawn and restored in between is missed).
Only conda packages are followed (the pip section is not solved here).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from audit.core.asof import format_instant
from audit.core.errors import UnsatisfiableError

#: What a date's solve said: per package its `version-build` ("" absent), or why it failed.
Picked = tuple[str, ...]
UNSOLVABLE = "(unsolvable)"
STEP = timedelta(days=1)


@dataclass(frozen=True)
class Transition:
    date: str  # first day (UTC midnight-aligned to --from) the new versions were picked
    package: str
    old: str
    new: str

    def to_json(self) -> dict[str, str]:
        return {"date": self.date, "package": self.package, "old": self.old, "new": self.new}


@dataclass
class Timeline:
    platform: str
    packages: tuple[str, ...]
    start: str
    end: str
    solves: int = 0
    first: dict[str, str] = field(default_factory=dict)  # package → version at --from
    transitions: list[Transition] = field(default_factory=list)
    unresolved: list[tuple[str, str]] = field(default_factory=list)  # (after, before)

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "packages": list(self.packages),
            "from": self.start,
            "to": self.end,
            "solves": self.solves,
            "first": dict(sorted(self.first.items())),
            "transitions": [t.to_json() for t in self.transitions],
            "unresolved": [{"after": a, "before": b} for a, b in self.unresolved],
        }


def bisect(
    picked_at: Callable[[datetime], Picked], start: datetime, end: datetime, max_solves: int
) -> tuple[list[tuple[datetime, Picked, Picked]], list[tuple[datetime, datetime]], dict]:
    """Change points of `picked_at` on [start, end] at day resolution (pure but for calls).

    Returns (changes as (date, old, new), unsplit intervals, every date's answer).
    """
    memo: dict[datetime, Picked] = {}

    def at(when: datetime) -> Picked:
        if when not in memo:
            memo[when] = picked_at(when)
        return memo[when]

    changes: list[tuple[datetime, Picked, Picked]] = []
    unresolved: list[tuple[datetime, datetime]] = []
    stack = [(start, end)]
    at(start)
    at(end)
    while stack:
        a, b = stack.pop()
        if at(a) == at(b):
            continue
        if b - a <= STEP:
            changes.append((b, at(a), at(b)))
            continue
        if len(memo) >= max_solves:
            unresolved.append((a, b))
            continue
        days = (b - a) // STEP
        mid = a + STEP * (days // 2)
        at(mid)
        stack += [(mid, b), (a, mid)]
    return sorted(changes), sorted(unresolved), memo


def package_timeline(
    solve_at: Callable[[datetime], dict[str, str]],
    packages: Sequence[str],
    platform: str,
    start: datetime,
    end: datetime,
    max_solves: int = 40,
) -> Timeline:
    """The timeline of `packages` on `platform`; `solve_at(date)` → name → version-build."""

    def picked(when: datetime) -> Picked:
        try:
            found = solve_at(when)
        except UnsatisfiableError:
            return tuple(UNSOLVABLE for _ in packages)
        return tuple(found.get(name, "") for name in packages)

    changes, unresolved, answers = bisect(picked, start, end, max_solves)
    timeline = Timeline(platform, tuple(packages), format_instant(start), format_instant(end))
    timeline.solves = len(answers)
    first = answers[start]
    timeline.first = {name: first[i] or "(absent)" for i, name in enumerate(packages)}
    for when, old, new in changes:
        for i, name in enumerate(packages):
            if old[i] != new[i]:
                timeline.transitions.append(
                    Transition(
                        format_instant(when), name, old[i] or "(absent)", new[i] or "(absent)"
                    )
                )
    timeline.unresolved = [(format_instant(a), format_instant(b)) for a, b in unresolved]
    return timeline


def conda_solver(
    options: Any, platform: str | None, undated: str = "exclude"
) -> tuple[str, Callable[[datetime], dict[str, str]]]:
    """(platform, `solve_at(date)`) for an environment file: `lock`'s parse and solver."""
    from audit.channels import bind_channel_specs, resolve_channels
    from audit.lock.asof import RATTLER_POLICY
    from audit.lock.run import options_digest, parse_inputs
    from audit.lock.solve import SolveRequest, solve_all

    spec, virtual, _ = parse_inputs(options, options_digest(options))
    platform = platform or spec.platforms[0]
    if platform not in spec.platforms:
        from audit.core.errors import InputError

        raise InputError(f"platform {platform} is not in {', '.join(spec.platforms)}")
    channels = resolve_channels(spec.channels, base_dir=options.files[0].resolve().parent)
    policy = RATTLER_POLICY[undated]

    def solve_at(when: datetime) -> dict[str, str]:
        request = SolveRequest(
            platform=platform,
            specs=bind_channel_specs(spec.conda_specs[platform], channels),
            virtual_packages=virtual.for_platform(platform),
            exclude_newer=when,
            timestamp_policy=policy,
        )
        records = solve_all(channels, [request], cache_dir=options.cache_dir)[platform]
        return {r.name.normalized: f"{r.version}-{r.build}" for r in records}

    return platform, solve_at


def render_timeline(timeline: Timeline) -> str:
    """One line per package: its version at --from, then each change with its date."""
    lines = [
        f"timeline {timeline.platform} {timeline.start} → {timeline.end} ({timeline.solves} solves)"
    ]
    for name in timeline.packages:
        steps = [t for t in timeline.transitions if t.package == name]
        text = timeline.first.get(name, "(absent)")
        text += "".join(f" → {t.new} ({t.date[:10]})" for t in steps)
        lines.append(f"  {name}: {text}")
    for after, before in timeline.unresolved:
        lines.append(f"  changed between {after} and {before} (solve budget spent)")
    return "\n".join(lines) + "\n"
