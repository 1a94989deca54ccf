"""Months later, end to end: an image built from an environment.yml that was never locked
is checked against the lock `reconstruct` writes for the commit's date (real dockerd,
real registry, real solver).

1. December 2024: environment.yml is committed (no lock); the image is built from what
   the channel offered that day (`lock` + `build`; the lock is thrown away).
2. The channel gains the 2025 releases.
3. `reconstruct git:HEAD` solves the file as of the commit date: `verify --lock` says
   REPRODUCED against the build record and the image; today's solve says DRIFTED.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import make_channel
from support.build import busybox_path, import_busybox, push_tag
from support.docker import require_docker, require_tool
from support.registry import LocalRegistry
from tm_helpers import env_text, git, run

pytestmark = pytest.mark.docker

TAG = "repro-audit-test-months-later"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A busybox base image in a local registry: `host/repo@sha256:…`."""
    client = require_docker()
    require_tool("docker-registry")
    busybox = busybox_path()
    require_tool("busybox (busybox-static)", busybox is not None)
    registry = LocalRegistry(tmp_path_factory.mktemp("tm-registry")).start()
    repository = f"{registry.host}/tm-base"
    try:
        import_busybox(client, repository, "1", busybox or "")
        yield f"{repository}@{push_tag(client, repository, '1')}"
    finally:
        with contextlib.suppress(Exception):
            client.api.remove_image(f"{repository}:1", force=True)
        registry.stop()


@pytest.fixture
def built(tmp_path: Path, base: str) -> Iterator[Path]:
    client = require_docker()
    channel = make_channel.build_channel(tmp_path / "channel")
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / ".gitignore").write_text(".cache/\nmarch/\n")
    (root / "environment.yml").write_text(
        env_text(channel.as_uri(), ["python 3.12.*", "numpy", "six", "tzdata"])
    )
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "environment", date="2024-12-01T12:00:00+00:00")
    march = root / "march"
    march.mkdir()
    cache = {"REPRO_AUDIT_CACHE_DIR": str(tmp_path / "cache")}
    lock = run(["lock", "-f", "../environment.yml", "--no-explicit"], march, **cache)
    assert lock.returncode == 0, lock.stderr
    result = run(
        [
            "build",
            "--lockfile",
            "conda-lock.yml",
            "--base",
            base,
            "-t",
            f"{TAG}:{tmp_path.name}",
            "--record",
            str(root / "build-record.json"),
        ],
        march,
        **cache,
    )
    assert result.returncode == 0, result.stderr
    shutil.rmtree(march)  # the environment was never locked in git
    shutil.rmtree(channel)
    make_channel.build_channel(channel, newer=True)  # months pass upstream
    yield root
    with contextlib.suppress(Exception):
        client.api.remove_image(f"{TAG}:{tmp_path.name}", force=True)


def test_reconstructed_lock_verifies_the_old_image(built: Path, tmp_path: Path) -> None:
    cache = {"REPRO_AUDIT_CACHE_DIR": str(tmp_path / "cache")}
    then = tmp_path / "reconstructed.yml"
    result = run(["reconstruct", "git:HEAD", "-o", str(then)], built, **cache)
    assert result.returncode == 0, result.stderr
    assert "as of 2024-12-01T12:00:00Z" in result.stderr
    for target in ("build-record.json", f"docker-daemon:{TAG}:{tmp_path.name}"):
        verdict = run(["verify", target, "--lock", str(then), "--json"], built, **cache)
        data = json.loads(verdict.stdout)
        assert verdict.returncode == 0, (target, data["changes"])
        assert data["verdict"] == "REPRODUCED" and data["compared"]["conda"] == 6
    # the same file solved today would not have reproduced it
    today = tmp_path / "today"
    today.mkdir()
    assert (
        run(
            [
                "lock",
                "-f",
                str(built / "environment.yml"),
                "--lockfile",
                str(today / "conda-lock.yml"),
                "--no-explicit",
            ],
            built,
            **cache,
        ).returncode
        == 0
    )
    drifted = run(
        ["verify", "build-record.json", "--lock", str(today / "conda-lock.yml")], built, **cache
    )
    assert drifted.returncode == 1 and drifted.stdout.startswith("DRIFTED")
    assert "upgraded         conda numpy 2.0.0" in drifted.stdout
