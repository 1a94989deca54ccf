"""The build record: what went into an image and what came out, as stable JSON.

Written atomically with sorted keys and no wall-clock time, so the same build gives the
same record bytes (apart from the image id, which carries Docker's creation time). The
image's inventory sits under `"inventory"` in `Inventory.to_json()` form, which is what
`audit.inventory.record` reads: `repro-audit inventory build-record.json` works.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit.core.fs import atomic_write_text
from audit.core.jsonout import dumps

#: Version of the record's JSON shape; bump on incompatible changes.
RECORD_SCHEMA = 1
RECORD_KIND = "repro-audit/build-record"


@dataclass(frozen=True)
class BuildRecord:
    tool_version: str
    environment: list[dict[str, Any]]
    lockfile: dict[str, Any]
    dockerfile: dict[str, Any]
    base_images: list[dict[str, Any]]
    allow_unpinned: bool
    unpinned: list[dict[str, Any]]
    platform: str
    conda_platform: str
    prefix: str
    source_date_epoch: int
    packages: dict[str, list[dict[str, str]]]
    image_id: str
    tag: str | None
    env_layer_diff_id: str | None
    env_tar_sha256: str
    layers: list[str]
    labels: dict[str, str]
    repo_digest: str | None
    inventory: dict[str, Any] = field(default_factory=dict)
    #: Which builder ran the Dockerfile (kind, buildx name and driver, client version).
    builder: dict[str, Any] = field(default_factory=dict)
    #: `last-layer` (appended by build) or `dockerfile` (`COPY --from=repro-audit-env`).
    placement: str = "last-layer"
    #: Content hash of the environment tree as it is in the image (audit.build.treedigest).
    env_tree_digest: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": RECORD_SCHEMA,
            "kind": RECORD_KIND,
            "tool": {"name": "repro-audit", "version": self.tool_version},
            "inputs": {
                "environment": self.environment,
                "lockfile": self.lockfile,
                "dockerfile": self.dockerfile,
                "base_images": self.base_images,
                "allow_unpinned": self.allow_unpinned,
                "unpinned": self.unpinned,
                "platform": self.platform,
                "conda_platform": self.conda_platform,
                "prefix": self.prefix,
                "source_date_epoch": self.source_date_epoch,
                "packages": self.packages,
                "builder": self.builder,
            },
            "outputs": {
                "image_id": self.image_id,
                "tag": self.tag,
                "env_layer_diff_id": self.env_layer_diff_id,
                "env_tar_sha256": self.env_tar_sha256,
                "env_tree_digest": self.env_tree_digest,
                "placement": self.placement,
                "layers": self.layers,
                "labels": self.labels,
                "repo_digest": self.repo_digest,
            },
            "inventory": self.inventory,
        }


def dump_record(record: BuildRecord) -> str:
    return dumps(record.to_json())


def write_record(path: Path, record: BuildRecord) -> None:
    """Replace `path` with the record in one step (never a half-written record)."""
    atomic_write_text(Path(path), dump_record(record))


def read_record(path: Path) -> dict[str, Any]:
    """The record at `path`, checked against the published schema (one line if it is not)."""
    from audit.core.errors import InputError
    from audit.core.safeload import load_json
    from audit.core.schemas import BUILD_RECORD, validate

    try:
        data = load_json(Path(path).read_bytes(), str(path))
    except OSError as exc:
        raise InputError(f"cannot read build record: {exc.strerror}", where=str(path)) from None
    if not isinstance(data, dict) or data.get("kind") != RECORD_KIND:
        raise InputError("not a repro-audit build record", where=str(path))
    validate(data, BUILD_RECORD, str(path))
    return data
