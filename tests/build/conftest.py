"""Fixtures of the `build` tests: a real dockerd, a real local registry, a locked project.

No public registry or conda channel is reachable, so the session makes its own: a busybox
base image (`docker import` of a rootfs holding Debian's static busybox) pushed to a
`docker-registry` on 127.0.0.1, and a project locked (`repro-audit lock`) against the
fixture channel and pinned (`repro-audit pin`) against that registry, both run as
subprocesses the way a user runs them. Every image a test creates is removed afterwards.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from build_helpers import BASE_REPOSITORY, BaseImage, write_project
from support.build import busybox_path, import_busybox, push_tag
from support.docker import require_docker, require_tool
from support.registry import LocalRegistry


@pytest.fixture(scope="session")
def build_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """A throw-away `docker-registry` on 127.0.0.1 for the session."""
    require_tool("docker-registry")
    instance = LocalRegistry(tmp_path_factory.mktemp("build-registry")).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="session")
def base_image(build_registry: LocalRegistry) -> Iterator[BaseImage]:
    """busybox imported with `docker import`, pushed to `build_registry` (digest known)."""
    client = require_docker()
    busybox = busybox_path()
    require_tool("busybox (busybox-static)", busybox is not None)
    assert busybox is not None
    repository = f"{build_registry.host}/{BASE_REPOSITORY}"
    import_busybox(client, repository, "1", busybox)
    digest = push_tag(client, repository, "1")
    yield BaseImage(build_registry.host, BASE_REPOSITORY, "1", digest)
    with contextlib.suppress(Exception):
        client.api.remove_image(f"{repository}:1", force=True)
    client.close()


@pytest.fixture(scope="session")
def project_template(
    tmp_path_factory: pytest.TempPathFactory, channel_url: str, base_image: BaseImage
) -> Path:
    """A locked, pinned project (copy it with the `project` fixture; don't modify)."""
    return write_project(tmp_path_factory.mktemp("project"), channel_url, base_image)


@pytest.fixture
def project(project_template: Path, tmp_path: Path) -> Path:
    """A private copy of the locked and pinned project."""
    target = tmp_path / "project"
    shutil.copytree(project_template, target)
    return target


@pytest.fixture(scope="session")
def build_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An artifact/stage cache shared by the session (the user's ~/.cache stays clean)."""
    cache = tmp_path_factory.mktemp("build-cache")
    yield cache
    # the classic builder's images behind the reproducible images (kept by `build` as its
    # build cache) and, pruned with them, the user stages beneath
    from support.docker import docker_client

    from audit.verify import builder_images

    client, _ = docker_client()
    if client is not None:
        for image in builder_images(cache):
            with contextlib.suppress(Exception):
                client.api.remove_image(image)
        client.close()


@pytest.fixture
def images() -> Iterator[Callable[[str], str]]:
    """`images(tag) -> tag`: remember a tag and remove that image when the test ends."""
    client = require_docker()
    made: list[str] = []

    def remember(tag: str) -> str:
        made.append(tag)
        return tag

    yield remember
    for tag in made:
        with contextlib.suppress(Exception):
            client.api.remove_image(tag, force=True)
    client.close()


@pytest.fixture
def tag_for(tmp_path: Path, images: Callable[[str], str]) -> Callable[[str], str]:
    """A unique, cleaned-up tag per test and suffix."""
    stem = "".join(c if c.isalnum() else "-" for c in tmp_path.name.lower()).strip("-")

    def make(suffix: str = "1") -> str:
        return images(f"ra-build-test/{stem}:{suffix}")

    return make
