"""`git:REV:path`: a lockfile as it was at a git revision, read without a checkout.

The path is relative to the repository root (git's own `REV:path` rule); from a
subdirectory, a path relative to the working directory is tried next (`REV:./path`).
Without a path (`git:HEAD~1`), the first of DEFAULT_PATHS that exists at the revision is
read, as `verify git:REV` finds its record.
"""

from __future__ import annotations

from pathlib import Path

from audit.core.git import run_git
from audit.inventory.interface import InventoryError

PREFIX = "git:"
#: What `git:REV` without a path means, tried in order (working-directory relative too).
DEFAULT_PATHS = ("conda-lock.yml", "pixi.lock", "build-record.json")


def split_git_spec(spec: str) -> tuple[str, str]:
    """`git:REV:path` → (REV, path); `git:REV` → (REV, "") (the default lockfile)."""
    rest = spec[len(PREFIX) :]
    rev, sep, path = rest.partition(":")
    if not rev or (sep and not path):
        raise InventoryError(f"expected git:REV[:path], got {spec!r}")
    return rev, path


def show(rev: str, path: str, cwd: Path | None = None) -> bytes:
    """The bytes of `path` at `rev` in the repository containing `cwd`."""
    return show_first(rev, [path], cwd)[1]


def show_first(rev: str, paths: list[str], cwd: Path | None = None) -> tuple[str, bytes]:
    """(path, bytes) of the first of `paths` that exists at `rev`."""
    cwd = cwd or Path.cwd()
    where = f"git:{rev}:{paths[0]}" if len(paths) == 1 else f"git:{rev}"
    top = run_git(["rev-parse", "--show-toplevel"], cwd)
    if top.returncode != 0:
        raise InventoryError(f"{cwd} is not inside a git repository", where=where)
    commit = run_git(
        ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"], cwd
    )
    if commit.returncode != 0:
        raise InventoryError(f"unknown git revision {rev!r}", where=where)
    sha = commit.stdout.decode().strip()
    for path in paths:
        candidates = [path]
        if not path.startswith(("./", "../")):
            candidates.append("./" + path)
        for candidate in candidates:
            blob = run_git(["cat-file", "blob", f"{sha}:{candidate}"], cwd)
            if blob.returncode == 0:
                return path, blob.stdout
    if len(paths) == 1:
        message = f"{paths[0]!r} does not exist at revision {rev} ({sha[:12]})"
    else:
        message = f"none of {', '.join(paths)} exists at revision {rev} ({sha[:12]})"
    raise InventoryError(message, where=where)
