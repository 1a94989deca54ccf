"""`--rebuild`: build again from the recorded inputs only, and set the result beside the record."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from audit.artifacts import Artifact
from audit.core.errors import (
    InputError,
)
from audit.verify.inputs import RECORD_NAME, Inputs
from audit.verify.options import Progress, VerifyOptions
from audit.verify.verdict import (
    Problem,
    Rebuild,
)


def _without_record(say: Any) -> Any:
    """The build's progress, minus "record wrote <temp dir>/…": that record is discarded."""

    def forward(phase: str, message: str) -> None:
        if phase != "record":
            say(phase, message)

    return forward


def _seed_cache(artifacts: list[Artifact], sources: list[Path], target: Path) -> None:
    """Link every artifact some source cache holds into a fresh cache (verified on use)."""
    from audit.artifacts import cache_path
    from audit.verify.mirror import link_or_copy

    for artifact in artifacts:
        destination = cache_path(target, artifact)
        if destination.is_file():
            continue
        for source in sources:
            candidate = cache_path(source, artifact)
            if candidate.is_file():
                link_or_copy(candidate, destination)
                break


def _load_base(client: Any, mirror: Any, ref: Any, platform: str, say: Progress) -> str:
    """Load `ref` from the mirror into dockerd; its image id (= the config digest)."""
    from audit.core.dockerapi import EngineError, EngineNotFound

    say("loading", f"{ref.canonical()} from the mirror")
    with tempfile.TemporaryFile() as archive:
        config_digest = mirror.docker_archive(ref.digest, platform, archive)
        archive.seek(0)
        try:
            for message in client.load_image(iter(lambda: archive.read(1 << 20), b"")):
                if message.get("error"):
                    raise InputError(f"docker load of mirrored {ref}: {message['error']}")
        except EngineError as exc:
            raise InputError(f"docker load of mirrored {ref}: {exc.message}") from None
    try:
        image_id = client.inspect_image(config_digest)["Id"]
    except EngineNotFound:
        raise InputError(f"docker load of mirrored {ref} did not give {config_digest}") from None
    if image_id != config_digest:
        raise InputError(f"mirrored {ref} loaded as {image_id}, expected {config_digest}")
    return image_id


def _local_has(client: Any, ref: Any) -> bool:
    from audit.core.dockerapi import EngineError

    try:
        client.inspect_image(f"{ref.name}@{ref.digest}")
        return True
    except EngineError:
        return False


def _load_missing_bases(
    inputs: Inputs, refs: list[Any], problems: list[Problem], mirror: Any, say: Progress
) -> dict[str, str]:
    """Pinned reference → image id of each base gone upstream and from dockerd, loaded
    from the mirror (exit 2 when the mirror does not hold it either)."""
    from audit.core.dockerapi import connect

    client = connect()
    local_bases: dict[str, str] = {}
    try:
        gone = {p.name for p in problems if p.kind == "base-image"}
        for ref in refs:
            if ref.canonical() in gone and not _local_has(client, ref):
                if mirror is None or mirror.image_missing(ref.digest, inputs.platform):
                    raise InputError(f"{ref.canonical()} is neither in its registry nor mirrored")
                local_bases[ref.canonical()] = _load_base(client, mirror, ref, inputs.platform, say)
    finally:
        client.close()
    return local_bases


def rebuild(
    inputs: Inputs,
    artifacts: list[Artifact],
    refs: list[Any],
    problems: list[Problem],
    options: VerifyOptions,
    cache_dir: Path,
    mirror: Any,
    say: Progress,
) -> Rebuild:
    """Build again from the recorded inputs only and set the result beside the record."""
    from audit.build import BuildOptions, run_build
    from audit.diff.classify import diff_inventories
    from audit.inventory import Inventory

    if inputs.lockfile is None:
        raise InputError("the lockfile the record names is not available")
    local_bases = _load_missing_bases(inputs, refs, problems, mirror, say)
    loaded = list(local_bases.values())

    recorded_inputs = inputs.inputs
    docker_entry = dict(recorded_inputs.get("dockerfile") or {})
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="repro-audit-rebuild-") as tmp:
        fresh = Path(tmp) / "cache"
        sources = [cache_dir]
        if mirror is not None:
            mirror.seed_cache(artifacts, fresh)
        _seed_cache(artifacts, sources, fresh)
        build_options = BuildOptions(
            lockfile=inputs.lockfile,
            dockerfile=None if docker_entry.get("generated") else inputs.dockerfile,
            base=docker_entry.get("base") if docker_entry.get("generated") else None,
            tag=None,
            platform=inputs.platform,
            prefix=recorded_inputs.get("prefix"),
            record=Path(tmp) / RECORD_NAME,
            allow_unpinned=bool(recorded_inputs.get("allow_unpinned")),
            cache_dir=fresh,
            progress=_without_record(say),
            local_bases=local_bases,
            context_exclude=[inputs.record_path],
            no_cache=True,
            builder=_recorded_builder(recorded_inputs),
        )
        epoch = recorded_inputs.get("source_date_epoch")
        saved = os.environ.get("SOURCE_DATE_EPOCH")
        os.environ["SOURCE_DATE_EPOCH"] = str(int(epoch or 0))
        try:
            result = run_build(build_options)
        finally:
            if saved is None:
                os.environ.pop("SOURCE_DATE_EPOCH", None)
            else:
                os.environ["SOURCE_DATE_EPOCH"] = saved
            builders = builder_images(fresh)
    seconds = time.perf_counter() - started
    rebuilt_record = result.record
    recorded_outputs = dict(inputs.record.get("outputs") or {})
    rebuilt_outputs = dict(rebuilt_record.get("outputs") or {})
    rebuilt_outputs["env_tree_digest"] = _read_back_tree(
        result.image_id, str(rebuilt_record["inputs"]["prefix"]), say
    )
    old = Inventory.from_json(inputs.record.get("inventory") or {})
    new = Inventory.from_json(rebuilt_record.get("inventory") or {})
    drift = diff_inventories(old, new, platform=inputs.conda_platform)
    outcome = Rebuild(recorded_outputs, rebuilt_outputs, drift, seconds, loaded)
    outcome.origins = step_origins(drift, inputs, rebuilt_outputs)
    outcome.layer_differences = _layer_differences(inputs, recorded_outputs, new, rebuilt_outputs)
    if not options.keep_image:
        _cleanup([result.image_id, *builders, *loaded], recorded_outputs.get("image_id"))
    return outcome


def _layer_differences(
    inputs: Inputs, recorded: dict[str, Any], rebuilt_inventory: Any, rebuilt: dict[str, Any]
) -> list[Any]:
    """The rebuilt image's layers that differ from the record's: step and files."""
    from audit.core.dockerapi import connect
    from audit.verify.layerdiff import describe_differences, differing_positions

    old_layers = [str(x) for x in recorded.get("layers") or []]
    new_layers = [str(x) for x in rebuilt.get("layers") or []]
    if not differing_positions(old_layers, new_layers):
        return []
    image = rebuilt_inventory.image
    steps = list(image.steps) if image is not None else []
    text = None
    if inputs.dockerfile is not None:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = Path(inputs.dockerfile).read_text(encoding="utf-8")
    client = connect()
    try:
        return describe_differences(
            client, old_layers, new_layers, steps, text, str(rebuilt.get("env_layer_diff_id") or "")
        )
    finally:
        client.close()


def _read_back_tree(image_id: str, prefix: str, say: Progress) -> str:
    """The environment's tree digest as the rebuilt image holds it (not as staged)."""
    from audit.build import image_tree_digest
    from audit.core.dockerapi import connect

    say("verifying", f"reading {prefix} back from the rebuilt image")
    client = connect()
    try:
        return image_tree_digest(client, image_id, prefix)
    finally:
        client.close()


def _recorded_builder(recorded_inputs: dict[str, Any]) -> str | None:
    """Rebuild with the kind of builder the record names (a buildx builder by its name)."""
    builder = recorded_inputs.get("builder") or {}
    if builder.get("kind") == "classic":
        return "classic"
    if builder.get("kind") == "buildx" and builder.get("name"):
        return str(builder["name"])
    return "buildkit" if builder.get("kind") == "buildkit" else None


def builder_images(cache_dir: Path) -> list[str]:
    """The classic builder's own images behind each reproducible image a build made.

    `audit.build.imageid` remembers them under `<cache>/images/<hex>-<epoch>-<n>`; a rebuild
    removes them (and, through pruning, the user stage beneath) when it is done.
    """
    memo = Path(cache_dir) / "images"
    if not memo.is_dir():
        return []
    return sorted(f"sha256:{path.name.split('-', 1)[0]}" for path in memo.iterdir())


def _cleanup(images: list[str], recorded_id: str | None) -> None:
    """Remove what the rebuild added to dockerd, never the recorded image or a tagged one."""
    from audit.core.dockerapi import EngineError, connect

    client = connect()
    try:
        for image in images:
            if image == recorded_id:
                continue
            try:
                if not client.inspect_image(image).get("RepoTags"):
                    client.remove_image(image, noprune=False)
            except EngineError:
                pass
    finally:
        client.close()


def step_origins(drift: Any, inputs: Any, outputs: dict[str, Any]) -> dict[tuple[str, str], str]:
    """The build step of every changed package of the rebuilt image (`Dockerfile:12 (RUN …)`)."""
    from audit.dockerfile.provenance import Provenance

    text = None
    if inputs.dockerfile is not None:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = Path(inputs.dockerfile).read_text(encoding="utf-8")
    provenance = Provenance(text, "Dockerfile", str(outputs.get("env_layer_diff_id") or ""))
    out: dict[tuple[str, str], str] = {}
    for change in drift.changes:
        package = change.new or change.old
        origin = provenance.origin(package) if package is not None else ""
        if origin:
            out[(change.manager, change.name)] = origin
    return out
