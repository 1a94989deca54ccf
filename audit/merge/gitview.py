"""What a merge driver can learn from git while `git merge` runs.

Found by experiment (git 2.39, merge-ort): drivers run one after another, in reverse
path order (`conda-win-64.lock`, `conda-osx-arm64.lock`, `conda-lock.yml`,
`conda-linux-64.lock`), in the top-level directory, while the work tree and the index
still hold ours; `MERGE_HEAD` does not exist yet, but git exports `GITHEAD_<sha>` for
the commit being merged. So the other versions of a file come from git objects: HEAD,
that commit, and their merge base.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from audit.core.git import run_git


def git(*args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return run_git(list(args), data=data)


def theirs_commit() -> str | None:
    """The commit being merged: git exports `GITHEAD_<sha>=<name>` to merge drivers."""
    shas = sorted(k[len("GITHEAD_") :] for k in os.environ if k.startswith("GITHEAD_"))
    head = head_commit()
    candidates = [s for s in shas if s != head]
    return candidates[0] if len(candidates) == 1 else None


def head_commit() -> str:
    return git("rev-parse", "HEAD").stdout.decode().strip()


def merge_base(theirs: str) -> str | None:
    return git("merge-base", "HEAD", theirs).stdout.decode().strip() or None


def show(rev: str | None, path: str) -> bytes | None:
    """The file at `rev` (None: no such revision or file)."""
    if rev is None:
        return None
    proc = git("show", f"{rev}:{path}")
    return proc.stdout if proc.returncode == 0 else None


def blob_ids(rev: str | None, paths: list[str]) -> dict[str, str]:
    """path → blob id at `rev`, for the paths that exist there."""
    if rev is None or not paths:
        return {}
    proc = git("ls-tree", "-z", "--full-tree", rev, "--", *paths)
    out: dict[str, str] = {}
    for item in proc.stdout.decode(errors="replace").split("\0"):
        meta, _, name = item.partition("\t")
        if name and len(meta.split()) == 3:
            out[name] = meta.split()[2]
    return out


def folder_files(rev: str, folder: str) -> list[str]:
    """The files directly in `folder` (a repository path, "" the top) at `rev`."""
    spec = [f"{folder}/"] if folder else []
    proc = git("ls-tree", "-z", "--name-only", "--full-tree", rev, "--", *spec)
    return [name for name in proc.stdout.decode(errors="replace").split("\0") if name]


def merge_attributes(paths: list[str]) -> dict[str, str]:
    """path → its `merge` attribute (`unspecified`, `set`, a driver name…)."""
    proc = git("check-attr", "-z", "merge", "--", *paths)
    fields = proc.stdout.decode(errors="replace").split("\0")
    return {fields[i]: fields[i + 2] for i in range(0, len(fields) - 2, 3)}


def git_path(name: str) -> Path | None:
    """`.git/NAME` of this repository (per work tree), or None outside one."""
    proc = git("rev-parse", "--git-path", name)
    return Path(proc.stdout.decode().strip()) if proc.returncode == 0 else None
