"""Fixtures of the `init` tests: an empty git repository and `repro-audit init` in it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from init_helpers import GIT_ENV, ROOT, Init, git, shim_path
from support.cli import repro_audit


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    return root


@pytest.fixture
def init(tmp_path: Path) -> Init:
    """`init(repo, *args)`: `repro-audit init ARGS` run in `repo`."""
    path = shim_path(tmp_path)

    def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return repro_audit(
            "init", *args, cwd=cwd, env={**GIT_ENV, "PATH": path, "PYTHONPATH": str(ROOT)}
        )

    return run
