"""Helpers of the merge tests: commits, re-locks, `git merge` with the driver, and the
explicit files `lock` writes for a conda-lock.yml."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from support.gitenv import GIT_ENV
from tm_helpers import git, run

from audit.lock.explicit import explicit_files

DRIVER = f"{sys.executable} -m audit merge-lock %O %A %B %P"


def configure_driver(root: Path) -> None:
    """This clone's driver, as docs/commands/merge-lock.md sets it up."""
    git(root, "config", "merge.repro-audit-lock.name", "repro-audit conda-lock.yml merge")
    git(root, "config", "merge.repro-audit-lock.driver", DRIVER)


def commit_all(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message, date="2025-03-01T09:00:00+00:00")


def relock(root: Path, *args: str) -> None:
    result = run(["lock", *args], root)
    assert result.returncode == 0, result.stderr


def driver_env(root: Path, tmp: Path, **extra: str) -> dict[str, str]:
    """The drivers' environment: a private TMPDIR, to see that nothing is left in it."""
    tmp.mkdir(exist_ok=True)
    return {
        **os.environ,
        "TMPDIR": str(tmp),
        "REPRO_AUDIT_CACHE_DIR": str(root / ".cache"),
        **GIT_ENV,
        **extra,
    }


def merge(root: Path, branch: str, tmp: Path) -> tuple[bool, str]:
    proc = subprocess.run(
        ["git", "merge", "--no-ff", "-m", f"merge {branch}", branch],
        cwd=root,
        env=driver_env(root, tmp),
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode == 0, proc.stdout + proc.stderr


def expected_explicit(root: Path, lock: str = "conda-lock.yml") -> dict[str, str]:
    """The explicit files `lock` writes for the lock `root/lock`."""
    document = yaml.safe_load((root / lock).read_text())
    return {p.name: text for p, text in explicit_files(document, root / lock).items()}
