"""The docker-archive writer: the size it announces is the size it streams."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from audit.dockerarchive import archive_chunks, archive_size


def test_the_announced_size_is_the_streamed_size_and_the_archive_reads_back(
    tmp_path: Path,
) -> None:
    layer = tmp_path / "layer.tar"
    layer.write_bytes(b"x" * 1234)  # not a multiple of the tar block: padding counts
    config = json.dumps({"rootfs": {"diff_ids": ["sha256:a", "sha256:b"]}}).encode()
    layers: list[Path | None] = [None, layer]
    streamed = b"".join(archive_chunks(config, "example:1", layers))
    assert archive_size(config, "example:1", layers) == len(streamed)
    with tarfile.open(fileobj=io.BytesIO(streamed)) as archive:
        names = archive.getnames()
        manifest = json.loads(archive.extractfile("manifest.json").read())  # type: ignore[union-attr]
        body = archive.extractfile("layer1/layer.tar").read()  # type: ignore[union-attr]
    assert "layer0/layer.tar" not in names  # held by the engine: listed, not sent
    assert manifest[0]["Layers"] == ["layer0/layer.tar", "layer1/layer.tar"]
    assert body == layer.read_bytes()
