"""`repro-audit build` against a real dockerd and a real local registry.

Each test runs the CLI as a user would (a subprocess), then looks at the image with the
Docker SDK: the prefix inside files, the environment layer's diff_id, the inventory.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from build_helpers import PREFIX, BaseImage, cli, write_project
from support import make_channel
from support.docker import require_docker

from audit.inventory import read_inventory

pytestmark = pytest.mark.docker


def build(
    project: Path, tag: str, cache: Path, *extra: str, env: dict[str, str] | None = None
) -> dict:
    """Run `build`, assert success, return the record."""
    done = cli(
        "build", "-t", tag, "--prefix", PREFIX, "--cache-dir", str(cache), *extra,
        cwd=project, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads((project / "build-record.json").read_text())


def run(client, image: str, command: list[str]) -> str:
    out = client.containers.run(image, command, remove=True)
    return out.decode()


def lock_packages(lockfile: Path) -> set[tuple[str, str, str]]:
    inventory = read_inventory(str(lockfile), "linux-64")
    return {(p.name, p.version, p.build) for p in inventory.packages if p.manager == "conda"}


def test_build_puts_the_lock_into_the_image(
    project: Path, tag_for: Callable[[str], str], build_cache: Path, base_image: BaseImage
) -> None:
    client = require_docker()
    tag = tag_for("1")
    record = build(project, tag, build_cache)

    # a file from a package carries the in-image prefix (placeholder rewritten)
    config = run(client, tag, ["cat", f"{PREFIX}/bin/python3-config"])
    assert f'prefix="{PREFIX}"' in config
    env = run(client, tag, ["sh", "-c", "echo $PATH; echo $CONDA_PREFIX"])
    assert env.splitlines() == [f"{PREFIX}/bin:/bin", PREFIX]
    # the user's Dockerfile ran as written, with .dockerignore honoured
    listing = run(client, tag, ["ls", "/app"]).split()
    assert "hello.txt" in listing and "secret.txt" not in listing
    assert "rootfs" not in listing

    # the image's inventory equals the lock
    image_inventory = read_inventory(f"docker-daemon:{tag}")
    in_image = {
        (p.name, p.version, p.build) for p in image_inventory.packages if p.manager == "conda"
    }
    assert in_image == lock_packages(project / "conda-lock.yml")
    assert {p.location.rsplit("/conda-meta/", 1)[0] for p in image_inventory.packages} == {PREFIX}
    recorded = {
        (p["name"], p["version"], p["build"])
        for p in record["inventory"]["packages"]
        if p["manager"] == "conda"
    }
    assert recorded == in_image

    # labels and the record
    attrs = client.images.get(tag).attrs
    labels = attrs["Config"]["Labels"]
    assert labels["org.opencontainers.image.base.digest"] == base_image.digest
    assert labels["io.repro-audit.lock.sha256"] == record["inputs"]["lockfile"]["sha256"]
    assert (
        labels["io.repro-audit.lock.content-hash"] == record["inputs"]["lockfile"]["content_hash"]
    )
    assert attrs["RootFS"]["Layers"][-1] == record["outputs"]["env_layer_diff_id"]
    assert record["outputs"]["image_id"] == attrs["Id"]
    assert record["inputs"]["platform"] == "linux/amd64"
    assert record["inputs"]["prefix"] == PREFIX
    assert record["inputs"]["base_images"][0]["digest"] == base_image.digest
    assert record["inputs"]["environment"][0]["sha256"]
    assert record["inputs"]["dockerfile"]["sha256"]
    assert record["inputs"]["allow_unpinned"] is False
    assert record["tool"]["name"] == "repro-audit"

    # the record is an inventory source
    done = cli("inventory", "build-record.json", "--format", "json", cwd=project)
    assert done.returncode == 0, done.stderr
    names = {p["name"] for p in json.loads(done.stdout)["packages"]}
    assert {"python", "six", "tzdata"} <= names


def test_env_layer_is_the_same_on_every_build(
    project: Path,
    tmp_path: Path,
    tag_for: Callable[[str], str],
    build_cache: Path,
) -> None:
    # a second build from a fresh copy of the context (other mtimes), with an empty cache
    elsewhere = tmp_path / "elsewhere" / "copy"
    shutil.copytree(project, elsewhere)
    os.utime(elsewhere / "hello.txt", (1_000_000_000, 1_000_000_000))
    first = build(project, tag_for("a"), build_cache)
    second = build(elsewhere, tag_for("b"), tmp_path / "fresh-cache")
    assert first["outputs"]["env_layer_diff_id"] == second["outputs"]["env_layer_diff_id"]
    assert first["outputs"]["env_tar_sha256"] == second["outputs"]["env_tar_sha256"]
    assert first["outputs"]["layers"] == second["outputs"]["layers"]


def test_base_without_dockerfile(
    project: Path, tag_for: Callable[[str], str], build_cache: Path, base_image: BaseImage
) -> None:
    client = require_docker()
    (project / "Dockerfile").unlink()
    tag = tag_for("1")
    record = build(project, tag, build_cache, "--base", base_image.pinned, "--json")
    assert record["inputs"]["dockerfile"]["generated"] is True
    assert record["inputs"]["base_images"][0]["digest"] == base_image.digest
    assert f'prefix="{PREFIX}"' in run(client, tag, ["cat", f"{PREFIX}/bin/python3-config"])
    layers = client.images.get(tag).attrs["RootFS"]["Layers"]
    assert len(layers) == 2


def test_unpinned_dockerfile_refused_unless_allowed(
    project: Path, tag_for: Callable[[str], str], build_cache: Path, base_image: BaseImage
) -> None:
    client = require_docker()
    (project / "Dockerfile").write_text(f"FROM {base_image.tagged}\n", encoding="utf-8")
    tag = tag_for("1")
    done = cli("build", "-t", tag, "--cache-dir", str(build_cache), cwd=project)
    assert done.returncode == 1, done.stderr
    assert "Dockerfile:1" in done.stderr and "repro-audit pin" in done.stderr
    assert not client.images.list(name=tag)

    record = build(project, tag, build_cache, "--allow-unpinned")
    assert record["inputs"]["allow_unpinned"] is True
    assert record["inputs"]["unpinned"][0]["where"] == "Dockerfile:1"


def test_tampered_package_stops_the_build(
    tmp_path: Path, tag_for: Callable[[str], str], base_image: BaseImage
) -> None:
    client = require_docker()
    channel = make_channel.build_channel(tmp_path / "channel")
    project = write_project(tmp_path / "project", channel.as_uri(), base_image)
    make_channel.build_channel(channel, tamper="six-1.16.0-pyh6c4a22f_0.conda")
    tag = tag_for("1")
    done = cli("build", "-t", tag, "--cache-dir", str(tmp_path / "cache"), cwd=project)
    assert done.returncode == 1, done.stderr
    assert "sha256 mismatch for six 1.16.0" in done.stderr
    assert not client.images.list(name=tag)
    assert not (project / "build-record.json").exists()


def test_lock_without_the_image_platform_is_bad_input(
    project: Path, tag_for: Callable[[str], str], build_cache: Path
) -> None:
    done = cli(
        "build", "-t", tag_for("1"), "--platform", "linux/arm64",
        "--cache-dir", str(build_cache), cwd=project,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "no platform linux-aarch64" in done.stderr


def test_push_records_the_repo_digest(
    project: Path,
    tag_for: Callable[[str], str],
    images: Callable[[str], str],
    build_cache: Path,
    base_image: BaseImage,
) -> None:
    from support.registry import StaticCredentials

    from audit.registry.client import RegistryClient

    tag = images(f"{base_image.host}/ra-build-pushed:1")
    record = build(project, tag, build_cache, "--push")
    repo_digest = record["outputs"]["repo_digest"]
    assert repo_digest.startswith(f"{base_image.host}/ra-build-pushed@sha256:")
    registry = RegistryClient(credentials=StaticCredentials(), backoff=0.01)
    _, _, digest = registry.get_manifest(base_image.host, "ra-build-pushed", "1")
    assert repo_digest.endswith(digest)


def test_locked_wheels_reach_the_image_and_the_inventory_matches_the_lock(
    project: Path, tmp_path: Path, tag_for: Callable[[str], str], build_cache: Path
) -> None:
    from support.build import add_pip_entry, make_wheel

    client = require_docker()
    wheel = make_wheel(tmp_path)
    add_pip_entry(project / "conda-lock.yml", wheel, wheel.as_uri())
    tag = tag_for("1")
    record = build(project, tag, build_cache)
    script = run(client, tag, ["cat", f"{PREFIX}/bin/tinywheel"])
    assert script.startswith(f"#!{PREFIX}/bin/python")

    def keyed(inventory) -> set[tuple[str, str, str]]:
        return {(p.manager, p.name, p.version) for p in inventory.packages}

    in_image = read_inventory(f"docker-daemon:{tag}")
    assert keyed(in_image) == keyed(read_inventory(str(project / "conda-lock.yml"), "linux-64"))
    assert [p.installer for p in in_image.packages if p.manager == "pip"] == ["pip"]
    assert record["inputs"]["packages"]["pip"][0]["name"] == "tinywheel"

    # an unchanged rebuild gives the same image and keeps the recorded inventory
    again = build(project, tag, build_cache)
    assert again["outputs"]["image_id"] == record["outputs"]["image_id"]
    assert again["inventory"]["packages"] == record["inventory"]["packages"]


def test_a_damaged_cached_stage_is_staged_again(
    project: Path, tmp_path: Path, tag_for: Callable[[str], str]
) -> None:
    client = require_docker()
    cache = tmp_path / "cache"
    first = build(project, tag_for("a"), cache)
    (stage,) = (cache / "stages").glob("*.tar")
    with stage.open("r+b") as handle:  # same size, other bytes
        handle.seek(2048)
        handle.write(b"XXXX")
    tag = tag_for("b")
    second = build(project, tag, cache)
    assert second["outputs"]["env_layer_diff_id"] == first["outputs"]["env_layer_diff_id"]
    assert second["outputs"]["image_id"] == first["outputs"]["image_id"]
    assert client.images.get(tag).id == first["outputs"]["image_id"]
