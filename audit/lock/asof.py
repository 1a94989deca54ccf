"""`lock --as-of DATE`: solve as the channels stood then, and say what the date hid.

rattler's solver does the cutting (`exclude_newer`, on each record's `timestamp`);
this module adds what a user needs to trust the result: how many candidate records
were newer than the date, how many carry no timestamp at all (and whether the policy
let them in), and a clear error when the date is before every record of a channel.

Measured with py-rattler 0.28 on the fixture channel: with `exclude_newer` set and the
default `timestamp_policy="require-timestamp"`, a record without `timestamp` (and without
`indexed_timestamp`) is excluded, even when a spec names only it; `"allow-missing"`
keeps it. Without `exclude_newer` undated records are always used.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from audit.core.asof import format_instant
from audit.core.errors import InputError
from audit.core.interrupt import run_async

#: Keys in conda-lock's `custom_metadata` for a lock made as of a date.
AS_OF_KEY = "repro-audit-as-of"
UNDATED_KEY = "repro-audit-undated-policy"

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")

#: rattler's name for each of our policies.
RATTLER_POLICY = {"exclude": "require-timestamp", "allow": "allow-missing"}


@dataclass(frozen=True)
class AsOf:
    """The instant a lock is solved as of, and what to do with undated records."""

    when: datetime
    undated: str = "exclude"

    @property
    def iso(self) -> str:
        return format_instant(self.when)

    @property
    def rattler_policy(self) -> str:
        return RATTLER_POLICY[self.undated]

    def metadata(self) -> dict[str, str]:
        """What goes into the lock's `custom_metadata` (and so into its identity)."""
        return {AS_OF_KEY: self.iso, UNDATED_KEY: self.undated}


@dataclass
class AsOfReport:
    """Per platform: candidate records hidden by the date, and those without a timestamp."""

    as_of: str
    policy: str
    newer: dict[str, int] = field(default_factory=dict)
    undated: dict[str, int] = field(default_factory=dict)
    #: platform → undated records the solve picked (only possible with policy `allow`)
    undated_selected: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of,
            "undated_policy": self.policy,
            "newer": dict(sorted(self.newer.items())),
            "undated": dict(sorted(self.undated.items())),
            "undated_selected": {k: sorted(v) for k, v in sorted(self.undated_selected.items())},
        }


def survey(
    channels: Sequence[Any],
    specs: dict[str, Sequence[str]],
    as_of: AsOf,
    cache_dir: Path | None,
) -> AsOfReport:
    """Count candidate records newer than the date and undated; refuse a too-early date.

    Candidates are what the gateway returns for the specs, recursively: the records the
    solver chooses among. A channel whose every dated candidate is newer than the date
    could not have served this environment then: that is bad input, not an empty solve.
    """
    from audit.lock.solve import classify_solver_error, make_gateway

    async def query(platform: str) -> list:
        gateway = make_gateway(cache_dir, channels)
        # names only: the solver reports bad specs with their file:line, not the survey
        names = sorted(
            {
                m.group(0).lower()
                for s in specs[platform]
                if (m := _NAME.match(s.rsplit("::", 1)[-1].strip()))
            }
        )
        result = await gateway.query(
            [c.to_rattler() for c in channels],
            [platform, "noarch"],
            names,
            recursive=True,
        )
        return [record for subdir in result for record in subdir]

    async def all_platforms() -> list[list]:
        return list(await asyncio.gather(*(query(p) for p in specs)))

    try:
        answers = run_async(all_platforms)
    except Exception as exc:
        raise classify_solver_error(exc, channels, {}) from None
    report = AsOfReport(as_of=as_of.iso, policy=as_of.undated)
    earliest: dict[str, datetime] = {}
    undated_in: set[str] = set()
    for platform, records in zip(specs, answers, strict=True):
        seen = {(r.subdir, r.file_name): r for r in records}.values()
        report.undated[platform] = sum(1 for r in seen if _stamp(r) is None)
        report.newer[platform] = sum(1 for r in seen if (t := _stamp(r)) and t > as_of.when)
        for record in seen:
            key, stamp = str(record.channel).rstrip("/"), _stamp(record)
            if stamp is None:
                undated_in.add(key)
            else:
                earliest[key] = min(stamp, earliest.get(key, stamp))
    for channel in channels:
        key = channel.url.rstrip("/")
        first = earliest.get(key)
        usable_undated = as_of.undated == "allow" and key in undated_in
        if first is not None and first > as_of.when and not usable_undated:
            raise InputError(
                f"--as-of {as_of.iso} is before every record of channel {channel.display} "
                f"that this environment can use (earliest {format_instant(first)})"
            )
    return report


def note_selected(report: AsOfReport, records: dict[str, list]) -> None:
    """Remember which undated records the solve picked (the policy let them in)."""
    for platform, chosen in records.items():
        names = [
            f"{r.name.normalized} {r.version}"
            for r in chosen
            if not r.name.normalized.startswith("__") and _stamp(r) is None
        ]
        if names:
            report.undated_selected[platform] = names


def _stamp(record: Any) -> datetime | None:
    return record.indexed_timestamp or record.timestamp


def is_stale(custom: dict[str, str], as_of: AsOf | None) -> str | None:
    """Why a lock's as-of metadata disagrees with the request (None when it agrees)."""
    have = custom.get(AS_OF_KEY)
    want = as_of.iso if as_of else None
    if have != want:
        return f"locked as of {have or 'today'}, requested as of {want or 'today'}"
    if as_of and custom.get(UNDATED_KEY, "exclude") != as_of.undated:
        return f"undated records policy changed to {as_of.undated}"
    return None
