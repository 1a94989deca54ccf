"""Files: atomic replacement (whole or not at all, fsynced), sha256 of a file, the cache root.

A lockfile, Dockerfile, record or cached artifact is written to a temp file beside its
target, fsynced, then renamed over it: a crash leaves the old file or the new one.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from audit.core.errors import InfrastructureError, InputError, ReproAuditError

#: A path that cannot be a file here is the user's to fix (exit 2); anything else that
#: stops a write (a full disk, quota, read-only or failing device) is the machine's (exit 3).
_BAD_PATH = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG})


def write_error(exc: OSError, path: Path) -> ReproAuditError:
    """`path: cannot write: <reason>` as bad input (bad path) or infrastructure (full disk)."""
    kind = InputError if exc.errno in _BAD_PATH else InfrastructureError
    return kind(f"cannot write: {exc.strerror or exc}", where=str(path))


def out_of_space(message: str, folder: Path) -> bool:
    """Did a library's write fail for want of space? rattler and installer raise their own
    types, and rattler can report a file it could not finish as unparsable JSON, so a
    `folder` whose disk has under 1 MiB left counts as the cause too."""
    words = ("No space left", "os error 28", "Disk quota", "os error 122")
    if any(word in message for word in words):
        return True
    try:
        return shutil.disk_usage(folder).free < 1 << 20
    except OSError:
        return False


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to a temp file beside `path`, fsync it, then rename it over `path`.

    A crash at any point leaves either the old file or the new one, never a truncated mix.
    An existing file's permission bits are kept.
    """
    path = Path(path)
    try:
        tmp = _stage(path, data)
    except OSError as exc:
        raise write_error(exc, path) from exc
    try:
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise write_error(exc, path) from exc
        raise


def _stage(path: Path, data: bytes) -> str:
    """A fsynced temp file beside `path` holding `data`, with `path`'s permission bits."""
    directory = path.parent if str(path.parent) else Path(".")
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def atomic_write_set(files: Mapping[Path, bytes]) -> None:
    """Replace several files as one transaction: every file new, or every file as it was.

    All temp files are written and fsynced first (a full disk fails here, before any
    target changed); each existing target is hard-linked to a backup; then the renames.
    A failing rename puts back every file already replaced. A crash between renames can
    still leave a mix, as with any set of POSIX renames; the backups make it recoverable.
    """
    staged: list[tuple[Path, str]] = []
    current = Path(".")
    try:
        for path, data in files.items():
            current = Path(path)
            staged.append((current, _stage(current, data)))
    except OSError as exc:
        _unlink_all(tmp for _, tmp in staged)
        raise write_error(exc, current) from exc
    except BaseException:
        _unlink_all(tmp for _, tmp in staged)
        raise
    _commit(staged)


def _commit(staged: list[tuple[Path, str]]) -> None:
    """Rename every staged temp over its target, restoring all targets if one fails."""
    backups: dict[Path, str | None] = {}
    done: list[Path] = []
    current = Path(".")
    try:
        for path, tmp in staged:
            current = path
            backups[path] = None
            if path.exists():
                backup = f"{tmp}.old"
                os.link(path, backup)
                backups[path] = backup
        for path, tmp in staged:
            current = path
            os.replace(tmp, path)
            done.append(path)
    except OSError as exc:
        for path in done:
            backup = backups.get(path)
            with contextlib.suppress(OSError):
                os.replace(backup, path) if backup else os.unlink(path)
        _unlink_all(tmp for _, tmp in staged)
        raise write_error(exc, current) from exc
    finally:
        _unlink_all(b for b in backups.values() if b)
    for directory in {path.parent for path, _ in staged}:
        _fsync_dir(directory)


def _unlink_all(paths: Iterable[str]) -> None:
    for name in list(paths):
        with contextlib.suppress(OSError):
            os.unlink(name)


def _fsync_dir(directory: Path) -> None:
    """Make the renames durable (POSIX: fsync the directory); best effort elsewhere."""
    with contextlib.suppress(OSError):
        fd = os.open(directory if str(directory) else ".", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """An exclusive advisory lock (flock) on a directory, held for the block.

    Serialises writers of one project (two `lock` runs) without leaving a lock file
    behind: the lock is on the directory itself and ends with the process. Where flock
    is not available (Windows), the block runs unlocked.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    try:
        fd = os.open(directory if str(directory) else ".", os.O_RDONLY)
    except OSError as exc:
        raise write_error(exc, directory) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    """UTF-8 text with `\\n` line ends, written atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def default_cache_dir() -> Path:
    """Where repodata and packages are cached (XDG, overridable with REPRO_AUDIT_CACHE_DIR)."""
    env = os.environ.get("REPRO_AUDIT_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "repro-audit"


def sha256_file(path: Path) -> tuple[str, int]:
    """(hex sha256, size in bytes) of a file, read in chunks (`hashlib.file_digest`)."""
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256")
        return digest.hexdigest(), handle.tell()


@contextlib.contextmanager
def atomic_output(path: Path, mode: int = 0o644) -> Iterator[BinaryIO]:
    """A binary handle whose bytes replace `path` atomically when the block succeeds.

    For streamed writes (downloads, tars): the temp file sits beside `path`, is fsynced
    and renamed on success, removed on any failure. OSError propagates to the caller,
    which knows what the file is (an artifact, a mirror blob) and how to say it.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def scratch_dir(prefix: str, parent: Path) -> Iterator[Path]:
    """A temp folder under `parent`, removed on the way out however the block ends.

    Unlike `TemporaryDirectory`, the removal outlasts writers still running when the block
    is left: a cancelled rattler install keeps writing from its own threads for a moment,
    so one `rmtree` can fail with "Directory not empty" and turn a clean interruption into
    an I/O error. The folder is removed until it stays gone.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield path
    finally:
        remove_tree(path)


def remove_tree(path: Path, settle_for: float = 10.0) -> None:
    """Remove `path`; if something still writes into it, again until it stays gone for a
    moment (at most `settle_for` seconds: a writer that never stops is not waited for)."""
    shutil.rmtree(path, ignore_errors=True)
    if not os.path.lexists(path):
        return  # the usual case: nothing else was writing
    deadline = time.monotonic() + settle_for
    gone_since: float | None = None
    while time.monotonic() < deadline:
        shutil.rmtree(path, ignore_errors=True)
        now = time.monotonic()
        if os.path.lexists(path):
            gone_since = None
        elif gone_since is None:
            gone_since = now
        elif now - gone_since > 0.3:
            return
        time.sleep(0.05)
