"""Inventories: every package an environment holds, from any source, in one shape.

`open_source(spec)` picks the reader for a lockfile, a prefix directory, an image or a
git revision; `read_inventory(spec, platform)` returns the one Inventory asked for.
Readers import their heavy dependencies (rattler, docker) only when they run.
"""

from __future__ import annotations

from typing import Any

from audit.core.errors import InputError
from audit.inventory.interface import (
    MANAGERS,
    ImageMeta,
    Inventory,
    InventoryError,
    InventorySource,
    Package,
    normalize_name,
)
from audit.inventory.sources import open_source, source_from_bytes

__all__ = [
    "MANAGERS",
    "ImageMeta",
    "Inventory",
    "InventoryError",
    "InventorySource",
    "Package",
    "build_inventory",
    "normalize_name",
    "normalize_platform",
    "open_source",
    "read_inventories",
    "read_inventory",
    "scan_archive",
    "scan_layer_file",
    "source_from_bytes",
]


#: names served by audit.inventory.image, imported on first use (the image readers'
#: imports are not paid by a command that reads only lockfiles or stored inventories)
_FROM_IMAGE = frozenset({"build_inventory", "scan_archive", "scan_layer_file"})


def __getattr__(name: str) -> Any:
    if name in _FROM_IMAGE:
        from audit.inventory import image

        return getattr(image, name)
    raise AttributeError(f"module 'audit.inventory' has no attribute {name!r}")


def normalize_platform(platform: str | None) -> str | None:
    """`linux/amd64` → `linux-64` (images say os/arch, conda says subdir); others as given."""
    if not platform or "/" not in platform:
        return platform or None
    from audit.inventory.image import conda_subdir

    os_name, _, arch = platform.partition("/")
    return conda_subdir(os_name, arch.split("/")[0])


def read_inventory(spec: str, platform: str | None = None) -> Inventory:
    """The inventory of `spec` for one platform.

    A multi-platform lockfile needs `platform` (InputError listing them otherwise); a
    platform the source lacks is an InputError (exit 2).
    """
    inventories = open_source(spec, platform).read()
    wanted = normalize_platform(platform)
    available = ", ".join(sorted(i.platform or "?" for i in inventories))
    if wanted:
        for inventory in inventories:
            if inventory.platform == wanted:
                return inventory
        if len(inventories) == 1 and not inventories[0].platform:
            return inventories[0]
        raise InputError(
            f"no platform {platform} in {spec}", hint=f"available: {available or 'none'}"
        )
    if len(inventories) == 1:
        return inventories[0]
    if not inventories:
        raise InventoryError("holds no platform and no packages", where=spec)
    raise InputError(f"{spec}: several platforms ({available})", hint="pass -p PLATFORM")


def read_inventories(spec: str, platform: str | None = None) -> list[Inventory]:
    """Every platform's inventory of `spec` (sorted by platform), or the one `platform`."""
    if platform:
        return [read_inventory(spec, platform)]
    inventories = open_source(spec, platform).read()
    if not inventories:
        raise InventoryError("holds no platform and no packages", where=spec)
    return sorted(inventories, key=lambda i: i.platform)
