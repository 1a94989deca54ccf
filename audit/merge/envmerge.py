"""The environment file as the merge will leave it, read from git while the driver runs.

A merge driver sees only the three versions of the lock. Whether the merged lock is
still right depends on the merged environment.yml, which git has not written yet when
the driver runs (merge-ort updates the work tree at the end). So it is rebuilt here:
the file at HEAD (ours), at the merged commit (git names it in `GITHEAD_<sha>`) and at
their merge base, merged with `git merge-file` — the same merge git will do.
"""

from __future__ import annotations

import posixpath
import tempfile
from dataclasses import dataclass
from pathlib import Path

from audit.merge.gitview import current_sides, git, show


@dataclass(frozen=True)
class EnvMerge:
    """The three versions of the environment file and their merge (None: conflicts)."""

    path: str
    base: bytes
    ours: bytes
    theirs: bytes
    merged: bytes | None
    conflicts: int = 0

    @property
    def both_edited(self) -> bool:
        return self.merged is not None and self.merged not in (self.ours, self.theirs)


def environment_path(lock_path: str, sources: list[str]) -> str | None:
    """The environment file's path in the repository, from the lock's `sources`."""
    for source in sources:
        if source.startswith("git:") or "://" in source:
            continue
        return posixpath.normpath(posixpath.join(posixpath.dirname(lock_path), source))
    return None


def _blob(rev: str | None, path: str) -> bytes:
    return show(rev, path) or b""


def merge_environment(lock_path: str, sources: list[str]) -> EnvMerge | None:
    """The merged environment file, or None when git does not say what is being merged."""
    path = environment_path(lock_path, sources)
    sides = current_sides()
    if path is None or sides is None:
        return None
    base, ours, theirs = _blob(sides.base, path), _blob("HEAD", path), _blob(sides.theirs, path)
    if ours == theirs or base == theirs:
        return EnvMerge(path, base, ours, theirs, ours)
    if base == ours:
        return EnvMerge(path, base, ours, theirs, theirs)
    with tempfile.TemporaryDirectory(prefix="repro-audit-merge-env-") as tmp:
        files = []
        for name, data in (("ours", ours), ("base", base), ("theirs", theirs)):
            target = Path(tmp) / name
            target.write_bytes(data)
            files.append(str(target))
        proc = git("merge-file", "-p", "-q", *files)
    if proc.returncode != 0:
        return EnvMerge(path, base, ours, theirs, None, max(proc.returncode, 1))
    return EnvMerge(path, base, ours, theirs, proc.stdout)
