"""Explicit `conda-<platform>.lock` files as a function of the conda-lock.yml document alone.

`lock` writes them and `merge-lock` derives them again from a merged conda-lock.yml. Both
go through `explicit_files`, so an explicit file after a merge is byte for byte what
`lock` writes for the merged lock. The records are read back from the document and put
in install order from a name-sorted list: the order does not depend on the order the
solver (or a merge) produced them in.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from audit.core.errors import InputError
from audit.lockfile.condalock import explicit_path
from audit.lockfile.models import PipLocked


def document_records(document: dict[str, Any], platforms: Sequence[str]) -> dict[str, list]:
    """Conda records per platform of a lock document (read by rattler), in install order."""
    from audit.lock.solve import install_order
    from audit.lockfile.condalock import dump_lockfile, read_lock_records

    conda = [e for e in document.get("package") or [] if e.get("manager", "conda") == "conda"]
    with tempfile.TemporaryDirectory(prefix="repro-audit-explicit-") as tmp:
        path = Path(tmp) / "conda-lock.yml"  # pip entries left out: rattler wants no VCS
        path.write_text(dump_lockfile({**document, "package": conda}, path.name), "utf-8")
        try:
            read = {p: read_lock_records(path, p) for p in platforms}
        except InputError as exc:  # name the lock, not the scratch file
            reason = exc.message.removeprefix("cannot read lockfile: ")
            raise InputError(f"rattler cannot read the lock's conda records: {reason}") from None
    return {p: install_order(sorted(rs, key=lambda r: r.name.normalized)) for p, rs in read.items()}


def document_wheels(document: dict[str, Any], platform: str) -> list[PipLocked]:
    """The pip packages of one platform, as the document lists them (sorted by name)."""
    return [
        PipLocked(
            name=str(entry["name"]),
            version=str(entry.get("version", "")),
            url=str(entry.get("url", "")),
            sha256=str((entry.get("hash") or {}).get("sha256") or ""),
            size=None,
        )
        for entry in document.get("package") or []
        if entry.get("manager") == "pip" and entry.get("platform") == platform
    ]


def explicit_text(
    document: dict[str, Any], platform: str, records: Sequence[Any] | None = None
) -> str:
    """One platform's explicit file (`records`: that platform's, when already read)."""
    from audit.lockfile.condalock import render_explicit

    if records is None:
        records = document_records(document, [platform])[platform]
    content_hash = (document["metadata"].get("content_hash") or {}).get(platform, "")
    return render_explicit(
        platform, str(content_hash), records, document_wheels(document, platform)
    )


def explicit_files(
    document: dict[str, Any], lockfile: Path, solved: dict[str, list] | None = None
) -> dict[Path, str]:
    """Each platform's explicit file beside `lockfile`: path → text.

    `solved`: the records `lock` just wrote into `document` (platform → records), put in
    the same order as the ones read back would be; reading a 3,000-entry lock back once
    per platform cost `lock` of 4 platforms 0.7 s.
    """
    from audit.lock.solve import install_order

    platforms = list(document["metadata"].get("platforms") or [])
    if solved is not None:
        records = {
            p: install_order(sorted(solved[p], key=lambda r: r.name.normalized))
            for p in platforms
        }
    else:
        records = document_records(document, platforms)
    return {explicit_path(lockfile, p): explicit_text(document, p, records[p]) for p in platforms}
