"""Fixtures of the `verify` tests: a registry for the session, a `World` factory per test.

A world is the T0 of the issue's scenario: a channel directory the test owns, served over
HTTP; a busybox base pushed to the local registry and pinned; a project locked against
the channel, built and recorded. Every image a world made is removed afterwards.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import make_channel
from support.build import busybox_path
from support.docker import require_docker, require_tool
from support.http import serve_directory
from support.registry import LocalRegistry
from verify_helpers import ENVIRONMENT_YML, World, push_base

from audit.verify import builder_images


@pytest.fixture(scope="session")
def verify_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """A `docker-registry` on 127.0.0.1 with deletes enabled, for the session."""
    require_tool("docker-registry")
    instance = LocalRegistry(tmp_path_factory.mktemp("verify-registry")).start()
    yield instance
    instance.stop()


def commit(directory: Path, message: str) -> None:
    """Commit everything in `directory` (a repository is created on first use)."""
    identity = ["-c", "user.email=verify@example.invalid", "-c", "user.name=verify"]
    if not (directory / ".git").is_dir():
        subprocess.run(["git", "init", "-q"], cwd=directory, check=True)
    for args in (["add", "-A"], ["commit", "-qm", message]):
        subprocess.run(["git", *identity, *args], cwd=directory, check=True, capture_output=True)


@pytest.fixture
def make_world(tmp_path: Path, verify_registry: LocalRegistry) -> Iterator[Callable[..., World]]:
    """`make_world(name) -> World` at T0 (locked, pinned, built, recorded); cleaned up after."""
    client = require_docker()
    require_tool("busybox (busybox-static)", busybox_path() is not None)
    worlds: list[World] = []
    servers = contextlib.ExitStack()

    def make(name: str = "w", build: bool = True, builder: str | None = None) -> World:
        root = tmp_path / name
        channel = make_channel.build_channel(root / "channel")
        url = servers.enter_context(serve_directory(channel))
        project = root / "project"
        project.mkdir(parents=True)
        stem = "".join(c if c.isalnum() else "-" for c in f"{tmp_path.name}-{name}".lower())
        world = World(
            root=root,
            channel=channel,
            channel_url=url,
            project=project,
            cache=root / "cache",
            registry_host=verify_registry.host,
            repository=f"ra-verify/{stem.strip('-')}",
            tag="1",
            image_tag=f"ra-verify-test/{stem.strip('-')}:1",
        )
        worlds.append(world)
        base = f"{world.registry_host}/{world.repository}"
        world.base_digest = push_base(client, base, world.tag, "")
        world.made_images += [f"{base}:{world.tag}", world.image_tag]
        (project / "environment.yml").write_text(
            ENVIRONMENT_YML.format(channel=url), encoding="utf-8"
        )
        # a tree copied to / (the classic builder stamps a directory COPY creates or
        # writes into with the wall clock; a tree from the context keeps its mtimes)
        (project / "files" / "app").mkdir(parents=True)
        (project / "files" / "app" / "hello.txt").write_text("hello\n", encoding="utf-8")
        (project / "Dockerfile").write_text(
            f"FROM {base}:{world.tag}\nCOPY files/ /\n", encoding="utf-8"
        )
        for args in (("lock", "-p", "linux-64"), ("pin",)):
            done = world.run(*args)
            assert done.returncode == 0, done.stdout + done.stderr
        if build:
            extra = ("--builder", builder) if builder else ()
            done = world.run("build", "-t", world.image_tag, *extra)
            assert done.returncode == 0, done.stdout + done.stderr
        commit(project, "T0")
        return world

    yield make
    servers.close()
    for world in worlds:
        # the tags, then the builder images behind each reproducible image (their parents,
        # the user stages, go with them)
        for image in world.made_images + builder_images(world.cache):
            with contextlib.suppress(Exception):
                client.api.remove_image(image, force=True)
    client.close()
