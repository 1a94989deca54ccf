"""Test support: a throw-away local registry and tiny synthetic images pushed over HTTP.

Used by the test-suite and by bench/; never by the CLI. Debian's `docker-registry` (the
CNCF distribution registry) listens on 127.0.0.1, optionally behind htpasswd; images are a
config blob plus one small layer, pushed through the distribution API, so no Docker daemon
is needed. Multi-arch images are OCI indexes over one such image per platform.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import socket
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from audit.core.errors import InfrastructureError
from audit.registry.client import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, RegistryClient
from audit.registry.credentials import Credential

REGISTRY_BINARY = "docker-registry"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_CONFIG_TYPE = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def registry_available() -> bool:
    return shutil.which(REGISTRY_BINARY) is not None


def make_htpasswd(path: Path, user: str, password: str) -> None:
    """A bcrypt htpasswd line (the registry accepts bcrypt only), via apache2-utils."""
    done = subprocess.run(
        ["htpasswd", "-Bbn", user, password], capture_output=True, text=True, check=True
    )
    path.write_text(done.stdout.strip() + "\n", encoding="utf-8")


@dataclass
class LocalRegistry:
    """`docker-registry serve` on 127.0.0.1:<free port>, storage under `root`."""

    root: Path
    htpasswd: Path | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def config(self) -> str:
        lines = [
            "version: 0.1",
            "log:",
            "  level: error",
            "  accesslog:",
            "    disabled: true",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {self.root / 'data'}",
            "  delete:",
            "    enabled: true",
            "http:",
            f"  addr: {self.host}",
        ]
        if self.htpasswd is not None:
            lines += [
                "auth:",
                "  htpasswd:",
                "    realm: repro-audit",
                f"    path: {self.htpasswd}",
            ]
        return "\n".join(lines) + "\n"

    def delete_manifest(self, repository: str, digest: str) -> int:
        """Registry API DELETE of a manifest by digest (deletes are enabled); the status."""
        import urllib.request

        request = urllib.request.Request(
            f"{self.url}/v2/{repository}/manifests/{digest}", method="DELETE"
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status

    def start(self, wait: float = 15.0) -> LocalRegistry:
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "config.yml"
        config.write_text(self.config(), encoding="utf-8")
        log = (self.root / "registry.log").open("wb")
        self.process = subprocess.Popen(
            [REGISTRY_BINARY, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
        probe = RegistryClient(retries=0, timeout=1.0)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"registry exited: {(self.root / 'registry.log').read_text()}")
            try:
                if probe.ping(self.host) in (200, 401):
                    return self
            except (OSError, InfrastructureError):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("registry did not come up")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class StaticCredentials:
    """A credentials source with fixed answers (tests, bench)."""

    def __init__(self, by_host: dict[str, Credential] | None = None):
        self.by_host = by_host or {}

    def lookup(self, host: str) -> Credential | None:
        return self.by_host.get(host)


def tiny_layer(seed: str) -> bytes:
    """A deterministic gzip'd tar holding one file whose content is `seed`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        data = seed.encode()
        info = tarfile.TarInfo("seed.txt")
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        archive.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), mtime=0)


def push_image(
    client: RegistryClient,
    host: str,
    repository: str,
    tag: str | None,
    *,
    os: str = "linux",
    architecture: str = "amd64",
    variant: str | None = None,
    seed: str = "",
    docker_media_types: bool = False,
) -> str:
    """Push a single-platform image; return its manifest digest."""
    layer = tiny_layer(f"{repository}:{tag}:{os}/{architecture}/{variant}:{seed}")
    diff_id = "sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()
    config: dict = {
        "architecture": architecture,
        "os": os,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "config": {},
    }
    if variant:
        config["variant"] = variant
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_digest = client.put_blob(host, repository, config_bytes)
    layer_digest = client.put_blob(host, repository, layer)
    media, config_type, layer_type = (
        (DOCKER_MANIFEST, DOCKER_CONFIG_TYPE, DOCKER_LAYER)
        if docker_media_types
        else (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER)
    )
    manifest = {
        "schemaVersion": 2,
        "mediaType": media,
        "config": {"mediaType": config_type, "digest": config_digest, "size": len(config_bytes)},
        "layers": [{"mediaType": layer_type, "digest": layer_digest, "size": len(layer)}],
    }
    body = json.dumps(manifest, sort_keys=True).encode()
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    return client.put_manifest(host, repository, tag or digest, body, media)


def push_index(
    client: RegistryClient,
    host: str,
    repository: str,
    tag: str,
    platforms: list[tuple[str, str, str | None]],
    seed: str = "",
) -> tuple[str, dict[tuple[str, str, str | None], str]]:
    """Push one image per platform and an OCI index over them; (index digest, per platform)."""
    entries = []
    digests: dict[tuple[str, str, str | None], str] = {}
    for os_name, arch, variant in platforms:
        digest = push_image(
            client,
            host,
            repository,
            None,
            os=os_name,
            architecture=arch,
            variant=variant,
            seed=seed,
        )
        digests[(os_name, arch, variant)] = digest
        manifest, _, _ = client.get_manifest(host, repository, digest)
        platform = {"os": os_name, "architecture": arch}
        if variant:
            platform["variant"] = variant
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": digest,
                "size": len(manifest),
                "platform": platform,
            }
        )
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    body = json.dumps(index, sort_keys=True).encode()
    return client.put_manifest(host, repository, tag, body, OCI_INDEX), digests
