"""Helpers of the `init` tests (shared by conftest.py and the tests; imported by this
module's own name, so another folder's conftest can never shadow them)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from support.gitenv import GIT_ENV

ROOT = Path(__file__).resolve().parents[2]



def git(cwd: Path, *args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stdout}{done.stderr}")
    return done.stdout + (done.stderr if not check else "")


def shim_path(tmp: Path) -> str:
    """A PATH whose `repro-audit` is this checkout, as a user's installed one would be:
    git runs the merge driver by that name."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "repro-audit"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m audit "$@"\n')
    shim.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


Init = Callable[..., subprocess.CompletedProcess[str]]


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of the work tree and the clone's config, to compare before/after."""
    files = {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }
    files[".git/config"] = (root / ".git" / "config").read_bytes()
    return files
