"""Images read from the engine's own storage and the layer cache, against `docker save`.

A three-layer image (packages, then whiteouts and an opaque folder, then additions) is
`docker load`ed into the real engine; its layers read in place must give exactly what
scanning the same layers' tars gives, and a second read must come from the cache.
"""

from __future__ import annotations

import io
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from inventory_images import conda_meta, docker_save, layer_tar
from support.docker import require_docker

from audit.core.dockerapi import connect
from audit.inventory import read_inventory
from audit.inventory.engineimage import read_engine_image
from audit.inventory.enginestore import chain_ids, open_store, scan_layer_dir
from audit.inventory.image import layer_index_to_json, scan_layer
from audit.inventory.layercache import LayerCache

META = "opt/conda/conda-meta"


def _layers() -> list[bytes]:
    first = layer_tar(
        {
            f"{META}/python-3.11.7-0.json": conda_meta("python", "3.11.7"),
            f"{META}/numpy-1.26.4-py311_0.json": conda_meta("numpy", "1.26.4"),
            "opt/other/conda-meta/zlib-1.3-0.json": conda_meta("zlib", "1.3"),
        }
    )
    second = layer_tar(
        {
            f"{META}/.wh.numpy-1.26.4-py311_0.json": b"",
            "opt/other/.wh..wh..opq": b"",
            "opt/other/readme.txt": b"fresh",
        }
    )
    third = layer_tar({f"{META}/numpy-2.0.0-py311_0.json": conda_meta("numpy", "2.0.0")})
    return [first, second, third]


@pytest.fixture(scope="module")
def loaded() -> Iterator[str]:
    require_docker()
    tag = f"repro-audit-test/store:{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "load", "-q"], input=docker_save(_layers(), tag), check=True,
                   capture_output=True)  # fmt: skip
    try:
        yield tag
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


@pytest.mark.docker
def test_layers_read_in_place_equal_their_tars(loaded: str) -> None:
    client = connect()
    try:
        store = open_store(client)
        if store is None:
            pytest.skip("the engine's storage is not readable here (not root, or remote)")
        found = client.inspect_image(loaded)
        diff_ids = found["RootFS"]["Layers"]
        assert store.config(found["Id"]) is not None
        for layer, diff_id, chain_id in zip(_layers(), diff_ids, chain_ids(diff_ids), strict=True):
            folder = store.layer_dir(chain_id, diff_id)
            assert folder is not None
            in_place = scan_layer_dir(folder, diff_id)
            from_tar = scan_layer(io.BufferedReader(io.BytesIO(layer)), diff_id)
            assert layer_index_to_json(in_place) == layer_index_to_json(from_tar)
        assert store.layer_dir(chain_ids(diff_ids)[1], diff_ids[0]) is None  # checked
    finally:
        client.close()


@pytest.mark.docker
def test_second_read_comes_from_the_cache(loaded: str, tmp_path: Path) -> None:
    client = connect()
    try:
        first = read_engine_image(client, loaded, "t", tmp_path)
        cache = LayerCache(tmp_path)
        diff_ids = client.inspect_image(loaded)["RootFS"]["Layers"]
        assert all(cache.get(d) is not None for d in diff_ids)
        entry = cache.path(diff_ids[-1])
        assert entry is not None
        entry.write_text("{damaged", encoding="utf-8")  # read around, then rewritten
        second = read_engine_image(client, loaded, "t", tmp_path)
        assert [layer_index_to_json(x) for x in second.layers] == [
            layer_index_to_json(x) for x in first.layers
        ]
        assert cache.get(diff_ids[-1]) is not None
    finally:
        client.close()


@pytest.mark.docker
def test_daemon_inventory_applies_whiteouts(loaded: str, monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:  # fmt: skip
    monkeypatch.setenv("REPRO_AUDIT_CACHE_DIR", str(tmp_path))
    in_place = read_inventory(f"docker-daemon:{loaded}")
    monkeypatch.setenv("REPRO_AUDIT_ENGINE_STORE", "0")
    monkeypatch.setenv("REPRO_AUDIT_CACHE_DIR", str(tmp_path / "other"))
    streamed = read_inventory(f"docker-daemon:{loaded}")
    assert in_place.packages == streamed.packages
    assert {p.key: p.version for p in in_place.packages} == {
        ("conda", "python"): "3.11.7",
        ("conda", "numpy"): "2.0.0",
    }
