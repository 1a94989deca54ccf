"""Explicit lockfiles (`conda-<platform>.lock`, `@EXPLICIT` + one URL per line) → inventory.

An explicit file holds nothing but URLs, so name, version and build come from the file
name (`name-version-build.conda|.tar.bz2`), the hash from the fragment (`#sha256:<hex>`
or conda's `#<md5>`), the channel from the URL. conda-lock also writes pip packages as
comments (`# pip name @ url#sha256=<hex>`); they are read too.
"""

from __future__ import annotations

import re
from dataclasses import replace

from audit.core.redact import redact_url
from audit.inventory.interface import Inventory, InventoryError, InventorySource, Package, dedupe
from audit.inventory.normalize import (
    channel_from_url,
    split_conda_filename,
    subdir_from_url,
    url_filename,
    wheel_name_version,
)

_PLATFORM = re.compile(r"^#\s*platform:\s*(\S+)")
_PIP = re.compile(r"^#\s*pip\s+(?P<name>[A-Za-z0-9._-]+)\s*@\s*(?P<url>\S+)")
_MD5 = re.compile(r"^[0-9a-fA-F]{32}$")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def looks_like_explicit(head: str) -> bool:
    """Sniff: conda's `@EXPLICIT` marker, or nothing but comments and URLs."""
    if "@EXPLICIT" in head:
        return True
    lines = [ln.strip() for ln in head.splitlines() if ln.strip()]
    return (
        bool(lines)
        and all(ln.startswith("#") or "://" in ln for ln in lines[:50])
        and any("://" in ln and not ln.startswith("#") for ln in lines)
    )


def split_hash(url: str) -> tuple[str, str, str]:
    """`url#sha256:<hex>` / `url#sha256=<hex>` / `url#<md5>` → (url, sha256, md5)."""
    base, sep, fragment = url.partition("#")
    if not sep:
        return url, "", ""
    for prefix in ("sha256:", "sha256="):
        if fragment.startswith(prefix) and _SHA256.match(fragment[len(prefix) :]):
            return base, fragment[len(prefix) :].lower(), ""
    if _MD5.match(fragment):
        return base, "", fragment.lower()
    return base, "", ""


class ExplicitSource(InventorySource):
    """One explicit lockfile: one platform (from `# platform:` or the URLs' subdirs)."""

    def __init__(self, spec: str, data: bytes) -> None:
        self.spec = spec
        self.data = data

    def read(self) -> list[Inventory]:
        from audit.core.errors import InputError
        from audit.core.text import decode_text

        try:
            text = decode_text(self.data, self.spec)
        except InputError as exc:
            raise InventoryError(exc.message, where=exc.where, hint=exc.hint) from None
        platform = ""
        conda: list[tuple[str, str, str, str]] = []  # (url, sha256, md5, line number)
        pip: list[Package] = []
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line == "@EXPLICIT":
                continue
            if line.startswith("#"):
                if match := _PLATFORM.match(line):
                    platform = platform or match.group(1)
                elif match := _PIP.match(line):
                    pip.append(self._pip(match.group("name"), match.group("url")))
                continue
            url, sha256, md5 = split_hash(line)
            conda.append((url, sha256, md5, str(number)))
        if not platform:
            subdirs = [subdir_from_url(url) for url, *_ in conda]
            platform = next((s for s in subdirs if s and s != "noarch"), "")
        packages = [self._conda(url, sha256, md5, platform) for url, sha256, md5, _ in conda]
        pip = [replace(p, platform=platform) for p in pip]
        return [Inventory(source=self.spec, platform=platform, packages=dedupe(packages + pip))]

    @staticmethod
    def _conda(url: str, sha256: str, md5: str, platform: str) -> Package:
        filename = url_filename(url)
        parsed = split_conda_filename(filename)
        name, version, build = parsed if parsed else (filename, "", "")
        return Package(
            manager="conda",
            name=name,
            version=version,
            build=build,
            channel=channel_from_url(url),
            platform=platform,
            url=redact_url(url),
            sha256=sha256,
            md5=md5,
        )

    @staticmethod
    def _pip(name: str, url: str) -> Package:
        url, sha256, md5 = split_hash(url)
        parsed = wheel_name_version(url_filename(url))
        return Package(
            manager="pip",
            name=name,
            version=parsed[1] if parsed else "",
            url=redact_url(url),
            sha256=sha256,
            md5=md5,
        )
