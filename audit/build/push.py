"""Tag and push the built image."""

from __future__ import annotations

from typing import Any

from audit.build.options import Progress
from audit.core.errors import InfrastructureError
from audit.registry.reference import split_tag


def push_image(client: Any, tag: str, say: Progress) -> str:
    """Push `tag`; the repo digest `name@sha256:…` the registry answered with."""
    import docker.errors

    repository, version = split_tag(tag)
    digest = None
    try:
        for chunk in client.sdk.api.push(repository, tag=version, stream=True, decode=True):
            if "error" in chunk:
                raise InfrastructureError(f"push of {tag} failed: {chunk['error']}")
            aux = chunk.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                digest = aux["Digest"]
            status = chunk.get("status")
            if status and not chunk.get("progressDetail"):
                say("pushing", f"{chunk.get('id', '')} {status}".strip())
    except docker.errors.APIError as exc:
        raise InfrastructureError(f"push of {tag} failed: {exc.explanation or exc}") from None
    if not digest:
        raise InfrastructureError(f"push of {tag} returned no digest")
    return f"{repository}@{digest}"
