"""The driver outside `git merge`: `git rebase` and `git cherry-pick` of a branch that
re-locked onto one that re-locked too (what `git pull --rebase` does every day)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from merge_helpers import driver_env
from test_merge_explicit import assert_merged_set, origin, repo  # noqa: F401 (fixtures)
from tm_helpers import git, versions


def _git(root: Path, tmp: Path, *args: str) -> tuple[bool, str]:
    proc = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=root, env=driver_env(root, tmp), capture_output=True, text=True, check=False,
    )  # fmt: skip
    return proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("branch", "command", "platform"),
    [
        ("bump-numpy", ["rebase", "bump-six"], "linux-64"),
        ("bump-six", ["cherry-pick", "bump-numpy"], "osx-arm64"),
    ],
    ids=["rebase", "cherry-pick"],
)
def test_a_re_lock_onto_a_branch_that_re_locked(
    repo: Path, tmp_path: Path, branch: str, command: list[str], platform: str  # noqa: F811
) -> None:
    tmp = tmp_path / "tmp"
    git(repo, "checkout", "-q", branch)
    ok, out = _git(repo, tmp, *command)
    assert ok, out
    got = versions(repo / "conda-lock.yml", platform)
    assert got["six"] == "1.17.0" and got["numpy"] == "2.1.0", got
    assert_merged_set(repo, tmp)


def test_rebase_of_the_same_package_to_another_version_re_solves(
    repo: Path, tmp_path: Path  # noqa: F811
) -> None:
    """Both sides changed numpy: the lock's driver re-solves with the merged
    environment.yml, which it reads at the picked commit and its parent."""
    tmp = tmp_path / "tmp"
    git(repo, "checkout", "-q", "pin-numpy")
    ok, out = _git(repo, tmp, "rebase", "bump-numpy")
    assert ok, out
    assert "merged and re-solved" in out
    for platform in ("linux-64", "osx-arm64"):
        assert versions(repo / "conda-lock.yml", platform)["numpy"].startswith("1.26")
    assert_merged_set(repo, tmp)


def test_merge_lock_by_hand_is_a_merge_of_the_three_files_alone(
    repo: Path, tmp_path: Path  # noqa: F811
) -> None:
    """Outside git, an explicit file's commits are not looked for (their blobs may well be
    in the history): it is said to be a conflict, `lock` fixes it."""
    import os
    import sys

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    sides = {}
    for side, rev in (("base", "main"), ("ours", "bump-six"), ("theirs", "bump-numpy")):
        sides[side] = tmp / side
        sides[side].write_bytes(subprocess.run(
            ["git", "show", f"{rev}:conda-linux-64.lock"], cwd=repo, capture_output=True,
            check=True,
        ).stdout)  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GITHEAD_"))}
    done = subprocess.run(
        [sys.executable, "-m", "audit", "merge-lock", str(sides["base"]), str(sides["ours"]),
         str(sides["theirs"]), "conda-linux-64.lock"],
        cwd=repo, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "whose versions git does not say" in done.stderr


def test_rebase_of_two_re_locks_onto_an_environment_edit(
    repo: Path, tmp_path: Path  # noqa: F811
) -> None:
    """A branch of two re-lock commits (six, then numpy) rebased onto one that pinned
    numpy 2.0.* in environment.yml: each pick merges against its own parent, and the
    second re-solves numpy with the merged environment.yml."""
    tmp = tmp_path / "tmp"
    git(repo, "checkout", "-q", "-b", "two-relocks", "bump-six")
    assert _git(repo, tmp, "cherry-pick", "bump-numpy")[0]
    ok, out = _git(repo, tmp, "rebase", "numpy-20")
    assert ok, out
    assert "merged and re-solved" in out
    for platform in ("linux-64", "osx-arm64"):
        got = versions(repo / "conda-lock.yml", platform)
        assert got["numpy"].startswith("2.0") and got["six"] == "1.17.0", got
    assert "numpy 2.0.*" in (repo / "environment.yml").read_text()
    assert_merged_set(repo, tmp)
