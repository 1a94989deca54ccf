"""docker-archive: the legacy `docker save` layout, written as a stream of chunks.

dockerd 20.10 loads this layout (not an OCI layout), takes gzip'd layer files as they are,
and skips a layer the manifest lists but the archive leaves out when it already holds it:
so one writer serves appending a layer to an image (build) and loading a mirrored base
(verify).
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path


def _member_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mode = size, 0o644
    return info.tobuf(tarfile.PAX_FORMAT)


def _padded(size: int) -> bytes:
    return b"\0" * ((-size) % tarfile.BLOCKSIZE)


def _archive_parts(
    config: bytes, tag: str | None, layers: list[Path | None]
) -> Iterator[bytes | Path]:
    """The archive as bytes to write and layer files to copy, in order."""
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    names = [f"layer{i}/layer.tar" for i in range(len(layers))]
    manifest = json.dumps(
        [{"Config": config_name, "RepoTags": [tag] if tag else None, "Layers": names}]
    ).encode()
    for name, body in ((config_name, config), ("manifest.json", manifest)):
        yield _member_header(name, len(body)) + body + _padded(len(body))
    for name, path in zip(names, layers, strict=True):
        if path is None:
            continue
        size = path.stat().st_size
        yield _member_header(name, size)
        yield path
        yield _padded(size)
    yield b"\0" * (2 * tarfile.BLOCKSIZE)


def archive_chunks(config: bytes, tag: str | None, layers: list[Path | None]) -> Iterator[bytes]:
    """A legacy `docker save` archive holding the config and only the layers given.

    `layers[i]` is the tar file of layer i, or None for a layer the engine already holds:
    the manifest still lists it (the engine matches it by the config's diff_id and does
    not read it), so a layer is appended to an image without sending the image again.
    """
    for part in _archive_parts(config, tag, layers):
        if isinstance(part, bytes):
            yield part
            continue
        with part.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                yield chunk


def archive_size(config: bytes, tag: str | None, layers: list[Path | None]) -> int:
    """The byte size of `archive_chunks(config, tag, layers)`, without reading a layer."""
    return sum(
        len(part) if isinstance(part, bytes) else part.stat().st_size
        for part in _archive_parts(config, tag, layers)
    )
