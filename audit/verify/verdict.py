"""The verdict of `verify` and what it rests on: problems, a rebuild's outcome; pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from audit.core.errors import (
    EXIT_FINDINGS,
    EXIT_OK,
)
from audit.core.http import GONE, OK, UNREACHABLE  # noqa: F401  (re-exported for verify)

#: Labels whose difference alone does not make a rebuild EQUIVALENT: the tool's own
#: version moves with every upgrade of repro-audit, not with the environment.
VOLATILE_LABELS = frozenset({"io.repro-audit.version"})


class Verdict(StrEnum):
    AVAILABLE = "AVAILABLE"
    REPRODUCED = "REPRODUCED"
    EQUIVALENT = "EQUIVALENT"
    DRIFTED = "DRIFTED"
    UNREPRODUCIBLE = "UNREPRODUCIBLE"

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self in (Verdict.AVAILABLE, Verdict.REPRODUCED) else EXIT_FINDINGS


# Status of one input: the HTTP client's OK / GONE / UNREACHABLE, plus a hash mismatch.
MISMATCH = "mismatch"


@dataclass(frozen=True)
class Problem:
    """One input that is gone, does not verify, or could not be asked."""

    kind: str  # artifact | base-image | lockfile | dockerfile | record
    name: str  # package label, image reference or file
    where: str  # URL, registry reference or path (redacted)
    status: str  # gone | mismatch | unreachable
    reason: str
    expected: str | None = None
    got: str | None = None
    mirrored: bool = False  # the mirror holds a verified copy: not blocking
    cached: bool = False  # the local cache still holds a verified copy

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "where": self.where,
            "status": self.status,
            "reason": self.reason,
            "expected": self.expected,
            "got": self.got,
            "mirrored": self.mirrored,
            "cached": self.cached,
        }

    def line(self) -> str:
        text = f"{self.kind} {self.name}: {self.reason}"
        if self.expected is not None and self.got is not None:
            text += f" (expected {self.expected}, got {self.got})"
        elif self.expected is not None:
            text += f" (expected {self.expected})"
        elif self.got is not None:
            text += f" (found {self.got})"
        if self.where and self.where != self.name:
            text += f" [{self.where}]"
        if self.mirrored:
            text += " — served from the mirror"
        elif self.cached and self.status == GONE:
            text += " — a verified copy is still in the local cache: save it with --write-mirror"
        return text


@dataclass
class Rebuild:
    """What a rebuild produced, next to what the record says."""

    recorded: dict[str, Any]
    rebuilt: dict[str, Any]
    drift: Any  # audit.drift.PlatformDrift
    seconds: float
    loaded_bases: list[str] = field(default_factory=list)
    #: (manager, name) → the build step that put the rebuilt package there
    origins: dict[tuple[str, str], str] = field(default_factory=dict)
    #: the Dockerfile's own layers that differ after the rebuild (audit.verify.layerdiff)
    layer_differences: list[Any] = field(default_factory=list)

    @property
    def same_env_layer(self) -> bool:
        return self.recorded.get("env_layer_diff_id") == self.rebuilt.get("env_layer_diff_id")

    @property
    def same_env_tree(self) -> bool:
        """The environment's content hash (read back from the rebuilt image) is the record's.

        A record from before tree digests has none: the layer's diff_id decides alone.
        """
        recorded = self.recorded.get("env_tree_digest")
        return recorded is None or recorded == self.rebuilt.get("env_tree_digest")

    @property
    def same_environment(self) -> bool:
        """Same tree; and where both images have it as their last layer, the same layer."""
        both_last = all(
            (side.get("placement") or "last-layer") == "last-layer"
            for side in (self.recorded, self.rebuilt)
        )
        return self.same_env_tree and (self.same_env_layer or not both_last)

    @property
    def same_image_id(self) -> bool:
        return bool(self.recorded.get("image_id")) and (
            self.recorded.get("image_id") == self.rebuilt.get("image_id")
        )

    @property
    def same_layers(self) -> bool:
        return list(self.recorded.get("layers") or []) == list(self.rebuilt.get("layers") or [])

    def label_changes(self) -> dict[str, dict[str, str | None]]:
        old = dict(self.recorded.get("labels") or {})
        new = dict(self.rebuilt.get("labels") or {})
        return {
            key: {"recorded": old.get(key), "rebuilt": new.get(key)}
            for key in sorted(set(old) | set(new))
            if old.get(key) != new.get(key)
        }

    def _change_json(self, change: Any) -> dict[str, Any]:
        """A package change, with the rebuilt image's step that made it when known (the
        base is the recorded digest, so an OS package change is a step's too)."""
        data = change.to_json()
        origin = self.origins.get((change.manager, change.name))
        if origin:
            data["origin"] = origin
        return data

    def to_json(self) -> dict[str, Any]:
        keys = (
            "image_id",
            "env_layer_diff_id",
            "env_tar_sha256",
            "env_tree_digest",
            "placement",
            "layers",
        )
        return {
            "recorded": {k: self.recorded.get(k) for k in keys},
            "rebuilt": {k: self.rebuilt.get(k) for k in keys},
            "same_env_layer": self.same_env_layer,
            "same_env_tree": self.same_env_tree,
            "same_image_id": self.same_image_id,
            "same_layers": self.same_layers,
            "labels": self.label_changes(),
            "inventory_changes": [self._change_json(c) for c in self.drift.changes],
            "inventory_counts": {k: v for k, v in self.drift.counts().items() if v},
            "seconds": round(self.seconds, 3),
            "loaded_bases": self.loaded_bases,
            "layer_differences": [d.to_json() for d in self.layer_differences],
        }


@dataclass
class VerifyResult:
    record: str
    verdict: Verdict
    reasons: list[str]
    problems: list[Problem]
    checked: dict[str, int]
    timings: dict[str, float]
    rebuild: Rebuild | None = None
    mirror: str | None = None
    deep: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def image_identical(self) -> bool:
        return self.rebuild is not None and self.rebuild.same_image_id

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code

    @property
    def blocking(self) -> list[Problem]:
        return [p for p in self.problems if not p.mirrored and p.status != UNREACHABLE]

    def to_json(self) -> dict[str, Any]:
        problems = sorted(self.problems, key=lambda p: (p.kind, p.name, p.where))
        return {
            "record": self.record,
            "verdict": self.verdict.value,
            "image_identical": self.image_identical,
            "exit_code": self.exit_code,
            "mode": "rebuild" if self.rebuild is not None else "static",
            "deep": self.deep,
            "mirror": self.mirror,
            "reasons": self.reasons,
            "missing": [p.to_json() for p in problems if p.status == GONE and not p.mirrored],
            "mismatches": [p.to_json() for p in problems if p.status == MISMATCH],
            "mirrored": [p.to_json() for p in problems if p.mirrored],
            "unreachable": [p.to_json() for p in problems if p.status == UNREACHABLE],
            "checked": dict(sorted(self.checked.items())),
            "rebuild": self.rebuild.to_json() if self.rebuild is not None else None,
            "timings": {k: round(v, 3) for k, v in sorted(self.timings.items())},
            "notes": self.notes,
        }


def decide(problems: list[Problem], rebuild: Rebuild | None) -> tuple[Verdict, list[str]]:
    """The verdict and why, from the findings and (optionally) a rebuild; pure."""
    blocking = [p for p in problems if not p.mirrored and p.status in (GONE, MISMATCH)]
    if blocking:
        return Verdict.UNREPRODUCIBLE, [p.line() for p in blocking]
    if rebuild is None:
        mirrored = [p for p in problems if p.mirrored]
        why = ["every input the record names is still available and verifies"]
        if mirrored:
            why.append(f"{len(mirrored)} of them only from the mirror")
        why.append("run with --rebuild to prove the environment reproduces")
        return Verdict.AVAILABLE, why
    changes = list(rebuild.drift.changes)
    if changes:
        counts = ", ".join(f"{v} {k}" for k, v in sorted(rebuild.drift.counts().items()) if v)
        lines = [f"the rebuilt image's packages differ from the record: {counts}"]
        lines += [_change_line(c, rebuild.origins) for c in changes]
        return Verdict.DRIFTED, lines
    labels = {k: v for k, v in rebuild.label_changes().items() if k not in VOLATILE_LABELS}
    differs: list[str] = []
    if not rebuild.same_env_tree:
        differs.append(
            "environment tree differs: recorded "
            f"{rebuild.recorded.get('env_tree_digest')}, rebuilt "
            f"{rebuild.rebuilt.get('env_tree_digest')}"
        )
    elif not rebuild.same_environment:
        differs.append(
            "environment layer differs: recorded "
            f"{rebuild.recorded.get('env_layer_diff_id')}, rebuilt "
            f"{rebuild.rebuilt.get('env_layer_diff_id')}"
        )
    for key, pair in labels.items():
        differs.append(f"label {key}: recorded {pair['recorded']!r}, rebuilt {pair['rebuilt']!r}")
    if differs:
        return Verdict.EQUIVALENT, ["the same packages, other bytes:", *differs]
    why = _same_environment_lines(rebuild) + ["same inventory"]
    if rebuild.same_image_id:
        why.append(f"bit-identical image: same image id {rebuild.rebuilt.get('image_id')}")
    else:
        recorded_id, rebuilt_id = rebuild.recorded.get("image_id"), rebuild.rebuilt.get("image_id")
        ids = f"recorded {recorded_id}, rebuilt {rebuilt_id}"
        old_layers = list(rebuild.recorded.get("layers") or [])
        new_layers = list(rebuild.rebuilt.get("layers") or [])
        differing = sum(a != b for a, b in zip(old_layers, new_layers, strict=False))
        differing += abs(len(old_layers) - len(new_layers))
        if differing:
            why.append(
                f"image id differs ({ids}): {differing} layer(s) of the Dockerfile's own steps "
                "differ"
            )
            for difference in rebuild.layer_differences:
                why.extend(difference.lines())
        else:
            why.append(
                f"image id differs ({ids}): same layers, other config (an image built "
                "with --no-reproducible-image, or another Docker engine version)"
            )
    for key, pair in rebuild.label_changes().items():
        why.append(f"label {key}: recorded {pair['recorded']!r}, rebuilt {pair['rebuilt']!r}")
    return Verdict.REPRODUCED, why


def _same_environment_lines(rebuild: Rebuild) -> list[str]:
    lines = []
    if rebuild.rebuilt.get("env_tree_digest"):
        lines.append(
            f"environment tree identical ({rebuild.rebuilt.get('env_tree_digest')}, read back "
            f"from the rebuilt image; placement: {rebuild.rebuilt.get('placement')})"
        )
    if rebuild.rebuilt.get("env_layer_diff_id") and rebuild.same_env_layer:
        lines.append(
            f"environment layer bit-identical ({rebuild.rebuilt.get('env_layer_diff_id')})"
        )
    return lines


def _change_line(change: Any, origins: dict[tuple[str, str], str] | None = None) -> str:
    old, new = change.old_version or "-", change.new_version or "-"
    origin = (origins or {}).get((change.manager, change.name))
    by = f" (by {origin})" if origin else ""
    return f"  {change.kind:<16} {change.manager}:{change.name} {old} -> {new}{by}"
