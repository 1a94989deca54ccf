"""The Docker engine the image lands in: the connection, its platform, pulls of bases."""

from __future__ import annotations

from typing import Any

from audit.core.dockerapi import EngineNotFound
from audit.core.errors import InfrastructureError
from audit.core.redact import redact_url

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def daemon_platform(client: Any) -> str:
    info = client.version()
    arch = str(info.get("Arch") or "amd64")
    return f"{info.get('Os') or 'linux'}/{'arm64' if arch == 'aarch64' else arch}"


def image_env_path(client: Any, image: str) -> str:
    """The PATH of an image's config, or Docker's default when it sets none."""
    config = client.inspect_image(image).get("Config") or {}
    for item in config.get("Env") or ():
        if item.startswith("PATH="):
            return item[len("PATH=") :]
    return DEFAULT_PATH


def pull_env_path(client: Any, ref: str, platform: str, say: Any) -> str:
    """Make `ref` local (pull when missing, with the run's credentials) and return its PATH."""
    try:
        return image_env_path(client, ref)
    except EngineNotFound:
        pass
    say("pulling", ref)
    name, _, digest = ref.partition("@")
    if digest and ":" in name.rsplit("/", 1)[-1]:  # by digest: the tag is only for humans
        name = name.rsplit(":", 1)[0]
    import docker.errors

    try:
        client.sdk.api.pull(
            name, tag=digest or None, platform=platform, auth_config=pull_auth(name)
        )
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
