"""Helpers of the time-machine tests: run the CLI, write environments, read locks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from support.cli import repro_audit


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`repro-audit ARGS` in `cwd`, with a cache private to the test directory."""
    cache = (
        str(cwd / ".cache")
        if "REPRO_AUDIT_CACHE_DIR" not in env
        else env.pop("REPRO_AUDIT_CACHE_DIR")
    )
    return repro_audit(*args, cwd=cwd, env={"REPRO_AUDIT_CACHE_DIR": cache, **env})


def env_text(channel: str, deps: list[str], platforms: tuple[str, ...] = ("linux-64",)) -> str:
    text = f"name: t\nchannels:\n  - {channel}\n  - nodefaults\ndependencies:\n"
    text += "".join(f"  - {d}\n" for d in deps)
    return text + "platforms:\n" + "".join(f"  - {p}\n" for p in platforms)


def versions(lockfile: Path, platform: str = "linux-64", manager: str = "conda") -> dict:
    """name → version of one platform's packages in a conda-lock.yml."""
    doc = yaml.safe_load(lockfile.read_text())
    return {
        p["name"]: p["version"]
        for p in doc["package"]
        if p["platform"] == platform and p["manager"] == manager
    }


def custom_metadata(lockfile: Path) -> dict:
    return yaml.safe_load(lockfile.read_text())["metadata"]["custom_metadata"]


def git(cwd: Path, *args: str, date: str | None = None) -> str:
    """`git ARGS` with a fixed identity (and commit date, when given)."""
    import os

    from support.gitenv import GIT_ENV

    env = {**os.environ, **GIT_ENV}
    if date:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout
