"""The Docker engine the image lands in: endpoint (DOCKER_HOST, contexts), client, platform."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from audit.core.errors import InfrastructureError, InputError
from audit.core.redact import redact_url

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def docker_endpoint() -> tuple[str, Any]:
    """(host URL, TLS config) from DOCKER_HOST, else DOCKER_CONTEXT / the current context."""
    host = os.environ.get("DOCKER_HOST")
    if host:
        return host, None
    name = os.environ.get("DOCKER_CONTEXT")
    if not name:
        config_dir = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
        try:
            name = json.loads((config_dir / "config.json").read_text()).get("currentContext")
        except (OSError, ValueError, AttributeError):
            name = None
    if name and name != "default":
        from docker.context import ContextAPI

        try:
            context = ContextAPI.get_context(name)
        except Exception as exc:  # docker.errors.ContextException and friends
            raise InputError(f"cannot read Docker context {name!r}: {exc}") from None
        if context is None:
            raise InputError(f"no Docker context named {name!r}", hint="see `docker context ls`")
        return context.Host, context.TLSConfig
    return "unix:///var/run/docker.sock", None


def docker_unreachable(host: str, exc: BaseException | None = None) -> InfrastructureError:
    detail = f" ({str(exc).splitlines()[0][:200]})" if exc and str(exc) else ""
    return InfrastructureError(
        f"Docker is not reachable at {host}{detail}",
        hint="start dockerd (e.g. `sudo dockerd &` or `systemctl start docker`), "
        "or point DOCKER_HOST / `docker context use` at a running engine",
    )


def connect_docker() -> Any:
    """A Docker SDK client that answered a ping; exit 3 with how to start Docker if not."""
    import docker
    import docker.errors
    import requests

    host, tls = docker_endpoint()
    try:
        if os.environ.get("DOCKER_HOST"):
            client = docker.from_env(timeout=600)
        else:
            client = docker.DockerClient(base_url=host, tls=tls or False, timeout=600)
        client.ping()
    except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
        raise docker_unreachable(host, exc) from None
    return client


def daemon_platform(client: Any) -> str:
    info = client.version()
    arch = str(info.get("Arch") or "amd64")
    return f"{info.get('Os') or 'linux'}/{'arm64' if arch == 'aarch64' else arch}"


def image_env_path(client: Any, image: str) -> str:
    """The PATH of an image's config, or Docker's default when it sets none."""
    config = client.api.inspect_image(image).get("Config") or {}
    for item in config.get("Env") or ():
        if item.startswith("PATH="):
            return item[len("PATH=") :]
    return DEFAULT_PATH


def pull_env_path(client: Any, ref: str, platform: str, say: Any) -> str:
    """Make `ref` local (pull when missing, with the run's credentials) and return its PATH."""
    import docker.errors

    try:
        return image_env_path(client, ref)
    except docker.errors.ImageNotFound:
        pass
    say("pulling", ref)
    name, _, digest = ref.partition("@")
    if digest and ":" in name.rsplit("/", 1)[-1]:  # by digest: the tag is only for humans
        name = name.rsplit(":", 1)[0]
    try:
        client.api.pull(name, tag=digest or None, platform=platform, auth_config=pull_auth(name))
    except docker.errors.APIError as exc:
        explanation = str(exc.explanation or "")
        if exc.status_code in (401, 403) or "unauthorized" in explanation.lower():
            from audit.core.credentials import hint_for
            from audit.core.errors import AccessDeniedError

            raise AccessDeniedError(
                f"access denied pulling {redact_url(ref)}",
                hint=hint_for(name.split("/", 1)[0], registry=True),
            ) from None
        raise InfrastructureError(f"cannot pull {redact_url(ref)}: {explanation}") from None
    return image_env_path(client, ref)


def pull_private_bases(
    client: Any, images: list[Any], local: dict[str, str], platform: str, say: Any
) -> None:
    """Pull bases the run has credentials for before the user's build: dockerd and the
    builder know only `docker login`, and both use an image the engine already holds."""
    for image in images:
        if image.digest and image.ref not in local and pull_auth(image.ref) is not None:
            ref = image.ref if "@" in image.ref else f"{image.ref}@{image.digest}"
            pull_env_path(client, ref, platform, say)


def pull_auth(name: str) -> dict[str, str] | None:
    """Credentials for dockerd's pull: Docker's config or the run's auth file / netrc."""
    from audit.registry.credentials import DockerCredentials
    from audit.registry.reference import parse_reference

    try:
        host = parse_reference(name).api_host
    except ValueError:
        return None
    found = DockerCredentials().lookup(host)
    if found is None or found.identity_token:
        return None
    return {"username": found.username, "password": found.secret}
