"""Installed-package metadata parsers shared by the prefix and the image readers.

Each takes the bytes of one metadata file and returns Packages; none touches the file
system, so an image layer's members can be parsed straight from the tar stream:
- `conda-meta/<name>-<version>-<build>.json` (conda, mamba, rattler),
- `<name>.dist-info/METADATA` + `INSTALLER` (pip, uv, ...; conda writes INSTALLER=conda),
- Debian's `var/lib/dpkg/status` (and distroless `status.d/*`), Alpine's `lib/apk/db/installed`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

from audit.core.redact import redact_url
from audit.inventory.interface import InventoryError, Package
from audit.inventory.normalize import depends_from_list, normalize_channel

#: INSTALLER values that mean "conda owns this dist-info": not a pip package.
CONDA_INSTALLERS = frozenset({"conda", "mamba", "micromamba", "rattler", "pixi", "conda-forge"})

#: Bytes of a METADATA file worth reading: the headers come first and are short.
METADATA_HEAD = 64 * 1024


def parse_conda_meta(data: bytes, location: str) -> tuple[Package, str]:
    """A conda-meta JSON record → (Package, subdir). Raises InventoryError when not JSON."""
    try:
        record = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InventoryError(f"corrupt conda-meta record: {exc}", where=location) from None
    if not isinstance(record, dict) or not record.get("name"):
        raise InventoryError("conda-meta record without a name", where=location)
    subdir = str(record.get("subdir") or "")
    package = Package(
        manager="conda",
        name=str(record["name"]),
        version=str(record.get("version") or ""),
        build=str(record.get("build") or record.get("build_string") or ""),
        channel=normalize_channel(str(record.get("channel") or ""), subdir),
        url=redact_url(str(record.get("url") or "")),
        sha256=str(record.get("sha256") or ""),
        md5=str(record.get("md5") or ""),
        depends=depends_from_list(record.get("depends") or ()),
        location=location,
    )
    return package, subdir


def metadata_headers(metadata: bytes) -> tuple[str, str]:
    """(Name, Version) from a dist-info METADATA file; only the header block is read."""
    name = version = ""
    end = metadata.find(b"\n\n", 0, METADATA_HEAD)
    head = metadata[: end if end >= 0 else METADATA_HEAD]
    for line in head.decode("utf-8", errors="replace").splitlines():
        key, sep, value = line.partition(":")
        if not sep or line[:1] in " \t":
            continue
        key = key.strip().lower()
        if key == "name" and not name:
            name = value.strip()
        elif key == "version" and not version:
            version = value.strip()
    return name, version


def dist_info_prefix(dist_info: str) -> str | None:
    """The environment prefix a dist-info dir belongs to (`/opt/conda` for
    `/opt/conda/lib/python3.11/site-packages/x.dist-info`), or None when not in one."""
    for marker in ("/lib/python", "/Lib/site-packages/"):
        index = dist_info.find(marker)
        if index >= 0:
            return dist_info[:index]
    if dist_info.startswith(("lib/python", "Lib/site-packages/")):
        return ""
    return None


def pip_package(
    name: str,
    version: str,
    installer: str | None,
    location: str,
    conda_prefixes: frozenset[str] | set[str] = frozenset(),
) -> Package | None:
    """A dist-info as a pip package, or None when another package manager owns it.

    INSTALLER says who installed it: `conda` (and friends) mean the conda package owns
    it. Without INSTALLER, a dist-info in Debian's `dist-packages` belongs to dpkg and
    one inside a conda prefix to conda (old conda builds wrote no INSTALLER).
    """
    if not name:
        return None
    if installer is not None:
        if installer.strip().lower() in CONDA_INSTALLERS:
            return None
    elif "/dist-packages/" in location or dist_info_prefix(location) in conda_prefixes:
        return None
    return Package(
        manager="pip",
        name=name,
        version=version,
        installer=(installer or "").strip(),
        location=location,
    )


def _paragraphs(data: bytes) -> Iterator[dict[str, str]]:
    """RFC 822-style stanzas (dpkg status, apk installed) as lower-cased field maps."""
    fields: dict[str, str] = {}
    last = ""
    for raw in data.decode("utf-8", errors="replace").splitlines():
        if not raw.strip():
            if fields:
                yield fields
            fields, last = {}, ""
            continue
        if raw[0] in " \t":
            if last:
                fields[last] += "\n" + raw.strip()
            continue
        key, sep, value = raw.partition(":")
        if sep:
            last = key.strip().lower()
            fields[last] = value.strip()
    if fields:
        yield fields


def parse_dpkg_status(data: bytes, location: str) -> list[Package]:
    """Installed packages of a dpkg status file (entries not fully installed are skipped)."""
    out = []
    for fields in _paragraphs(data):
        name = fields.get("package")
        status = fields.get("status", "install ok installed").split()
        if not name or not status or status[-1] != "installed":
            continue
        depends = tuple(
            sorted(d.strip() for d in fields.get("depends", "").split(",") if d.strip())
        )
        out.append(
            Package(
                manager="deb",
                name=name,
                version=fields.get("version", ""),
                depends=depends,
                location=location,
            )
        )
    return out


def parse_apk_installed(data: bytes, location: str) -> list[Package]:
    """Packages of Alpine's `lib/apk/db/installed` (`P:name`, `V:version`, `D:deps`)."""
    out = []
    for block in data.split(b"\n\n"):
        fields: dict[str, str] = {}
        for raw in block.decode("utf-8", errors="replace").splitlines():
            if len(raw) > 1 and raw[1] == ":" and raw[0] not in fields:
                fields[raw[0]] = raw[2:].strip()
        if fields.get("P"):
            out.append(
                Package(
                    manager="apk",
                    name=fields["P"],
                    version=fields.get("V", ""),
                    depends=tuple(sorted(fields.get("D", "").split())),
                    location=location,
                )
            )
    return out


#: rpm header tags read (rpmtag.h) and the string/int types they are stored as.
_RPM_TAGS = {1000: "name", 1001: "version", 1002: "release", 1003: "epoch"}
_RPM_STRING, _RPM_INT32 = frozenset({6, 8, 9}), 4
RPMDB = "var/lib/rpm/rpmdb.sqlite"


def _rpm_header(blob: bytes) -> dict[str, object]:
    """name/version/release/epoch of one rpm header blob (index count, data size,
    16-byte index entries, then the data store); malformed entries are skipped."""
    import struct

    count = struct.unpack(">I", blob[:4])[0] if len(blob) >= 8 else 0
    store = blob[8 + 16 * count :]
    out: dict[str, object] = {}
    for i in range(min(count, (len(blob) - 8) // 16)):
        tag, kind, offset, _ = struct.unpack(">IIiI", blob[8 + 16 * i : 24 + 16 * i])
        if tag not in _RPM_TAGS or not 0 <= offset < len(store):
            continue
        if kind in _RPM_STRING:
            end = store.find(b"\0", offset)
            out[_RPM_TAGS[tag]] = store[offset : end if end >= 0 else None].decode(
                "utf-8", errors="replace"
            )
        elif kind == _RPM_INT32 and offset + 4 <= len(store):
            out[_RPM_TAGS[tag]] = struct.unpack(">I", store[offset : offset + 4])[0]
    return out


def parse_rpmdb_sqlite(data: bytes, location: str) -> list[Package]:
    """Packages of an rpm database in its SQLite form (Fedora ≥ 33, RHEL ≥ 9, rpm ≥ 4.16).

    Read from memory (`deserialize`); a database left in WAL mode is read as a plain one
    (rpm checkpoints on close, so the WAL of an image's database is empty).
    """
    import sqlite3

    if not data.startswith(b"SQLite format 3\0") or len(data) < 100:
        return []
    image = bytearray(data)
    image[18] = image[19] = 1  # WAL → legacy journal: deserialize cannot open WAL mode
    out = []
    with contextlib.closing(sqlite3.connect(":memory:")) as db:
        try:
            db.deserialize(bytes(image))
            rows = db.execute("SELECT blob FROM Packages").fetchall()
        except sqlite3.Error:
            return []
        for (blob,) in rows:
            fields = _rpm_header(bytes(blob)) if isinstance(blob, bytes) else {}
            name = fields.get("name")
            if not isinstance(name, str) or not name or name == "gpg-pubkey":
                continue  # imported signing keys are headers too, not packages
            epoch = fields.get("epoch")
            version = f"{fields.get('version', '')}-{fields.get('release', '')}".strip("-")
            out.append(
                Package(
                    manager="rpm",
                    name=name,
                    version=f"{epoch}:{version}" if epoch else version,
                    location=location,
                )
            )
    return sorted(out, key=lambda p: (p.name, p.version))


# --------------------------------------------------------------------------- assembling

#: Kinds of metadata files a prefix or an image layer can hold.
CONDA_META, DIST_METADATA, DIST_INSTALLER, SYSTEM = "conda", "metadata", "installer", "system"


def classify(path: str) -> str | None:
    """Which kind of metadata file `path` (POSIX, no leading slash) is, or None.

    Called once per member of every image layer, so it is plain string tests.
    """
    if path.endswith(".json"):
        head, _, base = path.rpartition("/")
        if head == "conda-meta" or head.endswith("/conda-meta"):
            return CONDA_META if base != "history" else None
        return None
    if path.endswith("/METADATA"):
        return DIST_METADATA if path[:-9].endswith(".dist-info") else None
    if path.endswith("/INSTALLER"):
        return DIST_INSTALLER if path[:-10].endswith(".dist-info") else None
    if path in ("var/lib/dpkg/status", "lib/apk/db/installed", RPMDB, "usr/" + RPMDB[4:]):
        return SYSTEM
    if path.startswith("var/lib/dpkg/status.d/") and "/" not in path[22:] and path[22:]:
        return SYSTEM if not path.endswith(".md5sums") else None
    return None


def parse_member(kind: str, path: str, data: bytes) -> object:
    """The compact value kept for a metadata file (never its raw bytes, to bound memory)."""
    location = "/" + path
    if kind == CONDA_META:
        return parse_conda_meta(data, location)
    if kind == DIST_METADATA:
        return metadata_headers(data)
    if kind == DIST_INSTALLER:
        lines = data[:256].decode("utf-8", errors="replace").strip().splitlines()
        return lines[0].strip() if lines else ""
    if path.endswith("apk/db/installed"):
        return parse_apk_installed(data, location)
    if path.endswith("rpmdb.sqlite"):
        return parse_rpmdb_sqlite(data, location)
    return parse_dpkg_status(data, location)


def assemble(
    found: dict[str, tuple[str, object]], fallback_platform: str = ""
) -> tuple[list[Package], str]:
    """Packages and platform from the metadata files present: `{path: (kind, value)}`.

    The platform is the conda subdir most packages were built for (noarch aside), else
    `fallback_platform` (an image's os/architecture); every package gets it.
    """
    from collections import Counter
    from dataclasses import replace

    packages: list[Package] = []
    subdirs: Counter[str] = Counter()
    conda_prefixes: set[str] = set()
    installers: dict[str, str] = {}
    for path, (kind, value) in found.items():
        if kind == CONDA_META:
            package, subdir = value  # type: ignore[misc]
            packages.append(package)
            if subdir and subdir != "noarch":
                subdirs[subdir] += 1
            conda_prefixes.add(("/" + path)[: ("/" + path).rfind("/conda-meta/")])
        elif kind == DIST_INSTALLER:
            installers[path[: -len("/INSTALLER")]] = str(value)
        elif kind == SYSTEM:
            packages.extend(value)  # type: ignore[arg-type]
    for path, (kind, value) in found.items():
        if kind != DIST_METADATA:
            continue
        dist_info = path[: -len("/METADATA")]
        name, version = value  # type: ignore[misc]
        package = pip_package(
            name, version, installers.get(dist_info), "/" + dist_info, frozenset(conda_prefixes)
        )
        if package is not None:
            packages.append(package)
    platform = subdirs.most_common(1)[0][0] if subdirs else fallback_platform
    return [replace(p, platform=platform) for p in packages], platform
