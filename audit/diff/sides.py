"""What is known about each image of a comparison, gathered from files and the engine.

The edge of audit.diff.attribution: an image inventory carries its layers and the base its
labels name; a build record adds the Dockerfile it was built from and the environment
layer; a Dockerfile given by the user names the base by its pinned `FROM`. When the local
engine holds that base, its own layers say exactly where the base ends (and a `FROM` whose
base is not under the image is not believed).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from audit.diff.attribution import ATTRIBUTED, ImageSide, attribute_drift
from audit.diff.classify import Drift
from audit.inventory.interface import ImageMeta, Inventory


def attribute_sources(
    drift: Drift,
    old: tuple[str, Sequence[Inventory], Path | None],
    new: tuple[str, Sequence[Inventory], Path | None],
    *,
    engine: bool = True,
    root: Path = Path("."),
) -> Drift:
    """`drift` with its deb/apk changes attributed; each side is (spec, inventories, Dockerfile).

    Nothing is read unless an OS package changed between two single images. `root` is
    where a build record's relative Dockerfile path is also looked for.
    """
    if not any(c.manager in ATTRIBUTED for c in drift.changes):
        return drift
    if len(old[1]) != 1 or len(new[1]) != 1:
        return drift
    a = image_side(old[0], old[1][0], old[2], engine=engine, root=root)
    b = image_side(new[0], new[1][0], new[2], engine=engine, root=root)
    return attribute_drift(drift, a, b)


def image_side(
    spec: str,
    inventory: Inventory,
    dockerfile: Path | None = None,
    *,
    engine: bool = True,
    root: Path = Path("."),
) -> ImageSide:
    """The layers, base and Dockerfile of the image `spec` (a build record's included)."""
    from audit.core.errors import InputError
    from audit.dockerfile.provenance import build_record, load_provenance

    record = build_record(spec)
    meta = inventory.image or _meta_from_record(record, inventory)
    is_image = meta is not None or any(p.layer for p in inventory.packages)
    text, name, env_layer = None, "Dockerfile", ""
    if record is not None:
        provenance = load_provenance(spec, root)
        text, name, env_layer = (
            provenance.dockerfile_text,
            provenance.dockerfile_name,
            provenance.env_layer,
        )
    if dockerfile is not None:
        try:
            text = dockerfile.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the Dockerfile: {exc}", where=str(dockerfile)) from None
        name = dockerfile.name
    layers = meta.layers if meta else ()
    base_name, base_digest = (meta.base_name, meta.base_digest) if meta else ("", "")
    from_dockerfile = False
    if not base_digest and text is not None:
        base_name, base_digest = _dockerfile_base(text, name)
        from_dockerfile = bool(base_digest)
    base_layers = None
    if engine and base_digest and base_name and layers:
        base = engine_layers(base_name, base_digest)
        if base is not None and tuple(layers[: len(base)]) == base:
            base_layers = len(base)
        elif base is not None and from_dockerfile:
            base_digest = ""  # that FROM's image is not under this one: another Dockerfile
    return ImageSide(
        layers=layers,
        steps=meta.steps if meta else (),
        base_digest=base_digest,
        base_layers=base_layers,
        dockerfile=text,
        dockerfile_name=name,
        env_layer=env_layer,
        is_image=is_image,
    )


def _meta_from_record(record: dict[str, Any] | None, inventory: Inventory) -> ImageMeta | None:
    """A record written before inventories kept their image: its layers and labels."""
    if record is None:
        return None
    from audit.inventory.layers import BASE_DIGEST_LABEL, BASE_NAME_LABEL

    outputs = record.get("outputs") or {}
    layers = tuple(str(x) for x in outputs.get("layers") or ())
    by_layer = {p.layer: p.created_by for p in inventory.packages if p.layer}
    labels = outputs.get("labels") or {}
    return ImageMeta(
        layers=layers,
        steps=tuple(by_layer.get(layer, "") for layer in layers),
        base_name=str(labels.get(BASE_NAME_LABEL) or ""),
        base_digest=str(labels.get(BASE_DIGEST_LABEL) or ""),
    )


def _dockerfile_base(text: str, name: str) -> tuple[str, str]:
    """(name, digest) of the image the Dockerfile's last stage starts from, when pinned."""
    from audit.core.errors import InputError
    from audit.dockerfile.parser import parse_dockerfile

    try:
        site = parse_dockerfile(text, name, lenient=True).final_base()
    except InputError:
        return "", ""
    if site is None or not site.ref.digest:
        return "", ""
    return site.ref.name, site.ref.digest


def engine_layers(name: str, digest: str) -> tuple[str, ...] | None:
    """The diff_ids of `name@digest` in the local engine; None when it is not there."""
    from audit.inventory.engine import inspect_local
    from audit.registry.reference import ReferenceError, parse_reference

    try:
        reference = f"{parse_reference(name).name}@{digest}"
    except ReferenceError:
        return None
    found = inspect_local(reference)
    layers = ((found or {}).get("RootFS") or {}).get("Layers")
    return tuple(str(x) for x in layers) if isinstance(layers, list) else None
