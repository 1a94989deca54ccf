"""A lock made with `lock --lockfile NAME`: its explicit files sit beside it under
conda-lock's names, and merge from the lock they carry the content hash of."""

from __future__ import annotations

import shutil
from pathlib import Path

from merge_helpers import commit_all, configure_driver, expected_explicit, merge, relock
from support import make_channel
from tm_helpers import env_text, git, run, versions

LOCK = "app-lock.yml"


def test_explicit_files_of_a_named_lock_merge(tmp_path: Path) -> None:
    channel = make_channel.build_channel(tmp_path / "channel")
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / ".gitignore").write_text(".cache/\n")
    (root / ".gitattributes").write_text(
        f"{LOCK} merge=repro-audit-lock\nconda-*.lock merge=repro-audit-lock\n"
    )
    (root / "environment.yml").write_text(
        env_text(channel.as_uri(), ["python 3.12.*", "numpy", "six", "tzdata"])
    )
    relock(root, "--lockfile", LOCK)
    assert (root / LOCK).is_file() and (root / "conda-linux-64.lock").is_file()
    commit_all(root, "lock")
    configure_driver(root)
    shutil.rmtree(channel)
    make_channel.build_channel(channel, newer=True)
    for branch, package in (("bump-six", "six"), ("bump-numpy", "numpy")):
        git(root, "checkout", "-q", "-b", branch, "main")
        relock(root, "--lockfile", LOCK, "--update", package)
        commit_all(root, branch)
    git(root, "checkout", "-q", "main")
    tmp = tmp_path / "tmp"
    assert merge(root, "bump-six", tmp)[0]
    ok, out = merge(root, "bump-numpy", tmp)
    assert ok, out
    assert f"merge-lock: conda-linux-64.lock: merged (derived from the merged {LOCK})" in out
    assert git(root, "diff", "--name-only", "--diff-filter=U") == ""
    got = versions(root / LOCK)
    assert got["six"] == "1.17.0" and got["numpy"] == "2.1.0"
    assert expected_explicit(root, LOCK) == {
        "conda-linux-64.lock": (root / "conda-linux-64.lock").read_text()
    }
    check = run(["lock", "--lockfile", LOCK, "--check"], root)
    assert check.returncode == 0, check.stdout + check.stderr
    assert list(tmp.iterdir()) == []
