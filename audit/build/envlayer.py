"""The environment layer as data: a new image config + the staged tar, loaded into dockerd.

The staged environment tar *is* the layer (members `opt/…/envs/<name>/…`, one mtime,
owner 0), so its sha256 is the layer's diff_id on every machine. Appending it needs no
second build (the way go-containerregistry's `mutate.Append`, ko and jib do it): the user
image's config gets one more diff_id and history entry, `PATH`/`CONDA_PREFIX` and the
labels, and a legacy archive with that config and only the new layer is `docker load`ed.

For a Dockerfile that places the environment itself (`COPY --from=repro-audit-env …`),
the same layer becomes a one-layer image tagged `repro-audit-env:<digest>`, which the
engine's BuildKit and the classic builder resolve locally.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from audit.build.engine import DEFAULT_PATH
from audit.build.imageid import epoch_text, load_archive, normalize_config
from audit.build.materialize import StagedEnv
from audit.core.dockerapi import EngineNotFound
from audit.core.errors import InputError

ENV_REPOSITORY = "repro-audit-env"


def _dumps(config: dict[str, Any]) -> bytes:
    return json.dumps(config, sort_keys=True, separators=(",", ":")).encode()


def _env_list(env: list[str], prefix: str) -> list[str]:
    """The image's Env with `<prefix>/bin` first on PATH and CONDA_PREFIX set."""
    path = next((e[5:] for e in env if e.startswith("PATH=")), DEFAULT_PATH)
    kept = [e for e in env if not e.startswith(("PATH=", "CONDA_PREFIX="))]
    return [*kept, f"PATH={prefix}/bin:{path}", f"CONDA_PREFIX={prefix}"]


def _with_variables(env: list[str], variables: dict[str, str]) -> list[str]:
    """`env` with environment.yml's `variables:` set (what `conda activate` exports)."""
    kept = [e for e in env if e.split("=", 1)[0] not in variables]
    return [*kept, *(f"{k}={v}" for k, v in sorted(variables.items()))]


def _history(epoch: int, staged: StagedEnv) -> dict[str, Any]:
    return {
        "created": epoch_text(epoch),
        "created_by": f"repro-audit build: conda environment {staged.prefix} "
        f"({len(staged.conda)} conda, {len(staged.pip)} pip packages)",
        "comment": "repro-audit",
    }


def final_config(
    config: dict[str, Any],
    staged: StagedEnv | None,
    labels: dict[str, str],
    epoch: int,
    inherited: int | None,
    variables: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The user image's config plus the environment (`staged`) or only the labels.

    `inherited` (the base's history length) normalises this build's timestamps to the
    epoch (`--reproducible-image`); None keeps the config's times as they are.
    """
    out = normalize_config(config, epoch, inherited) if inherited is not None else config
    out = json.loads(json.dumps(out))
    settings = out.setdefault("config", {}) or {}
    out["config"] = settings
    settings["Labels"] = {**(settings.get("Labels") or {}), **labels}
    if staged is not None:
        settings["Env"] = _env_list(list(settings.get("Env") or []), staged.prefix)
        out.setdefault("rootfs", {"type": "layers", "diff_ids": []})
        out["rootfs"]["diff_ids"] = [*out["rootfs"].get("diff_ids", []), staged.diff_id]
        out["history"] = [*(out.get("history") or []), _history(epoch, staged)]
    if variables:
        settings["Env"] = _with_variables(list(settings.get("Env") or []), variables)
    return out


def append_environment(
    client: Any,
    user_id: str,
    staged: StagedEnv | None,
    labels: dict[str, str],
    epoch: int,
    inherited: int | None,
    tag: str | None,
    variables: dict[str, str] | None = None,
    cache_dir: Path | None = None,
    say: Any = None,
    own_from: int | None = None,
) -> tuple[str, Any]:
    """Load `user_id` + the environment layer (or + labels only): (image id, inventory).

    The user image is read at the cost of what is new in it (its config and the layers
    not seen before, `read_engine_image`); the new image's inventory is those layers plus the
    environment layer's index (kept per diff_id), so the new image is never read back.
    `own_from` (the base's layer count) re-packs the layers above it canonically
    (`audit.build.repack`); None keeps them as the builder wrote them.
    """
    from audit.inventory import build_inventory
    from audit.inventory.engineimage import read_engine_image

    user = read_engine_image(client, user_id, f"docker-daemon:{user_id}", cache_dir, say)
    try:
        image_id, new, indexes = _assemble(
            client, user, staged, tag, labels, epoch, inherited, variables, cache_dir, say,
            own_from, trust=True,
        )  # fmt: skip
    except _TrustedLayerGone:
        image_id, new, indexes = _assemble(
            client, user, staged, tag, labels, epoch, inherited, variables, cache_dir, say,
            own_from, trust=False,
        )  # fmt: skip
    return image_id, build_inventory(f"docker-daemon:{tag or image_id}", indexes, new)


class _TrustedLayerGone(Exception):
    """A re-packed layer remembered for a remote engine is no longer there."""


def _assemble(
    client: Any,
    user: Any,
    staged: StagedEnv | None,
    tag: str | None,
    labels: dict[str, str],
    epoch: int | None,
    inherited: int | None,
    variables: dict[str, str] | None,
    cache_dir: Path | None,
    say: Any,
    own_from: int | None,
    trust: bool,
) -> tuple[str, dict[str, Any], list[Any]]:
    """(image id, config, layer indexes) of the user image + its environment, loaded."""
    with _own_layers(client, user, epoch or 0, own_from, cache_dir, say, trust) as (
        config,
        own,
        trusted,
    ):
        new = final_config(config, staged, labels, epoch, inherited, variables)
        data = _dumps(new)
        layers: list[Path | None] = [*own, *[None] * (len(new["rootfs"]["diff_ids"]) - len(own))]
        indexes = list(user.layers)
        if staged is not None:
            layers[-1] = staged.tar_path
            where = f"{tag or user.image_id}:environment"
            indexes.append(env_layer_index(staged, where, cache_dir))
        try:
            image_id = load_archive(client, data, tag, layers, say)
        except InputError as exc:
            if "diffid" in exc.message.lower() or "diff_id" in exc.message.lower():
                raise StageDamaged(exc.message) from None
            if trusted:
                raise _TrustedLayerGone(exc.message) from None
            raise
    return image_id, new, indexes


@contextlib.contextmanager
def _own_layers(
    client: Any,
    user: Any,
    epoch: int,
    own_from: int | None,
    cache_dir: Path | None,
    say: Any,
    trust: bool = True,
) -> Iterator[tuple[dict[str, Any], list[Path | None], int]]:
    """The user image's config with its own layers re-packed, the tars to load, and how
    many re-packed layers were taken on trust (a remote engine's memo)."""
    diff_ids = list((user.config.get("rootfs") or {}).get("diff_ids") or [])
    if own_from is None or own_from >= len(diff_ids):
        yield user.config, [], 0
        return
    from audit.build.repack import repack_layers
    from audit.inventory.layercache import LayerCache

    work = Path(cache_dir or tempfile.gettempdir()) / "repack"
    with repack_layers(
        client, user.image_id, diff_ids, own_from, epoch, work, cache_dir, trust
    ) as repacked:
        if say:
            say("building", f"re-packed {len(diff_ids) - own_from} layer(s) of the Dockerfile's "
                f"own steps canonically ({repacked.changed} changed)")  # fmt: skip
        cache = LayerCache(cache_dir)
        for old, new, index in zip(diff_ids, repacked.diff_ids, user.layers, strict=False):
            if old != new:
                cache.put(new, index)
        config = json.loads(json.dumps(user.config))
        config["rootfs"]["diff_ids"] = repacked.diff_ids
        yield config, repacked.files, repacked.trusted


def env_layer_index(staged: StagedEnv, where: str, cache_dir: Path | None) -> Any:
    """The environment layer's metadata index: kept per diff_id, scanned once per stage."""
    from audit.inventory import scan_layer_file
    from audit.inventory.layercache import LayerCache

    return LayerCache(cache_dir).index(
        staged.diff_id, lambda: scan_layer_file(staged.tar_path, where)
    )


class StageDamaged(InputError):
    """The cached stage no longer hashes to its recorded digest (the engine refused it)."""


def env_image(client: Any, staged: StagedEnv, platform: str, epoch: int) -> str:
    """A one-layer image of the environment, tagged `repro-audit-env:<hex>`; the tag."""
    os_name, _, arch = platform.partition("/")
    config = {
        "architecture": arch.split("/")[0],
        "os": os_name,
        "config": {"Env": _env_list([], staged.prefix)},
        "created": epoch_text(epoch),
        "history": [_history(epoch, staged)],
        "rootfs": {"type": "layers", "diff_ids": [staged.diff_id]},
    }
    data = _dumps(config)
    tag = f"{ENV_REPOSITORY}:{hashlib.sha256(data).hexdigest()[:32]}"
    try:
        client.inspect_image(tag)
        return tag
    except EngineNotFound:
        pass
    try:
        load_archive(client, data, tag, [staged.tar_path])
    except InputError as exc:
        if "diffid" in exc.message.lower():
            raise StageDamaged(exc.message) from None
        raise
    return tag
