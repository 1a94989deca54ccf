"""The lock set (conda-lock.yml + every explicit file) is written as one transaction.

A full disk is simulated with a real, tiny tmpfs (needs root; skipped otherwise): the new
explicit files fit, conda-lock.yml does not. Before, the explicit files were already
replaced when conda-lock.yml failed; now every file keeps its old bytes and `lock` exits 3.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_lock import BASIC, run, write_env

from audit.core import fs as fsutil
from audit.core.errors import InfrastructureError, InputError

PLATFORMS = ["linux-64", "win-64"]
EDITED = [d.replace("numpy >=1.26", "numpy <2") for d in BASIC]


def lock_set(project: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(project.iterdir()) if p.is_file()}


@contextlib.contextmanager
def tiny_tmpfs(where: Path, size: str = "2m") -> Iterator[Path]:
    where.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a real full disk needs a tmpfs mount (root)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)])
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill_leaving(directory: Path, free: int) -> None:
    """Write a filler file so that about `free` bytes stay available on the filesystem."""
    stat = os.statvfs(directory)
    available = stat.f_bavail * stat.f_frsize
    assert available > free
    with open(directory / "filler", "wb") as handle:
        handle.write(b"\0" * (available - free))
    stat = os.statvfs(directory)
    assert stat.f_bavail * stat.f_frsize <= free + stat.f_frsize


def pages(size: int, page: int = 4096) -> int:
    return -(-size // page) * page


def test_full_disk_keeps_the_whole_old_set(tmp_path: Path, channel_url: str) -> None:
    cache = str(tmp_path / "cache")
    # what the edited environment's lock set weighs, measured off the small disk
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    write_env(scratch / "environment.yml", channel_url, EDITED, PLATFORMS)
    assert run(["lock"], scratch, REPRO_AUDIT_CACHE_DIR=cache).returncode == 0
    explicit = sum(pages((scratch / f"conda-{p}.lock").stat().st_size) for p in PLATFORMS)
    assert (scratch / "conda-lock.yml").stat().st_size > 4096  # cannot fit in what is left

    with tiny_tmpfs(tmp_path / "disk") as project:
        write_env(project / "environment.yml", channel_url, BASIC, PLATFORMS)
        assert run(["lock"], project, REPRO_AUDIT_CACHE_DIR=cache).returncode == 0
        write_env(project / "environment.yml", channel_url, EDITED, PLATFORMS)
        before = lock_set(project)
        fill_leaving(project, explicit)
        result = run(["lock"], project, REPRO_AUDIT_CACHE_DIR=cache)
        assert result.returncode == 3, result.stderr
        lines = [x for x in result.stderr.splitlines() if x.strip()]
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert "conda-lock.yml: cannot write: No space left on device" in lines[0]
        after = lock_set(project)
        del after["filler"]
        assert after == before
        assert not [p.name for p in project.iterdir() if p.name.endswith((".tmp", ".old"))]


def test_failing_target_restores_every_file(tmp_path: Path) -> None:
    """A target that cannot be replaced (a directory) leaves the other targets untouched."""
    first, second = tmp_path / "conda-linux-64.lock", tmp_path / "conda-lock.yml"
    first.write_text("old explicit\n")
    second.mkdir()
    (second / "keep").write_text("x")
    with pytest.raises((InputError, InfrastructureError)) as caught:
        fsutil.atomic_write_set({first: b"new explicit\n", second: b"new lock\n"})
    assert "conda-lock.yml" in caught.value.one_line()
    assert first.read_text() == "old explicit\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conda-linux-64.lock", "conda-lock.yml"]


def test_write_set_replaces_all(tmp_path: Path) -> None:
    files = {tmp_path / f"f{i}": f"new {i}\n".encode() for i in range(3)}
    (tmp_path / "f0").write_text("old\n")
    os.chmod(tmp_path / "f0", 0o600)
    fsutil.atomic_write_set(files)
    assert [(tmp_path / f"f{i}").read_text() for i in range(3)] == [f"new {i}\n" for i in range(3)]
    assert (tmp_path / "f0").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f0", "f1", "f2"]


def test_concurrent_runs_take_turns(tmp_path: Path, channel_url: str) -> None:
    """While another writer holds the project's lock, `lock` waits and writes nothing."""
    write_env(tmp_path / "environment.yml", channel_url, BASIC, ["linux-64"])
    env = {**os.environ, "REPRO_AUDIT_CACHE_DIR": str(tmp_path / ".cache")}
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        proc = subprocess.Popen(
            [sys.executable, "-m", "audit", "lock"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(3)
        assert proc.poll() is None, proc.communicate()
        assert not (tmp_path / "conda-lock.yml").exists()
    finally:
        os.close(fd)  # releases the lock
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert (tmp_path / "conda-lock.yml").is_file()
    assert run(["lock", "--check"], tmp_path).returncode == 0
