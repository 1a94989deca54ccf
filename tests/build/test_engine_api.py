"""The direct Engine API client against the real engine, and the same calls via docker-py."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from support.build import busybox_path, import_busybox
from support.docker import require_docker, require_tool

from audit.core.dockerapi import Endpoint, Engine, EngineNotFound, connect, endpoint

pytestmark = pytest.mark.docker


def test_endpoint_follows_docker_host_and_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.1:2376")
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    assert endpoint() == Endpoint("tcp://10.0.0.1:2376", tls=True)
    assert not endpoint().direct  # TLS goes through docker-py
    monkeypatch.delenv("DOCKER_TLS_VERIFY")
    assert endpoint().direct
    monkeypatch.setenv("DOCKER_HOST", "ssh://builder@buildhost")
    assert not endpoint().direct


@pytest.fixture(scope="module")
def image() -> str:
    client = require_docker()
    busybox = busybox_path()
    require_tool("busybox (busybox-static)", busybox is not None)
    assert busybox is not None
    import_busybox(client, "ra-engine-api", "1", busybox)
    yield "ra-engine-api:1"
    client.api.remove_image("ra-engine-api:1", force=True)


@pytest.mark.parametrize("direct", [True, False], ids=["socket", "docker-py"])
def test_calls_agree_with_docker_py(image: str, direct: bool, tmp_path: Path) -> None:
    client = require_docker()
    # not direct: every call through docker-py, as for TLS and ssh:// endpoints
    engine = connect() if direct else Engine(Endpoint(endpoint().host, tls=True), sdk=client)
    try:
        expected = client.api.inspect_image(image)
        assert engine.inspect_image(image)["Id"] == expected["Id"]
        assert len(engine.history(image)) == len(client.api.history(image))
        assert engine.version()["ApiVersion"] == client.version()["ApiVersion"]
        with pytest.raises(EngineNotFound):
            engine.inspect_image("ra-engine-api:no-such-tag")

        engine.tag(image, "ra-engine-api", "copy")
        assert client.api.inspect_image("ra-engine-api:copy")["Id"] == expected["Id"]
        engine.remove_image("ra-engine-api:copy", noprune=True)
        with pytest.raises(EngineNotFound):
            engine.inspect_image("ra-engine-api:copy")

        # docker save → docker load gives the image back under a new tag
        saved = b"".join(engine.save_image(image))
        with tarfile.open(fileobj=io.BytesIO(saved)) as archive:
            manifest = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
        manifest[0]["RepoTags"] = ["ra-engine-api:loaded"]
        rewritten = _replace_member(saved, "manifest.json", json.dumps(manifest).encode())
        messages = engine.load_image(iter([rewritten[i : i + 65536]
                                           for i in range(0, len(rewritten), 65536)]))  # fmt: skip
        assert not [m for m in messages if m.get("error")]
        assert engine.inspect_image("ra-engine-api:loaded")["Id"] == expected["Id"]
        engine.remove_image("ra-engine-api:loaded", noprune=True)

        # a created container's archive holds busybox
        container = engine.create_container(image, ["/none"])
        try:
            data = b"".join(engine.container_archive(container, "/bin"))
        finally:
            engine.remove_container(container)
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            assert "bin/busybox" in archive.getnames()
        with pytest.raises(EngineNotFound):
            engine.remove_container(container)
    finally:
        engine.close()


def _replace_member(data: bytes, name: str, body: bytes) -> bytes:
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(data)) as source,
        tarfile.open(fileobj=out, mode="w") as sink,
    ):
        for member in source.getmembers():
            if member.name == name:
                member.size = len(body)
                sink.addfile(member, io.BytesIO(body))
            else:
                sink.addfile(member, source.extractfile(member) if member.isfile() else None)
    return out.getvalue()


def test_a_stream_left_unread_does_not_block_the_next_call(image: str) -> None:
    engine = connect()
    try:
        chunks = engine.save_image(image)
        assert next(chunks)  # read a little of `docker save`, then give up on it
        chunks.close()
        assert engine.inspect_image(image)["Id"].startswith("sha256:")
    finally:
        engine.close()
