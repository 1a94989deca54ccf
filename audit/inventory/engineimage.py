"""An image of the Docker engine, read at the cost of what is new: config + unseen layers.

Every reader of `docker-daemon:` images (`inventory`, `diff`, `drift`, `build`, `verify
--rebuild`) goes through `read_engine_image`:

1. the config: from the engine's storage when it is local and readable
   (`enginestore`), else from `<cache>/configs/` (content-addressed: the bytes must hash
   to the image id), else from `docker save`;
2. each layer by diff_id: from the layer cache (`layercache`), else from the engine's
   storage (a folder walk), else all of them from one `docker save` stream, the cost
   said in the progress line (the engine offers no other way to read a layer).

Every layer read is put in the layer cache, so the next image on the same base reads
only its own new layers.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.core.errors import ReproAuditError
from audit.inventory.image import LayerIndex, scan_archive
from audit.inventory.interface import InventoryError
from audit.inventory.layercache import LayerCache

Say = Callable[[str, str], None]
CONFIGS = "configs"


def _quiet(_phase: str, _message: str) -> None:
    """Default progress sink."""


@dataclass
class EngineImage:
    """An engine's image as its layer indexes (in order) and its config."""

    image_id: str
    config: dict[str, Any]
    layers: list[LayerIndex]


def _short(digest: str) -> str:
    return digest.partition(":")[2][:12]


def _config_path(cache_dir: Path | None, image_id: str) -> Path | None:
    return Path(cache_dir) / CONFIGS / image_id.partition(":")[2] if cache_dir else None


def _cached_config(cache_dir: Path | None, image_id: str) -> bytes | None:
    path = _config_path(cache_dir, image_id)
    try:
        data = path.read_bytes() if path else None
    except OSError:
        return None
    if data is None or "sha256:" + hashlib.sha256(data).hexdigest() != image_id:
        return None  # a damaged entry: read around it (the save rewrites it)
    return data


def _remember_config(cache_dir: Path | None, image_id: str, data: bytes) -> None:
    from audit.core.fs import atomic_write_bytes

    path = _config_path(cache_dir, image_id)
    if path is None:
        return
    with contextlib.suppress(OSError, ReproAuditError):
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)


def _parse_config(data: bytes, where: str) -> dict[str, Any]:
    try:
        config = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InventoryError(f"corrupt image config: {exc}", where=where) from None
    if not isinstance(config, dict):
        raise InventoryError("image config is not a JSON object", where=where)
    return config


def read_engine_image(
    client: Any,
    name: str,
    source: str,
    cache_dir: Path | None,
    say: Say | None = None,
    inspected: dict[str, Any] | None = None,
) -> EngineImage:
    """Config and layer indexes of the engine's image `name`, reading only what is new."""
    from audit.inventory.enginestore import chain_ids, open_store, scan_layer_dir

    say = say or _quiet
    found = inspected or client.inspect_image(name)
    image_id = str(found["Id"])
    diff_ids = [str(d) for d in (found.get("RootFS") or {}).get("Layers") or []]
    cache = LayerCache(cache_dir)
    store = open_store(client)
    raw = (store.config(image_id) if store else None) or _cached_config(cache_dir, image_id)
    layers: list[LayerIndex | None] = [cache.get(d) for d in diff_ids]
    unseen = layers.count(None)
    if raw is not None and store is not None and unseen:
        for position, chain_id in enumerate(chain_ids(diff_ids)):
            diff_id = diff_ids[position]
            if layers[position] is not None:
                continue
            folder = store.layer_dir(chain_id, diff_id)
            if folder is None:
                continue  # a layer not where the engine keeps it: streamed below
            where = f"{source}:layer {position + 1} ({_short(diff_id)})"
            layers[position] = scan_layer_dir(folder, where)
            cache.put(diff_id, layers[position])  # type: ignore[arg-type]
        say("reading", f"{source}: {unseen} new layer(s) of {len(diff_ids)} read from the "
            "engine's storage, the rest known")  # fmt: skip
    if raw is not None and None not in layers:
        if store is None:
            _remember_config(cache_dir, image_id, raw)
        return EngineImage(image_id, _parse_config(raw, source), list(layers))  # type: ignore[arg-type]
    why = "the engine's storage is not readable here" if store is None else "a layer is missing"
    return _from_save(client, name, source, found, diff_ids, cache, cache_dir, why, say)


def _from_save(
    client: Any,
    name: str,
    source: str,
    found: dict[str, Any],
    diff_ids: list[str],
    cache: LayerCache,
    cache_dir: Path | None,
    why: str,
    say: Say,
) -> EngineImage:
    """Everything from one `docker save` stream (the engine's only way): cost shown."""
    from audit.core.progress import Meter, human_bytes
    from audit.inventory.prefetch import PrefetchStream

    image_id = str(found["Id"])
    size = int(found.get("Size") or 0)
    meter = Meter(say, "reading", f"{source} through docker save ({why})", size)
    say("reading", f"{source}: streaming the whole image ({human_bytes(size)}) through "
        f"docker save: {why}")  # fmt: skip
    documents: dict[str, bytes] = {}
    stream = PrefetchStream(meter.counted(client.save_image(name)), _engine_error(client, source))
    with io.BufferedReader(stream, 1 << 20) as buffered:
        indexes, config = scan_archive(buffered, source, documents=documents)
    meter.done()
    if not isinstance(config, dict):
        raise InventoryError(f"docker save of {name} holds no config", where=source)
    if len(indexes) == len(diff_ids):
        for diff_id, index in zip(diff_ids, indexes, strict=True):
            cache.put(diff_id, index)
    if (raw := documents.get("config")) is not None:
        _remember_config(cache_dir, image_id, raw)
    return EngineImage(image_id, config, indexes)


def _engine_error(client: Any, source: str) -> Callable[[BaseException], Exception]:
    from audit.core.dockerapi import EngineNotFound, unreachable

    def on_error(exc: BaseException) -> Exception:
        if isinstance(exc, EngineNotFound):
            return InventoryError("no such image in the engine", where=source)
        if isinstance(exc, ReproAuditError):  # already says what went wrong
            return exc
        return unreachable(client.endpoint.host, exc)

    return on_error
