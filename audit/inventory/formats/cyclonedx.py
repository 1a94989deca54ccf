"""Inventory → CycloneDX 1.6 JSON (an SBOM), deterministic for the same inventory.

Package URLs: `pkg:conda/<name>@<version>?build=&channel=&subdir=&type=`,
`pkg:pypi/<name>@<version>`, `pkg:deb/debian/<name>@<version>`, `pkg:apk/alpine/...`.
The serial number is a uuid5 of the inventory's JSON and no timestamp is written, so
the same environment always gives the same bytes (a diffable, cacheable artifact).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import uuid
from urllib.parse import urlsplit

from audit.core.jsonout import dumps, dumps_compact
from audit.inventory.interface import Inventory, Package
from audit.inventory.normalize import CHANNEL_ALIAS, subdir_from_url, url_filename

#: Namespace of our serial numbers (uuid5 of "repro-audit" in the URL namespace).
SERIAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/repro-audit")

_PURL_TYPES = {"conda": "conda", "pip": "pypi", "deb": "deb", "apk": "apk", "rpm": "rpm"}
_NAMESPACES = {"deb": "debian", "apk": "alpine"}


def conda_channel_qualifier(channel: str) -> str:
    """`https://conda.anaconda.org/conda-forge` → `conda-forge`; other channels as URLs."""
    if channel.startswith(CHANNEL_ALIAS + "/"):
        return channel[len(CHANNEL_ALIAS) + 1 :]
    return channel


def purl(package: Package) -> str:
    """The package URL (purl-spec) of a package."""
    from packageurl import PackageURL

    qualifiers: dict[str, str] = {}
    if package.manager == "conda":
        if package.build:
            qualifiers["build"] = package.build
        if package.channel:
            qualifiers["channel"] = conda_channel_qualifier(package.channel)
        subdir = subdir_from_url(package.url) or package.platform
        if subdir:
            qualifiers["subdir"] = subdir
        filename = url_filename(package.url)
        if filename.endswith(".conda"):
            qualifiers["type"] = "conda"
        elif filename.endswith(".tar.bz2"):
            qualifiers["type"] = "tar.bz2"
    return PackageURL(
        type=_PURL_TYPES[package.manager],
        namespace=_NAMESPACES.get(package.manager),
        name=package.name,
        version=package.version or None,
        qualifiers=qualifiers or None,
    ).to_string()


def serial_number(inventory: Inventory) -> uuid.UUID:
    """uuid5 of the inventory's canonical JSON: same content, same serial."""
    canonical = dumps_compact(inventory.to_json())
    return uuid.uuid5(SERIAL_NAMESPACE, hashlib.sha256(canonical.encode()).hexdigest())


class CycloneDxFormat:
    """Data in, string out: the SBOM of one inventory as CycloneDX JSON."""

    def format(self, inventory: Inventory) -> str:
        from cyclonedx.model import HashAlgorithm, HashType, Property
        from cyclonedx.model.bom import Bom, BomMetaData
        from cyclonedx.model.component import Component, ComponentType
        from cyclonedx.output.json import JsonV1Dot6
        from packageurl import PackageURL

        components = []
        seen: dict[str, int] = {}
        for package in inventory.packages:
            ref = purl(package)
            seen[ref] = seen.get(ref, 0) + 1
            bom_ref = ref if seen[ref] == 1 else f"{ref}#{seen[ref]}"
            hashes = []
            if package.sha256:
                hashes.append(HashType(alg=HashAlgorithm.SHA_256, content=package.sha256))
            if package.md5:
                hashes.append(HashType(alg=HashAlgorithm.MD5, content=package.md5))
            properties = [
                Property(name=f"repro-audit:{key}", value=value)
                for key, value in (
                    ("manager", package.manager),
                    ("installer", package.installer),
                    ("location", package.location),
                    ("url", package.url),
                )
                if value
            ]
            components.append(
                Component(
                    name=package.name,
                    version=package.version or None,
                    type=ComponentType.LIBRARY,
                    bom_ref=bom_ref,
                    purl=PackageURL.from_string(ref),
                    hashes=hashes,
                    properties=properties,
                )
            )
        subject = Component(
            name=_subject_name(inventory.source),
            type=ComponentType.CONTAINER
            if inventory.source.startswith("docker")
            else ComponentType.APPLICATION,
            bom_ref="environment",
            properties=[
                Property(name="repro-audit:source", value=inventory.source),
                Property(name="repro-audit:platform", value=inventory.platform or "unknown"),
            ],
        )
        metadata = BomMetaData(component=subject)
        metadata.timestamp = None  # type: ignore[assignment]
        metadata.tools.components.clear()
        metadata.tools.services.clear()
        bom = Bom(
            components=components,
            metadata=metadata,
            serial_number=serial_number(inventory),
        )
        # the environment directly contains every package (no graph beyond that)
        bom.register_dependency(subject, components)
        text = JsonV1Dot6(bom).output_as_string(indent=2)
        document = json.loads(text)
        document.get("metadata", {}).pop("timestamp", None)  # never a wall-clock time
        return dumps(document)


def _subject_name(source: str) -> str:
    """A short name for the environment: the image or the lockfile's file name."""
    if "://" in source and not source.startswith("docker://"):
        return posixpath.basename(urlsplit(source).path) or source
    return source


def format_cyclonedx(inventory: Inventory) -> str:
    return CycloneDxFormat().format(inventory)
