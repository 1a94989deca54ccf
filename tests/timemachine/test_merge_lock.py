"""`merge-lock` as git's merge driver for conda-lock.yml, through real `git merge`.

History: `main` locks python 3.12, numpy, six, tzdata against the base channel; then the
channel gains newer releases and branches each change the lock:

* `bump-six` / `bump-numpy`: `lock --update six` / `--update numpy` (different packages);
* `pin-numpy`: environment.yml pins `numpy 1.26.*` and re-locks (the same package as
  bump-numpy, another way);
* `add-zlib` / `add-legacy`: each adds a different line to environment.yml and re-locks;
* `numpy-20` / `numpy-21`: edit the same line of environment.yml differently.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import yaml
from support import make_channel
from tm_helpers import env_text, git, run, versions

DEPS = ["python 3.12.*", "numpy", "six", "tzdata"]


def commit_all(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message, date="2025-03-01T09:00:00+00:00")


def relock(root: Path, *args: str) -> None:
    result = run(["lock", "--no-explicit", *args], root)
    assert result.returncode == 0, result.stderr


def set_deps(root: Path, channel: Path, deps: list[str]) -> None:
    (root / "environment.yml").write_text(env_text(channel.as_uri(), deps))


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The repository with every branch (built once); tests merge in clones of it."""
    work = tmp_path_factory.mktemp("merge")
    channel = make_channel.build_channel(work / "channel")
    root = work / "origin"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / ".gitignore").write_text(".cache/\n")
    set_deps(root, channel, DEPS)
    relock(root)
    commit_all(root, "lock")
    shutil.rmtree(channel)
    make_channel.build_channel(channel, newer=True, undated=True)
    branches = {
        "bump-six": lambda: relock(root, "--update", "six"),
        "bump-numpy": lambda: relock(root, "--update", "numpy"),
        "pin-numpy": lambda: (
            set_deps(root, channel, ["python 3.12.*", "numpy 1.26.*", "six", "tzdata"]),
            relock(root),
        ),
        "add-zlib": lambda: (set_deps(root, channel, [*DEPS, "libzlib 1.3.*"]), relock(root)),
        "add-legacy": lambda: (
            set_deps(root, channel, ["legacy-data", *DEPS]),
            relock(root),
        ),
        "numpy-20": lambda: (
            set_deps(root, channel, [*DEPS[:1], "numpy 2.0.*", *DEPS[2:]]),
            relock(root),
        ),
        "numpy-21": lambda: (
            set_deps(root, channel, [*DEPS[:1], "numpy 2.1.*", *DEPS[2:]]),
            relock(root),
        ),
    }
    for name, change in branches.items():
        git(root, "checkout", "-q", "-b", name, "main")
        change()
        commit_all(root, name)
    git(root, "checkout", "-q", "main")
    return root, channel


@pytest.fixture
def repo(origin: tuple[Path, Path], tmp_path: Path) -> Path:
    """A clone with the driver installed as docs/commands/merge-lock.md says."""
    root = tmp_path / "repo"
    git(tmp_path, "clone", "-q", str(origin[0]), str(root))
    for branch in (
        "bump-six",
        "bump-numpy",
        "pin-numpy",
        "add-zlib",
        "add-legacy",
        "numpy-20",
        "numpy-21",
    ):
        git(root, "branch", "-q", branch, f"origin/{branch}")
    (root / ".gitattributes").write_text("conda-lock.yml merge=repro-audit-lock\n")
    commit_all(root, "merge driver")
    git(root, "config", "merge.repro-audit-lock.name", "repro-audit conda-lock.yml merge")
    git(
        root,
        "config",
        "merge.repro-audit-lock.driver",
        f"{sys.executable} -m audit merge-lock %O %A %B %P",
    )
    return root


def merge(root: Path, branch: str) -> tuple[bool, str]:
    import os
    import subprocess

    env = {
        **os.environ,
        "REPRO_AUDIT_CACHE_DIR": str(root / ".cache"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }
    proc = subprocess.run(
        ["git", "merge", "--no-ff", "-m", f"merge {branch}", branch],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode == 0, proc.stdout + proc.stderr


def assert_valid_lock(root: Path) -> None:
    text = (root / "conda-lock.yml").read_text()
    assert "<<<<<<<" not in text and ">>>>>>>" not in text
    yaml.safe_load(text)
    check = run(["lock", "--no-explicit", "--check"], root)
    assert check.returncode == 0, check.stderr  # current for the merged environment.yml


def test_different_packages_merge_per_package(repo: Path) -> None:
    ok, out = merge(repo, "bump-six")  # fast-forward-free merge of one side
    assert ok, out
    ok, out = merge(repo, "bump-numpy")
    assert ok, out
    assert "merge-lock: conda-lock.yml: merged" in out
    got = versions(repo / "conda-lock.yml")
    assert got["six"] == "1.17.0" and got["numpy"] == "2.1.0"
    assert got["tzdata"] == "2024a"  # neither side touched it
    assert_valid_lock(repo)


def test_same_package_is_re_solved_with_the_merged_environment(repo: Path) -> None:
    assert merge(repo, "bump-numpy")[0]
    ok, out = merge(repo, "pin-numpy")
    assert ok, out
    assert "merged and re-solved" in out and "both sides changed linux-64 conda numpy" in out
    got = versions(repo / "conda-lock.yml")
    assert got["numpy"] == "1.26.4"  # what the merged environment.yml asks for
    assert_valid_lock(repo)


def test_both_sides_edit_environment_yml(repo: Path) -> None:
    assert merge(repo, "add-zlib")[0]
    ok, out = merge(repo, "add-legacy")
    assert ok, out
    assert "both sides edited environment.yml" in out
    got = versions(repo / "conda-lock.yml")
    assert got["legacy-data"] == "2.0.0" and got["libzlib"].startswith("1.3")
    assert_valid_lock(repo)


def test_environment_conflict_leaves_lock_untouched(repo: Path) -> None:
    assert merge(repo, "numpy-20")[0]
    before = (repo / "conda-lock.yml").read_bytes()
    ok, out = merge(repo, "numpy-21")
    assert not ok
    assert "environment.yml still has conflicts after merging it" in out
    assert (repo / "conda-lock.yml").read_bytes() == before  # ours, valid YAML, no markers
    assert "<<<<<<<" in (repo / "environment.yml").read_text()  # git's own conflict


def test_driver_refuses_conflict_markers(tmp_path: Path, origin: tuple[Path, Path]) -> None:
    lock = (origin[0] / "conda-lock.yml").read_text()
    base, ours, theirs = (tmp_path / n for n in ("o.yml", "a.yml", "b.yml"))
    base.write_text(lock)
    theirs.write_text(lock)
    broken = lock.replace("package:\n", "package:\n<<<<<<< HEAD\n=======\n>>>>>>> x\n", 1)
    ours.write_text(broken)
    result = run(["merge-lock", str(base), str(ours), str(theirs), "conda-lock.yml"], tmp_path)
    assert result.returncode == 2
    assert "conda-lock.yml (ours):" in result.stderr and "conflict markers" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert ours.read_text() == broken


def test_driver_outside_a_merge_merges_clean_changes(
    tmp_path: Path, origin: tuple[Path, Path]
) -> None:
    """Invoked by hand (no merge in progress): per-package merge, no re-solve needed."""
    root = origin[0]
    base, ours, theirs = (tmp_path / n for n in ("o.yml", "a.yml", "b.yml"))
    base.write_text(git(root, "show", "main:conda-lock.yml"))
    ours.write_text(git(root, "show", "bump-six:conda-lock.yml"))
    theirs.write_text(git(root, "show", "bump-numpy:conda-lock.yml"))
    result = run(
        ["merge-lock", str(base), str(ours), str(theirs), "conda-lock.yml", "--json"], tmp_path
    )
    assert result.returncode == 0, result.stderr
    got = versions(ours)
    assert got["six"] == "1.17.0" and got["numpy"] == "2.1.0"
    # same package changed on both sides, no merge to read environment.yml from: conflict
    theirs.write_text(git(root, "show", "pin-numpy:conda-lock.yml"))
    ours.write_text(git(root, "show", "bump-numpy:conda-lock.yml"))
    before = ours.read_bytes()
    result = run(["merge-lock", str(base), str(ours), str(theirs), "conda-lock.yml"], tmp_path)
    assert result.returncode == 1 and "CONFLICT" in result.stderr
    assert ours.read_bytes() == before
