"""Images from the local Docker engine (`docker-daemon:`, `docker-archive:` of `docker
save`) and from a registry (`docker://`, a throw-away local `docker-registry`)."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from inventory_images import DPKG_STATUS, base_layers, conda_meta
from support.docker import require_docker, require_tool

from audit.inventory import read_inventory
from audit.inventory.docker_sources import RegistrySource
from audit.inventory.interface import InventoryError

BUSYBOX = Path("/bin/busybox")


def _rootfs_tar() -> bytes:
    """busybox + a fake conda env + a dpkg status with two installed packages."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:

        def add(name: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))

        if BUSYBOX.exists():
            add("bin/busybox", BUSYBOX.read_bytes(), 0o755)
        add("opt/conda/conda-meta/x-1.0-0.json", conda_meta("x", "1.0"))
        add("var/lib/dpkg/status", DPKG_STATUS)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def imported_image() -> Iterator[str]:
    client = require_docker()
    tag = f"repro-audit-test/inventory:{uuid.uuid4().hex[:8]}"
    name, _, version = tag.rpartition(":")
    client.api.import_image_from_data(_rootfs_tar(), repository=name, tag=version)
    try:
        yield tag
    finally:
        client.images.remove(tag, force=True)


@pytest.mark.docker
def test_daemon_and_saved_archive_agree(imported_image: str, tmp_path: Path) -> None:
    from_daemon = read_inventory(f"docker-daemon:{imported_image}")
    archive = tmp_path / "saved.tar"
    with archive.open("wb") as handle:
        subprocess.run(["docker", "save", imported_image], stdout=handle, check=True)
    from_archive = read_inventory(f"docker-archive:{archive}")
    assert from_daemon.packages == from_archive.packages
    assert {p.key: p.version for p in from_daemon.packages} == {
        ("conda", "x"): "1.0",
        ("deb", "base-files"): "12.4+deb12u5",
        ("deb", "libc6"): "2.36-9+deb12u4",
    }
    assert from_daemon.platform == "linux-64"
    named = read_inventory(f"docker-archive:{archive}:{imported_image}")
    assert named.packages == from_archive.packages


@pytest.mark.docker
def test_daemon_unknown_image() -> None:
    require_docker()
    with pytest.raises(InventoryError, match="no image repro-audit-test/absent:0"):
        read_inventory("docker-daemon:repro-audit-test/absent:0")


# --------------------------------------------------------------------------- registry


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from support.registry import LocalRegistry

    require_tool("docker-registry")
    local = LocalRegistry(tmp_path_factory.mktemp("registry")).start()
    try:
        yield local.host
    finally:
        local.stop()


def _push(host: str, repository: str, tag: str, layers: list[bytes]) -> None:
    from audit.registry.client import OCI_MANIFEST, RegistryClient

    client = RegistryClient()
    config = json.dumps({"os": "linux", "architecture": "arm64", "rootfs": {}}).encode()
    descriptors = []
    for layer in layers:
        digest = client.put_blob(host, repository, layer)
        descriptors.append(
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": digest,
                "size": len(layer),
            }
        )
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": client.put_blob(host, repository, config),
            "size": len(config),
        },
        "layers": descriptors,
    }
    client.put_manifest(host, repository, tag, json.dumps(manifest).encode(), OCI_MANIFEST)


def test_registry_image(registry: str) -> None:
    layers = base_layers("gzip")
    _push(registry, "team/env", "1", layers)
    inventory = read_inventory(f"docker://{registry}/team/env:1")
    assert {p.key for p in inventory.packages} >= {("conda", "numpy"), ("deb", "libc6")}
    assert inventory.by_key()[("conda", "numpy")].version == "2.0.0"
    assert inventory.platform == "linux-64"  # conda subdir wins over the config's arm64


def test_registry_missing_tag(registry: str) -> None:
    with pytest.raises(Exception, match="not found") as info:
        read_inventory(f"docker://{registry}/team/absent:1")
    assert getattr(info.value, "exit_code", None) == 2


def test_registry_blob_digest_is_verified() -> None:
    """A blob whose bytes do not hash to its digest is an error once fully read."""
    from audit.inventory.docker_sources import _VerifyingStream

    data = base_layers("gzip")[0]
    good = _VerifyingStream(io.BytesIO(data), "sha256:" + hashlib.sha256(data).hexdigest(), "x")
    good.read(10)
    good.close()  # drains the rest and verifies: no error
    bad = _VerifyingStream(io.BytesIO(data), "sha256:" + "0" * 64, "docker://r/x@sha256:0")
    with pytest.raises(InventoryError, match="layer digest mismatch"):
        bad.close()


def test_registry_unknown_blob(registry: str) -> None:
    from audit.registry.client import RegistryClient

    _push(registry, "team/blob", "1", base_layers("gzip")[:1])
    source = RegistrySource(f"docker://{registry}/team/blob:1", client=RegistryClient())
    with pytest.raises(InventoryError, match="layer blob not found"):
        source._open_blob(source._client, "sha256:" + "1" * 64)


def test_require_docker_skips_or_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Docker: a skip locally, a failure when REPRO_AUDIT_REQUIRE_DOCKER=1."""
    import support.docker as helper

    monkeypatch.setattr(helper, "docker_client", lambda: (None, "socket missing"))
    monkeypatch.delenv(helper.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="socket missing"):
        helper.require_docker()
    monkeypatch.setenv(helper.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="REPRO_AUDIT_REQUIRE_DOCKER=1"):
        helper.require_docker()
