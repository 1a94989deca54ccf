"""A locked wheel's METADATA, read with as few bytes as the index allows.

In order: the PEP 658 sidecar (`<wheel>.metadata`), else HTTP range reads of the zip (its
central directory and the METADATA member), else the whole file, whose sha256 is then
checked against the index's. Every request goes through `audit.core.http` (its pool,
retries, timeouts and the one credential store); METADATA is cached by the wheel's sha256
in memory and, with a cache directory, on disk.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import BinaryIO

from packaging.utils import canonicalize_name

from audit.core import http
from audit.core.errors import FindingsError, InputError, ReproAuditError
from audit.core.redact import redact_url
from audit.lock.pylock import Chosen

TIMEOUT = 60.0
#: Metadata reads in flight across all threads (platforms lock concurrently).
_SLOTS = threading.BoundedSemaphore(16)
#: A sidecar answered with one of these is simply not there: read the wheel instead.
_NO_SIDECAR = (400, 403, 404, 405, 410)


@dataclass(frozen=True)
class WheelInfo:
    metadata: str
    sha256: str  # from the lock, or computed when the whole file was read


_METADATA_CACHE: dict[str, WheelInfo] = {}
_METADATA_LOCK = threading.Lock()


def fetch_wheel_info(
    chosen: Chosen, cache_dir: Path | None, context: str, source: str
) -> WheelInfo:
    """METADATA of a wheel, and its sha256 verified whenever the whole file is read.

    `context` ("reading pip metadata on linux-64") prefixes every error, `source` (the
    environment file) is where it points when the error names no better place.
    """
    key = chosen.sha256
    disk = None
    if key:
        with _METADATA_LOCK:
            if key in _METADATA_CACHE:
                return _METADATA_CACHE[key]
        disk = Path(cache_dir) / "wheel-metadata" / f"{key}.METADATA" if cache_dir else None
        if disk is not None and disk.is_file():
            return _remember(WheelInfo(disk.read_text(encoding="utf-8"), key), None)
    url = chosen.url.split("#")[0]
    try:
        with _SLOTS:
            info = _read_info(chosen, url)
    except zipfile.BadZipFile as exc:
        raise InputError(
            f"wheel of '{chosen.name}' {chosen.version} is not a valid zip: {exc}", where=source
        ) from None
    except ReproAuditError as exc:
        exc.message = f"{context}: {exc.message}"
        exc.where = exc.where or source
        raise
    if chosen.sha256 and info.sha256 != chosen.sha256:
        raise FindingsError(
            f"sha256 mismatch for {redact_url(url)}: the index says {chosen.sha256},"
            f" the file is {info.sha256}",
            where=source,
        )
    return _remember(info, disk)


def _read_info(chosen: Chosen, url: str) -> WheelInfo:
    """The cheapest way the index allows: local file, sidecar, ranges, whole download."""
    what = f"wheel of '{chosen.name}' {chosen.version}"
    if url.startswith("file:"):
        path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
        try:
            with path.open("rb") as handle:
                return WheelInfo(*_read_full(handle, chosen.name))
        except OSError as exc:
            raise InputError(f"cannot read wheel {path}: {exc.strerror}") from None
    if chosen.sha256:  # without the index's hash, only the whole file can give one
        text = _sidecar(url, chosen.name, f"METADATA of '{chosen.name}' {chosen.version}")
        if text is not None:
            return WheelInfo(text, chosen.sha256)
        reader = http.open_range(url, what=what, timeout=TIMEOUT)
        if reader is not None:
            with zipfile.ZipFile(reader) as archive:
                return WheelInfo(_metadata_from_zip(archive, chosen.name), chosen.sha256)
    with tempfile.TemporaryDirectory(prefix="repro-audit-wheel-") as tmp:
        target = Path(tmp) / "wheel.whl"
        http.download(url, target, what=what, timeout=TIMEOUT)
        with target.open("rb") as handle:
            return WheelInfo(*_read_full(handle, chosen.name))


def _sidecar(url: str, name: str, what: str) -> str | None:
    """The PEP 658 `.metadata` file when the index serves it for this wheel, else None."""
    response = http.request("GET", url + ".metadata", timeout=TIMEOUT)
    if response.status in _NO_SIDECAR:
        return None
    http.check(response, url + ".metadata", what)
    text = response.data.decode("utf-8", errors="replace")
    headers = HeaderParser().parsestr(text, headersonly=True)
    return text if canonicalize_name(headers.get("Name") or "") == name else None


def _metadata_from_zip(archive: zipfile.ZipFile, name: str) -> str:
    members = [n for n in archive.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
    members.sort(key=lambda n: canonicalize_name(n.split("-")[0]) != name)
    if not members:
        raise zipfile.BadZipFile("no .dist-info/METADATA member")
    return archive.read(members[0]).decode("utf-8", errors="replace")


def _read_full(handle: BinaryIO, name: str) -> tuple[str, str]:
    """A whole wheel on disk: its METADATA and sha256."""
    digest = hashlib.sha256()
    while chunk := handle.read(1024 * 1024):
        digest.update(chunk)
    handle.seek(0)
    with zipfile.ZipFile(handle) as archive:
        return _metadata_from_zip(archive, name), digest.hexdigest()


def _remember(info: WheelInfo, disk: Path | None) -> WheelInfo:
    with _METADATA_LOCK:
        _METADATA_CACHE[info.sha256] = info
    if disk is not None:
        try:
            disk.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".meta.", dir=disk.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(info.metadata)
            os.replace(tmp, disk)
        except OSError:
            pass  # a cache that cannot be written only costs time
    return info


def clear_cache() -> None:
    """Forget the METADATA read so far in this process (the disk cache stays)."""
    with _METADATA_LOCK:
        _METADATA_CACHE.clear()


__all__ = ["WheelInfo", "clear_cache", "fetch_wheel_info"]
