"""conda-lock.yml (format version 1, as written by conda-lock 1.x to 3.x) → inventories.

Read with PyYAML's C loader and no pydantic: a 1,000-package lock is a few hundred
milliseconds instead of the seconds conda-lock's models cost. conda-lock 2/3 kept the
on-disk `version: 1` but changed `category` to `categories`; neither matters here.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import yaml

from audit.core.redact import redact_url
from audit.core.yamlio import safe_loader
from audit.inventory.interface import (
    MANAGERS,
    Inventory,
    InventoryError,
    InventorySource,
    Package,
    dedupe,
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


class CondaLockSource(InventorySource):
    """A conda-lock.yml's packages, one inventory per platform of its metadata."""

    def __init__(self, spec: str, data: bytes) -> None:
        self.spec = spec
        self.data = data

    def read(self) -> list[Inventory]:
        try:
            doc = yaml.load(self.data, Loader=safe_loader())
        except yaml.YAMLError as exc:
            raise InventoryError(
                f"not valid YAML: {str(exc).splitlines()[0]}", where=self.spec
            ) from None
        if not isinstance(doc, dict) or not isinstance(doc.get("package"), list):
            raise InventoryError("not a conda-lock.yml: no 'package' list", where=self.spec)
        version = doc.get("version", 1)
        if version not in SUPPORTED_VERSIONS:
            raise InventoryError(
                f"conda-lock.yml version {version} is not supported "
                f"(supported: {', '.join(map(str, SUPPORTED_VERSIONS))})",
                where=self.spec,
            )
        meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
        by_platform: dict[str, list[Package]] = defaultdict(list)
        for platform in meta.get("platforms") or ():
            by_platform[str(platform)]
        for index, item in enumerate(doc["package"]):
            if not isinstance(item, dict):
                raise InventoryError(f"package entry {index} is not a mapping", where=self.spec)
            package = package_from_entry(item)
            by_platform[package.platform].append(package)
        return [
            Inventory(source=self.spec, platform=platform, packages=dedupe(packages))
            for platform, packages in by_platform.items()
        ]


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
