"""Reproducible image ids: the image config without build-time noise, loaded as data.

Builders write wall-clock `created` times, the build container's id and the intermediate
image id into the config, so the image id (the config's sha256) differs on every build
even when every layer is bit-identical. `normalize_config` drops that noise
(SOURCE_DATE_EPOCH for what this build added); `load_archive` hands dockerd a new config
plus only the layers it lacks (`audit.build.envlayer` appends the environment this way).
So a rebuild of the same inputs on the same engine version gives the same image id, which
`verify` reports as `image_identical`.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from audit.core.dockerapi import EngineError
from audit.core.errors import InputError
from audit.dockerarchive import archive_chunks, archive_size


def epoch_text(epoch: int) -> str:
    import datetime

    moment = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def normalize_config(config: dict[str, Any], epoch: int, inherited: int) -> dict[str, Any]:
    """The image config without build-time noise: what makes the image id reproducible.

    `created` of the image and of every history entry this build added (those after the
    `inherited` entries of the base) become SOURCE_DATE_EPOCH; the build container's id
    (`container`, `container_config`) and the intermediate image id (`config.Image`) go.
    """
    out = json.loads(json.dumps(config))
    stamp = epoch_text(epoch)
    out["created"] = stamp
    out.pop("container", None)
    out.pop("container_config", None)
    if isinstance(out.get("config"), dict):
        out["config"]["Image"] = ""
    for index, entry in enumerate(out.get("history") or []):
        if index >= inherited and isinstance(entry, dict):
            entry["created"] = stamp
    return out


class ChunkReader(io.RawIOBase):
    """A file object over an iterator of byte chunks (the `docker save` stream)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = iter(chunks)
        self._rest = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._rest:
            try:
                self._rest = next(self._chunks)
            except StopIteration:
                return 0
        count = min(len(buffer), len(self._rest))
        buffer[:count] = self._rest[:count]
        self._rest = self._rest[count:]
        return count


def inherited_history(client: Any, base: Any, local: dict[str, str]) -> int:
    """How many history entries the final stage's base image brings (kept as they are)."""
    if base is None or not base.digest:
        return 0
    from audit.registry.reference import parse_reference

    name = local.get(base.ref) or f"{parse_reference(base.ref).name}@{base.digest}"
    try:
        return len(client.history(name))
    except EngineError:
        return 0


def inherited_layers(client: Any, base: Any, local: dict[str, str]) -> int | None:
    """How many layers the final stage's base image brings (None: that base is not known).

    The layers above them are the Dockerfile's own steps (`audit.build.repack`).
    """
    if base is None:
        return 0  # FROM scratch: every layer is the Dockerfile's own
    if not base.digest and base.ref not in local:
        return None
    from audit.registry.reference import parse_reference

    name = local.get(base.ref) or f"{parse_reference(base.ref).name}@{base.digest}"
    try:
        return len(client.inspect_image(name)["RootFS"]["Layers"])
    except (EngineError, KeyError, TypeError):
        return None


def load_archive(
    client: Any, config: bytes, tag: str | None, layers: list[Path | None], say: Any = None
) -> str:
    """`docker load` the config (+ the given layers); the image id, checked to be the config's."""
    from audit.core.progress import Meter

    image_id = "sha256:" + hashlib.sha256(config).hexdigest()
    sent = any(p is not None for p in layers)
    size = archive_size(config, tag, layers) if sent else 0
    meter = Meter(say, "loading", "layer into the engine", size) if say and size else None
    chunks = archive_chunks(config, tag, layers)
    try:
        for message in client.load_image(meter.counted(chunks) if meter else chunks):
            if message.get("error"):
                raise InputError(f"docker load refused the image: {message['error']}")
        client.inspect_image(image_id)
    except EngineError as exc:
        raise InputError(f"docker load refused the image: {exc.message}") from None
    if meter is not None:
        meter.done()
    return image_id
