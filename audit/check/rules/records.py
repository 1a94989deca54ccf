"""RA035: each locked record's name, version and build agree with its URL's file name.

The URL and hash decide what gets installed; a hand edit of the version (or name, or
build) leaves them pointing at the old artifact while every hash-based rule stays green.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from audit.check.run import Finding, finding
from audit.lockfile.filename import hand_edits

if TYPE_CHECKING:
    from audit.check.rules.conda import CondaProject


def check_records(project: CondaProject) -> list[Finding]:
    """One RA035 finding per entry that contradicts its own URL."""
    if project.scanned is None:
        return []
    out: list[Finding] = []
    for entry, why in hand_edits(project.scanned.entries):
        out.append(
            finding(
                "RA035",
                project.lock_name,
                entry.line,
                f"{entry.name} {entry.version} ({entry.platform}) was edited by hand: "
                f"{why} (run `repro-audit lock`)",
            )
        )
    return out
