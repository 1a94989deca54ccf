"""The local engine's own storage, read in place: an image's config and a layer's files.

dockerd 20.10's API offers an image's raw config and its layers only as one `docker save`
stream of the whole image: 3 GB of CUDA base streamed to learn what a 20 MB `RUN` step
added. A local engine with the overlay2 driver keeps both on disk under its root
(`docker info`: DockerRootDir), in a layout unchanged since Docker 1.10:

- `image/overlay2/imagedb/content/sha256/<image id>`: the config bytes (their sha256 is
  the image id, so what is read is checked against the id);
- `image/overlay2/layerdb/sha256/<chain id>/{diff,cache-id}`: each layer by chain id,
  with its diff_id (checked against the one the config names) and its overlay2 folder,
  `overlay2/<cache-id>/diff`, whose files are the layer's (whiteouts as 0:0 character
  devices, opaque folders marked by an xattr).

So a layer is read as a folder walk that opens only the metadata files, and nothing
crosses the engine's socket. It is used only where it is that engine's storage and
readable (this machine's socket, overlay2, usually root); elsewhere (a remote or rootless
engine, Docker Desktop's VM, another driver) `open_store` gives None and the caller falls
back to `docker save`, saying what that costs.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any

from audit.inventory.image import INTERESTING_ENDINGS, MAX_METADATA, LayerIndex
from audit.inventory.interface import InventoryError
from audit.inventory.metadata import classify, parse_member

#: Opaque-folder markers of overlayfs (kernel's trusted namespace; `userxattr` mounts).
_OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")


def chain_ids(diff_ids: list[str]) -> list[str]:
    """The chain id of each layer: the layer and everything below it (OCI image spec)."""
    out: list[str] = []
    for diff_id in diff_ids:
        if not out:
            out.append(diff_id)
        else:
            text = f"{out[-1]} {diff_id}".encode()
            out.append("sha256:" + hashlib.sha256(text).hexdigest())
    return out


class LocalStore:
    """An overlay2 engine root that this process can read."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.images = root / "image" / "overlay2"

    def config(self, image_id: str) -> bytes | None:
        """The config bytes of `image_id`, when present and hashing to the id."""
        hexdigest = image_id.partition(":")[2]
        try:
            data = (self.images / "imagedb" / "content" / "sha256" / hexdigest).read_bytes()
        except (OSError, ValueError):
            return None
        return data if hashlib.sha256(data).hexdigest() == hexdigest else None

    def layer_dir(self, chain_id: str, diff_id: str) -> Path | None:
        """The folder holding the layer's files, when the store's record names `diff_id`."""
        entry = self.images / "layerdb" / "sha256" / chain_id.partition(":")[2]
        try:
            if (entry / "diff").read_text(encoding="ascii").strip() != diff_id:
                return None
            cache_id = (entry / "cache-id").read_text(encoding="ascii").strip()
        except (OSError, ValueError):
            return None
        if not cache_id or "/" in cache_id or cache_id.startswith("."):
            return None
        folder = self.root / "overlay2" / cache_id / "diff"
        return folder if os.access(folder, os.R_OK | os.X_OK) else None


def open_store(client: Any) -> LocalStore | None:
    """The engine's storage when it is this machine's overlay2 root and readable, else None."""
    if os.environ.get("REPRO_AUDIT_ENGINE_STORE", "1") == "0":
        return None  # documented opt-out: always read through the engine's API
    if not str(client.endpoint.host).startswith("unix://"):
        return None
    try:
        info = client.info()
    except Exception:  # an engine that cannot say: the API path still works
        return None
    if info.get("Driver") != "overlay2" or not info.get("DockerRootDir"):
        return None
    root = Path(str(info["DockerRootDir"]))
    images = root / "image" / "overlay2"
    if not os.access(images / "imagedb", os.R_OK | os.X_OK):
        return None
    if not os.access(images / "layerdb", os.R_OK | os.X_OK):
        return None
    return LocalStore(root)


def _opaque(path: str) -> bool:
    for name in _OPAQUE_XATTRS:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def scan_layer_dir(folder: Path, where: str, root: str = "") -> LayerIndex:
    """The index of a layer stored as an overlay folder: what `scan_layer` gives its tar
    (whose members are below `root`, e.g. a staged environment's `opt/conda/envs/x`).

    Only metadata files are opened; every other entry costs one directory read.
    """
    index = LayerIndex()
    pending = [(root.strip("/"), str(folder))]
    while pending:
        rel, path = pending.pop()
        try:
            entries = list(os.scandir(path))
        except OSError as exc:
            raise InventoryError(f"cannot read layer folder: {exc.strerror}", where=where) from None
        for entry in entries:
            name = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_dir(follow_symlinks=False):
                if _opaque(entry.path):
                    index.opaque.add(name)
                pending.append((name, entry.path))
            elif entry.is_file(follow_symlinks=False):
                if name.endswith(INTERESTING_ENDINGS) or "/status.d/" in name:
                    _read_metadata(index, entry, name, where)
            elif not entry.is_symlink():
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                    index.whiteouts.add(name)
    return index


def _read_metadata(index: LayerIndex, entry: os.DirEntry[str], name: str, where: str) -> None:
    kind = classify(name)
    if kind is None:
        return
    size = entry.stat(follow_symlinks=False).st_size
    if size > MAX_METADATA:
        raise InventoryError(f"metadata file {name} is {size} bytes: too large", where=where)
    try:
        with open(entry.path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise InventoryError(f"cannot read {name}: {exc.strerror}", where=where) from None
    index.files[name] = (kind, parse_member(kind, name, data))
