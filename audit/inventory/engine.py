"""One question to the local Docker engine: what it knows of an image, if it has it."""

from __future__ import annotations

from typing import Any

from audit.core.errors import ReproAuditError


def inspect_local(name: str) -> dict[str, Any] | None:
    """`docker inspect NAME` of the local engine; None when Docker or the image is not there.

    For facts that only help (a label, a base image's layers): their absence is no error.
    """
    from audit.core.dockerapi import EngineError, connect

    try:
        client = connect(timeout=10)
    except ReproAuditError:  # no engine, or a Docker context that cannot be read
        return None
    try:
        found = client.inspect_image(name)
    except (EngineError, ReproAuditError):  # no such image; the engine went away
        return None
    finally:
        client.close()
    return found if isinstance(found, dict) else None
