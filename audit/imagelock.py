"""image-lock.json: what each pinned reference resolved to, per platform.

One lock sits next to the Dockerfiles (and compose files) of a directory. Entries are keyed
by the full normalised reference with its digest, so two files may pin one tag to two
digests without a clash. The file is deterministic: sorted keys, no timestamps, written
atomically and only when its content changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from audit.core.errors import InputError
from audit.core.fs import atomic_write_text
from audit.core.jsonout import dumps

LOCK_NAME = "image-lock.json"
LOCK_VERSION = 1


@dataclass
class LockEntry:
    registry: str
    repository: str
    tag: str | None
    digest: str
    media_type: str
    platforms: list[dict[str, str | None]]
    files: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "registry": self.registry,
            "repository": self.repository,
            "tag": self.tag,
            "digest": self.digest,
            "media_type": self.media_type,
            "platforms": sorted(self.platforms, key=_platform_key),
            "files": sorted(set(self.files)),
        }


def _platform_key(platform: dict[str, str | None]) -> tuple[str, ...]:
    return tuple(str(platform.get(k) or "") for k in ("os", "architecture", "variant", "digest"))


def lock_path_for(file: Path) -> Path:
    return file.parent / LOCK_NAME


def read_lock(path: Path) -> dict[str, LockEntry]:
    """Entries by key; an absent lock is empty, a malformed one is bad input."""
    from audit.core.text import decode_text

    try:
        text = decode_text(path.read_bytes(), str(path))
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", where=str(path)) from None
    from audit.core.safeload import load_json

    document = load_json(text, str(path))
    images = document.get("images") if isinstance(document, dict) else None
    if not isinstance(images, dict):
        raise InputError("not an image lock (no 'images' object)", where=str(path))
    entries: dict[str, LockEntry] = {}
    for key, raw in images.items():
        try:
            entries[key] = LockEntry(
                registry=raw["registry"],
                repository=raw["repository"],
                tag=raw.get("tag"),
                digest=raw["digest"],
                media_type=raw.get("media_type", ""),
                platforms=list(raw.get("platforms") or []),
                files=list(raw.get("files") or []),
            )
        except (KeyError, TypeError):
            raise InputError(f"malformed lock entry {key!r}", where=str(path)) from None
    return entries


def render_lock(entries: dict[str, LockEntry]) -> str:
    document = {
        "version": LOCK_VERSION,
        "images": {key: entries[key].to_json() for key in sorted(entries)},
    }
    return dumps(document)


def write_lock(path: Path, entries: dict[str, LockEntry]) -> bool:
    """Write atomically if the content changed; True when the file was written."""
    text = render_lock(entries)
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except OSError:
        pass
    atomic_write_text(path, text)
    return True
