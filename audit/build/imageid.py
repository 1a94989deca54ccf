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
from audit.dockerarchive import archive_chunks


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


#: `<cache>/saved/<hex>.json`: what `docker save` of an image gave (its config and layers'
#: metadata). An image id is the digest of a config that lists every layer's diff_id, so
#: the entry holds for as long as the image exists. Bump the format when what a layer
#: scan keeps changes.
SAVED = "saved"
SAVED_FORMAT = 1


def saved_image(
    client: Any, image_id: str, cache_dir: Path | None = None
) -> tuple[list[Any], dict[str, Any]]:
    """(layer metadata indexes, config) of an image, from one pass over its `docker save`.

    dockerd 20.10 has no endpoint for the raw config (`/images/{id}/json` is a rewritten
    summary, not the bytes the image id is the digest of), so the archive is read; its
    legacy layout puts the layers before the config, so the whole image is streamed, and
    the layers' metadata is kept for the inventory of the image built on top. With
    `cache_dir`, the answer is remembered per image id: a build whose user image did not
    change (only the lock did) does not stream the whole base image again.
    """
    memo = Path(cache_dir) / SAVED / f"{image_id.split(':', 1)[-1]}.json" if cache_dir else None
    if memo is not None and (found := _remembered_save(memo, client, image_id)) is not None:
        return found
    from audit.inventory import scan_archive

    stream = io.BufferedReader(ChunkReader(client.save_image(image_id)))
    layers, config = scan_archive(stream, f"docker-daemon:{image_id}")
    if not isinstance(config, dict):
        raise InputError(f"docker save of {image_id} holds no config")
    if memo is not None:
        _remember_save(memo, image_id, layers, config)
    return layers, config


def _remember_save(memo: Path, image_id: str, layers: list[Any], config: dict[str, Any]) -> None:
    from audit.core.fs import atomic_write_text
    from audit.inventory.image import layer_index_to_json

    document = {
        "format": SAVED_FORMAT,
        "image_id": image_id,
        "config": config,
        "layers": [layer_index_to_json(layer) for layer in layers],
    }
    memo.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(memo, json.dumps(document, sort_keys=True, separators=(",", ":")))


def _remembered_save(
    memo: Path, client: Any, image_id: str
) -> tuple[list[Any], dict[str, Any]] | None:
    """The remembered scan of `image_id`, when it is whole and names the image's layers."""
    from audit.inventory.image import layer_index_from_json

    try:
        document = json.loads(memo.read_text(encoding="utf-8"))
        if document.get("format") != SAVED_FORMAT or document.get("image_id") != image_id:
            return None
        config = document["config"]
        layers = [layer_index_from_json(layer) for layer in document["layers"]]
        diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    try:  # a damaged or edited entry: read the image again
        if client.inspect_image(image_id)["RootFS"]["Layers"] != diff_ids:
            return None
    except (EngineError, KeyError, TypeError):
        return None
    if len(layers) != len(diff_ids):
        return None
    return layers, config


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


def load_archive(client: Any, config: bytes, tag: str | None, layers: list[Path | None]) -> str:
    """`docker load` the config (+ the given layers); the image id, checked to be the config's."""
    image_id = "sha256:" + hashlib.sha256(config).hexdigest()
    try:
        for message in client.load_image(archive_chunks(config, tag, layers)):
            if message.get("error"):
                raise InputError(f"docker load refused the image: {message['error']}")
        client.inspect_image(image_id)
    except EngineError as exc:
        raise InputError(f"docker load refused the image: {exc.message}") from None
    return image_id
