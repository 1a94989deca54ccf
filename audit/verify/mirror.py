"""A mirror of everything a build record needs, so `verify` still works after upstream deletes.

Layout of `DIR` (plain files, usable by other tools too):

```
DIR/mirror.json                     what is in it: sha256 → path, image digest → ref
DIR/conda/<subdir>/<file>           every locked conda artifact, as in its channel
DIR/conda/<subdir>/repodata.json    exactly the locked records: DIR/conda is a channel
DIR/pip/<file>                      every locked wheel
DIR/oci/oci-layout, index.json      an OCI image layout holding every base image:
DIR/oci/blobs/sha256/<hex>          index (if any), manifest, config and layers by digest
```

Everything is content-addressed and verified when written and when read: a mirror is a
copy to fall back on, never a new trust anchor. Writing it goes through the same verified
fetch as `build` (the artifact cache) and the registry client (no Docker needed); a
multi-platform base keeps its index plus the manifest of the recorded platform only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit.artifacts import Artifact
from audit.core.errors import InputError
from audit.core.fs import atomic_write_text, sha256_file
from audit.core.jsonout import dumps
from audit.dockerarchive import archive_chunks

MIRROR_INDEX = "mirror.json"
MIRROR_KIND = "repro-audit/mirror"
OCI_LAYOUT_VERSION = "1.0.0"
REF_ANNOTATION = "org.opencontainers.image.ref.name"
CHUNK = 1 << 20


def link_or_copy(source: Path, target: Path) -> None:
    """Hard link when on one file system (no second copy), else copy; atomic either way."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".mirror-", dir=target.parent)
    os.close(fd)
    os.unlink(tmp)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, target)


@dataclass
class Mirror:
    """A mirror directory: lookups by sha256 / digest, and the writers that fill it."""

    root: Path
    artifacts: dict[str, str] = field(default_factory=dict)  # sha256 → relative path
    images: dict[str, str] = field(default_factory=dict)  # digest → canonical reference

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, root: Path, *, create: bool = False) -> Mirror:
        """Read `root/mirror.json`; a missing mirror is bad input unless `create`."""
        root = Path(root)
        index = root / MIRROR_INDEX
        if not index.is_file():
            if create:
                return cls(root)
            raise InputError(
                "not a repro-audit mirror (no mirror.json)",
                where=str(root),
                hint="create it with `repro-audit verify RECORD --mirror DIR --write-mirror`",
            )
        try:
            document = json.loads(index.read_text(encoding="utf-8"))
            return cls(root, dict(document["artifacts"]), dict(document["images"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"unreadable mirror index: {exc}", where=str(index)) from None

    def save(self) -> None:
        document = {
            "kind": MIRROR_KIND,
            "artifacts": dict(sorted(self.artifacts.items())),
            "images": dict(sorted(self.images.items())),
        }
        atomic_write_text(self.root / MIRROR_INDEX, dumps(document))

    # ------------------------------------------------------------------ artifacts

    def artifact_path(self, artifact: Artifact) -> Path:
        """Where the artifact lives (or would live) in the mirror."""
        known = self.artifacts.get(artifact.sha256.lower())
        if known:
            return self.root / known
        return self.root / self.artifact_rel(artifact)

    @staticmethod
    def artifact_rel(artifact: Artifact) -> str:
        if artifact.file_name.endswith(".whl"):
            return f"pip/{artifact.file_name}"
        return f"conda/{artifact.platform or 'noarch'}/{artifact.file_name}"

    def has_artifact(self, artifact: Artifact) -> bool:
        return self.artifact_path(artifact).is_file()

    def artifact_digest(self, artifact: Artifact) -> str | None:
        """sha256 of the mirrored copy, or None when the mirror has none."""
        path = self.artifact_path(artifact)
        return sha256_file(path)[0] if path.is_file() else None

    def add_artifact(self, artifact: Artifact, verified: Path) -> None:
        """Copy an already verified file in (the caller hashed it: `audit.artifacts`)."""
        rel = self.artifact_rel(artifact)
        target = self.root / rel
        if not target.is_file() or sha256_file(target)[0] != artifact.sha256.lower():
            link_or_copy(verified, target)
        self.artifacts[artifact.sha256.lower()] = rel

    def write_repodata(self, records: Iterable[dict[str, Any]]) -> None:
        """Merge the locked records into each subdir's repodata.json (and keep noarch/)."""
        by_subdir: dict[str, dict[str, dict[str, Any]]] = {"noarch": {}}
        for record in records:
            by_subdir.setdefault(str(record.get("subdir") or "noarch"), {})[record["fn"]] = record
        for subdir, entries in by_subdir.items():
            path = self.root / "conda" / subdir / "repodata.json"
            document: dict[str, Any] = {"info": {"subdir": subdir}, "repodata_version": 1}
            document["packages"], document["packages.conda"] = {}, {}
            if path.is_file():
                try:
                    old = json.loads(path.read_text(encoding="utf-8"))
                    document["packages"].update(old.get("packages") or {})
                    document["packages.conda"].update(old.get("packages.conda") or {})
                except (OSError, ValueError):
                    pass
            for file_name, record in entries.items():
                body = {k: v for k, v in record.items() if k not in ("fn", "url", "channel")}
                key = "packages.conda" if file_name.endswith(".conda") else "packages"
                document[key][file_name] = body
            for key in ("packages", "packages.conda"):
                document[key] = dict(sorted(document[key].items()))
            atomic_write_text(path, dumps(document, indent=1))

    def seed_cache(self, artifacts: Iterable[Artifact], cache_dir: Path) -> int:
        """Put every mirrored artifact into a fetch cache (verified there before use)."""
        from audit.artifacts import cache_path

        seeded = 0
        for artifact in artifacts:
            source = self.artifact_path(artifact)
            target = cache_path(cache_dir, artifact)
            if source.is_file() and not target.is_file():
                link_or_copy(source, target)
                seeded += 1
        return seeded

    # ------------------------------------------------------------------ OCI layout

    @property
    def oci(self) -> Path:
        return self.root / "oci"

    def blob_path(self, digest: str) -> Path:
        algorithm, _, hexdigest = digest.partition(":")
        if algorithm != "sha256" or len(hexdigest) != 64:
            raise InputError(f"unsupported digest {digest!r}")
        return self.oci / "blobs" / "sha256" / hexdigest

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def read_blob(self, digest: str) -> bytes:
        """A blob's bytes, checked against its digest (InputError when absent or corrupt)."""
        path = self.blob_path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise InputError(f"{digest} is not in the mirror", where=str(self.oci)) from None
        got = "sha256:" + hashlib.sha256(data).hexdigest()
        if got != digest:
            raise InputError(f"mirrored blob {digest} is corrupt (hashes to {got})")
        return data

    def put_blob(self, data: bytes, digest: str | None = None) -> str:
        got = "sha256:" + hashlib.sha256(data).hexdigest()
        if digest is not None and got != digest:
            raise InputError(f"blob {digest} hashes to {got}: not written to the mirror")
        path = self.blob_path(got)
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".blob-", dir=path.parent)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        return got

    def add_image(self, client: Any, ref: Any, platform: str) -> list[str]:
        """Copy `ref` (pinned ImageRef) from its registry; the digests written."""
        from audit.registry.client import INDEX_TYPES

        written: list[str] = []
        host, repository = ref.api_host, ref.repository
        body, media_type, digest = client.get_manifest(host, repository, ref.digest)
        written.append(self.put_blob(body, digest))
        manifests = [(body, media_type, digest)]
        if media_type in INDEX_TYPES:
            child = select_platform(json.loads(body), platform)
            if child is None:
                raise InputError(f"{ref}: its index has no {platform} image")
            manifests = [client.get_manifest(host, repository, child)]
            written.append(self.put_blob(manifests[0][0], manifests[0][2]))
        for manifest_body, _, _ in manifests:
            document = json.loads(manifest_body)
            for descriptor in [document.get("config") or {}, *(document.get("layers") or [])]:
                blob = descriptor.get("digest")
                if not blob:
                    continue
                if self.has_blob(blob):
                    try:
                        self.read_blob(blob)
                        continue
                    except InputError:
                        self.blob_path(blob).unlink()
                written.append(self.put_blob(client.get_blob(host, repository, blob), blob))
        self.images[digest] = ref.canonical()
        self._write_index(digest, media_type, len(body), ref.canonical())
        return written

    def _write_index(self, digest: str, media_type: str, size: int, name: str) -> None:
        from audit.registry.client import OCI_INDEX

        atomic_write_text(
            self.oci / "oci-layout", json.dumps({"imageLayoutVersion": OCI_LAYOUT_VERSION}) + "\n"
        )
        path = self.oci / "index.json"
        document: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
        if path.is_file():
            with contextlib.suppress(OSError, ValueError):
                document = json.loads(path.read_text(encoding="utf-8"))
        entries = [e for e in document.get("manifests") or [] if e.get("digest") != digest]
        entries.append(
            {
                "mediaType": media_type,
                "digest": digest,
                "size": size,
                "annotations": {REF_ANNOTATION: name},
            }
        )
        document["manifests"] = sorted(entries, key=lambda e: str(e.get("digest")))
        atomic_write_text(path, dumps(document))

    def image_blobs(self, digest: str, platform: str) -> tuple[bytes, str, list[dict[str, Any]]]:
        """(config bytes, config digest, layer descriptors) of `digest` for `platform`."""
        from audit.registry.client import INDEX_TYPES

        document = json.loads(self.read_blob(digest))
        media_type = document.get("mediaType") or ""
        if media_type in INDEX_TYPES or "manifests" in document:
            child = select_platform(document, platform)
            if child is None:
                raise InputError(f"mirrored index {digest} has no {platform} image")
            document = json.loads(self.read_blob(child))
        config_digest = (document.get("config") or {}).get("digest")
        if not config_digest:
            raise InputError(f"mirrored manifest of {digest} has no config")
        layers = list(document.get("layers") or [])
        return self.read_blob(config_digest), config_digest, layers

    def image_missing(self, digest: str, platform: str) -> str | None:
        """Why the mirror cannot supply `digest` (None when every blob is there and sound)."""
        try:
            _, _, layers = self.image_blobs(digest, platform)
            for layer in layers:
                path = self.blob_path(layer["digest"])
                if not path.is_file():
                    return f"layer {layer['digest']} is not in the mirror"
                if "sha256:" + sha256_file(path)[0] != layer["digest"]:
                    return f"mirrored layer {layer['digest']} is corrupt"
        except (InputError, ValueError, KeyError) as exc:
            return str(exc)
        return None

    def docker_archive(self, digest: str, platform: str, out: Any) -> str:
        """Write `digest` as a docker-archive (legacy `docker save` layout); the config digest.

        dockerd 20.10 cannot load an OCI layout, but its legacy loader takes gzip'd layer
        files as they are (it decompresses and checks each diff_id itself).
        """
        config, config_digest, layers = self.image_blobs(digest, platform)
        paths: list[Path | None] = [self.blob_path(layer["digest"]) for layer in layers]
        for chunk in archive_chunks(config, None, paths):
            out.write(chunk)
        return config_digest


def select_platform(index: dict[str, Any], platform: str) -> str | None:
    """The manifest digest of `linux/amd64`-style `platform` in an image index."""
    os_name, _, rest = platform.partition("/")
    arch, _, variant = rest.partition("/")
    for entry in index.get("manifests") or []:
        p = entry.get("platform") or {}
        same = p.get("os") == os_name and p.get("architecture") == arch
        if same and (not variant or p.get("variant") in (None, variant)):
            return str(entry.get("digest"))
    return None
