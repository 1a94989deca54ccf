"""The tool's own temp folders: one list of prefixes, and a sweep of those a kill left.

A SIGKILL (or a power cut) cannot be cleaned up after; the next run removes what such a
run left in the temp directory. Only what is certainly ours goes: a directory (never a
symlink or a file), owned by this user, named by `tempfile` from one of our prefixes
(`repro-audit-bk-` and eight random characters, nothing else), and untouched for
`STALE_AFTER` (a live run touches its folder far more often than that).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

#: Every prefix repro-audit gives `tempfile.TemporaryDirectory` in the system temp dir.
PREFIXES = (
    "repro-audit-auth-",
    "repro-audit-bk-",
    "repro-audit-explicit-",
    "repro-audit-lock-",
    "repro-audit-merge-",
    "repro-audit-merge-env-",
    "repro-audit-pip-",
    "repro-audit-pixi-",
    "repro-audit-reconstruct-",
    "repro-audit-rebuild-",
    "repro-audit-spec-",
    "repro-audit-vcs-",
    "repro-audit-verify-git-",
    "repro-audit-wheel-",
)
#: A folder of ours untouched this long belongs to a run that was killed.
STALE_AFTER = 6 * 3600.0

_OURS = re.compile(
    "^(?:" + "|".join(re.escape(p) for p in sorted(PREFIXES, key=len, reverse=True)) + r")"
    r"[a-z0-9_]{8}$"
)


def is_ours(name: str) -> bool:
    """True for a name `tempfile` made from one of our prefixes."""
    return _OURS.match(name) is not None


def sweep_stale(root: Path | None = None, *, older_than: float = STALE_AFTER) -> list[Path]:
    """Remove our temp folders older than `older_than` seconds under `root`; the removed."""
    root = Path(root or tempfile.gettempdir())
    return _sweep(root, lambda name: name.startswith("repro-audit-") and is_ours(name), older_than)


#: What a killed `build` leaves inside the cache (each can be gigabytes for a real-sized
#: environment): a half-installed stage folder, a half-written layer tar beside the
#: finished ones, a half-unpacked wheel tree. `tempfile` names them; nothing else matches.
_STAGE = re.compile(r"^(?:stage-[a-z0-9_]{8}|\.env-[a-z0-9_]{8}\.tar)$")
_TREE = re.compile(r"^\.tree-[a-z0-9_]{8}$")


def sweep_stale_cache(cache_dir: Path, *, older_than: float = STALE_AFTER) -> list[Path]:
    """Remove what a killed build left in `cache_dir` (by age, only our temp names)."""
    cache_dir = Path(cache_dir)
    removed = _sweep(cache_dir / "stages", _STAGE.match, older_than, files=True)
    try:
        buckets = [e.path for e in os.scandir(cache_dir / "wheel-trees") if e.is_dir()]
    except OSError:
        buckets = []
    for bucket in buckets:
        removed += _sweep(Path(bucket), _TREE.match, older_than)
    return removed


def _sweep(
    root: Path, ours: Callable[[str], object], older_than: float, *, files: bool = False
) -> list[Path]:
    """Remove the folders (and with `files`, regular files) of `root` that `ours` names,
    owned by this user and untouched that long; never a symlink."""
    now = time.time()
    removed: list[Path] = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    uid = os.getuid() if hasattr(os, "getuid") else None
    for entry in entries:
        if not ours(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if uid is not None and info.st_uid != uid:
            continue
        if stat.S_ISDIR(info.st_mode):
            if now - _newest_mtime(Path(entry.path), info.st_mtime) < older_than:
                continue
            shutil.rmtree(entry.path, ignore_errors=True)
        elif files and stat.S_ISREG(info.st_mode):
            if now - info.st_mtime < older_than:
                continue
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
        else:
            continue
        removed.append(Path(entry.path))
    return removed


def _newest_mtime(folder: Path, own: float) -> float:
    """The folder's mtime or that of its direct entries, whichever is newest."""
    newest = own
    try:
        for entry in os.scandir(folder):
            try:
                newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
            except OSError:
                continue
    except OSError:
        pass
    return newest
