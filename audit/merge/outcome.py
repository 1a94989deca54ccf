"""What one driver run decided: the result it reports and the merged lock it stands for."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from audit.core.errors import EXIT_FINDINGS, EXIT_OK


@dataclass
class MergeResult:
    path: str
    status: str  # "merged" | "resolved" | "conflict"
    conflicts: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    taken: dict[str, int] = field(default_factory=dict)
    #: what the file was derived from (explicit files: the merged conda-lock.yml)
    derived_from: str | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_FINDINGS if self.status == "conflict" else EXIT_OK

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "status": self.status,
            "conflicts": self.conflicts,
            "reasons": self.reasons,
            "taken": dict(sorted(self.taken.items())),
        }
        if self.derived_from is not None:
            out["derived_from"] = self.derived_from
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MergeResult:
        return cls(
            path=str(data["path"]),
            status=str(data["status"]),
            conflicts=list(data.get("conflicts") or []),
            reasons=list(data.get("reasons") or []),
            taken=dict(data.get("taken") or {}),
            derived_from=data.get("derived_from"),
        )


@dataclass
class Outcome:
    """The merge of one conda-lock.yml: its result and document (None: a conflict)."""

    result: MergeResult
    document: dict[str, Any] | None
