"""The files of a repository that a command looks at, and the ones changed since a revision.

Inside git the listing is git's own: tracked and staged files, plus new files git does not
ignore (`git ls-files --cached --others --exclude-standard`). So ignored build folders,
virtual environments and vendored checkouts are never walked, and a project created a
moment ago is seen before it is committed, as linters that honour .gitignore see it.
Outside git it is a walk that skips the usual tool folders.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from audit.core.errors import InputError, ReproAuditError

#: folders a walk outside git never enters
SKIP_DIRS = frozenset(
    {".git", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".mypy_cache", ".pixi"}
)


@dataclass(frozen=True)
class RepoFiles:
    """Files under `root`, relative to it (POSIX, sorted); `top` is git's top level."""

    root: Path
    paths: tuple[str, ...]
    top: Path | None = None


def git_toplevel(path: Path) -> Path | None:
    """The git top level of `path`, or None outside git (or without git)."""
    from audit.core.git import run_git

    try:
        done = run_git(["rev-parse", "--show-toplevel"], cwd=path, timeout=10)
    except (ReproAuditError, OSError):
        return None
    if done.returncode != 0:
        return None
    return Path(done.stdout.decode().strip())


def list_files(root: Path, top: Path | None) -> RepoFiles:
    """git's view of `root` when `top` is its repository, else a walk.

    A folder git ignores as a whole (a build output, a scratch copy inside a clone) lists
    nothing, yet whoever checks it means its files: it is walked like a folder outside git.
    """
    if top is not None:
        paths = _git_paths(root, ["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        if paths or (paths is not None and not _ignored(root)):
            return RepoFiles(root, tuple(sorted(set(paths))), top)
    return RepoFiles(root, tuple(_walk(root)), None)


def _ignored(root: Path) -> bool:
    """Does git ignore the folder `root` itself (so nothing in it is listed)?"""
    return _git_paths(root, ["check-ignore", "-q", "."]) is not None


def _git_paths(root: Path, args: list[str]) -> list[str] | None:
    from audit.core.git import run_git

    try:
        done = run_git(args, cwd=root, timeout=60)
    except (ReproAuditError, OSError):
        return None
    if done.returncode != 0:
        return None
    return [p for p in done.stdout.decode("utf-8", "surrogateescape").split("\0") if p]


def _walk(root: Path) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        base = Path(os.path.relpath(dirpath, root)).as_posix()
        prefix = "" if base == "." else f"{base}/"
        out.extend(prefix + name for name in sorted(filenames))
    return sorted(out)


def changed_since(root: Path, rev: str) -> set[str]:
    """Files under `root` (relative to it) that differ from where `rev` and HEAD meet.

    A pull request's base is the merge base, so changes made on the target branch since
    are not counted; without one (a shallow clone) `rev` itself. The working tree counts
    (staged, unstaged, and new files git does not ignore); deleted and renamed files count
    under both names.
    """
    from audit.core.git import first_line, run_git

    verify = run_git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], cwd=root)
    if verify.returncode != 0:
        raise InputError(f"unknown revision {rev!r}", where="--changed-since")
    base = verify.stdout.decode().strip()
    meet = run_git(["merge-base", base, "HEAD"], cwd=root)
    if meet.returncode == 0 and meet.stdout.strip():
        base = meet.stdout.decode().strip()
    args = ["diff", "--name-only", "-z", "--no-renames", "--relative", base, "--"]
    done = run_git(args, cwd=root)
    if done.returncode != 0:
        raise InputError(first_line(done, "git diff failed"), where="--changed-since")
    changed = {p for p in done.stdout.decode("utf-8", "surrogateescape").split("\0") if p}
    new = _git_paths(root, ["ls-files", "-z", "--others", "--exclude-standard"]) or []
    return changed | set(new)
