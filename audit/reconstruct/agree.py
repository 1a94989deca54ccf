"""How well a lock (above all a reconstructed one) agrees with an image or build record.

An image built in March from an unlocked environment.yml has no lock to verify against;
`reconstruct` writes the lock that file would have had then, and this compares it with
what the image (or its build record) actually holds, with `diff`'s classification:

* REPRODUCED — every conda and pip package has the same name, version and build
  (and the same sha256 where both sides record one);
* EQUIVALENT — the same names and versions, but other builds, channels or URLs;
* DRIFTED — a package added, removed, up- or downgraded, moved between managers, or the
  same build with other bytes (hash-changed: a red flag).

deb/apk packages of a base image are not the environment's and are not compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from audit.core.errors import EXIT_FINDINGS, EXIT_OK

REPRODUCED, EQUIVALENT, DRIFTED = "REPRODUCED", "EQUIVALENT", "DRIFTED"
#: Change kinds that keep every name and version: the environment is equivalent.
_EQUIVALENT_KINDS = frozenset({"rebuilt", "channel-changed", "metadata-changed"})
_MANAGERS = frozenset({"conda", "pip"})


@dataclass
class Agreement:
    lock: str
    target: str
    platform: str
    verdict: str
    compared: dict[str, int]  # manager → packages in the lock
    changes: list[Any] = field(default_factory=list)  # audit.diff Change, target → lock

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.verdict == REPRODUCED else EXIT_FINDINGS

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for change in self.changes:
            out[change.kind] = out.get(change.kind, 0) + 1
        return dict(sorted(out.items()))

    def to_json(self) -> dict[str, Any]:
        return {
            "lock": self.lock,
            "target": self.target,
            "platform": self.platform,
            "verdict": self.verdict,
            "compared": dict(sorted(self.compared.items())),
            "summary": self.counts(),
            "changes": [c.to_json() for c in self.changes],
        }


def decide(kinds: set[str]) -> str:
    """The verdict for the change kinds found (pure)."""
    if not kinds:
        return REPRODUCED
    return EQUIVALENT if kinds <= _EQUIVALENT_KINDS else DRIFTED


def agree(lock: str, target: str, platform: str | None = None) -> Agreement:
    """Compare `lock` with `target` (a build record, image or any inventory source)."""
    from audit.diff.classify import diff_many
    from audit.inventory import normalize_platform, open_source

    wanted = normalize_platform(platform)
    built = [_environment(i) for i in open_source(target, platform).read()]
    if wanted is None and len(built) == 1 and built[0].platform:
        wanted = built[0].platform
    locked = [_environment(i) for i in open_source(lock, wanted).read()]
    drift = diff_many(built, locked, wanted, old_source=target, new_source=lock)
    changes = [c for c in drift.changes if c.manager in _MANAGERS]
    platforms = sorted({p.platform for p in drift.platforms})
    mine = [i for i in locked if i.platform in platforms] or locked
    compared: dict[str, int] = {}
    for inventory in mine:
        for package in inventory.packages:
            compared[package.manager] = compared.get(package.manager, 0) + 1
    return Agreement(
        lock=lock,
        target=target,
        platform=", ".join(platforms),
        verdict=decide({c.kind for c in changes}),
        compared=compared,
        changes=changes,
    )


def _environment(inventory: Any) -> Any:
    """Only the conda and pip packages of an inventory."""
    from dataclasses import replace

    return replace(
        inventory, packages=tuple(p for p in inventory.packages if p.manager in _MANAGERS)
    )


def render_agreement(result: Agreement) -> list[str]:
    """The verdict first, then the evidence: one line per differing package."""
    from audit.diff.changes import describe

    total = sum(result.compared.values())
    lines = [
        f"{result.verdict}: {result.lock} vs {result.target} ({result.platform}, {total} packages)"
    ]
    if result.verdict == REPRODUCED:
        lines.append("  every conda and pip package matches: name, version, build, sha256")
    for change in result.changes:
        versions = f"{change.old_version or '-'} → {change.new_version or '-'}"
        extra = describe(change)
        text = f"  {change.kind:<16} {change.manager} {change.name} {versions}"
        lines.append(text + (f"  ({extra})" if extra else ""))
    return lines
