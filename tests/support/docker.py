"""Docker availability for tests: skip locally when absent, fail in CI when required.

`REPRO_AUDIT_REQUIRE_DOCKER=1` turns "Docker is not running" from a skip into a failure,
so a CI job that is meant to exercise Docker cannot go green by skipping everything.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest

REQUIRE_ENV = "REPRO_AUDIT_REQUIRE_DOCKER"


def docker_client() -> tuple[Any | None, str]:
    """(client, "") when the daemon answers a ping, else (None, why not)."""
    try:
        import docker
    except ImportError as exc:
        return None, f"docker SDK not installed ({exc})"
    try:
        client = docker.from_env(timeout=10)
        client.ping()
        return client, ""
    except Exception as exc:  # DockerException, requests errors, socket errors
        return None, str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def require_docker() -> Any:
    """A Docker client, or skip (fail under REPRO_AUDIT_REQUIRE_DOCKER=1) without one."""
    client, why = docker_client()
    if client is not None:
        return client
    unavailable(f"Docker is not available: {why}")


def require_tool(what: str, available: bool | None = None) -> None:
    """Skip (fail under REPRO_AUDIT_REQUIRE_DOCKER=1) when `what` is missing.

    `what` is a program looked up on PATH, unless `available` says whether it is there.
    """
    if (shutil.which(what) is not None) if available is None else available:
        return
    unavailable(f"{what} is not installed (scripts/setup.sh installs it)")


def unavailable(message: str) -> None:
    """The one policy for missing services: a skip locally, a failure in CI."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{message} ({REQUIRE_ENV}=1)", pytrace=False)
    pytest.skip(message)


def require_buildkit() -> None:
    """BuildKit must be reachable here (skip locally without one, fail in CI)."""
    from audit.build.builders import choose

    builder, _ = choose(None)
    if not builder.buildkit:
        unavailable("no docker client with BuildKit (scripts/setup.sh installs docker.io)")
