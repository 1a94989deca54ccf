"""`build` when the machine fails it: a disk that fills up while the environment is staged.

The full disk is real: a small tmpfs mounted over the cache folder in a private mount
namespace (`unshare -m`, root or an unprivileged user namespace), so nothing outside the
test sees it. The cache is warmed first (artifacts verified, packages extracted), then
filled up to a few KiB, so the staging itself (install, tar) is what runs out of space.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from build_helpers import PREFIX
from support.tcpproxy import EngineProxy

from audit.build.materialize import materialize


def _namespaces_work() -> bool:
    probe = ["unshare", "-m", "--propagation", "private", "true"]
    if shutil.which("unshare") is None:
        return False
    if os.geteuid() != 0:
        probe = ["unshare", "-r", *probe[1:]]
    return subprocess.run(probe, capture_output=True).returncode == 0


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


@pytest.mark.skipif(not _namespaces_work(), reason="needs unshare -m (root or user namespaces)")
def test_a_full_disk_while_staging_is_exit_3_with_the_path_and_keeps_nothing_half_written(
    project: Path, tmp_path: Path, images
) -> None:
    warm = tmp_path / "warm"
    staged = materialize(project / "conda-lock.yml", "linux-64", PREFIX, warm)
    for kept in (warm / "stages", warm / "layers"):  # what the failing run must make itself
        shutil.rmtree(kept, ignore_errors=True)
    cache = tmp_path / "cache"
    cache.mkdir()
    listing = tmp_path / "listing.txt"
    size_kib = (_size(warm) * 2) // 1024 + 4096
    build = [sys.executable, "-m", "audit", "build", "-t", images("ra-test/full-disk:1")]
    build += ["--prefix", PREFIX, "--cache-dir", str(cache)]
    fill = (
        "import shutil,sys; c=sys.argv[1]; free=shutil.disk_usage(c).free; "
        "open(c+'/filler','wb').write(bytes(max(0, free-16384)))"
    )
    script = "; ".join(
        [
            f"mount -t tmpfs -o size={size_kib}k tmpfs {shlex.quote(str(cache))}",
            f"cp -a {shlex.quote(str(warm))}/. {shlex.quote(str(cache))}/",
            f"{shlex.quote(sys.executable)} -c {shlex.quote(fill)} {shlex.quote(str(cache))}",
            f"{shlex.join(build)} 2>{shlex.quote(str(tmp_path / 'stderr'))}",
            "rc=$?",
            f"(cd {shlex.quote(str(cache))} && find . | sort) > {shlex.quote(str(listing))}",
            "exit $rc",
        ]
    )
    prefix = ["unshare", "-m", "--propagation", "private"]
    if os.geteuid() != 0:
        prefix = ["unshare", "-r", *prefix[1:]]
    done = subprocess.run([*prefix, "sh", "-c", script], cwd=project, capture_output=True)
    stderr = (tmp_path / "stderr").read_text()
    assert done.returncode == 3, stderr + done.stderr.decode()
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "No space left on device" in errors[0], stderr
    assert str(cache / "stages") in errors[0], errors[0]
    assert "Traceback" not in stderr
    found = listing.read_text().splitlines()
    assert "./artifacts" in found, "the listing is of the cache it ran in"
    leftovers = [
        p
        for p in found
        if p.endswith((".tar", ".tmp"))
        or "/.env-" in p
        or "/stage-" in p
        or p.startswith("./layers/")
        and p.endswith(".json")
    ]
    assert leftovers == [], leftovers
    assert staged.tar_sha256 not in listing.read_text()


def test_an_engine_that_goes_away_mid_read_is_exit_3_and_keeps_no_half_entry(
    base_image, tmp_path: Path
) -> None:
    """The image is read through the engine's API (`docker save`) and the connection
    drops after 256 KiB: one line, exit 3, and no cache entry from the partial read."""
    engine = "/var/run/docker.sock"
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        engine = host.removeprefix("unix://")
    elif host:
        pytest.skip("the relay needs the engine on a unix socket")
    relay = str(tmp_path / "engine.sock")
    proxy = EngineProxy(engine, listen_unix=relay, cut_after=256 * 1024).start()
    cache = tmp_path / "cache"
    env = {
        **os.environ,
        "DOCKER_HOST": f"unix://{tmp_path / 'engine.sock'}",
        "REPRO_AUDIT_ENGINE_STORE": "0",  # read through the API, as for a remote engine
        "REPRO_AUDIT_CACHE_DIR": str(cache),
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "audit", "inventory", f"docker-daemon:{base_image.tagged}"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    finally:
        proxy.stop()
    assert proxy.cut.is_set(), "the relay cut the read (the image is larger than 256 KiB)"
    assert done.returncode == 3, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and base_image.tagged in errors[0], done.stderr
    assert "Traceback" not in done.stderr
    entries = [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []
    assert [p for p in entries if "layers" in p.parts or "configs" in p.parts] == []
