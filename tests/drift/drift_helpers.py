"""Helpers of the diff/drift tests (a module with a unique name, so test files import it
unambiguously; `conftest` holds only fixtures)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from support import make_channel
from support.docker import require_tool as require  # noqa: F401 (re-exported)
from support.registry import LocalRegistry

ENV_DEPS = ["python 3.11.*", "numpy", "six", "tzdata"]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def commit(repo: Path, message: str, when: int) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_DATE": f"@{when} +0000",
        "GIT_COMMITTER_DATE": f"@{when} +0000",
    }
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(
        [
            "git",
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-q",
            "-m",
            message,
        ],
        cwd=repo,
        check=True,
        env=env,
    )
    return git(repo, "rev-parse", "HEAD").strip()


def cli(
    args: list[str], cwd: Path, cache: Path, timeout: float = 120
) -> subprocess.CompletedProcess:
    """`python -m audit ARGS` in a subprocess: real exit codes and stderr."""
    environ = {**os.environ, "REPRO_AUDIT_CACHE_DIR": str(cache)}
    environ.pop("REPRO_AUDIT_INSECURE_REGISTRIES", None)
    return subprocess.run(
        [sys.executable, "-m", "audit", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=environ,
        timeout=timeout,
    )


def write_env(path: Path, channel: str, deps: list[str]) -> None:
    text = "name: t\nchannels:\n  - " + channel + "\n  - nodefaults\ndependencies:\n"
    text += "".join(f"  - {d}\n" for d in deps)
    path.write_text(text + "platforms:\n  - linux-64\n")


def rebuild_channel(target: Path, newer: bool) -> None:
    """Replace the channel directory's contents in place (same URL, other packages)."""
    shutil.rmtree(target)
    make_channel.build_channel(target, newer=newer)


@dataclass
class Project:
    root: Path
    cache: Path
    channel: Path
    commits: dict[str, str]
    registry: LocalRegistry | None
    image: str

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return cli(list(args), cwd or self.root, self.cache)
