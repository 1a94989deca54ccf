"""Inventory of a container image, read as a stream: no container, no extraction.

A `docker save` archive is read front to back once. dockerd 20.10 writes the legacy
layout (`<id>/layer.tar` per layer, then `<config>.json`, then `manifest.json` with the
layer order); newer engines and OCI tools write `blobs/sha256/<hex>` + `index.json`.
Either way the layer order is known only at the end, so each layer is scanned as it
streams by into a `LayerIndex` — the parsed metadata files it holds (conda-meta,
dist-info METADATA/INSTALLER, dpkg status, apk installed) plus its whiteouts — and the
layers are applied in order once the manifest arrives. Only that metadata stays in
memory, so memory does not grow with the image size; nothing touches the disk.
"""

from __future__ import annotations

import io
import json
import lzma
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from audit.inventory.interface import Inventory, InventoryError, Package, dedupe
from audit.inventory.metadata import (
    CONDA_META,
    DIST_METADATA,
    SYSTEM,
    assemble,
    classify,
    parse_member,
)
from audit.inventory.tarstream import (
    BUFFER,
    GZIP_MAGIC,
    HARDLINK,
    REGULAR,
    XZ_MAGIC,
    ZSTD_MAGIC,
    TarStream,
    open_decompressed,
)

#: Largest metadata file read into memory (a dpkg status of a big image is a few MB).
MAX_METADATA = 64 << 20
#: Largest JSON document (manifest, config, index) kept from an archive.
MAX_JSON = 16 << 20

#: Suffixes every metadata path has (`classify` decides exactly).
INTERESTING_ENDINGS = (
    ".json", "/METADATA", "/INSTALLER", "dpkg/status", "apk/db/installed", "rpmdb.sqlite"
)

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"

#: OCI/Docker (os, architecture, variant) → conda subdir, so images compare with locks.
_SUBDIRS = {
    ("linux", "amd64"): "linux-64",
    ("linux", "386"): "linux-32",
    ("linux", "arm64"): "linux-aarch64",
    ("linux", "ppc64le"): "linux-ppc64le",
    ("linux", "s390x"): "linux-s390x",
    ("linux", "riscv64"): "linux-riscv64",
    ("linux", "arm"): "linux-armv7l",
    ("windows", "amd64"): "win-64",
    ("windows", "arm64"): "win-arm64",
}
_PLATFORMS = {v: k for k, v in _SUBDIRS.items()}


def conda_subdir(os_name: str, arch: str) -> str:
    """`linux/amd64` → `linux-64`; unknown pairs stay `os/arch`."""
    return _SUBDIRS.get((os_name, arch), f"{os_name}/{arch}" if os_name else "")


def oci_platform(platform: str | None) -> tuple[str, str] | None:
    """`linux-64` or `linux/amd64` → ("linux", "amd64"); None when not given."""
    if not platform:
        return None
    if "/" in platform:
        os_name, _, arch = platform.partition("/")
        return os_name, arch.split("/")[0]
    return _PLATFORMS.get(platform, ("", platform))


_DECOMPRESSION_ERRORS: tuple[type[BaseException], ...] = (
    EOFError,
    OSError,
    zlib.error,
    lzma.LZMAError,
)


def _zstd_errors() -> tuple[type[BaseException], ...]:
    try:
        import zstandard

        return (zstandard.ZstdError,)
    except ImportError:  # pragma: no cover
        return ()


@dataclass
class LayerIndex:
    """What one layer contributes: metadata files (parsed) and what it deletes below it."""

    files: dict[str, tuple[str, object]] = field(default_factory=dict)
    whiteouts: set[str] = field(default_factory=set)
    opaque: set[str] = field(default_factory=set)


def layer_index_to_json(index: LayerIndex) -> dict[str, Any]:
    """A layer index as JSON (sorted): what `build` remembers of an image it read once."""
    files = []
    for name, (kind, value) in sorted(index.files.items()):
        if kind == CONDA_META:
            package, subdir = value  # type: ignore[misc]
            encoded: Any = [package.to_json(), subdir]
        elif kind == SYSTEM:
            encoded = [p.to_json() for p in value]  # type: ignore[attr-defined]
        else:  # METADATA headers (name, version) or an INSTALLER line: plain values
            encoded = list(value) if isinstance(value, tuple) else value
        files.append([name, kind, encoded])
    return {"files": files, "whiteouts": sorted(index.whiteouts), "opaque": sorted(index.opaque)}


def layer_index_from_json(data: dict[str, Any]) -> LayerIndex:
    """The inverse of `layer_index_to_json`."""
    index = LayerIndex(whiteouts=set(data["whiteouts"]), opaque=set(data["opaque"]))
    for name, kind, encoded in data["files"]:
        if kind == CONDA_META:
            value: object = (Package.from_json(encoded[0]), str(encoded[1]))
        elif kind == SYSTEM:
            value = [Package.from_json(p) for p in encoded]
        elif kind == DIST_METADATA:
            value = (str(encoded[0]), str(encoded[1]))
        else:
            value = str(encoded)
        index.files[str(name)] = (str(kind), value)
    return index


def scan_layer(stream: io.BufferedReader, where: str) -> LayerIndex:
    """Scan one layer tar (plain, gzip, zstd, bzip2 or xz) for metadata and whiteouts."""
    index = LayerIndex()
    try:
        tar = TarStream(open_decompressed(stream, where), where)
        for member in tar:
            name = member.name
            slash = name.rfind("/")
            base = name[slash + 1 :]
            if base.startswith(WHITEOUT):
                parent = name[:slash] if slash >= 0 else ""
                if base == OPAQUE:
                    index.opaque.add(parent)
                else:
                    target = base[len(WHITEOUT) :]
                    index.whiteouts.add(f"{parent}/{target}" if parent else target)
                continue
            if not name.endswith(INTERESTING_ENDINGS) and "/status.d/" not in name:
                continue  # the common case, decided by one C call
            kind = classify(name)
            if kind is None:
                continue
            if member.kind == REGULAR:
                if member.size > MAX_METADATA:
                    raise InventoryError(
                        f"metadata file {name} is {member.size} bytes: too large", where=where
                    )
                index.files[name] = (kind, parse_member(kind, name, tar.read()))
            elif member.kind == HARDLINK:
                target = index.files.get(member.linkname.lstrip("/").removeprefix("./"))
                if target is not None:
                    index.files[name] = target
    except InventoryError as exc:
        if exc.where is None:
            exc.where = where
        raise
    except _DECOMPRESSION_ERRORS + _zstd_errors() as exc:
        raise InventoryError(f"corrupt layer: {exc}", where=where) from None
    return index


def _hidden(path: str, whiteouts: set[str], opaque: set[str]) -> bool:
    """Does a layer with these whiteouts hide `path` of a lower layer?"""
    if path in whiteouts:
        return True
    while True:
        slash = path.rfind("/")
        path = path[:slash] if slash >= 0 else ""
        if path in whiteouts or path in opaque:
            return True
        if not path:
            return False


def apply_layers(layers: Iterable[LayerIndex]) -> dict[str, tuple[str, object]]:
    """The metadata files of the merged filesystem: lower to upper, whiteouts applied."""
    state: dict[str, tuple[str, object]] = {}
    for layer in layers:
        if state and (layer.whiteouts or layer.opaque):
            for path in [p for p in state if _hidden(p, layer.whiteouts, layer.opaque)]:
                del state[path]
        state.update(layer.files)
    return state


def build_inventory(
    source: str, layers: Iterable[LayerIndex], config: dict[str, Any] | None
) -> Inventory:
    """Apply the layers in order and turn the surviving metadata into an Inventory."""
    from audit.inventory.layers import attribute, image_meta

    config = config or {}
    layers = list(layers)
    fallback = conda_subdir(str(config.get("os") or ""), str(config.get("architecture") or ""))
    packages, platform = assemble(apply_layers(layers), fallback)
    packages = attribute(packages, layers, config, _hidden)
    return Inventory(
        source=source,
        platform=platform,
        packages=dedupe(packages),
        image=image_meta(config, len(layers)),
    )


# --------------------------------------------------------------------------- archives


def _looks_like_layer(head: bytes) -> bool:
    return (
        head.startswith((GZIP_MAGIC, ZSTD_MAGIC, XZ_MAGIC, b"BZh"))
        or head[257:262] == b"ustar"
        or (len(head) >= 512 and head[:512].count(0) == 512)
    )


def _load_json(data: bytes, where: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InventoryError(f"corrupt JSON: {exc}", where=where) from None


class ArchiveReader:
    """One pass over a `docker save` / OCI archive stream → the inventory of one image.

    `select` picks an image in a multi-image archive (a `name:tag` in its RepoTags);
    `platform` picks a manifest from an OCI index (`linux-64` or `linux/amd64`).
    """

    def __init__(self, source: str, select: str | None = None, platform: str | None = None):
        self.source = source
        self.select = select
        self.platform = platform
        self.layers: dict[str, LayerIndex] = {}
        self.documents: dict[str, bytes] = {}
        self.links: dict[str, str] = {}
        self.config_bytes: bytes | None = None

    def read(self, stream: BinaryIO) -> Inventory:
        buffered = stream if isinstance(stream, io.BufferedReader) else None
        raw: io.BufferedReader = buffered or io.BufferedReader(stream, BUFFER)  # type: ignore[arg-type]
        return build_inventory(self.source, *self.scan(raw))

    def scan(self, raw: io.BufferedReader) -> tuple[list[LayerIndex], dict[str, Any] | None]:
        """The image's layer indexes in order and its config, in one pass over `raw`."""
        try:
            tar = TarStream(open_decompressed(raw, self.source), self.source)
            for member in tar:
                self._member(tar, member.name, member.kind, member.size, member.linkname)
        except InventoryError as exc:
            if exc.where is None:
                exc.where = self.source
            raise
        except _DECOMPRESSION_ERRORS + _zstd_errors() as exc:
            raise InventoryError(f"corrupt image archive: {exc}", where=self.source) from None
        layer_names, config = self._resolve()
        return [self._layer(n) for n in layer_names], config

    def _member(self, tar: TarStream, name: str, kind: str, size: int, link: str) -> None:
        if kind in ("symlink", HARDLINK):
            # docker save writes a repeated layer as a link to the first copy
            base = name.rsplit("/", 1)[0] if kind == "symlink" and "/" in name else ""
            target = f"{base}/{link}" if base and not link.startswith("/") else link
            from audit.inventory.tarstream import clean_name

            cleaned = clean_name(target)
            if cleaned:
                self.links[name] = cleaned
            return
        if kind != REGULAR:
            return
        if name.endswith("/layer.tar") or name == "layer.tar":
            self.layers[name] = scan_layer(tar.open(), f"{self.source}:{name}")
            return
        if name.startswith("blobs/"):
            stream = tar.open()
            head = stream.peek(512)[:512]
            if head.lstrip()[:1] in (b"{", b"[") and size <= MAX_JSON:
                self.documents[name] = stream.read()
            elif _looks_like_layer(head) or size == 0:
                self.layers[name] = scan_layer(stream, f"{self.source}:{name}")
            return
        if (name.endswith(".json") or name == "repositories") and size <= MAX_JSON:
            self.documents[name] = tar.read()

    def _layer(self, name: str) -> LayerIndex:
        seen = 0
        while name not in self.layers and name in self.links and seen < 16:
            name, seen = self.links[name], seen + 1
        try:
            return self.layers[name]
        except KeyError:
            raise InventoryError(
                f"manifest names layer {name}, which the archive does not contain "
                "(truncated or corrupt archive?)",
                where=self.source,
            ) from None

    def _document(self, name: str) -> Any:
        seen = 0
        while name not in self.documents and name in self.links and seen < 16:
            name, seen = self.links[name], seen + 1
        if name not in self.documents:
            raise InventoryError(f"archive lacks {name}", where=self.source)
        return _load_json(self.documents[name], f"{self.source}:{name}")

    def _resolve(self) -> tuple[list[str], dict[str, Any] | None]:
        """Layer order and config, from manifest.json (docker) or index.json (OCI)."""
        if "manifest.json" in self.documents:
            return self._from_docker_manifest()
        if "index.json" in self.documents:
            return self._from_oci_index()
        raise InventoryError(
            "not an image archive: no manifest.json or index.json (truncated or corrupt?)",
            where=self.source,
        )

    def _from_docker_manifest(self) -> tuple[list[str], dict[str, Any] | None]:
        entries = self._document("manifest.json")
        if not isinstance(entries, list) or not entries:
            raise InventoryError("manifest.json lists no image", where=self.source)
        entry = self._select(entries)
        layers = entry.get("Layers")
        if not isinstance(layers, list):
            raise InventoryError("manifest.json entry without Layers", where=self.source)
        names = [str(x) for x in layers]
        for name in names:  # a missing layer says more than a missing config
            self._layer(name)
        config = entry.get("Config")
        return names, self._config(str(config)) if config else None

    def _config(self, name: str) -> Any:
        """The config document, its bytes kept (`config_bytes`: their sha256 is the id)."""
        config = self._document(name)
        seen = 0
        while name not in self.documents and name in self.links and seen < 16:
            name, seen = self.links[name], seen + 1
        self.config_bytes = self.documents.get(name)
        return config

    def _select(self, entries: list[Any]) -> dict[str, Any]:
        if self.select is None:
            if len(entries) > 1:
                tags = sorted(t for e in entries for t in e.get("RepoTags") or ())
                raise InventoryError(
                    f"archive holds {len(entries)} images ({', '.join(tags) or 'untagged'})",
                    where=self.source,
                    hint="name one: docker-archive:FILE.tar:NAME:TAG",
                )
            return entries[0]
        wanted = self.select
        for entry in entries:
            tags = [str(t) for t in entry.get("RepoTags") or ()]
            if any(t == wanted or t.endswith("/" + wanted) for t in tags):
                return entry
        raise InventoryError(f"archive holds no image tagged {wanted}", where=self.source)

    def _from_oci_index(self) -> tuple[list[str], dict[str, Any] | None]:
        manifest = self._pick_manifest(self._document("index.json"), depth=0)
        layers = [
            _blob_path(str(layer.get("digest", ""))) for layer in manifest.get("layers") or ()
        ]
        config_desc = manifest.get("config") or {}
        config = (
            self._config(_blob_path(str(config_desc["digest"])))
            if config_desc.get("digest")
            else None
        )
        return layers, config

    def _pick_manifest(self, doc: Any, depth: int) -> dict[str, Any]:
        if not isinstance(doc, dict):
            raise InventoryError("OCI index is not a JSON object", where=self.source)
        if "layers" in doc:
            return doc
        if depth > 4:
            raise InventoryError("OCI index nests too deeply", where=self.source)
        descriptor = pick_descriptor(doc.get("manifests") or [], self.platform, self.select)
        if descriptor is None:
            raise InventoryError("OCI index lists no image manifest", where=self.source)
        return self._pick_manifest(
            self._document(_blob_path(str(descriptor.get("digest", "")))), depth + 1
        )


def _blob_path(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    return f"blobs/{algorithm}/{hexdigest}"


def pick_descriptor(
    manifests: list[Any], platform: str | None, ref: str | None = None
) -> dict[str, Any] | None:
    """The image manifest of an index for `platform` (default linux/amd64, else the first).

    Attestation manifests (BuildKit's `unknown/unknown`) are never picked.
    """
    candidates = [
        m
        for m in manifests
        if isinstance(m, dict)
        and (m.get("annotations") or {}).get("vnd.docker.reference.type") != "attestation-manifest"
        and (m.get("platform") or {}).get("os") != "unknown"
    ]
    if ref:
        named = [
            m
            for m in candidates
            if (m.get("annotations") or {}).get("io.containerd.image.name", "").endswith(ref)
            or (m.get("annotations") or {}).get("org.opencontainers.image.ref.name") == ref
        ]
        candidates = named or candidates
    wanted = oci_platform(platform) or ("linux", "amd64")
    for m in candidates:
        p = m.get("platform") or {}
        if (p.get("os"), p.get("architecture")) == wanted:
            return m
    if platform:
        return None
    return candidates[0] if candidates else None


def read_archive(
    stream: BinaryIO,
    source: str,
    select: str | None = None,
    platform: str | None = None,
) -> Inventory:
    """The inventory of the image in a `docker save` / OCI archive stream."""
    return ArchiveReader(source, select=select, platform=platform).read(stream)


def read_layers(
    source: str,
    layers: Iterable[tuple[str, Callable[[], BinaryIO]]],
    config: dict[str, Any] | None,
) -> Inventory:
    """The inventory of an image given its layers in order (e.g. blobs from a registry).

    Each layer is `(name, open)`; `open()` returns its (possibly compressed) stream,
    which is scanned and closed before the next one is opened.
    """
    indexes = []
    for name, opener in layers:
        stream = opener()
        try:
            raw = (
                stream
                if isinstance(stream, io.BufferedReader)
                else io.BufferedReader(stream, BUFFER)  # type: ignore[arg-type]
            )
            indexes.append(scan_layer(raw, f"{source}:{name}"))
        except BaseException:
            getattr(stream, "abort", stream.close)()
            raise
        stream.close()  # a verifying stream checks its digest here
    return build_inventory(source, indexes, config)


def scan_archive(
    stream: BinaryIO, source: str, documents: dict[str, bytes] | None = None
) -> tuple[list[LayerIndex], dict[str, Any] | None]:
    """Layer indexes (in order) and config of a `docker save` stream, for building on.

    `build` appends a layer to an image it has just read this way: the new image's
    inventory is `build_inventory(source, layers + [scan_layer_file(layer)], config)`,
    without reading the new image back. With `documents`, the config's bytes are put
    there as `"config"` (what the image id is the digest of).
    """
    raw = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream, BUFFER)  # type: ignore[arg-type]
    reader = ArchiveReader(source)
    found = reader.scan(raw)
    if documents is not None and reader.config_bytes is not None:
        documents["config"] = reader.config_bytes
    return found


def scan_layer_file(path: Path, where: str) -> LayerIndex:
    """The index of one layer tar on disk (plain or compressed)."""
    with path.open("rb", buffering=0) as handle:
        return scan_layer(io.BufferedReader(handle, BUFFER), where)
