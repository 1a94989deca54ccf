"""What `build` is asked to do and what it answers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Progress = Callable[[str, str], None]


@dataclass
class BuildOptions:
    lockfile: Path = Path("conda-lock.yml")
    dockerfile: Path | None = None
    context: Path | None = None
    base: str | None = None
    tag: str | None = None
    platform: str | None = None
    prefix: str | None = None
    record: Path = Path("build-record.json")
    push: bool = False
    allow_unpinned: bool = False
    cache_dir: Path | None = None
    environment: Path | None = None
    progress: Progress | None = None
    #: Rewrite the image config's timestamps (SOURCE_DATE_EPOCH) so a rebuild of the same
    #: inputs gives the same image id (`reproducible_image`).
    reproducible_image: bool = True
    #: Pinned reference (canonical) → local image id to build FROM instead: `verify`
    #: loads a base from its mirror, and a loaded image has no repo digest to be found by.
    local_bases: dict[str, str] = field(default_factory=dict)
    #: More files kept out of the user's context (`verify`: the record it rebuilds from).
    context_exclude: list[Path] = field(default_factory=list)
    #: Build without Docker's build cache (`verify --rebuild`: every step runs again).
    no_cache: bool = False
    #: `classic`, `buildkit`, a buildx builder's name, or None (BuildKit when there is one).
    builder: str | None = None


@dataclass
class BaseImage:
    ref: str
    digest: str | None
    where: str
    kind: str
    stage: int

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "digest": self.digest,
            "where": self.where,
            "kind": self.kind,
            "stage": self.stage,
        }


@dataclass
class BuildResult:
    record: dict[str, Any]
    record_path: Path
    image_id: str
    env_diff_id: str | None
    tag: str | None
    repo_digest: str | None
    messages: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "record": str(self.record_path),
            "image_id": self.image_id,
            "env_layer_diff_id": self.env_diff_id,
            "env_tree_digest": self.record["outputs"].get("env_tree_digest"),
            "placement": self.record["outputs"].get("placement"),
            "builder": self.record["inputs"].get("builder"),
            "tag": self.tag,
            "repo_digest": self.repo_digest,
            "inputs": self.record["inputs"],
        }
