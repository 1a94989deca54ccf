"""What a merge driver can learn from git while `git merge` runs.

Found by experiment (git 2.39, merge-ort): drivers run one after another, in reverse
path order (`conda-win-64.lock`, `conda-osx-arm64.lock`, `conda-lock.yml`,
`conda-linux-64.lock`), in the top-level directory, while the work tree and the index
still hold ours; `MERGE_HEAD` does not exist yet, but git exports `GITHEAD_<sha>` for
the commit being merged. So the other versions of a file come from git objects: HEAD,
that commit, and their merge base.

`git rebase`, `cherry-pick` and `revert` run the same drivers but export no
`GITHEAD_<sha>` (and write `REBASE_HEAD` / `CHERRY_PICK_HEAD` only after a conflict):
there the commits are found by the blobs git handed the driver, the newest commit of any
ref that wrote theirs at the path, and its parent (or the commit that wrote the base).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from audit.core.git import run_git


def git(*args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return run_git(list(args), data=data)


@dataclass(frozen=True)
class Sides:
    """The commits of the three-way merge git is running: base (None: the file is new on
    both sides, or unknown) and theirs; ours is HEAD."""

    base: str | None
    theirs: str


#: What `learn_sides` found for this driver run (one file per process; reset per file).
_SIDES: dict[str, Sides | None] = {}


def learn_sides(path: str, base_data: bytes, theirs_data: bytes) -> Sides | None:
    """Find the commits of the merge of `path` git is running, and remember them."""
    found = _merge_sides() or _sides_by_blobs(path, base_data, theirs_data)
    _SIDES["current"] = found
    return found


def forget_sides() -> None:
    _SIDES.pop("current", None)


def _merge_sides() -> Sides | None:
    """`git merge`: git exports `GITHEAD_<sha>=<name>` for the commit being merged."""
    shas = sorted(k[len("GITHEAD_") :] for k in os.environ if k.startswith("GITHEAD_"))
    head = head_commit()
    candidates = [s for s in shas if s != head]
    if len(candidates) != 1:
        return None
    return Sides(merge_base(candidates[0]), candidates[0])


def _sides_by_blobs(path: str, base_data: bytes, theirs_data: bytes) -> Sides | None:
    """rebase, cherry-pick, revert: the commits that wrote the versions git passed.

    Only when git runs the driver (it sets GIT_EXEC_PATH): `merge-lock` run by hand on
    three files is a merge of those files alone.
    """
    if "GIT_EXEC_PATH" not in os.environ or not path:
        return None
    theirs_blob = blob_id(theirs_data)
    base_blob = blob_id(base_data) if base_data else None
    writers = _writers(path, {b for b in (theirs_blob, base_blob) if b})
    theirs = writers.get(theirs_blob)
    if theirs is None:
        return None
    if base_blob is None:
        return Sides(None, theirs)
    parent = git("rev-parse", "-q", "--verify", f"{theirs}^").stdout.decode().strip() or None
    if parent is not None and blob_ids(parent, [path]).get(path) == base_blob:
        return Sides(parent, theirs)  # cherry-pick, rebase: the picked commit's parent
    return Sides(writers.get(base_blob), theirs)


def blob_id(data: bytes) -> str:
    return git("hash-object", "--stdin", data=data).stdout.decode().strip()


def _writers(path: str, blobs: set[str]) -> dict[str, str]:
    """blob id → the newest commit of any ref whose change wrote it at `path`."""
    log = ["log", "--all", "--no-renames", "--raw", "--no-abbrev", "--format=%x01%H"]
    proc = git(*log, "--", path)
    out: dict[str, str] = {}
    commit = ""
    for line in proc.stdout.decode(errors="replace").splitlines():
        if line.startswith("\x01"):
            commit = line[1:]
        elif line.startswith(":") and commit:
            fields = line.partition("\t")[0].split()
            if len(fields) >= 4 and fields[3] in blobs:
                out.setdefault(fields[3], commit)
    return out


def current_sides() -> Sides | None:
    """What `learn_sides` found for this file, else what `git merge` says (None: nothing)."""
    return _SIDES["current"] if "current" in _SIDES else _merge_sides()


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
