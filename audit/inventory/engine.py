"""One question to the local Docker engine: what it knows of an image, if it has it."""

from __future__ import annotations

from typing import Any


def inspect_local(name: str) -> dict[str, Any] | None:
    """`docker inspect NAME` of the local engine; None when Docker or the image is not there.

    For facts that only help (a label, a base image's layers): their absence is no error.
    """
    try:
        import docker
        import docker.errors
    except ImportError:  # pragma: no cover - docker-py is a dependency
        return None
    try:
        client = docker.from_env(timeout=10)
        try:
            found = client.api.inspect_image(name)
        finally:
            client.close()
    except docker.errors.DockerException:
        return None
    except OSError:  # the socket itself (requests' connection errors are OSErrors)
        return None
    return found if isinstance(found, dict) else None
