"""`git:REV:path`: a lockfile as it was at a git revision, read without a checkout.

The path is relative to the repository root (git's own `REV:path` rule); from a
subdirectory, a path relative to the working directory is tried next (`REV:./path`).
"""

from __future__ import annotations

from pathlib import Path

from audit.core.git import run_git
from audit.inventory.interface import InventoryError

PREFIX = "git:"


def split_git_spec(spec: str) -> tuple[str, str]:
    """`git:REV:path` → (REV, path)."""
    rest = spec[len(PREFIX) :]
    rev, sep, path = rest.partition(":")
    if not sep or not rev or not path:
        raise InventoryError(f"expected git:REV:path, got {spec!r}")
    return rev, path


def show(rev: str, path: str, cwd: Path | None = None) -> bytes:
    """The bytes of `path` at `rev` in the repository containing `cwd`."""
    cwd = cwd or Path.cwd()
    where = f"git:{rev}:{path}"
    top = run_git(["rev-parse", "--show-toplevel"], cwd)
    if top.returncode != 0:
        raise InventoryError(f"{cwd} is not inside a git repository", where=where)
    commit = run_git(
        ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"], cwd
    )
    if commit.returncode != 0:
        raise InventoryError(f"unknown git revision {rev!r}", where=where)
    sha = commit.stdout.decode().strip()
    candidates = [path]
    if not path.startswith(("./", "../")):
        candidates.append("./" + path)
    for candidate in candidates:
        blob = run_git(["cat-file", "blob", f"{sha}:{candidate}"], cwd)
        if blob.returncode == 0:
            return blob.stdout
    raise InventoryError(f"{path!r} does not exist at revision {rev} ({sha[:12]})", where=where)
