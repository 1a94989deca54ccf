"""Fixtures of the inventory tests: the shared lockfile corpus, a tiny prefix, a git repo."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from inventory_corpus import LOCKFILES, REPO_ROOT, lockfile_params  # noqa: F401
from inventory_images import conda_meta, dist_metadata


@pytest.fixture
def tiny_prefix(tmp_path: Path) -> Path:
    """A conda prefix: 2 conda packages, a conda-installed dist-info, a pip-installed one."""
    prefix = tmp_path / "env"
    meta = prefix / "conda-meta"
    meta.mkdir(parents=True)
    (meta / "python-3.11.7-0.json").write_bytes(conda_meta("python", "3.11.7"))
    (meta / "six-1.16.0-pyh6c4a22f_0.json").write_bytes(
        conda_meta("six", "1.16.0", "pyh6c4a22f_0", "noarch")
    )
    (meta / "history").write_text("==> 2024-01-01 <==\n")
    site = prefix / "lib" / "python3.11" / "site-packages"
    conda_owned = site / "six-1.16.0.dist-info"
    conda_owned.mkdir(parents=True)
    (conda_owned / "METADATA").write_bytes(dist_metadata("six", "1.16.0"))
    (conda_owned / "INSTALLER").write_text("conda\n")
    pip_owned = site / "Typing_Extensions-4.12.2.dist-info"
    pip_owned.mkdir()
    (pip_owned / "METADATA").write_bytes(dist_metadata("Typing_Extensions", "4.12.2"))
    (pip_owned / "INSTALLER").write_text("pip\n")
    (pip_owned / "RECORD").write_text("typing_extensions.py,sha256=x,1\n")
    return prefix


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def lock_yaml(numpy_version: str) -> str:
    """A small conda-lock.yml (v1) with one platform."""
    entries = []
    for name, version, build in (("python", "3.11.7", "0"), ("numpy", numpy_version, "py311_0")):
        url = f"https://conda.anaconda.org/conda-forge/linux-64/{name}-{version}-{build}.conda"
        entries.append(
            {
                "name": name,
                "version": version,
                "manager": "conda",
                "platform": "linux-64",
                "dependencies": {},
                "url": url,
                "hash": {"md5": "0" * 32, "sha256": "1" * 64},
                "category": "main",
                "optional": False,
            }
        )
    document = {
        "version": 1,
        "metadata": {
            "content_hash": {"linux-64": "x"},
            "channels": [{"url": "conda-forge", "used_env_vars": []}],
            "platforms": ["linux-64"],
            "sources": ["environment.yml"],
        },
        "package": entries,
    }
    return yaml.safe_dump(document, sort_keys=False)


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A repo whose conda-lock.yml has numpy 1.26.4 at HEAD~1 and 2.0.0 at HEAD."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    for version in ("1.26.4", "2.0.0"):
        (repo / "conda-lock.yml").write_text(lock_yaml(version))
        _git(repo, "add", "conda-lock.yml")
        _git(repo, "commit", "-q", "-m", f"numpy {version}")
    return repo
