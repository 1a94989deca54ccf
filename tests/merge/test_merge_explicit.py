"""Every file `lock` writes merges: conda-lock.yml per package, each explicit
`conda-<platform>.lock` derived from the merged conda-lock.yml, through real `git merge`.

History: `main` locks python 3.12, numpy, six, tzdata for linux-64 and osx-arm64 with
`lock`'s defaults (so explicit files too), with the driver set for conda-lock.yml and
conda-*.lock; then the channel gains newer releases and branches re-lock:

* `bump-six` / `bump-numpy`: `lock --update six` / `--update numpy` (different packages);
* `pin-numpy`: environment.yml pins `numpy 1.26.*` (the same package as bump-numpy, to
  another version: the merge re-solves).

git (merge-ort) runs the drivers in reverse path order: conda-osx-arm64.lock before
conda-lock.yml, conda-linux-64.lock after it, so one merge has both orders; the tests
that run the drivers by hand force each order for every file.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from merge_helpers import commit_all, configure_driver, driver_env, expected_explicit, merge, relock
from support import make_channel
from tm_helpers import env_text, git, run, versions

DEPS = ["python 3.12.*", "numpy", "six", "tzdata"]
PLATFORMS = ("linux-64", "osx-arm64")
LOCK_FILES = ("conda-lock.yml", "conda-linux-64.lock", "conda-osx-arm64.lock")


def set_deps(root: Path, channel: Path, deps: list[str]) -> None:
    (root / "environment.yml").write_text(env_text(channel.as_uri(), deps, PLATFORMS))


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository with every branch (built once); tests merge in clones of it."""
    work = tmp_path_factory.mktemp("merge-explicit")
    channel = make_channel.build_channel(work / "channel")
    root = work / "origin"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / ".gitignore").write_text(".cache/\n")
    (root / ".gitattributes").write_text(
        "conda-lock.yml merge=repro-audit-lock\nconda-*.lock merge=repro-audit-lock\n"
    )
    set_deps(root, channel, DEPS)
    relock(root)
    assert sorted(p.name for p in root.glob("conda-*")) == sorted(LOCK_FILES)
    commit_all(root, "lock")
    shutil.rmtree(channel)
    make_channel.build_channel(channel, newer=True)
    branches = {
        "bump-six": lambda: relock(root, "--update", "six"),
        "bump-numpy": lambda: relock(root, "--update", "numpy"),
        "pin-numpy": lambda: (
            set_deps(root, channel, ["python 3.12.*", "numpy 1.26.*", "six", "tzdata"]),
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
    return root


@pytest.fixture
def repo(origin: Path, tmp_path: Path) -> Path:
    """A clone with the driver configured for this clone."""
    root = tmp_path / "repo"
    git(tmp_path, "clone", "-q", str(origin), str(root))
    for branch in ("bump-six", "bump-numpy", "pin-numpy", "numpy-20", "numpy-21"):
        git(root, "branch", "-q", branch, f"origin/{branch}")
    configure_driver(root)
    return root


def assert_merged_set(root: Path, tmp: Path) -> None:
    """No unmerged file, no markers, explicit files as `lock` writes them, the lock
    current, and nothing left behind in TMPDIR or .git."""
    unmerged = git(root, "diff", "--name-only", "--diff-filter=U").split()
    assert unmerged == []
    for name in LOCK_FILES:
        text = (root / name).read_text()
        assert "<<<<<<<" not in text and ">>>>>>>" not in text, name
    want = expected_explicit(root)
    assert sorted(want) == ["conda-linux-64.lock", "conda-osx-arm64.lock"]
    for name, text in want.items():
        assert (root / name).read_text() == text, name
    check = run(["lock", "--check"], root)
    assert check.returncode == 0, check.stdout + check.stderr
    assert not (root / ".git" / "repro-audit-merge").exists()
    assert list(tmp.iterdir()) == []


def urls(root: Path, name: str) -> list[str]:
    return [line for line in (root / name).read_text().splitlines() if "://" in line]


def test_different_packages_every_lock_file_merges(repo: Path, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    assert merge(repo, "bump-six", tmp)[0]
    ok, out = merge(repo, "bump-numpy", tmp)
    assert ok, out
    assert "merge-lock: conda-lock.yml: merged (" in out
    for name in ("conda-linux-64.lock", "conda-osx-arm64.lock"):
        assert f"merge-lock: {name}: merged (derived from the merged conda-lock.yml)" in out
    for platform in PLATFORMS:
        got = versions(repo / "conda-lock.yml", platform)
        assert got["six"] == "1.17.0" and got["numpy"] == "2.1.0" and got["tzdata"] == "2024a"
    linux = urls(repo, "conda-linux-64.lock")
    assert any("/six-1.17.0-" in u for u in linux) and any("/numpy-2.1.0-" in u for u in linux)
    assert_merged_set(repo, tmp)


def test_same_package_to_different_versions_is_re_solved(repo: Path, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    assert merge(repo, "bump-numpy", tmp)[0]
    ok, out = merge(repo, "pin-numpy", tmp)
    assert ok, out
    assert "merge-lock: conda-lock.yml: merged and re-solved" in out
    assert "both sides changed linux-64 conda numpy" in out
    for name in ("conda-linux-64.lock", "conda-osx-arm64.lock"):
        assert f"merge-lock: {name}: merged and re-solved (derived from" in out
    for platform in PLATFORMS:
        assert versions(repo / "conda-lock.yml", platform)["numpy"] == "1.26.4"
    assert any("/numpy-1.26.4-" in u for u in urls(repo, "conda-osx-arm64.lock"))
    assert_merged_set(repo, tmp)


def _by_hand(root: Path, theirs: str, order: list[str], work: Path) -> dict[str, str]:
    """Run the driver as git would (%O %A %B from git objects, GITHEAD_<sha> set, in the
    top-level directory), one file after another in `order`; the merged texts."""
    work.mkdir()
    sha = git(root, "rev-parse", theirs).strip()
    base = git(root, "merge-base", "HEAD", sha).strip()
    env = driver_env(root, work / "tmp", **{f"GITHEAD_{sha}": theirs})
    out: dict[str, str] = {}
    memo = root / ".git" / "repro-audit-merge"
    for step, name in enumerate(order):
        files = []
        for rev, side in ((base, "O"), ("HEAD", "A"), (sha, "B")):
            target = work / f"{name}.{side}"
            target.write_text(git(root, "show", f"{rev}:{name}"))
            files.append(str(target))
        done = subprocess.run(
            [sys.executable, "-m", "audit", "merge-lock", *files, name],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stderr.startswith(f"merge-lock: {name}: merged and re-solved")
        out[name] = Path(files[1]).read_text()
        # the first driver's re-solve is kept for the two still to come, then removed
        assert len(list(memo.glob("*.json")) if memo.exists() else []) == (step < 2)
    assert not (root / ".git" / "repro-audit-merge").exists()  # the last driver removed it
    assert list((work / "tmp").iterdir()) == []
    return out


@pytest.mark.parametrize(
    "order",
    [list(LOCK_FILES), list(reversed(LOCK_FILES))],
    ids=["conda-lock.yml-first", "explicit-first"],
)
def test_drivers_agree_in_either_order(repo: Path, tmp_path: Path, order: list[str]) -> None:
    """A re-solving merge, every driver run by hand: each order ends in the same files,
    the explicit ones derived from the merged conda-lock.yml."""
    assert merge(repo, "bump-numpy", tmp_path / "tmp")[0]
    merged = _by_hand(repo, "pin-numpy", order, tmp_path / "by-hand")
    scratch = tmp_path / "merged"
    scratch.mkdir()
    (scratch / "conda-lock.yml").write_text(merged["conda-lock.yml"])
    assert versions(scratch / "conda-lock.yml")["numpy"] == "1.26.4"
    assert {n: merged[n] for n in LOCK_FILES[1:]} == expected_explicit(scratch)


def test_explicit_file_with_markers_is_named(repo: Path, tmp_path: Path) -> None:
    text = (repo / "conda-linux-64.lock").read_text()
    base, ours, theirs = (tmp_path / n for n in ("o", "a", "b"))
    base.write_text(text.replace("@EXPLICIT\n", "@EXPLICIT\n<<<<<<< HEAD\n=======\n>>>>>>> x\n"))
    ours.write_text(text)
    theirs.write_text(text)
    line = text.splitlines().index("@EXPLICIT") + 2
    # named by %P, or (a driver set up without %P) by its `# platform:` line
    for path in (["conda-linux-64.lock"], []):
        done = run(["merge-lock", str(base), str(ours), str(theirs), *path], repo)
        assert done.returncode == 2
        assert done.stderr.strip() == (
            f"error: conda-linux-64.lock (base):{line}: conflict markers in the lock: resolve "
            "or regenerate it first (`git checkout --ours FILE` then `repro-audit lock`)"
        )
        assert ours.read_text() == text


def test_explicit_file_outside_a_merge_is_a_conflict(repo: Path, tmp_path: Path) -> None:
    """Run by hand without `git merge`: the other conda-lock.yml versions are unknown."""
    files = []
    for rev, side in (("main", "o"), ("bump-six", "a"), ("bump-numpy", "b")):
        target = tmp_path / side
        target.write_text(git(repo, "show", f"{rev}:conda-linux-64.lock"))
        files.append(target)
    before = files[1].read_bytes()
    done = run(["merge-lock", *map(str, files), "conda-linux-64.lock"], repo)
    assert done.returncode == 1
    assert done.stderr.startswith("merge-lock: conda-linux-64.lock: CONFLICT")
    assert files[1].read_bytes() == before


def test_environment_conflict_leaves_every_lock_file_ours(repo: Path, tmp_path: Path) -> None:
    """Both sides edit one line of environment.yml: no lock file can be derived; each
    driver says so about its own file and leaves ours (valid, no markers)."""
    tmp = tmp_path / "tmp"
    assert merge(repo, "numpy-20", tmp)[0]
    before = {name: (repo / name).read_bytes() for name in LOCK_FILES}
    ok, out = merge(repo, "numpy-21", tmp)
    assert not ok
    for name in LOCK_FILES:
        assert f"error: {name}: environment.yml still has conflicts after merging it" in out
        assert (repo / name).read_bytes() == before[name]
    assert not (repo / ".git" / "repro-audit-merge").exists()
    assert list(tmp.iterdir()) == []


def test_a_driver_cancelled_while_it_re_solves_leaves_nothing(repo: Path, tmp_path: Path) -> None:
    """`timeout` (SIGTERM) during the re-solve: exit 143, one line, %A as it was, no temp
    folder, no memo entry half-written."""
    import signal
    import time

    assert merge(repo, "bump-numpy", tmp_path / "tmp")[0]
    sha = git(repo, "rev-parse", "pin-numpy").strip()
    base = git(repo, "merge-base", "HEAD", sha).strip()
    scratch = tmp_path / "scratch"
    env = driver_env(repo, scratch, **{f"GITHEAD_{sha}": "pin-numpy"})
    files = []
    for rev, side in ((base, "O"), ("HEAD", "A"), (sha, "B")):
        target = tmp_path / f"conda-lock.yml.{side}"
        target.write_text(git(repo, "show", f"{rev}:conda-lock.yml"))
        files.append(target)
    ours = files[1].read_bytes()
    child = subprocess.Popen(
        [sys.executable, "-m", "audit", "merge-lock", *map(str, files), "conda-lock.yml"],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not list(scratch.glob("repro-audit-merge*")) and child.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert child.poll() is None, "the driver ended before its re-solve could be cancelled"
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 143, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "merge-lock interrupted (SIGTERM)" in errors[0], err
    assert "Traceback" not in err
    assert files[1].read_bytes() == ours
    assert list(scratch.iterdir()) == []
    memo = repo / ".git" / "repro-audit-merge"
    assert (
        not memo.exists() or [p.name for p in memo.iterdir() if not p.name.endswith(".json")] == []
    )


def test_a_bump_the_other_sides_environment_edit_forbids_is_re_solved(
    repo: Path, tmp_path: Path
) -> None:
    """numpy-20 pinned `numpy 2.0.*` (numpy unchanged: 2.0.0 already), bump-numpy moved
    numpy to 2.1.0 without touching environment.yml. Per package, theirs' numpy wins, and
    the content hash is ours': only the merged environment file's specs tell it is wrong."""
    tmp = tmp_path / "tmp"
    git(repo, "checkout", "-q", "numpy-20")
    ok, out = merge(repo, "bump-numpy", tmp)
    assert ok, out
    assert "merged and re-solved" in out
    assert "the merged environment.yml asks otherwise: linux-64: numpy 2.1.0" in out
    for platform in PLATFORMS:
        assert versions(repo / "conda-lock.yml", platform)["numpy"] == "2.0.0"
    assert_merged_set(repo, tmp)
    gate = run(["check", "."], repo)
    assert gate.returncode == 0, gate.stdout + gate.stderr
