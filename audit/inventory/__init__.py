"""Inventories: every package an environment holds, from any source, in one shape.

`open_source(spec)` picks the reader for a lockfile, a prefix directory, an image or a
git revision; `read_inventory(spec, platform)` returns the one Inventory asked for.
Readers import their heavy dependencies (rattler, docker) only when they run.
"""

from __future__ import annotations

import json
from pathlib import Path

from audit.core.errors import InputError
from audit.inventory.interface import (
    MANAGERS,
    Inventory,
    InventoryError,
    InventorySource,
    Package,
    no_gc,
    normalize_name,
)

__all__ = [
    "MANAGERS",
    "Inventory",
    "InventoryError",
    "InventorySource",
    "Package",
    "normalize_name",
    "normalize_platform",
    "open_source",
    "read_inventories",
    "read_inventory",
    "source_from_bytes",
]

#: How much of a file is looked at to decide what it is.
SNIFF_BYTES = 64 * 1024


def source_from_bytes(
    spec: str,
    data: bytes,
    filename: str = "",
    platform: str | None = None,
    path: Path | None = None,
) -> InventorySource:
    """The source for a lockfile or build record given its content (file or git blob)."""
    import codecs

    try:  # incremental: a character cut at the sniff boundary is not an error
        head = codecs.getincrementaldecoder("utf-8")().decode(data[:SNIFF_BYTES], final=False)
    except UnicodeDecodeError as exc:
        from audit.core.text import NOT_TEXT

        raise InventoryError(
            f"{NOT_TEXT}: invalid byte at offset {exc.start}", where=spec
        ) from None
    stripped = head.lstrip("\ufeff \t\r\n")
    if stripped.startswith("{"):
        from audit.inventory.record import RecordSource, looks_like_record

        try:
            with no_gc():
                document = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InventoryError(f"not valid JSON: {exc}", where=spec) from None
        if looks_like_record(document):
            return RecordSource(spec, document=document)
        if isinstance(document, dict) and "packages" in document and "source" in document:
            return RecordSource(spec, document={"inventory": document})
        raise InventoryError("JSON, but not a build record (no 'inventory' key)", where=spec)
    from audit.inventory.pixi import PixiSource, looks_like_pixi

    if looks_like_pixi(head):
        return PixiSource(spec, data, path)
    from audit.inventory.condalock import CondaLockSource, looks_like_condalock

    if looks_like_condalock(head):
        return CondaLockSource(spec, data)
    from audit.inventory.explicit import ExplicitSource, looks_like_explicit

    if looks_like_explicit(head) or filename.endswith((".lock", ".txt")) and "://" in head:
        return ExplicitSource(spec, data)
    raise InventoryError(
        "not a lockfile this tool reads (conda-lock.yml, explicit .lock, pixi.lock) "
        "nor a build record",
        where=spec,
    )


def open_source(spec: str, platform: str | None = None) -> InventorySource:
    """The InventorySource for `spec`, by transport prefix, else by what the path holds.

    `platform` only matters to images (it picks a manifest of a multi-platform index).
    """
    if spec.startswith("docker-daemon:"):
        from audit.inventory.docker_sources import DockerDaemonSource

        return DockerDaemonSource(spec, platform)
    if spec.startswith("docker-archive:"):
        from audit.inventory.docker_sources import DockerArchiveSource

        return DockerArchiveSource(spec, platform)
    if spec.startswith("docker://"):
        from audit.inventory.docker_sources import RegistrySource

        return RegistrySource(spec, platform)
    if spec.startswith("git:"):
        from audit.inventory.git import GitSource

        return GitSource(spec, platform)
    if spec.startswith("oci:"):
        raise InputError(
            f"{spec}: the oci: transport is not supported",
            hint="use docker-archive:FILE.tar (an OCI archive tar works) or docker-daemon:",
        )
    path = Path(spec)
    if path.is_dir():
        from audit.inventory.prefix import PrefixSource

        return PrefixSource(spec, path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InventoryError("no such file or directory", where=spec) from None
    except OSError as exc:
        raise InventoryError(f"cannot read: {exc.strerror}", where=spec) from None
    return source_from_bytes(spec, data, path.name, platform, path)


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
