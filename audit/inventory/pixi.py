"""pixi.lock (format v4 to v6) → inventories, one per platform of the default environment.

rattler reads every pixi.lock version, so the format details stay its business. Platform
objects must come from `env.platforms()`: constructing `LockPlatform("linux-64")` for a
lookup panics inside rattler.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from audit.core.redact import redact_url
from audit.inventory.interface import Inventory, InventoryError, InventorySource, Package, dedupe
from audit.inventory.normalize import channel_from_url, depends_from_list, normalize_channel

_VERSION = re.compile(r"^version:\s*(\d+)\s*$", re.MULTILINE)


def looks_like_pixi(head: str) -> bool:
    """Sniff: a top-level `version: N` followed by `environments:`."""
    return bool(_VERSION.search(head)) and "\nenvironments:" in "\n" + head


class PixiSource(InventorySource):
    """A pixi.lock; `path` is read directly, `data` (e.g. from git) via a private temp file."""

    def __init__(self, spec: str, data: bytes, path: Path | None = None) -> None:
        self.spec = spec
        self.data = data
        self.path = path

    def read(self) -> list[Inventory]:
        if self.path is not None:
            return self._read(self.path)
        with tempfile.TemporaryDirectory(prefix="repro-audit-pixi-") as tmp:
            path = Path(tmp) / "pixi.lock"
            path.write_bytes(self.data)
            return self._read(path)

    def _read(self, path: Path) -> list[Inventory]:
        from rattler import LockFile

        try:
            lock = LockFile.from_path(path)
        except Exception as exc:  # rattler raises its own exception types per failure
            raise InventoryError(
                f"cannot read pixi.lock: {str(exc).splitlines()[0]}", where=self.spec
            ) from None
        env = lock.default_environment()
        if env is None:
            names = [name for name, _ in lock.environments()]
            if not names:
                return []
            env = lock.environment(names[0])
            if env is None:
                raise InventoryError(f"environment {names[0]!r} cannot be read", where=self.spec)
        inventories = []
        try:
            platforms = env.platforms()
        except AttributeError:  # rattler wraps a missing environment instead of None
            raise InventoryError(
                "pixi.lock names an environment it lacks", where=self.spec
            ) from None
        for platform in platforms:
            name = str(platform.name)
            packages = [_package(p, name) for p in env.packages(platform) or ()]
            inventories.append(Inventory(self.spec, name, dedupe(packages)))
        return inventories


def _package(locked: Any, platform: str) -> Package:
    """A rattler locked package (conda binary or PyPI) as a Package."""
    if hasattr(locked, "repo_data_record"):
        record = locked.repo_data_record()
        url = str(record.url)
        channel = normalize_channel(str(record.channel or ""), str(record.subdir or ""))
        return Package(
            manager="conda",
            name=record.name.normalized,
            version=str(record.version),
            build=str(record.build),
            channel=channel or channel_from_url(url),
            platform=platform,
            url=redact_url(url),
            sha256=record.sha256.hex() if record.sha256 else "",
            md5=record.md5.hex() if record.md5 else "",
            depends=depends_from_list(record.depends),
        )
    hashes = locked.hashes
    return Package(
        manager="pip",
        name=str(locked.name),
        version=str(locked.version),
        platform=platform,
        url=redact_url(str(locked.location)),
        sha256=hashes.sha256.hex() if hashes is not None and hashes.sha256 else "",
        md5=hashes.md5.hex() if hashes is not None and hashes.md5 else "",
        depends=tuple(sorted(str(d) for d in locked.requires_dist or ())),
    )
