"""Build `docker save`-style image archives in memory (legacy and OCI layouts).

Tests describe layers as `{path: bytes | None}` (None = directory); whiteouts are plain
entries named `.wh.<name>` / `.wh..wh..opq`, exactly as in real layers.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence

Files = Mapping[str, "bytes | None"]


def conda_meta(name: str, version: str, build: str = "0", subdir: str = "linux-64") -> bytes:
    """A conda-meta JSON record as conda/rattler write it (fields we read, plus noise)."""
    return json.dumps(
        {
            "name": name,
            "version": version,
            "build": build,
            "build_number": 0,
            "channel": f"https://conda.anaconda.org/conda-forge/{subdir}",
            "subdir": subdir,
            "url": f"https://conda.anaconda.org/conda-forge/{subdir}/{name}-{version}-{build}.conda",
            "sha256": hashlib.sha256(f"{name}{version}".encode()).hexdigest(),
            "md5": hashlib.md5(f"{name}{version}".encode()).hexdigest(),
            "depends": ["python >=3.8"] if name != "python" else [],
            "files": [f"lib/{name}/file{i}.py" for i in range(20)],
        }
    ).encode()


def dist_metadata(name: str, version: str) -> bytes:
    return (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: x\n\n"
        "Long description: Name: not-this\n"
    ).encode()


DPKG_STATUS = b"""Package: base-files
Status: install ok installed
Priority: required
Architecture: amd64
Version: 12.4+deb12u5
Description: Debian base system miscellaneous files
 This package contains the basic filesystem hierarchy.

Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9+deb12u4
Depends: libgcc-s1

Package: removed-pkg
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0
"""

APK_INSTALLED = b"""C:Q1abc=
P:musl
V:1.2.4-r2
A:x86_64
D:

C:Q1def=
P:busybox
V:1.36.1-r15
A:x86_64
D:so:libc.musl-x86_64.so.1
"""


def layer_tar(files: Files, compress: str | None = None, raw_names: Sequence[str] = ()) -> bytes:
    """A layer tar of `files`; `raw_names` are added verbatim (e.g. `../../etc/passwd`)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.mtime = 0
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.size = len(data)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
        for name in raw_names:
            data = b"root:x:0:0:evil\n"
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    data = buffer.getvalue()
    if compress == "gzip":
        return gzip.compress(data, mtime=0)
    if compress == "zstd":
        import zstandard

        return zstandard.ZstdCompressor().compress(data)
    return data


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def image_config(
    layers: Sequence[bytes],
    arch: str = "amd64",
    history: Sequence[dict] | None = None,
    labels: Mapping[str, str] | None = None,
) -> bytes:
    diff_ids = []
    for layer in layers:
        # a real diff_id hashes the uncompressed tar; any stable digest does for tests
        raw = layer
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    return json.dumps(
        {
            "architecture": arch,
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "config": {"Labels": dict(labels)} if labels else {},
            **({"history": list(history)} if history is not None else {}),
        },
        sort_keys=True,
    ).encode()


def docker_save(
    layers: Sequence[bytes],
    tag: str = "test/app:1",
    arch: str = "amd64",
    symlink_dup: bool = False,
    history: Sequence[dict] | None = None,
    labels: Mapping[str, str] | None = None,
) -> bytes:
    """Legacy `docker save` layout: `<id>/layer.tar`s first, config, manifest.json last."""
    buffer = io.BytesIO()
    config = image_config(layers, arch, history, labels)
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        names = []
        seen: dict[bytes, str] = {}
        for index, layer in enumerate(layers):
            layer_id = hashlib.sha256(layer + bytes([index])).hexdigest()
            name = f"{layer_id}/layer.tar"
            info = tarfile.TarInfo(layer_id)
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
            _add(tar, f"{layer_id}/VERSION", b"1.0")
            if symlink_dup and layer in seen:
                link = tarfile.TarInfo(name)
                link.type = tarfile.SYMTYPE
                link.linkname = f"../{seen[layer]}"
                tar.addfile(link)
            else:
                _add(tar, name, layer)
                seen[layer] = name
            names.append(name)
        _add(tar, config_name, config)
        manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": names}]
        _add(tar, "repositories", b"{}")
        _add(tar, "manifest.json", json.dumps(manifest).encode())
    return buffer.getvalue()


def oci_archive(layers: Sequence[bytes], arch: str = "amd64", nested_index: bool = True) -> bytes:
    """OCI image layout in a tar: blobs (layers, config, manifest, index), index.json last."""
    buffer = io.BytesIO()
    config = image_config(layers, arch)

    def digest(data: bytes) -> str:
        return "sha256:" + hashlib.sha256(data).hexdigest()

    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": digest(layer),
                    "size": len(layer),
                }
                for layer in layers
            ],
        }
    ).encode()
    descriptor = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest(manifest),
        "size": len(manifest),
        "platform": {"os": "linux", "architecture": arch},
    }
    inner = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [descriptor],
        }
    ).encode()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        blobs = [*layers, config, manifest] + ([inner] if nested_index else [])
        for blob in blobs:
            _add(tar, "blobs/sha256/" + hashlib.sha256(blob).hexdigest(), blob)
        if nested_index:
            top = {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.index.v1+json",
                        "digest": digest(inner),
                        "size": len(inner),
                    }
                ],
            }
            _add(tar, "index.json", json.dumps(top).encode())
        else:
            _add(tar, "index.json", inner)
    return buffer.getvalue()


def base_layers(compress: str | None = None) -> list[bytes]:
    """Three layers: a base with dpkg + conda + pip, then deletions, then additions."""
    site = "opt/conda/lib/python3.11/site-packages"
    first = layer_tar(
        {
            "var/lib/dpkg/status": DPKG_STATUS,
            "opt/conda/conda-meta/python-3.11.7-0.json": conda_meta("python", "3.11.7"),
            "opt/conda/conda-meta/numpy-1.26.4-py311_0.json": conda_meta("numpy", "1.26.4"),
            "opt/conda/conda-meta/tzdata-2024a-0.json": conda_meta(
                "tzdata", "2024a", "0", "noarch"
            ),
            "opt/conda/conda-meta/history": b"==> 2024 <==\n",
            f"{site}/numpy-1.26.4.dist-info/METADATA": dist_metadata("numpy", "1.26.4"),
            f"{site}/numpy-1.26.4.dist-info/INSTALLER": b"conda\n",
            f"{site}/Requests_Toolbelt-1.0.0.dist-info/METADATA": dist_metadata(
                "Requests_Toolbelt", "1.0.0"
            ),
            f"{site}/Requests_Toolbelt-1.0.0.dist-info/INSTALLER": b"pip\n",
            "opt/other/conda-meta/zlib-1.3-0.json": conda_meta("zlib", "1.3"),
            "usr/bin/busybox": b"\x7fELF" + b"\0" * 100,
        },
        compress,
    )
    second = layer_tar(
        {
            "opt/conda/conda-meta/.wh.numpy-1.26.4-py311_0.json": b"",
            f"{site}/.wh.numpy-1.26.4.dist-info": b"",
            "opt/other/.wh..wh..opq": b"",
            "opt/other/readme.txt": b"fresh",
        },
        compress,
        raw_names=("../../etc/passwd", "/etc/shadow", "a/../../../escape"),
    )
    third = layer_tar(
        {
            "opt/conda/conda-meta/numpy-2.0.0-py311_0.json": conda_meta("numpy", "2.0.0"),
            f"{site}/attrs-23.2.0.dist-info/METADATA": dist_metadata("attrs", "23.2.0"),
            f"{site}/attrs-23.2.0.dist-info/INSTALLER": b"uv\n",
        },
        compress,
    )
    return [first, second, third]
