"""Static checks: is every artifact and base image the record names still there and sound?"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from audit.artifacts import Artifact
from audit.core.errors import (
    AccessDeniedError,
    InfrastructureError,
    InputError,
    ReproAuditError,
)
from audit.core.fs import sha256_file
from audit.core.http import DENIED, Probe, denied
from audit.core.http import probe as http_probe
from audit.core.redact import redact_url
from audit.lockfile.vcs import commit_exists, is_vcs, parse_vcs_url
from audit.verify.inputs import Inputs
from audit.verify.options import VerifyOptions
from audit.verify.verdict import (
    GONE,
    MISMATCH,
    OK,
    UNREACHABLE,
    Problem,
)

#: Threads for the static checks (HEADs and registry GETs are latency-bound).
WORKERS = 32


def probe_url(url: str, timeout: float) -> Probe:
    """HEAD (ranged GET when HEAD is refused): ok with its size, gone, denied, unreachable."""
    return http_probe(url, timeout=timeout)


def verified_size(path: Path, sha256: str) -> tuple[bool, int]:
    digest, size = sha256_file(path)
    return digest == sha256.lower(), size


def check_artifact(
    artifact: Artifact,
    cache_dir: Path,
    mirror: Any,
    *,
    deep: bool,
    timeout: float,
) -> Problem | None:
    """None when the artifact is available upstream (or mirrored) and verifies."""
    from audit.artifacts import cache_path

    if is_vcs(artifact.url):
        return check_vcs_commit(artifact)

    where = redact_url(artifact.url)
    label = f"{artifact.label} {artifact.file_name}"
    expected = artifact.sha256.lower()
    known_size: int | None = artifact.size
    cached = False
    path = cache_path(cache_dir, artifact)
    if path.is_file():
        good, size = verified_size(path, expected)
        if good:
            cached, known_size = True, size
        else:  # a damaged cache entry is dropped, as fetch does; it proves nothing upstream
            path.unlink(missing_ok=True)
    mirrored = False
    mirror_problem: Problem | None = None
    if mirror is not None and mirror.has_artifact(artifact):
        good, size = verified_size(mirror.artifact_path(artifact), expected)
        if good:
            mirrored, known_size = True, known_size or size
        else:
            mirror_problem = Problem(
                "artifact",
                label,
                str(mirror.artifact_path(artifact)),
                MISMATCH,
                "sha256 mismatch of the mirrored copy",
                expected=expected,
                got=mirror.artifact_digest(artifact),
            )
    if deep:
        upstream = _download_and_hash(artifact, cache_dir, timeout)
        if upstream.status == OK and upstream.detail != expected:
            return Problem(
                "artifact",
                label,
                where,
                MISMATCH,
                "sha256 mismatch of the artifact its URL serves today",
                expected=expected,
                got=upstream.detail,
                mirrored=mirrored,
                cached=cached,
            )
        probe = upstream
    else:
        probe = probe_url(artifact.url, timeout)
        sizes = (known_size, probe.size)
        if probe.status == OK and None not in sizes and probe.size != known_size:
            return Problem(
                "artifact",
                label,
                where,
                MISMATCH,
                "size mismatch: its URL serves other bytes than the locked artifact",
                expected=f"{known_size} bytes",
                got=f"{probe.size} bytes",
                mirrored=mirrored,
                cached=cached,
            )
    if probe.status == OK:
        return mirror_problem
    if probe.status == DENIED and not mirrored:
        raise denied(artifact.url, probe.code or 401, f"checking {artifact.label}")
    if mirror_problem is not None:
        return mirror_problem
    return Problem(
        "artifact",
        label,
        where,
        probe.status,
        f"{_gone(artifact) if probe.status == GONE else 'unreachable'} ({probe.detail})",
        mirrored=mirrored,
        cached=cached,
    )


def _gone(artifact: Artifact) -> str:
    """A wheel or sdist lives on a package index, a conda artifact in a channel."""
    python = artifact.file_name.endswith((".whl", ".tar.gz", ".zip"))
    return "gone from its package index" if python else "gone from its channel"


def check_vcs_commit(artifact: Artifact) -> Problem | None:
    """A VCS pip entry is its commit: None while its remote still serves that commit."""
    vcs = parse_vcs_url(artifact.url)
    label = f"{artifact.label} (VCS)"
    where = redact_url(artifact.url)
    if vcs is None or not vcs.pinned:
        ref = vcs.ref if vcs else ""
        return Problem("artifact", label, where, MISMATCH, f"not pinned to a commit sha ('{ref}')")
    why = commit_exists(vcs.remote, vcs.ref)
    if why is None:
        return None
    gone = ("not found", "remote ref", "not appear to be a git repository")
    status = GONE if any(text in why for text in gone) else UNREACHABLE
    return Problem(
        "artifact",
        label,
        where,
        status,
        f"commit gone from its repository ({why})",
        expected=vcs.ref,
    )


def _download_and_hash(artifact: Artifact, cache_dir: Path, timeout: float) -> Probe:
    """Download the artifact; OK with its sha256 in `detail` (kept in the cache if it matches)."""
    from audit.artifacts import cache_path, download_artifact

    target = cache_path(cache_dir, artifact)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".verify-{os.getpid()}-{threading.get_ident()}-{artifact.file_name}"
    try:
        download_artifact(artifact, tmp, timeout)
        digest, size = sha256_file(tmp)
        if digest == artifact.sha256.lower():
            os.replace(tmp, target)
        return Probe(OK, digest, size)
    except AccessDeniedError as exc:
        return Probe(DENIED, exc.message)
    except InfrastructureError as exc:
        return Probe(UNREACHABLE, exc.message)
    except InputError as exc:
        return Probe(GONE, exc.message)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def check_base(client: Any, ref: Any, mirror: Any, platform: str) -> Problem | None:
    from audit.registry.client import NotFoundError

    mirrored = mirror is not None and mirror.image_missing(ref.digest, platform) is None
    try:
        client.get_manifest(ref.api_host, ref.repository, ref.digest)
        return None
    except AccessDeniedError:
        if not mirrored:
            raise
        status, reason = GONE, "registry denied access (the mirror holds it)"
    except NotFoundError as exc:
        status, reason = GONE, f"digest gone from its registry ({exc.message})"
    except InfrastructureError as exc:
        status, reason = UNREACHABLE, f"registry unreachable ({exc.message})"
    except ReproAuditError as exc:
        status, reason = GONE, f"registry refused the digest ({exc.message})"
    return Problem(
        "base-image",
        ref.canonical(),
        ref.name,
        status,
        reason,
        expected=ref.digest,
        mirrored=mirrored,
    )


def static_checks(
    inputs: Inputs,
    artifacts: list[Artifact],
    refs: list[Any],
    options: VerifyOptions,
    cache_dir: Path,
    mirror: Any,
) -> list[Problem]:
    """Every artifact and base digest, concurrently; the problems found."""
    from audit.registry.client import RegistryClient

    client = RegistryClient(insecure=options.insecure, timeout=options.timeout, retries=1)
    jobs: list[Callable[[], Problem | None]] = []
    for artifact in artifacts:
        jobs.append(
            lambda a=artifact: check_artifact(
                a, cache_dir, mirror, deep=options.deep, timeout=options.timeout
            )
        )
    for ref in refs:
        jobs.append(lambda r=ref: check_base(client, r, mirror, inputs.platform))
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(jobs))) as pool:
        found = list(pool.map(lambda job: job(), jobs))
    return [p for p in found if p is not None]
