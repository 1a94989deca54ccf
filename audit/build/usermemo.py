"""Skip the builder when the user image's inputs are those of a build made before.

An unchanged rebuild is the common case (CI re-runs, `build` after editing only the lock's
environment) and BuildKit's own cached rebuild still costs a CLI round trip and a context
transfer. The key holds everything that can change what the builder makes: the
normalised context tar's digest (which carries the Dockerfile text as sent, after base
images were substituted by their local names), the Dockerfile's name in the context, the
builder (kind, name, driver, client version), the platform and the base images' digests.
It is never used with `--no-cache` or with an unpinned base (a tag can move under it), and
only when the remembered image still exists in the engine.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import IO, Any

from audit.core.fs import atomic_write_text


class HashingWriter:
    """A file-like sink that hashes what passes through to `out` (the context tar)."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.out.write(data)

    def tell(self) -> int:
        return self.out.tell()

    def hexdigest(self) -> str:
        return self.digest.hexdigest()


def user_image_key(
    context_sha256: str,
    dockerfile: str,
    builder: dict[str, Any],
    platform: str,
    bases: list[str | None],
) -> str:
    """The memo key of a user image: a digest over every input of the builder call."""
    body = json.dumps(
        {
            "context": context_sha256,
            "dockerfile": dockerfile,
            "builder": builder,
            "platform": platform,
            "bases": sorted(b or "" for b in bases),
            "format": 1,
        },
        sort_keys=True,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def memo_path(cache_dir: Path, key: str, folder: str = "user-images") -> Path:
    return cache_dir / folder / key


def remembered(cache_dir: Path, key: str, folder: str = "user-images") -> str | None:
    """The image id built before from the same inputs, if any was recorded."""
    try:
        image_id = memo_path(cache_dir, key, folder).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return image_id if image_id.startswith("sha256:") else None


def remember(cache_dir: Path, key: str, image_id: str, folder: str = "user-images") -> None:
    path = memo_path(cache_dir, key, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, image_id + "\n")
