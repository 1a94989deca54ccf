"""Fixtures of the `check` tests: one locked project per session, copied per test.

The project is locked once with `repro-audit lock` against the fixture channel (linux-64
and win-64 from its `platforms:` key) and holds a Dockerfile pinned by digest with a
matching image-lock.json. Each test copies it and breaks one thing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ENV_TEMPLATE = """\
name: check-test
channels:
  - {channel}
dependencies:
  - python 3.11.*
  - numpy >=1.26
  - six
  - linux-only-tool  # [linux]
platforms:
  - linux-64
  - win-64
"""
# line numbers of the template above, for exact assertions
LINE = {"channel": 3, "python": 5, "numpy": 6, "six": 7, "linux-only-tool": 8, "platforms": 9}
IMAGE_REPO = "library/debian"
IMAGE_TAG = "12-slim"
DIGEST_A = "sha256:" + hashlib.sha256(b"image a").hexdigest()
DIGEST_B = "sha256:" + hashlib.sha256(b"image b").hexdigest()


def image_lock(digest: str, files: tuple[str, ...] = ("Dockerfile",)) -> str:
    """An image-lock.json recording docker.io/library/debian:12-slim at `digest`."""
    key = f"docker.io/{IMAGE_REPO}:{IMAGE_TAG}@{digest}"
    entry = {
        "registry": "docker.io",
        "repository": IMAGE_REPO,
        "tag": IMAGE_TAG,
        "digest": digest,
        "media_type": "application/vnd.oci.image.index.v1+json",
        "platforms": [],
        "files": list(files),
    }
    return json.dumps({"version": 1, "images": {key: entry}}, indent=2, sort_keys=True) + "\n"


def cli_env(cache: Path) -> dict[str, str]:
    return {**os.environ, "REPRO_AUDIT_CACHE_DIR": str(cache), "NO_COLOR": "1"}


@pytest.fixture(scope="session")
def check_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("check-cache")


@pytest.fixture(scope="session")
def base_project(
    tmp_path_factory: pytest.TempPathFactory, channel_url: str, check_cache: Path
) -> Path:
    """The clean project, locked once (read-only: tests copy it)."""
    root = tmp_path_factory.mktemp("check-base") / "project"
    root.mkdir()
    (root / "environment.yml").write_text(ENV_TEMPLATE.format(channel=channel_url))
    subprocess.run(
        [sys.executable, "-m", "audit", "lock", "--cache-dir", str(check_cache)],
        cwd=root,
        check=True,
        capture_output=True,
        env=cli_env(check_cache),
    )
    (root / "Dockerfile").write_text(
        f"FROM docker.io/{IMAGE_REPO}:{IMAGE_TAG}@{DIGEST_A}\nRUN true\n"
    )
    (root / "image-lock.json").write_text(image_lock(DIGEST_A))
    return root


@pytest.fixture
def project(base_project: Path, tmp_path: Path) -> Path:
    """A private copy of the clean project."""
    dest = tmp_path / "project"
    shutil.copytree(base_project, dest)
    return dest


@pytest.fixture
def run(check_cache: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`run_check(path, *args)`: `python -m audit check` as a subprocess (real exit codes)."""

    def run(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "audit", "check", str(path), *args],
            capture_output=True,
            text=True,
            env=cli_env(check_cache),
            timeout=120,
        )

    return run


@pytest.fixture(scope="session")
def validator():  # type: ignore[no-untyped-def]
    """The SARIF 2.1.0 schema's validator (the OASIS schema, stored with the tests)."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)
