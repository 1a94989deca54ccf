"""A conda prefix directory (an installed environment) → inventory.

conda packages come from `conda-meta/*.json`; pip packages from `*.dist-info` under
`lib/python*/site-packages` (or `Lib/site-packages` on Windows) whose INSTALLER is not
conda's: conda-installed Python packages carry a dist-info too, but they are conda's.
Nested environments (`envs/*`) are separate prefixes and are not descended into.
"""

from __future__ import annotations

from pathlib import Path

from audit.inventory.interface import Inventory, InventoryError, InventorySource
from audit.inventory.metadata import assemble, classify, parse_member


def looks_like_prefix(path: Path) -> bool:
    return (path / "conda-meta").is_dir() or any(_site_packages(path))


def _site_packages(root: Path) -> list[Path]:
    found = sorted(p for p in root.glob("lib/python*/site-packages") if p.is_dir())
    windows = root / "Lib" / "site-packages"
    return [*found, windows] if windows.is_dir() else found


class PrefixSource(InventorySource):
    """A conda prefix on disk; locations are relative to the prefix (`/conda-meta/x.json`)."""

    def __init__(self, spec: str, path: Path) -> None:
        self.spec = spec
        self.path = path

    def read(self) -> list[Inventory]:
        if not self.path.is_dir():
            raise InventoryError("not a directory", where=self.spec)
        found: dict[str, tuple[str, object]] = {}
        files = sorted((self.path / "conda-meta").glob("*.json"))
        for site in _site_packages(self.path):
            for dist_info in sorted(site.glob("*.dist-info")):
                files += [dist_info / "METADATA", dist_info / "INSTALLER"]
        for file in files:
            rel = file.relative_to(self.path).as_posix()
            kind = classify(rel)
            if kind is None or not file.is_file():
                continue
            try:
                data = file.read_bytes()
            except OSError as exc:
                raise InventoryError(f"cannot read: {exc.strerror}", where=str(file)) from None
            found[rel] = (kind, parse_member(kind, rel, data))
        if not found and not (self.path / "conda-meta").is_dir():
            raise InventoryError(
                "not a conda prefix: no conda-meta/ and no site-packages", where=self.spec
            )
        packages, platform = assemble(found)
        return [Inventory(source=self.spec, platform=platform, packages=tuple(packages))]
