"""What a layer holds, computed once per diff_id and kept: a content-addressed cache.

A layer's diff_id is the sha256 of its uncompressed tar, so a layer with a known diff_id
never changes: its metadata index (conda-meta records, dist-infos, dpkg/apk status,
whiteouts) holds wherever and whenever it is read. `inventory`, `diff`, `drift` and
`build` read an image's layers through this cache, so a 10 GB CUDA base is scanned once
per machine, not once per command.

Entries live in `<cache>/layers/<hex[:2]>/<hex>.json`, safe to share between projects and
CI runs (the key is the content). Each entry names its diff_id and format and carries the
sha256 of its body: a damaged, edited or older-format entry is read around (treated as
absent, removed) and rewritten by the next scan. The folder is bounded: when it grows
past its limit (REPRO_AUDIT_LAYER_CACHE_MB, default 512), the least recently used
entries go.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from audit.inventory.image import LayerIndex, layer_index_from_json, layer_index_to_json

FOLDER = "layers"
#: Bump when what a layer index holds (or how a metadata file is parsed) changes.
FORMAT = 1
DEFAULT_LIMIT_MB = 512


def _hex(diff_id: str) -> str | None:
    algorithm, _, hexdigest = diff_id.partition(":")
    if algorithm != "sha256" or len(hexdigest) != 64:
        return None
    try:
        int(hexdigest, 16)
    except ValueError:
        return None
    return hexdigest


def _body_digest(index: dict[str, Any]) -> str:
    body = json.dumps(index, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _limit_bytes() -> int:
    try:
        return max(1, int(os.environ.get("REPRO_AUDIT_LAYER_CACHE_MB", DEFAULT_LIMIT_MB))) << 20
    except ValueError:
        return DEFAULT_LIMIT_MB << 20


class LayerCache:
    """Layer indexes by diff_id under `root` (None: a cache that keeps nothing)."""

    def __init__(self, root: Path | None, limit_bytes: int | None = None) -> None:
        self.root = Path(root) / FOLDER if root is not None else None
        self.limit = limit_bytes if limit_bytes is not None else _limit_bytes()
        self.hits = 0
        self.misses = 0
        self._pruned = False

    def path(self, diff_id: str) -> Path | None:
        hexdigest = _hex(diff_id)
        if self.root is None or hexdigest is None:
            return None
        return self.root / hexdigest[:2] / f"{hexdigest}.json"

    def get(self, diff_id: str) -> LayerIndex | None:
        """The index recorded for `diff_id`, when its entry is whole and of this format."""
        path = self.path(diff_id)
        if path is None:
            return None
        try:
            document = json.loads(path.read_bytes())
            if (
                document.get("format") != FORMAT
                or document.get("diff_id") != diff_id
                or document.get("sha256") != _body_digest(document["index"])
            ):
                raise ValueError("stale or damaged entry")
            index = layer_index_from_json(document["index"])
        except FileNotFoundError:
            self.misses += 1
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
            with contextlib.suppress(OSError):  # read around it; the next put rewrites it
                path.unlink()
            self.misses += 1
            return None
        with contextlib.suppress(OSError):  # least recently used goes first
            os.utime(path)
        self.hits += 1
        return index

    def index(self, diff_id: str, scan: Callable[[], LayerIndex]) -> LayerIndex:
        """The index of `diff_id`: the recorded one, else `scan()`, recorded for next time."""
        found = self.get(diff_id)
        if found is None:
            found = scan()
            self.put(diff_id, found)
        return found

    def put(self, diff_id: str, index: LayerIndex) -> None:
        """Record `index` for `diff_id` (atomically; a full disk only loses the entry)."""
        path = self.path(diff_id)
        if path is None:
            return
        body = layer_index_to_json(index)
        document = {"diff_id": diff_id, "format": FORMAT, "index": body}
        document["sha256"] = _body_digest(body)
        data = json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")
        from audit.core.errors import ReproAuditError
        from audit.core.fs import atomic_write_bytes

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, data)
        except (OSError, ReproAuditError):
            return  # a cache entry is an optimisation: never a half-written one, never fatal
        self._prune()

    def _prune(self) -> None:
        """Keep the folder under its limit: drop the least recently used entries."""
        if self._pruned or self.root is None:
            return
        self._pruned = True  # once per process: a walk of the folder is not free
        entries = []
        with contextlib.suppress(OSError):
            for shard in os.scandir(self.root):
                if not shard.is_dir(follow_symlinks=False):
                    continue
                for entry in os.scandir(shard.path):
                    if entry.name.endswith(".json"):
                        st = entry.stat(follow_symlinks=False)
                        entries.append((st.st_mtime, st.st_size, entry.path))
        total = sum(size for _, size, _ in entries)
        if total <= self.limit:
            return
        for _, size, path in sorted(entries):
            with contextlib.suppress(OSError):
                os.unlink(path)
            total -= size
            if total <= self.limit * 0.8:
                break
