"""Which reader a source needs: by transport prefix, else by what its bytes look like.

Readers import their heavy dependencies (rattler, docker) only when they run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from audit.core.errors import InputError
from audit.inventory.interface import Inventory, InventoryError, InventorySource, no_gc

if TYPE_CHECKING:
    from audit.inventory.condalock import EntryCache

#: How much of a file is looked at to decide what it is.
SNIFF_BYTES = 64 * 1024


def source_from_bytes(
    spec: str,
    data: bytes,
    filename: str = "",
    platform: str | None = None,
    path: Path | None = None,
    entry_cache: EntryCache | None = None,
) -> InventorySource:
    """The source for a lockfile or build record given its content (file or git blob).

    `entry_cache` (a conda-lock.yml only): packages by entry text, kept by the caller
    across the revisions of one lock it reads.
    """
    import codecs

    from audit.core.text import check_encoding

    try:
        check_encoding(data, spec)
    except InputError as exc:
        raise InventoryError(exc.message, where=exc.where, hint=exc.hint) from None
    try:  # incremental: a character cut at the sniff boundary is not an error
        head = codecs.getincrementaldecoder("utf-8")().decode(data[:SNIFF_BYTES], final=False)
    except UnicodeDecodeError as exc:
        from audit.core.text import NOT_TEXT

        raise InventoryError(
            f"{NOT_TEXT}: invalid byte at offset {exc.start}", where=spec
        ) from None
    stripped = head.lstrip("\ufeff \t\r\n")
    if stripped.startswith("{"):
        from audit.core.safeload import load_json
        from audit.inventory.record import RecordSource, looks_like_record

        try:
            with no_gc():  # depth: guarded by the schema check that reading runs first
                document = load_json(data, spec, check_depth=False)
        except InputError as exc:
            raise InventoryError(exc.message, where=exc.where) from None
        kept = {"owned": True, "depth_checked": False}
        if looks_like_record(document):
            return RecordSource(spec, document=document, **kept)
        if isinstance(document, dict) and "packages" in document and "source" in document:
            return RecordSource(spec, document={"inventory": document}, **kept)
        raise InventoryError("JSON, but not a build record (no 'inventory' key)", where=spec)
    from audit.inventory.pixi import PixiSource, looks_like_pixi

    if looks_like_pixi(head):
        return PixiSource(spec, data, path)
    from audit.inventory.condalock import CondaLockSource, looks_like_condalock

    if looks_like_condalock(head):
        return CondaLockSource(spec, data, entry_cache)
    from audit.inventory.explicit import ExplicitSource, looks_like_explicit

    if looks_like_explicit(head) or filename.endswith((".lock", ".txt")) and "://" in head:
        return ExplicitSource(spec, data)
    raise InventoryError(
        "not a lockfile this tool reads (conda-lock.yml, explicit .lock, pixi.lock) "
        "nor a build record",
        where=spec,
    )


def open_source(spec: str, platform: str | None = None) -> InventorySource:
    """The InventorySource for `spec`, by transport prefix, else by what the path holds.

    `platform` only matters to images (it picks a manifest of a multi-platform index).
    """
    if spec.startswith("docker-daemon:"):
        from audit.inventory.docker_sources import DockerDaemonSource

        return DockerDaemonSource(spec, platform)
    if spec.startswith("docker-archive:"):
        from audit.inventory.docker_sources import DockerArchiveSource

        return DockerArchiveSource(spec, platform)
    if spec.startswith("docker://"):
        from audit.inventory.docker_sources import RegistrySource

        return RegistrySource(spec, platform)
    if spec.startswith("git:"):
        return GitSource(spec, platform)
    if spec.startswith("oci:"):
        raise InputError(
            f"{spec}: the oci: transport is not supported",
            hint="use docker-archive:FILE.tar (an OCI archive tar works) or docker-daemon:",
        )
    path = Path(spec)
    if path.is_dir():
        from audit.inventory.prefix import PrefixSource

        return PrefixSource(spec, path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InventoryError("no such file or directory", where=spec) from None
    except OSError as exc:
        raise InventoryError(f"cannot read: {exc.strerror}", where=spec) from None
    return source_from_bytes(spec, data, path.name, platform, path)


class GitSource(InventorySource):
    """A lockfile at a revision: fetched with git, then read by the source its content fits."""

    def __init__(self, spec: str, platform: str | None = None, cwd: Path | None = None) -> None:
        self.spec = spec
        from audit.inventory.git import split_git_spec

        self.rev, self.path = split_git_spec(spec)
        self.platform = platform
        self.cwd = cwd

    def read(self) -> list[Inventory]:
        from audit.inventory.git import DEFAULT_PATHS, show_first

        path, data = show_first(
            self.rev, [self.path] if self.path else list(DEFAULT_PATHS), self.cwd
        )
        return source_from_bytes(self.spec, data, Path(path).name, self.platform).read()
