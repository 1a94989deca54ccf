"""Issue 21's done-when, as a newcomer runs it: an empty repository with an environment.yml
and a Dockerfile, `init`, `lock`, a commit, two branches that each re-lock after bumping a
different package, and `git merge` of both."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from init_helpers import GIT_ENV, ROOT, shim_path
from support import make_channel


def _env(channel: Path) -> str:
    return (
        f"name: app\nchannels:\n  - {channel.as_uri()}\n  - nodefaults\n"
        "dependencies:\n  - python 3.12.*\n  - numpy\n  - six\n  - tzdata\n"
        "platforms:\n  - linux-64\n"
    )


class Flow:
    """The repository after the merges, and what git and the commands said."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env = root, env

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args), cwd=self.root, env=self.env, capture_output=True, text=True, check=False
        )

    def ok(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, f"{' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def unmerged(self) -> set[str]:
        return set(self.ok("git", "diff", "--name-only", "--diff-filter=U").split())


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> tuple[Flow, subprocess.CompletedProcess]:
    work = tmp_path_factory.mktemp("done-when")
    channel = make_channel.build_channel(work / "channel")
    root = work / "app"
    root.mkdir()
    env = {
        **os.environ,
        **GIT_ENV,
        "PATH": shim_path(work),
        "PYTHONPATH": str(ROOT),
        "REPRO_AUDIT_CACHE_DIR": str(work / "cache"),
    }
    repo = Flow(root, env)
    repo.ok("git", "init", "-q", "-b", "main")
    (root / "environment.yml").write_text(_env(channel))
    (root / "Dockerfile").write_text("FROM python:3.12-slim\nCOPY app.py /app/app.py\n")
    (root / "app.py").write_text("print('hello')\n")
    setup = repo.ok("repro-audit", "init", "--ci", "github")
    assert "created .gitattributes" in setup
    repo.ok("repro-audit", "lock")
    assert sorted(p.name for p in root.glob("conda-*")) == ["conda-linux-64.lock", "conda-lock.yml"]
    repo.ok("git", "add", "-A")
    repo.ok("git", "commit", "-qm", "set up and lock")
    shutil.rmtree(channel)  # months later: newer releases upstream
    make_channel.build_channel(channel, newer=True)
    for branch, package in (("bump-six", "six"), ("bump-numpy", "numpy")):
        repo.ok("git", "checkout", "-q", "-b", branch, "main")
        repo.ok("repro-audit", "lock", "--update", package)
        repo.ok("git", "commit", "-qam", f"bump {package}")
    repo.ok("git", "checkout", "-q", "main")
    repo.ok("git", "merge", "-q", "--no-ff", "-m", "merge bump-six", "bump-six")
    merged = repo.run("git", "merge", "--no-ff", "-m", "merge bump-numpy", "bump-numpy")
    return repo, merged


def test_conda_lock_yml_merges_without_conflict(
    flow: tuple[Flow, subprocess.CompletedProcess],
) -> None:
    repo, merged = flow
    out = merged.stdout + merged.stderr
    assert "conda-lock.yml" not in repo.unmerged(), out
    assert "merge-lock: conda-lock.yml: merged" in out
    text = (repo.root / "conda-lock.yml").read_text()
    assert "<<<<<<<" not in text and ">>>>>>>" not in text
    got = {
        p["name"]: p["version"]
        for p in yaml.safe_load(text)["package"]
        if p["platform"] == "linux-64"
    }
    assert got["six"] == "1.17.0" and got["numpy"] == "2.1.0"  # both branches' bumps
    assert got["tzdata"] == "2024a"  # neither touched it


def test_every_lock_file_merges_and_the_lock_is_current(
    flow: tuple[Flow, subprocess.CompletedProcess],
) -> None:
    repo, merged = flow
    assert repo.unmerged() == set(), merged.stdout + merged.stderr
    assert merged.returncode == 0
    assert "<<<<<<<" not in (repo.root / "conda-linux-64.lock").read_text()
    check = repo.run("repro-audit", "lock", "--check")
    assert check.returncode == 0, check.stdout + check.stderr
