"""`build` cancelled as CI cancels it (SIGTERM) or a user does (Ctrl-C, SIGINT).

The build is real (dockerd, the local registry's base image, the fixture channel) and is
signalled while it works: once while the environment is being staged into the cache, once
while the engine builds. It must end with one line naming what was interrupted, 128 + the
signal, no temp folder of ours in TMPDIR, nothing half-made in the cache and no image.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from build_helpers import PREFIX


def _staging(cache: Path, _tmp: Path) -> bool:
    return any((cache / "stages").glob("stage-*"))


def _engine_building(_cache: Path, tmp: Path) -> bool:
    return any(tmp.glob("repro-audit-*"))


def _leftovers(cache: Path, tmp: Path) -> list[str]:
    stages = cache / "stages"
    half = [*stages.glob("stage-*"), *stages.glob(".env-*")] if stages.is_dir() else []
    return sorted(str(p) for p in [*tmp.iterdir(), *half])


@pytest.mark.parametrize(
    ("signum", "moment", "phase"),
    [
        # A small environment stages in milliseconds: the signal may land on the
        # install line or on the staging line that follows it; both name the phase.
        (signal.SIGTERM, _staging, ("while installing", "while staging environment layer")),
        (signal.SIGINT, _engine_building, ("while building",)),
    ],
    ids=["sigterm-while-staging", "sigint-while-the-engine-builds"],
)
def test_a_cancelled_build_cleans_up_and_says_what_it_was_doing(
    project: Path,
    tmp_path: Path,
    tag_for,
    signum: int,
    moment: Callable[[Path, Path], bool],
    phase: tuple[str, ...],
) -> None:
    import docker

    tag = tag_for("cancelled")
    cache, scratch = tmp_path / "cache", tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, "-m", "audit", "build", "-t", tag, "--prefix", PREFIX]
    child = subprocess.Popen(
        [*args, "--cache-dir", str(cache)],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 240
    while not moment(cache, scratch) and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert child.poll() is None, "the build ended before the moment to cancel it"
    child.send_signal(signum)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 128 + signum, out + err
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    name = signal.Signals(signum).name
    said = [f"build interrupted ({name}) {each}" for each in phase]
    assert len(errors) == 1 and any(text in errors[0] for text in said), err
    assert " in 0." not in errors[0] and "/s" not in errors[0], "a phase, not its rate"
    assert _leftovers(cache, scratch) == []
    client = docker.from_env()
    try:
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get(tag)
    finally:
        client.close()
