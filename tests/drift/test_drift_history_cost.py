"""What a history walk costs per revision, counted rather than timed.

`drift` walks hundreds of revisions of a lock that changes a few entries at a time. Its
cost must follow what changed, not the size of the lock times the revisions: packages are
built only for entry texts not seen before, the YAML parser sees each revision's short
head once (never the package entries), and git runs as a fixed number of processes
whatever the number of revisions. A reader that re-reads every entry of every revision
(as one once did: 2.3x slower over 200 revisions of a 754-entry lock) fails here.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from drift_helpers import commit

from audit.core.git import GitRepo
from audit.drift.history import walk_history
from audit.inventory import Package

ENTRIES = 120
PER_REVISION = 3


def _entry(i: int, version: str, build: int) -> str:
    name = f"pkg{i:03d}"
    deps = "  dependencies: {}\n" if i % 4 == 0 else f"  dependencies:\n    pkg{i + 1:03d}: '>=1'\n"
    return (
        "- category: main\n"
        f"{deps}"
        "  hash:\n"
        f"    md5: {i:032x}\n"
        f"    sha256: {i:064x}\n"
        "  manager: conda\n"
        f"  name: {name}\n"
        "  optional: false\n"
        "  platform: linux-64\n"
        f"  url: https://conda.anaconda.org/conda-forge/linux-64/{name}-{version}-h0_{build}.conda\n"
        f"  version: {version}\n"
    )


def _lock(versions: list[str], builds: list[int]) -> str:
    head = (
        "metadata:\n  channels:\n  - url: conda-forge\n    used_env_vars: []\n"
        "  content_hash:\n    linux-64: abc\n  platforms:\n  - linux-64\n"
        "  sources:\n  - environment.yml\npackage:\n"
    )
    return head + "".join(
        _entry(i, v, b) for i, (v, b) in enumerate(zip(versions, builds, strict=True))
    )


def _history(repo: Path, revisions: int) -> None:
    """`revisions` commits after the first, each bumping PER_REVISION entries."""
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    versions, builds = ["1.0"] * ENTRIES, [0] * ENTRIES
    for revision in range(revisions + 1):
        if revision:
            for k in range(PER_REVISION):
                i = (revision * 7 + k * 31) % ENTRIES
                if k == 2:
                    builds[i] += 1  # a rebuild
                else:
                    versions[i] = f"{versions[i]}.{revision}"
        (repo / "conda-lock.yml").write_text(_lock(versions, builds))
        commit(repo, f"r{revision}", 1_700_000_000 + revision * 60)


class _Counts:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.packages = self.yaml = self.git = 0
        post_init = Package.__post_init__

        def counted_post_init(package: Package) -> None:
            self.packages += 1
            post_init(package)

        monkeypatch.setattr(Package, "__post_init__", counted_post_init)
        for name in ("load", "safe_load", "compose"):
            original = getattr(yaml, name)

            def counted(*args: object, _original: object = original, **kw: object) -> object:
                self.yaml += 1
                return _original(*args, **kw)  # type: ignore[operator]

            monkeypatch.setattr(yaml, name, counted)
        popen_init = subprocess.Popen.__init__

        def counted_popen(
            popen: subprocess.Popen, args: object, *rest: object, **kw: object
        ) -> None:
            if isinstance(args, list | tuple) and args and args[0] == "git":
                self.git += 1
            popen_init(popen, args, *rest, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr(subprocess.Popen, "__init__", counted_popen)


def _walk(repo: Path, revisions: int, monkeypatch: pytest.MonkeyPatch) -> _Counts:
    with monkeypatch.context() as patch:
        counts = _Counts(patch)
        with GitRepo(repo) as handle:
            history = walk_history(handle, "conda-lock.yml", limit=revisions)
    assert len(history.revisions) == revisions + 1
    changed = sum(r.change_count for r in history.revisions)
    assert changed == revisions * PER_REVISION  # the walk saw every change
    return counts


def test_history_cost_follows_the_changes_not_the_lock_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    short, long = 4, 24
    _history(tmp_path / "repo", long)
    few = _walk(tmp_path / "repo", short, monkeypatch)
    many = _walk(tmp_path / "repo", long, monkeypatch)

    # packages: the baseline's entries once, then only the entries each revision changed
    assert many.packages <= ENTRIES + long * PER_REVISION
    assert many.packages - few.packages <= (long - short) * PER_REVISION
    # YAML: each revision's head (metadata) once; package entries never go through it
    assert many.yaml <= long + 1
    # git: the same few processes (one log, one cat-file --batch, ...) for any window
    assert many.git == few.git
    assert many.git <= 5
