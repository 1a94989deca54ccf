"""Which lock an image was built from: its `io.repro-audit.lock.sha256` label.

`build` stamps the lockfile's sha256 on the image (and into the build record). An image
whose packages differ from today's lock is usually not "installed outside the lock" but
built from an older one; the label tells which, so drift can name that cause.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audit.core.errors import InputError
from audit.core.safeload import load_json

LOCK_LABEL = "io.repro-audit.lock.sha256"
DAEMON = "docker-daemon:"


def built_from_lock(source: str) -> str | None:
    """The sha256 of the lockfile the image (or build record) was built from, if it says."""
    if source.startswith(DAEMON):
        return _daemon_label(source[len(DAEMON) :])
    path = Path(source)
    if path.is_dir():
        path = path / "build-record.json"
    if not path.is_file() or path.suffix != ".json":
        return None
    try:
        record = load_json(path.read_bytes(), str(path))
    except (OSError, InputError):
        return None
    return _record_lock(record) if isinstance(record, dict) else None


def _record_lock(record: dict[str, Any]) -> str | None:
    labels = (record.get("outputs") or {}).get("labels") or {}
    lockfile = (record.get("inputs") or {}).get("lockfile") or {}
    value = labels.get(LOCK_LABEL) or lockfile.get("sha256")
    return _bare(value)


def _daemon_label(name: str) -> str | None:
    """The label from the local engine; None when Docker or the image is not there."""
    from audit.inventory.engine import inspect_local

    config = (inspect_local(name) or {}).get("Config") or {}
    return _bare((config.get("Labels") or {}).get(LOCK_LABEL))


def _bare(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return value.removeprefix("sha256:").lower()
