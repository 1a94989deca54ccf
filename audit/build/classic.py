"""The classic builder (docker-py): the fallback where no BuildKit can be reached."""

from __future__ import annotations

from typing import Any

from audit.core.dockerapi import unreachable
from audit.core.errors import InputError


def classic_build(client: Any, context: Any, say: Any, **kwargs: Any) -> str:
    """Run one classic build from a context tar; the image id, or InputError on failure."""
    import docker.errors
    import requests

    image_id = None
    last = ""
    try:
        for chunk in client.sdk.api.build(
            fileobj=context, custom_context=True, rm=True, forcerm=True, decode=True, **kwargs
        ):
            if "error" in chunk:
                detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
                raise InputError(
                    f"docker build failed: {str(detail).strip()}",
                    where=last or None,
                )
            text = str(chunk.get("stream") or "").strip()
            if text.startswith("Step "):
                last = text.splitlines()[0]
                say("building", last if len(last) <= 100 else last[:97] + "...")
            aux = chunk.get("aux")
            if isinstance(aux, dict) and aux.get("ID"):
                image_id = aux["ID"]
            elif text.startswith("Successfully built "):
                image_id = image_id or text.split()[-1]
    except docker.errors.APIError as exc:
        raise InputError(f"docker build refused: {exc.explanation or exc}") from None
    except (docker.errors.DockerException, requests.RequestException) as exc:
        raise unreachable(client.endpoint.host, exc) from None
    if not image_id:
        raise InputError("docker build ended without an image id")
    if not image_id.startswith("sha256:"):
        image_id = client.inspect_image(image_id)["Id"]
    return image_id
