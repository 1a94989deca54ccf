"""`image:` fields of compose files: find them and rewrite them in place; pure, no I/O.

YAML is composed (not loaded) so every scalar keeps its position in the text, and the
digest is inserted right after the value (inside its quotes), leaving every other byte as
it was. A service with `build:` names the image it *builds* in `image:`, so it is skipped.
Compose interpolation (`${VAR:-default}`, `${VAR-default}`, `$$`) is expanded with defaults
only: the environment of whoever runs `pin` must not change what gets pinned.
"""

from __future__ import annotations

import re

from audit.core.errors import InputError
from audit.dockerfile.parser import ImageSite
from audit.registry.reference import ReferenceError, parse_reference

_VARIABLE = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_]\w*))")
_DIGEST_TAIL = re.compile(r"@sha256:[0-9a-fA-F]+$")


def _interpolate(value: str, where: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        op, word = match.group(2), match.group(3)
        if op and op.endswith("-"):
            return word
        message = word if op and word else f"variable {name} has no default"
        raise InputError(f"cannot pin an image that depends on ${{{name}}}: {message}", where=where)

    return _VARIABLE.sub(replace, value)


def parse_compose(text: str, path: str = "docker-compose.yml") -> list[ImageSite]:
    """Every pulled `services.*.image` of a compose file, with its rewrite positions."""
    import yaml

    from audit.core.safeload import compose_yaml

    root = compose_yaml(text, path)
    services = _get(root, "services")
    if services is None:
        return []
    if not isinstance(services, yaml.MappingNode):
        raise InputError(
            "'services' is not a mapping", where=f"{path}:{services.start_mark.line + 1}"
        )
    sites: list[ImageSite] = []
    for _, service in services.value:
        if not isinstance(service, yaml.MappingNode) or _get(service, "build") is not None:
            continue
        node = _get(service, "image")
        if node is not None:
            sites.append(_site(node, text, path))
    return sites


def _get(node: object, key: str) -> object | None:
    """`node[key]` on a composed mapping, following `<<` merge keys as YAML does."""
    import yaml

    if not isinstance(node, yaml.MappingNode):
        return None
    merges: list[object] = []
    for key_node, value in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            continue
        if key_node.value == key:
            return value
        if key_node.value == "<<":
            merges.extend(value.value if isinstance(value, yaml.SequenceNode) else [value])
    for merged in merges:
        found = _get(merged, key)
        if found is not None:
            return found
    return None


def _site(node: object, text: str, path: str) -> ImageSite:
    import yaml

    line = node.start_mark.line + 1  # type: ignore[attr-defined]
    where = f"{path}:{line}"
    if not isinstance(node, yaml.ScalarNode) or node.style in ("|", ">"):
        raise InputError("image: must be a plain or quoted string", where=where)
    expanded = _interpolate(node.value, where)
    try:
        ref = parse_reference(expanded)
    except ReferenceError as exc:
        raise InputError(f"malformed image reference: {exc}", where=where) from None
    end = node.end_mark.index - (1 if node.style in ('"', "'") else 0)
    digest_span = None
    match = _DIGEST_TAIL.search(text[node.start_mark.index : end])
    if ref.digest and match and text[end - len(match.group(0)) : end] == "@" + ref.digest:
        digest_span = (end - len(match.group(0)), end)
    return ImageSite(
        path=path,
        line=line,
        kind="image",
        written=text[node.start_mark.index : node.end_mark.index],
        expanded=expanded,
        ref=ref,
        insert_at=end,
        digest_span=digest_span,
    )
