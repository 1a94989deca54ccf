"""Builds on an engine reached over the network (DOCKER_HOST=tcp://…), and one that stops.

The engine here is this machine's dockerd behind a TCP listener on 127.0.0.1, so the
build's every call (our Engine API client, the Docker CLI running BuildKit) crosses a
network connection the way a build on a team's build host does; cutting the listener is a
remote builder that stops answering.
"""

from __future__ import annotations

import json
import shutil
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from build_helpers import PREFIX, BaseImage, cli
from support.docker import require_buildkit, require_docker
from support.tcpproxy import EngineProxy

from audit.core.dockerapi import endpoint

pytestmark = pytest.mark.docker


@pytest.fixture
def proxy() -> Iterator[EngineProxy]:
    require_docker()
    where = endpoint()
    if urllib.parse.urlsplit(where.host).scheme != "unix":
        pytest.skip(f"the engine is not on a local socket ({where.host})")
    instance = EngineProxy(urllib.parse.urlsplit(where.host).path).start()
    yield instance
    instance.stop()


def test_build_through_a_remote_engine_gives_the_local_image(
    project: Path,
    tag_for: Callable[[str], str],
    build_cache: Path,
    base_image: BaseImage,
    proxy: EngineProxy,
) -> None:
    require_buildkit()
    (project / "Dockerfile").write_text(
        f"FROM {base_image.pinned}\nCOPY hello.txt /app/\nRUN echo remote > /where\n",
        encoding="utf-8",
    )
    args = ["build", "-t", tag_for("1"), "--prefix", PREFIX, "--cache-dir", str(build_cache)]
    done = cli(*args, "--no-cache", cwd=project, env={"DOCKER_HOST": proxy.host})
    assert done.returncode == 0, done.stderr
    remote = json.loads((project / "build-record.json").read_text())
    assert proxy.connections >= 2  # our client and the CLI's BuildKit session both came through
    assert remote["inputs"]["builder"]["kind"] == "buildkit"
    assert remote["inputs"]["builder"]["driver"] == "docker"
    assert remote["inputs"]["builder"]["endpoint"] == proxy.host

    # the same inputs built on the local socket: the same base and environment layers
    # (the user's steps are rebuilt: BuildKit 0.8 stamps their files with the build time)
    done = cli(*args, "--no-cache", "--record", "local.json", cwd=project)
    assert done.returncode == 0, done.stderr
    local = json.loads((project / "local.json").read_text())
    assert "endpoint" not in local["inputs"]["builder"]  # the default socket: not said
    ours, theirs = local["outputs"], remote["outputs"]
    assert ours["layers"][0] == theirs["layers"][0]
    assert ours["env_layer_diff_id"] == theirs["env_layer_diff_id"] == theirs["layers"][-1]
    assert ours["env_tree_digest"] == theirs["env_tree_digest"]


def test_an_engine_that_is_not_there_is_exit_3(project: Path, proxy: EngineProxy) -> None:
    proxy.stop()
    done = cli("build", "--prefix", PREFIX, cwd=project, env={"DOCKER_HOST": proxy.host})
    assert done.returncode == 3, done.stderr
    assert f"not reachable at {proxy.host}" in done.stderr
    assert not (project / "build-record.json").exists()


def test_an_engine_that_stops_answering_mid_build_is_exit_3(
    project: Path,
    tag_for: Callable[[str], str],
    build_cache: Path,
    base_image: BaseImage,
    proxy: EngineProxy,
) -> None:
    require_buildkit()
    client = require_docker()
    (project / "Dockerfile").write_text(
        f"FROM {base_image.pinned}\nRUN sleep 6 && echo done\n", encoding="utf-8"
    )
    tag = tag_for("1")
    cut = threading.Timer(3.0, proxy.stop)
    cut.start()
    try:
        done = cli("build", "-t", tag, "--prefix", PREFIX, "--cache-dir", str(build_cache),
                   "--no-cache", cwd=project, env={"DOCKER_HOST": proxy.host})  # fmt: skip
    finally:
        cut.cancel()
    assert done.returncode == 3, done.stderr
    assert "stopped answering" in done.stderr or "did not answer" in done.stderr
    assert not client.images.list(name=tag)
    assert not (project / "build-record.json").exists()


def test_an_unchanged_user_image_is_not_streamed_again(
    project: Path,
    tag_for: Callable[[str], str],
    tmp_path: Path,
    base_image: BaseImage,
    proxy: EngineProxy,
) -> None:
    """Only the environment changed: a remote engine's user image is streamed once, its
    config and layer indexes kept (the engine's storage is not readable from here)."""
    require_buildkit()
    cache = tmp_path / "cache"
    args = ["build", "-t", tag_for("1"), "--prefix", PREFIX, "--cache-dir", str(cache)]
    env = {"DOCKER_HOST": proxy.host}

    def build() -> tuple[dict, list[str]]:
        seen = len(proxy.requests)
        done = cli(*args, cwd=project, env=env)
        assert done.returncode == 0, done.stderr
        saves = [r for r in proxy.requests[seen:] if r.startswith("GET ") and r.endswith("/get")]
        return json.loads((project / "build-record.json").read_text()), saves

    first, saves = build()
    # the user image, streamed for its config and layer indexes, and once more for the
    # tars of its own layers to re-pack (the engine's storage is not readable from here)
    assert len(saves) == 2
    (memo,) = (cache / "configs").iterdir()  # the config, named by the image id it hashes to
    assert list((cache / "layers").rglob("*.json"))  # and every layer's index, by diff_id
    shutil.rmtree(cache / "images")  # the final image is made again, as after a lock change
    second, saves = build()
    assert saves == []
    assert second["inventory"] == first["inventory"]
    assert second["outputs"]["image_id"] == first["outputs"]["image_id"]

    memo.write_text("{not json", encoding="utf-8")  # a damaged entry is read around
    shutil.rmtree(cache / "images")
    third, saves = build()
    assert len(saves) == 1 and third["inventory"] == first["inventory"]


def test_a_build_on_the_local_engine_streams_no_image(
    project: Path, tag_for: Callable[[str], str], tmp_path: Path
) -> None:
    """On this machine's engine the user image is read from the engine's own storage (its
    config and new layers), never through `docker save`, also with an empty cache; the
    requests are seen through a relay on another unix socket (still a local engine)."""
    require_buildkit()
    require_docker()
    where = urllib.parse.urlsplit(endpoint().host)
    if where.scheme != "unix":
        pytest.skip(f"the engine is not on a local socket ({where.scheme})")
    relay = EngineProxy(where.path, listen_unix=str(tmp_path / "engine.sock")).start()
    try:
        done = cli(
            "build", "-t", tag_for("local"), "--prefix", PREFIX, "--cache-dir",
            str(tmp_path / "cache"), cwd=project, env={"DOCKER_HOST": relay.host},
        )  # fmt: skip
        again = cli(
            "inventory", f"docker-daemon:{tag_for('local')}", cwd=project,
            env={"DOCKER_HOST": relay.host, "REPRO_AUDIT_CACHE_DIR": str(tmp_path / "empty")},
        )  # fmt: skip
    finally:
        relay.stop()
    assert done.returncode == 0, done.stderr
    assert again.returncode == 0, again.stderr
    assert "POST /images/load" in " ".join(relay.requests), "the relay saw the build's calls"
    saves = [r for r in relay.requests if r.startswith("GET ") and r.endswith("/get")]
    assert saves == []
    assert "storage" in done.stderr, done.stderr


def test_an_image_the_engine_cannot_export_is_exit_3_and_nothing_is_tagged(
    project: Path, tag_for: Callable[[str], str], tmp_path: Path
) -> None:
    """The user image is exported through `docker save` (the engine's storage is not read
    here) and the engine's answer breaks off after 256 KiB: one line, exit 3, no image
    tagged, no record, no temp folder of the build left."""
    require_buildkit()
    where = urllib.parse.urlsplit(endpoint().host)
    if where.scheme != "unix":
        pytest.skip(f"the engine is not on a local socket ({where.scheme})")
    relay = EngineProxy(
        where.path, listen_unix=str(tmp_path / "engine.sock"), cut_after=256 * 1024
    ).start()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    tag = tag_for("noexport")
    env = {"DOCKER_HOST": relay.host, "REPRO_AUDIT_ENGINE_STORE": "0", "TMPDIR": str(scratch)}
    try:
        done = cli(
            "build", "-t", tag, "--prefix", PREFIX, "--cache-dir", str(tmp_path / "cache"),
            "--no-cache", cwd=project, env=env,
        )  # fmt: skip
    finally:
        relay.stop()
    assert relay.cut.is_set(), "the relay cut an answer (the image is larger than 256 KiB)"
    assert done.returncode == 3, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "stopped answering" in errors[0], done.stderr
    assert "Traceback" not in done.stderr
    assert not require_docker().images.list(name=tag)
    assert not (project / "build-record.json").exists()
    assert sorted(p.name for p in scratch.iterdir()) == []
