"""Helpers of the `build` tests (shared by conftest.py, the tests and nothing else)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from support.build import BaseImage  # noqa: F401 (the build tests import it from here)
from support.cli import repro_audit

ENVIRONMENT_YML = """\
name: app
channels:
  - conda-forge
dependencies:
  - python 3.11.*
  - six
  - tzdata
platforms:
  - linux-64
"""
PREFIX = "/opt/conda/envs/app"
BASE_REPOSITORY = "ra-build-base"


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`repro-audit ARGS` in a subprocess (real exit codes, real environment)."""
    return repro_audit(*args, cwd=cwd, env=env)


def write_project(directory: Path, channel: str, base: BaseImage | None) -> Path:
    """environment.yml, a context file, .dockerignore, and (with `base`) a Dockerfile."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "environment.yml").write_text(ENVIRONMENT_YML, encoding="utf-8")
    (directory / "hello.txt").write_text("hello from the context\n", encoding="utf-8")
    (directory / "secret.txt").write_text("must not reach the image\n", encoding="utf-8")
    (directory / ".dockerignore").write_text("secret.txt\n", encoding="utf-8")
    done = cli("lock", "-c", channel, "-p", "linux-64", cwd=directory)
    assert done.returncode == 0, done.stderr
    if base is not None:
        (directory / "Dockerfile").write_text(
            f"FROM {base.tagged}\nCOPY . /app/\n", encoding="utf-8"
        )
        done = cli("pin", cwd=directory)
        assert done.returncode == 0, done.stdout + done.stderr
    return directory
