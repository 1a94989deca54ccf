"""Two real images, each built with `docker build` (classic and BuildKit) on its own base:
base B is base A moved (tzdata other in its dpkg status), and image B's step installs
another curl. `repro-audit diff` blames tzdata on the base image and curl on the Dockerfile
line. The bases are busybox rootfs with a dpkg status, `docker import`ed and pushed to a
local registry, so each FROM is pinned by its digest as `repro-audit pin` writes it."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.build import BaseImage, busybox_path, import_busybox, push_tag
from support.cli import repro_audit
from support.docker import require_docker, require_tool, unavailable
from support.registry import LocalRegistry

pytestmark = pytest.mark.docker

STATUS = "Package: {}\nStatus: install ok installed\nArchitecture: amd64\nVersion: {}\n\n"


def _status(*packages: tuple[str, str]) -> bytes:
    return "".join(STATUS.format(name, version) for name, version in packages).encode()


def _step(name: str, version: str) -> str:
    """A RUN that installs a deb as far as dpkg's database is concerned."""
    return (
        "RUN printf 'Package: %s\\nStatus: install ok installed\\nVersion: %s\\n\\n' "
        f"{name} {version} >> /var/lib/dpkg/status"
    )


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BaseImage, BaseImage]]:
    client = require_docker()
    busybox = busybox_path()
    require_tool("busybox (busybox-static)", busybox is not None)
    require_tool("docker-registry")
    assert busybox is not None
    registry = LocalRegistry(tmp_path_factory.mktemp("osdiff-registry")).start()
    repository = f"{registry.host}/osdiff-base"
    made = []
    try:
        for tag, tzdata in (("a", "2024a-0"), ("b", "2024b-0")):
            status = _status(("libc6", "2.36-9+deb12u4"), ("tzdata", tzdata))
            import_busybox(client, repository, tag, busybox, {"var/lib/dpkg/status": status})
            digest = push_tag(client, repository, tag)
            made.append(BaseImage(registry.host, "osdiff-base", tag, digest))
        yield made[0], made[1]
    finally:
        for base in made:
            with contextlib.suppress(Exception):
                client.api.remove_image(base.tagged, force=True)
        registry.stop()
        client.close()


def _builder(kind: str) -> tuple[list[str], dict[str, str]]:
    """The docker CLI and environment for a classic or a BuildKit `docker build`."""
    from audit.build.builders import choose

    if kind == "classic":
        from audit.build.builders import docker_clients

        clients = docker_clients()
        if not clients:
            unavailable("no docker client on PATH")
        return [clients[0], "build"], {"DOCKER_BUILDKIT": "0"}
    builder, _ = choose(None)
    if not builder.buildkit or builder.client is None:
        unavailable("no docker client with BuildKit (scripts/setup.sh installs docker.io)")
    assert builder.client is not None
    if builder.kind == "buildx":
        return [builder.client, "buildx", "build", "--load"], {}
    return [builder.client, "build"], {"DOCKER_BUILDKIT": "1"}


def _build(kind: str, context: Path, tag: str) -> None:
    command, env = _builder(kind)
    done = subprocess.run(
        [*command, "-q", "-t", tag, str(context)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("kind", ["classic", "buildkit"])
def test_diff_names_the_base_move_and_the_dockerfile_line(
    kind: str, bases: tuple[BaseImage, BaseImage], tmp_path: Path
) -> None:
    client = require_docker()
    base_a, base_b = bases
    tags = []
    contexts = []
    for name, base, curl in (("a", base_a, "7.88.1-10"), ("b", base_b, "8.5.0-1")):
        context = tmp_path / name
        context.mkdir()
        (context / "Dockerfile").write_text(
            f"FROM {base.pinned}\nENV DEBIAN_FRONTEND=noninteractive\n{_step('curl', curl)}\n",
            encoding="utf-8",
        )
        tag = f"repro-audit-test/osdiff-{name}:{uuid.uuid4().hex[:8]}"
        _build(kind, context, tag)
        tags.append(tag)
        contexts.append(context)
    images = (f"docker-daemon:{tags[0]}", f"docker-daemon:{tags[1]}")
    args = (
        "diff", *images,
        "--old-dockerfile", str(contexts[0] / "Dockerfile"),
        "--dockerfile", str(contexts[1] / "Dockerfile"),
    )  # fmt: skip
    try:
        done = repro_audit(*args, "--format", "json")
        assert done.returncode == 1, done.stderr
        changes = {
            (c["manager"], c["name"]): c for c in json.loads(done.stdout)["platforms"][0]["changes"]
        }
        assert set(changes) == {("deb", "tzdata"), ("deb", "curl")}
        tzdata, curl = changes[("deb", "tzdata")], changes[("deb", "curl")]
        assert (tzdata["kind"], tzdata["old"]["version"], tzdata["new"]["version"]) == (
            "upgraded", "2024a-0", "2024b-0",
        )  # fmt: skip
        short = f"sha256:{base_a.digest[7:19]} → sha256:{base_b.digest[7:19]}"
        assert tzdata["attribution"]["text"] == f"base image moved ({short})"
        assert (tzdata["attribution"]["old_base"], tzdata["attribution"]["new_base"]) == (
            base_a.digest, base_b.digest,
        )  # fmt: skip
        assert curl["kind"] == "upgraded"
        assert curl["attribution"]["cause"] == "dockerfile-step"
        assert curl["attribution"]["text"].startswith("Dockerfile:3 (RUN printf 'Package: %s")
        # the engine holds both bases: their own layers say where each base ends
        image_layers = client.api.inspect_image(tags[1])["RootFS"]["Layers"]
        base_layers = client.api.inspect_image(base_b.pinned)["RootFS"]["Layers"]
        assert image_layers[: len(base_layers)] == base_layers
        assert tzdata["attribution"]["layer"] == base_layers[-1]
        assert curl["attribution"]["layer"] == image_layers[-1]

        table = repro_audit(*args)
        assert f"base image moved ({short})" in table.stdout
        assert "Dockerfile:3 (RUN printf" in table.stdout

        # Dockerfiles that only name the bases: the engine's base layers still place the
        # base exactly, and the step layer, which no instruction explains, is unknown
        for index, base in enumerate(bases):
            (tmp_path / f"from-{index}").write_text(f"FROM {base.pinned}\n", encoding="utf-8")
        only = repro_audit(
            "diff", *images, "--old-dockerfile", str(tmp_path / "from-0"),
            "--dockerfile", str(tmp_path / "from-1"), "--format", "json",
        )  # fmt: skip
        found = {
            c["name"]: c["attribution"] for c in json.loads(only.stdout)["platforms"][0]["changes"]
        }
        assert found["tzdata"]["text"] == f"base image moved ({short})"
        assert found["curl"]["cause"] == "unknown-layer"
        assert "printf" in found["curl"]["text"]
    finally:
        for tag in tags:
            with contextlib.suppress(Exception):
                client.api.remove_image(tag, force=True)
