"""Fetch locked artifacts into a content-addressed cache, verified before anything uses them.

rattler checks sha256 for http downloads but not for `file://` URLs, and a lock is only
worth something if what gets installed is what was locked. So every artifact (conda
package or wheel) is fetched here, from any scheme, into `<cache>/artifacts/sha256/<hex>/`,
and its size (when the lock knows it) and sha256 are checked before the installer sees
it. A cached file is re-hashed on every use: the cache is a speed-up, not a trust anchor.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from audit.core.errors import FindingsError
from audit.core.fs import sha256_file
from audit.core.redact import redact_url


@dataclass(frozen=True)
class Artifact:
    """One file the lock names: where to get it and what it must hash to."""

    name: str
    version: str
    platform: str
    url: str
    sha256: str
    file_name: str
    size: int | None = None

    @property
    def label(self) -> str:
        return f"{self.name} {self.version} ({self.platform})"


def artifact_dir(cache_dir: Path) -> Path:
    return Path(cache_dir) / "artifacts" / "sha256"


def cache_path(cache_dir: Path, artifact: Artifact) -> Path:
    """`<cache>/artifacts/sha256/<hex>/<file name>`: the name keeps the archive's extension."""
    return artifact_dir(cache_dir) / artifact.sha256.lower() / artifact.file_name


def _mismatch(artifact: Artifact, what: str, expected: str, got: str) -> FindingsError:
    return FindingsError(
        f"{what} mismatch for {artifact.label}: expected {expected}, got {got}",
        where=redact_url(artifact.url),
        hint="the artifact differs from the lock; nothing was installed or tagged",
    )


def verify(path: Path, artifact: Artifact) -> None:
    """Raise FindingsError (exit 1) unless `path` has the locked size and sha256."""
    digest, size = sha256_file(path)
    if artifact.size is not None and size != artifact.size:
        raise _mismatch(artifact, "size", f"{artifact.size} bytes", f"{size} bytes")
    if digest != artifact.sha256.lower():
        raise _mismatch(artifact, "sha256", artifact.sha256.lower(), digest)


def download_artifact(artifact: Artifact, dest: Path, timeout: float = 60.0) -> None:
    """Write the artifact's bytes to `dest` (atomically), from file:// or http(s)://.

    Through the one HTTP client: retries with backoff, credentials from the store
    (`audit.core.credentials`), 401/403 → AccessDeniedError (exit 2), gone → exit 2,
    unreachable → exit 3. Not verified here: see `fetch_one`.
    """
    from audit.core.http import download

    download(artifact.url, dest, what=f"locked artifact of {artifact.label}", timeout=timeout)


def fetch_one(artifact: Artifact, cache_dir: Path, *, timeout: float = 60.0) -> tuple[Path, bool]:
    """The verified cached file for `artifact` and whether it came from the cache.

    A cached file that no longer verifies (disk corruption, someone's edit) is dropped and
    fetched again; a freshly fetched file that does not verify is a finding (exit 1).
    """
    path = cache_path(cache_dir, artifact)
    if path.is_file():
        try:
            verify(path, artifact)
            return path, True
        except FindingsError:
            path.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".fetch-{os.getpid()}-{threading.get_ident()}-{artifact.file_name}"
    try:
        download_artifact(artifact, tmp, timeout)
        verify(tmp, artifact)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return path, False


def fetch_all(
    artifacts: Sequence[Artifact],
    cache_dir: Path,
    *,
    workers: int = 8,
    timeout: float = 60.0,
    on_done: Callable[[Artifact, bool], None] | None = None,
) -> dict[str, Path]:
    """Fetch and verify every artifact concurrently; `{sha256: verified path}`.

    All artifacts are checked before this returns, so a caller installs nothing unless
    every one of them matches. The first failure (in lock order) is raised.
    """
    results: dict[str, Path] = {}
    errors: list[tuple[int, BaseException]] = []

    def work(index: int, artifact: Artifact) -> None:
        try:
            path, cached = fetch_one(artifact, cache_dir, timeout=timeout)
        except BaseException as exc:  # collected and re-raised in order below
            errors.append((index, exc))
            return
        results[artifact.sha256.lower()] = path
        if on_done is not None:
            on_done(artifact, cached)

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(artifacts) or 1))) as pool:
        for future in [pool.submit(work, i, a) for i, a in enumerate(artifacts)]:
            future.result()
    if errors:
        # a hash mismatch (a finding) matters more than a network hiccup next to it
        errors.sort(key=lambda item: (not isinstance(item[1], FindingsError), item[0]))
        raise errors[0][1]
    return results
