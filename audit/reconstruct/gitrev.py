"""What a git revision says about an environment: the file as committed, and when.

Read with plain `git` (rev-parse, show, log), from the repository around the current
directory; paths are relative to it, as in `git show REV:./path`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from audit.core.errors import InputError
from audit.core.git import run_git

DEFAULT_PATH = "environment.yml"


@dataclass(frozen=True)
class Revision:
    """One file at one commit: the commit's full sha, its committer date, the file's bytes."""

    spec: str
    sha: str
    path: str
    date: datetime
    data: bytes


def parse_spec(spec: str) -> tuple[str, str]:
    """`git:REV[:path]` → (REV, path); the path defaults to environment.yml."""
    if not spec.startswith("git:"):
        raise InputError(f"expected git:REV or git:REV:path, got {spec!r}")
    rev, _, path = spec[len("git:") :].partition(":")
    if not rev:
        raise InputError(f"expected git:REV or git:REV:path, got {spec!r}")
    return rev, path or DEFAULT_PATH


def read_revision(spec: str, cwd: Path | None = None) -> Revision:
    """The committed file and the commit's date; one-line InputErrors for a bad REV or path."""
    where = Path(cwd or Path.cwd())
    rev, path = parse_spec(spec)
    if run_git(["rev-parse", "--git-dir"], where).returncode != 0:
        raise InputError("not inside a git repository", where=spec)
    found = run_git(
        ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"], where
    )
    if found.returncode != 0:
        raise InputError(f"unknown revision {rev!r}", where=spec)
    sha = found.stdout.decode().strip()
    blob = run_git(["show", f"{sha}:./{path}"], where)
    if blob.returncode != 0:
        raise InputError(f"{path} does not exist at revision {rev} ({sha[:12]})", where=spec)
    stamp = run_git(["show", "-s", "--format=%ct", sha], where).stdout.decode().strip()
    return Revision(
        spec=spec,
        sha=sha,
        path=path,
        date=datetime.fromtimestamp(int(stamp), UTC),
        data=blob.stdout,
    )


def is_tracked(path: Path) -> bool:
    """Whether `path` is a file git tracks (in the repository that holds it)."""
    parent = path.parent if path.parent.is_dir() else Path.cwd()
    proc = run_git(["ls-files", "--error-unmatch", "--", str(path.resolve())], parent)
    return proc.returncode == 0
