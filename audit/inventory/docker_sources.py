"""Image sources by transport: `docker-daemon:`, `docker-archive:` and `docker://`.

Each only opens a byte stream and hands it to `image.py`: the daemon's `GET
/images/{name}/get` (the same bytes as `docker save`), a file, or a registry's layer blobs
in manifest order. No container is created and nothing is extracted.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any, BinaryIO

from audit.core.redact import redact_url
from audit.inventory.image import oci_platform, pick_descriptor, read_archive, read_layers
from audit.inventory.interface import Inventory, InventoryError, InventorySource

DAEMON_PREFIX = "docker-daemon:"
ARCHIVE_PREFIX = "docker-archive:"
REGISTRY_PREFIX = "docker://"


class DockerDaemonSource(InventorySource):
    """`docker-daemon:NAME:TAG`: the image as the local engine's `docker save` streams it."""

    def __init__(self, spec: str, platform: str | None = None) -> None:
        self.spec = spec
        self.name = spec[len(DAEMON_PREFIX) :]
        self.platform = platform
        if not self.name:
            raise InventoryError("docker-daemon: needs an image, e.g. docker-daemon:app:1.0")

    def read(self) -> list[Inventory]:
        from audit.core.dockerapi import EngineError, EngineNotFound, connect
        from audit.core.fs import default_cache_dir
        from audit.core.progress import stderr_say
        from audit.inventory.engineimage import read_engine_image
        from audit.inventory.image import build_inventory

        client = connect()
        try:
            try:
                found = client.inspect_image(self.name)
            except EngineNotFound:
                raise InventoryError(
                    f"no image {self.name} in the local Docker engine", where=self.spec
                ) from None
            except EngineError as exc:
                raise InventoryError(f"Docker refused: {exc.message}", where=self.spec) from None
            image = read_engine_image(
                client, self.name, self.spec, default_cache_dir(), stderr_say(), found
            )
            return [build_inventory(self.spec, image.layers, image.config)]
        finally:
            client.close()


def split_archive_spec(spec: str) -> tuple[Path, str | None]:
    """`docker-archive:FILE.tar[:NAME:TAG]` → (path, image selector or None)."""
    rest = spec[len(ARCHIVE_PREFIX) :]
    if not rest:
        raise InventoryError("docker-archive: needs a file, e.g. docker-archive:image.tar")
    if Path(rest).exists():
        return Path(rest), None
    index = rest.find(":")
    while index > 0:
        if Path(rest[:index]).is_file():
            return Path(rest[:index]), rest[index + 1 :] or None
        index = rest.find(":", index + 1)
    return Path(rest), None


class DockerArchiveSource(InventorySource):
    """`docker-archive:FILE.tar[:NAME:TAG]`: a `docker save` or OCI archive on disk."""

    def __init__(self, spec: str, platform: str | None = None) -> None:
        self.spec = spec
        self.path, self.select = split_archive_spec(spec)
        self.platform = platform

    def read(self) -> list[Inventory]:
        try:
            handle = self.path.open("rb", buffering=0)
        except OSError as exc:
            raise InventoryError(
                f"cannot open image archive: {exc.strerror}", where=str(self.path)
            ) from None
        with handle:
            return [
                read_archive(
                    handle,  # type: ignore[arg-type]
                    self.spec,
                    select=self.select,
                    platform=self.platform,
                )
            ]


class _VerifyingStream(io.RawIOBase):
    """A blob's HTTP body that checks its sha256 once fully read (see `close`)."""

    def __init__(self, response: Any, digest: str, where: str) -> None:
        self._response = response
        self._digest = digest
        self._hash = hashlib.sha256()
        self._where = where

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._response.readinto(buffer)
        if count:
            self._hash.update(memoryview(buffer)[:count])
        return count or 0

    def abort(self) -> None:
        """Close without reading the rest or verifying (the layer failed already)."""
        if not self.closed:
            self._response.close()
            super().close()

    def close(self) -> None:
        if self.closed:
            return
        try:
            while chunk := self._response.read(1 << 20):
                self._hash.update(chunk)
            actual = "sha256:" + self._hash.hexdigest()
            if self._digest.startswith("sha256:") and actual != self._digest:
                raise InventoryError(
                    f"layer digest mismatch: expected {self._digest}, got {actual}",
                    where=self._where,
                )
        finally:
            self._response.close()
            super().close()


class RegistrySource(InventorySource):
    """`docker://REF`: manifest and layer blobs from a registry (OCI distribution API).

    Manifests, blobs, auth and retries come from `audit.registry.client.RegistryClient`;
    layer blobs are streamed (`open_blob`: a multi-GB layer is never held whole) and
    their sha256 is verified here.
    """

    def __init__(self, spec: str, platform: str | None = None, client: Any = None) -> None:
        from audit.registry.reference import ReferenceError, parse_reference

        self.spec = redact_url(spec)
        self.platform = platform
        try:
            self.ref = parse_reference(spec)
        except ReferenceError as exc:
            raise InventoryError(str(exc), where=self.spec) from None
        self._client = client

    def read(self) -> list[Inventory]:
        import json

        from audit.registry.client import INDEX_TYPES, RegistryClient

        client = self._client or RegistryClient()
        ref = self.ref
        host, repo = ref.api_host, ref.repository
        body, media_type, _ = client.get_manifest(host, repo, ref.digest or ref.tag or "latest")
        manifest = _json(body, self.spec)
        if media_type in INDEX_TYPES or "manifests" in manifest:
            descriptor = pick_descriptor(manifest.get("manifests") or [], self.platform)
            if descriptor is None:
                wanted = "/".join(oci_platform(self.platform) or ("linux", "amd64"))
                raise InventoryError(f"image has no manifest for {wanted}", where=self.spec)
            body, _, _ = client.get_manifest(host, repo, str(descriptor["digest"]))
            manifest = _json(body, self.spec)
        config_digest = (manifest.get("config") or {}).get("digest")
        config = json.loads(client.get_blob(host, repo, config_digest)) if config_digest else None
        layers = [str(layer.get("digest", "")) for layer in manifest.get("layers") or ()]

        def opener(digest: str) -> Any:
            return lambda: self._open_blob(client, digest)

        return [read_layers(self.spec, [(d, opener(d)) for d in layers], config)]

    def _open_blob(self, client: Any, digest: str) -> BinaryIO:
        from audit.registry.client import DeniedError, NotFoundError

        host, repo = self.ref.api_host, self.ref.repository
        where = f"{self.spec}@{digest}"
        try:
            response = client.open_blob(host, repo, digest)
        except NotFoundError:
            raise InventoryError("layer blob not found", where=where) from None
        except DeniedError:
            raise
        return _VerifyingStream(response, digest, where)  # type: ignore[return-value]


def _json(body: bytes, where: str) -> dict[str, Any]:
    import json

    try:
        document = json.loads(body)
    except ValueError:
        raise InventoryError("registry returned invalid JSON", where=where) from None
    if not isinstance(document, dict):
        raise InventoryError("registry returned unexpected JSON", where=where)
    return document
