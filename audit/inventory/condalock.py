"""conda-lock.yml (format version 1, as written by conda-lock 1.x to 3.x) → inventories.

Read with PyYAML's C loader and no pydantic: a 1,000-package lock is a few hundred
milliseconds instead of the seconds conda-lock's models cost. conda-lock 2/3 kept the
on-disk `version: 1` but changed `category` to `categories`; neither matters here.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from audit.core.errors import InputError
from audit.core.redact import redact_url
from audit.core.safeload import load_yaml
from audit.inventory.interface import (
    MANAGERS,
    Inventory,
    InventoryError,
    InventorySource,
    Package,
    dedupe,
    no_gc,
)
from audit.inventory.normalize import (
    channel_from_url,
    depends_from_mapping,
    split_conda_filename,
    url_filename,
)

SUPPORTED_VERSIONS = (1,)


def looks_like_condalock(head: str) -> bool:
    """Sniff: a YAML mapping with conda-lock's `metadata:` and `package:` keys."""
    return "\nmetadata:" in "\n" + head and ("\npackage:" in "\n" + head or "content_hash" in head)


#: Packages already built, by (indent, entry text): shared by the reads of many revisions
#: of one lock (a history walk), so an unchanged entry costs a dictionary lookup.
EntryCache = dict[tuple[str, str], Package]


class CondaLockSource(InventorySource):
    """A conda-lock.yml's packages, one inventory per platform of its metadata.

    Read by the one conda-lock.yml reader (`audit.lockfile.scan`): a line scan of the
    package list and a YAML parse of the short rest, so 100,000 entries take seconds,
    not the minutes (and gigabytes) of a YAML load. With an `entry_cache`, an entry whose
    text was read before (in another revision) is not scanned again.
    """

    def __init__(self, spec: str, data: bytes, entry_cache: EntryCache | None = None) -> None:
        self.spec = spec
        self.data = data
        self.entry_cache = entry_cache

    def read(self) -> list[Inventory]:
        from audit.lockfile.scan import decode_text, scan_entry, split_lock

        parts = split_lock(decode_text(self.data, self.spec))
        self.data = b""  # the text is all that is needed from here on
        meta = self._metadata(parts.head)
        by_platform: dict[str, list[Package]] = defaultdict(list)
        for platform in meta.get("platforms") or ():
            by_platform[str(platform)]
        cache: EntryCache = {} if self.entry_cache is None else self.entry_cache
        pad = parts.pad
        with no_gc():
            for line, chunk in parts.chunks:
                package = cache.get((pad, chunk))
                if package is None:
                    package = package_from_scanned(scan_entry(chunk, line, pad))
                    if self.entry_cache is not None:
                        cache[pad, chunk] = package
                by_platform[package.platform].append(package)
        return [
            Inventory(source=self.spec, platform=platform, packages=dedupe(packages))
            for platform, packages in by_platform.items()
        ]

    def _metadata(self, head: str) -> dict[str, Any]:
        try:
            doc = load_yaml(head, self.spec)
        except InputError as exc:
            raise InventoryError(exc.message, where=exc.where) from None
        if not isinstance(doc, dict) or "package" not in doc:
            raise InventoryError("not a conda-lock.yml: no 'package' list", where=self.spec)
        if doc.get("package") not in (None, []):
            raise InventoryError(
                "not a conda-lock.yml: 'package' is not a block list", where=self.spec
            )
        version = doc.get("version", 1)
        if version not in SUPPORTED_VERSIONS:
            raise InventoryError(
                f"conda-lock.yml version {version} is not supported "
                f"(supported: {', '.join(map(str, SUPPORTED_VERSIONS))})",
                where=self.spec,
            )
        meta = doc.get("metadata")
        if not isinstance(meta, dict):
            return {}
        if not isinstance(meta.get("platforms") or [], list):
            raise InventoryError("metadata.platforms is not a list", where=self.spec)
        return meta


_CHANNELS: dict[str, str] = {}


def _channel(url: str) -> str:
    """channel_from_url, computed once per directory (a lock has a handful of them)."""
    directory, _, name = url.rpartition("/")
    if split_conda_filename(name) is None:
        return channel_from_url(url)
    found = _CHANNELS.get(directory)
    if found is None:
        if len(_CHANNELS) > 4096:
            _CHANNELS.clear()
        found = _CHANNELS[directory] = channel_from_url(url)
    return found


def package_from_scanned(entry: Any) -> Package:
    """One scanned `package:` entry (audit.lockfile.scan.ScannedEntry) as a Package."""
    manager = entry.manager or "conda"
    if manager not in MANAGERS:
        raise InventoryError(f"unknown manager {manager!r} for {entry.name!r}")
    url = entry.url
    build = entry.build
    channel = ""
    if manager == "conda":
        if not build:
            parsed = split_conda_filename(url_filename(url))
            build = parsed[2] if parsed else ""
        channel = _channel(url)
    return Package(
        manager=manager,
        name=entry.name,
        version=entry.version,
        build=build,
        channel=channel,
        platform=entry.platform,
        url=redact_url(url) if "@" in url or "/t/" in url else url,
        sha256=entry.hashes.get("sha256", ""),
        md5=entry.hashes.get("md5", ""),
        depends=depends_from_mapping(entry.depends),
    )


def package_from_entry(item: dict[str, Any]) -> Package:
    """One `package:` entry of conda-lock.yml v1 as a Package."""
    manager = str(item.get("manager") or "conda")
    if manager not in MANAGERS:
        raise InventoryError(f"unknown manager {manager!r} for {item.get('name')!r}")
    url = str(item.get("url") or "")
    hashes = item.get("hash") if isinstance(item.get("hash"), dict) else {}
    build = str(item.get("build") or "")
    channel = ""
    if manager == "conda":
        parsed = split_conda_filename(url_filename(url))
        if not build and parsed:
            build = parsed[2]
        channel = channel_from_url(url)
    deps = item.get("dependencies")
    return Package(
        manager=manager,
        name=str(item.get("name") or ""),
        version=str(item.get("version") or ""),
        build=build,
        channel=channel,
        platform=str(item.get("platform") or ""),
        url=redact_url(url),
        sha256=str(hashes.get("sha256") or ""),
        md5=str(hashes.get("md5") or ""),
        depends=depends_from_mapping(deps if isinstance(deps, dict) else None),
    )
