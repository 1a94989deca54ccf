"""Records a lock holds besides conda-lock's own models (shared by the writer and solvers)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PipLocked:
    """One locked wheel for one platform; URL without credentials."""

    name: str  # PEP 503-normalised distribution name
    version: str
    url: str  # wheel URL, credentials stripped
    sha256: str
    size: int | None  # as the index publishes it (PyPI's JSON API does; simple HTML does not)
    dependencies: dict[str, str] = field(default_factory=dict)  # name -> specifier or ""
