"""Test support for `build`: a busybox base image made offline, pushed to a local registry.

Docker Hub is not reachable from CI, so tests and bench/ make their own base image: a
rootfs tar holding Debian's static busybox (`busybox-static`) and a few applet symlinks,
`docker import`ed through the SDK and pushed to a `LocalRegistry`. Never used by the CLI.
"""

from __future__ import annotations

import io
import shutil
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")


@dataclass
class BaseImage:
    """A base image a test pushed to a local registry: `pinned` is how a FROM names it."""

    host: str
    repository: str
    tag: str
    digest: str

    @property
    def tagged(self) -> str:
        return f"{self.host}/{self.repository}:{self.tag}"

    @property
    def pinned(self) -> str:
        return f"{self.tagged}@{self.digest}"


APPLETS = ("sh", "cat", "ls", "env", "echo", "test", "true")


def busybox_path() -> str | None:
    for candidate in BUSYBOX_CANDIDATES:
        if shutil.which(candidate):
            return candidate
    return None


def busybox_rootfs(busybox: str, extra: Mapping[str, bytes] | None = None) -> bytes:
    """A deterministic rootfs tar: /bin/busybox, applet symlinks, /tmp, /etc, and `extra`
    files (path → bytes, e.g. a `var/lib/dpkg/status`) with their directories."""
    buffer = io.BytesIO()
    extra = dict(sorted((extra or {}).items()))
    parents = sorted({str(p) for name in extra for p in Path(name).parents if str(p) != "."})
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for directory in ("bin", "etc", "tmp", *(p for p in parents if p not in ("etc", "tmp"))):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
            archive.addfile(info)
        for name, data in extra.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
        with open(busybox, "rb") as handle:
            data = handle.read()
        info = tarfile.TarInfo("bin/busybox")
        info.size, info.mode = len(data), 0o755
        archive.addfile(info, io.BytesIO(data))
        for applet in APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname, info.mode = tarfile.SYMTYPE, "busybox", 0o777
            archive.addfile(info)
    return buffer.getvalue()


def import_busybox(
    client: Any, repository: str, tag: str, busybox: str, extra: Mapping[str, bytes] | None = None
) -> str:
    """`docker import` the busybox rootfs (plus `extra` files) as `repository:tag`; the id.

    The image config gets `PATH` so `docker run IMAGE sh -c …` finds the applets.
    """
    result = client.api.import_image_from_data(
        busybox_rootfs(busybox, extra),
        repository=repository,
        tag=tag,
        changes=["ENV PATH=/bin", 'CMD ["/bin/sh"]'],
    )
    del result
    return client.api.inspect_image(f"{repository}:{tag}")["Id"]


def push_tag(client: Any, repository: str, tag: str) -> str:
    """Push `repository:tag` through the engine; the manifest digest."""
    digest = None
    for chunk in client.api.push(repository, tag=tag, stream=True, decode=True):
        if "error" in chunk:
            raise RuntimeError(f"push failed: {chunk['error']}")
        aux = chunk.get("aux")
        if isinstance(aux, dict) and aux.get("Digest"):
            digest = aux["Digest"]
    if digest is None:
        raise RuntimeError("push returned no digest")
    return digest


def make_wheel(
    directory: Path,
    name: str = "tinywheel",
    version: str = "1.0",
    extra: dict[str, bytes] | None = None,
) -> Path:
    """A pure-Python wheel with a module, a console script and `extra` files (PEP 427)."""
    import base64
    import hashlib
    import zipfile

    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"VALUE = 42\n",
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
        ),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
        f"{dist_info}/entry_points.txt": f"[console_scripts]\n{name} = {name}:main\n".encode(),
    }
    files = {**{f"{name}/{k}": v for k, v in sorted((extra or {}).items())}, **files}
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as archive:
        for path, data in files.items():
            archive.writestr(zipfile.ZipInfo(path, (1980, 1, 1, 0, 0, 0)), data)
    return wheel


def add_pip_entry(lockfile: Path, wheel: Path, url: str, platform: str = "linux-64") -> None:
    """Append a `manager: pip` entry (url + sha256), as `repro-audit lock` writes them."""
    import hashlib

    import yaml

    document = yaml.safe_load(lockfile.read_text(encoding="utf-8"))
    name, version = wheel.name.split("-")[:2]
    document["package"].append(
        {
            "name": name,
            "version": version,
            "manager": "pip",
            "platform": platform,
            "dependencies": {},
            "url": url,
            "hash": {"sha256": hashlib.sha256(wheel.read_bytes()).hexdigest()},
            "category": "main",
            "optional": False,
        }
    )
    lockfile.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def remove_env_images(client: Any) -> None:
    """Untag the `repro-audit-env:<hex>` images builds loaded (kept by `build` as a cache)."""
    import contextlib

    for image in client.images.list(name="repro-audit-env"):
        for tag in image.tags:
            with contextlib.suppress(Exception):
                client.api.remove_image(tag)
