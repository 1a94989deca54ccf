"""Trust the artifact, not the lock text: each package's own `info/index.json`.

A lock is text anyone can edit; the artifact is checked against its sha256. So the
name, version and build a lock claims must be the artifact's own (else exit 1, naming
the package, before anything is installed), and `conda-meta/*.json` takes its package
metadata from the artifact's `info/index.json`, not from the lock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from audit.core.errors import FindingsError, InputError

#: index.json keys that conda-meta takes from the artifact (the rest is about the install).
INDEX_KEYS = (
    "arch",
    "build",
    "build_number",
    "constrains",
    "depends",
    "features",
    "license",
    "license_family",
    "name",
    "noarch",
    "platform",
    "subdir",
    "timestamp",
    "track_features",
    "version",
)


def read_index(path: Path) -> dict[str, Any]:
    """The artifact's `info/index.json` (.conda or .tar.bz2)."""
    from conda_package_streaming.package_streaming import stream_conda_info

    try:
        for tar, member in stream_conda_info(str(path)):
            if member.name == "info/index.json":
                handle = tar.extractfile(member)
                if handle is not None:
                    return dict(json.loads(handle.read().decode("utf-8")))
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise InputError(f"cannot read info/index.json of {path.name}: {exc}") from None
    raise InputError(f"{path.name} has no info/index.json")


def check_artifacts(records: list[Any], verified: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """file name → index.json of each locked conda package; exit 1 where the lock disagrees."""
    out: dict[str, dict[str, Any]] = {}
    for record in records:
        index = read_index(verified[record.sha256.hex()])
        claimed = (record.name.normalized, str(record.version), str(record.build))
        actual = (str(index.get("name")), str(index.get("version")), str(index.get("build")))
        if claimed != actual:
            fields = [
                f"{what} {c!r} but the artifact says {a!r}"
                for what, c, a in zip(("name", "version", "build"), claimed, actual, strict=True)
                if c != a
            ]
            raise FindingsError(
                f"{record.name.normalized} {record.version}: the lock claims "
                + "; ".join(fields)
                + f" ({record.file_name})",
                hint="the lock was edited by hand: run `repro-audit lock` again",
            )
        out[record.file_name] = index
    return out


def apply_index(data: dict[str, Any], index: dict[str, Any]) -> dict[str, Any]:
    """A conda-meta record whose package metadata is the artifact's own index.json."""
    out = {k: v for k, v in data.items() if k not in INDEX_KEYS}
    out.update({k: index[k] for k in INDEX_KEYS if k in index})
    return out
