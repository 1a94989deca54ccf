"""What `repro-audit verify` was asked to do."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Progress = Callable[[str, str], None]


@dataclass
class VerifyOptions:
    record: str
    rebuild: bool = False
    mirror: Path | None = None
    write_mirror: bool = False
    deep: bool = False
    cache_dir: Path | None = None
    insecure: frozenset[str] = frozenset()
    timeout: float = 15.0
    keep_image: bool = False
    progress: Progress | None = None
