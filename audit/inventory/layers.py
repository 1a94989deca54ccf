"""Which layer of an image put each package there, and the build step that made the layer.

A conda-meta record or a dist-info directory is one file: its layer is the upper-most
layer that wrote it (and that no whiteout above removed). dpkg's status and apk's
installed database list every package in one file that each installing layer rewrites,
so there a package belongs to the first layer whose database holds it at the version the
image ends with (a later layer that re-lists it unchanged did not install it).

A layer's step is its image history entry: `history` lists every step, `empty_layer`
ones (ENV, LABEL…) make no layer, the others pair in order with `rootfs.diff_ids`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol

from audit.inventory.interface import ImageMeta, Package
from audit.inventory.metadata import SYSTEM

SYSTEM_MANAGERS = ("deb", "apk", "rpm")


class _Layer(Protocol):
    files: dict[str, tuple[str, object]]
    whiteouts: set[str]
    opaque: set[str]


def layer_steps(config: dict[str, Any] | None, count: int) -> list[tuple[str, str]]:
    """(diff_id, created_by) of each of `count` layers; "" where the config does not say."""
    config = config or {}
    diff_ids = [str(d) for d in ((config.get("rootfs") or {}).get("diff_ids") or ())]
    history = [
        str(h.get("created_by") or "")
        for h in config.get("history") or ()
        if isinstance(h, dict) and not h.get("empty_layer")
    ]
    if len(history) != len(diff_ids):
        history = []  # a config whose history does not pair with its layers: say nothing
    return [
        (
            diff_ids[i] if i < len(diff_ids) else "",
            history[i] if i < len(history) else "",
        )
        for i in range(count)
    ]


BASE_NAME_LABEL = "org.opencontainers.image.base.name"
BASE_DIGEST_LABEL = "org.opencontainers.image.base.digest"
#: `repro-audit build`'s label: every image the Dockerfile pulls, comma-separated
BASE_DIGESTS_LABEL = "io.repro-audit.base.digests"


def image_meta(config: dict[str, Any] | None, count: int) -> ImageMeta:
    """The layers (diff_id, step) and the base image the labels of an image config name."""
    steps = layer_steps(config, count)
    labels = ((config or {}).get("config") or {}).get("Labels") or {}
    if not isinstance(labels, dict):
        labels = {}
    digest = str(labels.get(BASE_DIGEST_LABEL) or "")
    if not digest:
        listed = [d for d in str(labels.get(BASE_DIGESTS_LABEL) or "").split(",") if d]
        digest = listed[0] if len(listed) == 1 else ""
    return ImageMeta(
        layers=tuple(diff_id for diff_id, _ in steps),
        steps=tuple(step for _, step in steps),
        base_name=str(labels.get(BASE_NAME_LABEL) or ""),
        base_digest=digest,
    )


Hidden = Callable[[str, set[str], set[str]], bool]


def _file_layers(layers: Sequence[_Layer], hidden: Hidden) -> dict[str, int]:
    origin: dict[str, int] = {}
    for index, layer in enumerate(layers):
        if origin and (layer.whiteouts or layer.opaque):
            for path in [p for p in origin if hidden(p, layer.whiteouts, layer.opaque)]:
                del origin[path]
        for path in layer.files:
            origin[path] = index
    return origin


def _system_layers(layers: Sequence[_Layer]) -> dict[tuple[str, str], int]:
    introduced: dict[tuple[str, str], tuple[str, int]] = {}
    for index, layer in enumerate(layers):
        for kind, value in layer.files.values():
            if kind != SYSTEM:
                continue
            for package in value:  # type: ignore[attr-defined]
                seen = introduced.get(package.key)
                if seen is None or seen[0] != package.version:
                    introduced[package.key] = (package.version, index)
    return {key: index for key, (_, index) in introduced.items()}


def attribute(
    packages: list[Package],
    layers: Sequence[_Layer],
    config: dict[str, Any] | None,
    hidden: Hidden,
) -> list[Package]:
    """`packages` with `layer` and `created_by` set from the layer each one comes from.

    `hidden(path, whiteouts, opaque)` says whether a layer's whiteouts hide a lower path.
    """
    if not layers:
        return packages
    steps = layer_steps(config, len(layers))
    files = _file_layers(layers, hidden)
    system = _system_layers(layers)
    out: list[Package] = []
    for package in packages:
        index: int | None
        if package.manager in SYSTEM_MANAGERS:
            index = system.get(package.key)
        elif package.manager == "conda":
            index = files.get(package.location.lstrip("/"))
        else:
            index = files.get(package.location.lstrip("/") + "/METADATA")
        if index is None:
            out.append(package)
            continue
        diff_id, created_by = steps[index]
        out.append(replace(package, layer=diff_id or f"layer {index}", created_by=created_by))
    return out
