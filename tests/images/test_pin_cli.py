"""`repro-audit pin` end to end against a real local registry."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support.registry import LocalRegistry, free_port, push_image, push_index

from audit.registry.client import RegistryClient

from .conftest import PASSWORD, USER, CliResult

Run = Callable[..., CliResult]
AMD_ARM = [("linux", "amd64", None), ("linux", "arm64", "v8")]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def images(registry: LocalRegistry, pusher: RegistryClient, request: pytest.FixtureRequest) -> dict:
    """Per test: a multi-arch `base:1.0`, a single `tool:2`, a `web:latest` (own repos)."""
    prefix = "t/" + request.node.name.lower().replace("_", "-")[5:35].strip("-")
    host = registry.host
    index, platforms = push_index(pusher, host, f"{prefix}/base", "1.0", AMD_ARM)
    tool = push_image(pusher, host, f"{prefix}/tool", "2")
    web = push_image(pusher, host, f"{prefix}/web", "latest")
    return {
        "host": host,
        "prefix": prefix,
        "base": f"{host}/{prefix}/base:1.0",
        "base_digest": index,
        "platforms": platforms,
        "tool": f"{host}/{prefix}/tool:2",
        "tool_digest": tool,
        "web": f"{host}/{prefix}/web",
        "web_digest": web,
    }


def write_project(tmp_path: Path, images: dict) -> Path:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "# syntax=docker/dockerfile:1\n"
        f"ARG BASE={images['base']}\n"
        "FROM ${BASE} AS build\n"
        "RUN make  # keep this comment\n"
        f"FROM {images['web']}\n"
        f"COPY --from={images['tool']} /bin/tool /bin/tool\n"
        "COPY --from=build /out /out\n"
    )
    return dockerfile


def test_pin_rewrites_locks_and_is_idempotent(tmp_path: Path, images: dict, run_cli: Run) -> None:
    dockerfile = write_project(tmp_path, images)
    result = run_cli("pin", "-f", str(dockerfile))
    assert result.exit_code == 0, result.stderr
    text = dockerfile.read_text()
    assert f"ARG BASE={images['base']}@{images['base_digest']}\n" in text
    assert f"FROM {images['web']}:latest@{images['web_digest']}\n" in text
    assert f"COPY --from={images['tool']}@{images['tool_digest']} /bin/tool" in text
    assert "RUN make  # keep this comment\n" in text

    lock = json.loads((tmp_path / "image-lock.json").read_text())
    entry = lock["images"][f"{images['base']}@{images['base_digest']}"]
    assert entry["media_type"] == "application/vnd.oci.image.index.v1+json"
    assert entry["registry"] == images["host"] and entry["tag"] == "1.0"
    platforms = {
        (p["os"], p["architecture"], p["variant"]): p["digest"] for p in entry["platforms"]
    }
    assert platforms == images["platforms"]
    assert len(lock["images"]) == 3

    before = (dockerfile.read_bytes(), (tmp_path / "image-lock.json").read_bytes())
    second = run_cli("pin", "-f", str(dockerfile), "--json")
    assert second.exit_code == 0
    assert json.loads(second.stdout)["written"] == []
    assert (dockerfile.read_bytes(), (tmp_path / "image-lock.json").read_bytes()) == before

    check = run_cli("pin", "--check", cwd=tmp_path)
    assert (check.exit_code, check.stdout) == (0, "")


def test_check_lists_unpinned_and_never_writes(tmp_path: Path, images: dict, run_cli: Run) -> None:
    dockerfile = write_project(tmp_path, images)
    original = dockerfile.read_bytes()
    result = run_cli("pin", "--check", "-f", str(dockerfile))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert [line.split(": ")[0] for line in lines] == [
        f"{dockerfile}:3",
        f"{dockerfile}:5",
        f"{dockerfile}:6",
    ]
    assert all("unpinned" in line for line in lines)
    assert dockerfile.read_bytes() == original
    assert not (tmp_path / "image-lock.json").exists()


def test_check_reports_lock_mismatch(tmp_path: Path, images: dict, run_cli: Run) -> None:
    dockerfile = write_project(tmp_path, images)
    assert run_cli("pin", "-f", str(dockerfile)).exit_code == 0
    lock_path = tmp_path / "image-lock.json"
    lock = json.loads(lock_path.read_text())
    del lock["images"][f"{images['tool']}@{images['tool_digest']}"]
    lock_path.write_text(json.dumps(lock))
    result = run_cli("pin", "--check", "--json", "-f", str(dockerfile))
    assert result.exit_code == 1
    findings = [r for r in json.loads(result.stdout)["references"] if r["status"] != "ok"]
    assert [(f["line"], f["status"]) for f in findings] == [(6, "lock-mismatch")]


def test_moved_tag_check_stays_green_update_moves_digest(
    tmp_path: Path, images: dict, registry: LocalRegistry, pusher: RegistryClient, run_cli: Run
) -> None:
    dockerfile = write_project(tmp_path, images)
    assert run_cli("pin", "-f", str(dockerfile)).exit_code == 0
    new_index, _ = push_index(
        pusher, registry.host, f"{images['prefix']}/base", "1.0", AMD_ARM, seed="rebuilt"
    )
    assert new_index != images["base_digest"]

    assert run_cli("pin", "--check", "-f", str(dockerfile)).exit_code == 0
    assert run_cli("pin", "-f", str(dockerfile)).exit_code == 0  # plain pin keeps the pin
    assert images["base_digest"] in dockerfile.read_text()

    result = run_cli("pin", "--update", "-f", str(dockerfile))
    assert result.exit_code == 0, result.stderr
    assert f"{images['base_digest']} -> {new_index}" in result.stdout
    assert "Dockerfile:3" in result.stdout
    (moved,) = [line for line in result.stdout.splitlines() if " -> " in line]
    assert moved.count(images["base_digest"]) == 1, moved  # the old digest is said once
    text = dockerfile.read_text()
    assert f"ARG BASE={images['base']}@{new_index}\n" in text
    assert images["base_digest"] not in text
    lock = json.loads((tmp_path / "image-lock.json").read_text())
    assert f"{images['base']}@{new_index}" in lock["images"]
    assert f"{images['base']}@{images['base_digest']}" not in lock["images"]
    assert run_cli("pin", "--check", "-f", str(dockerfile)).exit_code == 0


def test_compose_image_fields(tmp_path: Path, images: dict, run_cli: Run) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(
        "services:\n"
        f'  web:\n    image: "{images["web"]}"  # front\n'
        f"  app:\n    build: .\n    image: {images['host']}/mine/app:dev\n"
    )
    assert run_cli("pin", "--compose", str(compose)).exit_code == 0
    text = compose.read_text()
    assert f'image: "{images["web"]}:latest@{images["web_digest"]}"  # front\n' in text
    assert f"image: {images['host']}/mine/app:dev\n" in text
    assert run_cli("pin", "--check", "--compose", str(compose)).exit_code == 0


def test_missing_tag_is_exit_2_with_file_line_and_nothing_written(
    tmp_path: Path, images: dict, run_cli: Run
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {images['tool']}\nFROM {images['host']}/nope/nope:1\n")
    original = dockerfile.read_bytes()
    result = run_cli("pin", "-f", str(dockerfile))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {dockerfile}:2: ")
    assert "not found" in result.stderr and len(result.stderr.splitlines()) == 1
    assert dockerfile.read_bytes() == original
    assert not (tmp_path / "image-lock.json").exists()


def test_bad_dockerfile_is_exit_2(tmp_path: Path, run_cli: Run) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("ARG V\nFROM python:${V}\n")
    result = run_cli("pin", "-f", str(dockerfile))
    assert result.exit_code == 2
    assert (
        result.stderr
        == f"error: {dockerfile}:2: undefined ARG 'V' (declare it with a default before FROM)\n"
    )


def test_unreachable_registry_is_exit_3(tmp_path: Path, run_cli: Run) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM 127.0.0.1:{free_port()}/gone/away:1\n")
    result = run_cli("pin", "--retries", "1", "-f", str(dockerfile))
    assert result.exit_code == 3
    assert f"{dockerfile}:1" in result.stderr


def test_check_is_offline(tmp_path: Path, run_cli: Run) -> None:
    digest = "sha256:" + "a" * 64
    ref = f"127.0.0.1:{free_port()}/off/line:1"
    (tmp_path / "Dockerfile").write_text(f"FROM {ref}@{digest}\n")
    registry, _, rest = ref.partition("/")
    repository, _, tag = rest.partition(":")
    entry = {
        "registry": registry,
        "repository": repository,
        "tag": tag,
        "digest": digest,
        "media_type": "x",
        "platforms": [],
        "files": ["Dockerfile"],
    }
    lock = {"version": 1, "images": {f"{ref}@{digest}": entry}}
    (tmp_path / "image-lock.json").write_text(json.dumps(lock))
    assert run_cli("pin", "--check", cwd=tmp_path).exit_code == 0


def test_check_and_update_together_is_usage_error(tmp_path: Path, run_cli: Run) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    assert run_cli("pin", "--check", "--update", cwd=tmp_path).exit_code == 2


def test_auth_registry_credentials_never_printed(
    tmp_path: Path,
    auth_registry: LocalRegistry,
    auth_pusher: RegistryClient,
    docker_config: Path,
    run_cli: Run,
) -> None:
    digest = push_image(auth_pusher, auth_registry.host, "cli/secret", "1")
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (docker_config / "config.json").write_text(
        json.dumps({"auths": {auth_registry.host: {"auth": token}}})
    )
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {auth_registry.host}/cli/secret:1\n")
    result = run_cli("pin", "--json", "-f", str(dockerfile))
    assert result.exit_code == 0, result.stderr
    assert digest in dockerfile.read_text()
    everything = result.stdout + result.stderr + (tmp_path / "image-lock.json").read_text()
    assert PASSWORD not in everything and token not in everything

    (docker_config / "config.json").write_text("{}")
    dockerfile.write_text(f"FROM {auth_registry.host}/cli/secret:1\n")
    denied = run_cli("pin", "-f", str(dockerfile))
    assert denied.exit_code == 2 and "login" in denied.stderr


def test_subprocess_exit_codes_and_fast_check(tmp_path: Path, docker_config: Path) -> None:
    """`python -m audit` maps findings to 1 and bad input to 2 in a real process."""
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.20\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "audit", "pin", "--check"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stdout.startswith("Dockerfile:1: unpinned: alpine:3.20")
    (tmp_path / "Dockerfile").write_text("FROM\n")
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (2, "error: Dockerfile:1: FROM has no image\n")
