"""`check --online`: what only the network can tell — is every locked thing still there?

Each locked artifact URL gets a HEAD (a ranged GET when HEAD is refused), each pinned image
digest a manifest GET, concurrently with timeouts, with the run's credentials (the lock's
`${VAR}` channels, `--auth-file`, netrc, Docker's config). A 404/410 answer is a finding;
401/403 means the credentials are missing (exit 2, saying how to give them); no answer at
all is "unreachable", which is exit 3 only when nothing could be checked.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.check.run import CheckOptions, Finding, finding
from audit.core.http import DENIED, GONE, OK, UNREACHABLE, denied, probe
from audit.core.redact import redact_url

if TYPE_CHECKING:
    from audit.check.rules.conda import CondaProject

MAX_WORKERS = 16


def probe_url(url: str, timeout: float) -> tuple[str, str]:
    """(ok | gone | denied | unreachable, detail) for one artifact URL."""
    found = probe(url, timeout=timeout)
    return found.status, found.detail


def check_online(
    project: CondaProject,
    sites: list[Any],
    options: CheckOptions,
    *,
    unchecked: list[tuple[str, int, str, str]] | None = None,
) -> tuple[int, int, list[Finding]]:
    """(checked, unreachable, findings) over the lock's URLs and the pinned image digests.

    Each item that could not be asked is appended to `unchecked` as (file, line, what,
    reason), so the report can show it.
    """
    urls: dict[str, tuple[str, int]] = {}
    if project.scanned is not None:
        from audit.core.credentials import register_urls

        register_urls(project.scanned.channel_lines)
        for entry in project.scanned.entries:
            if entry.url and entry.url not in urls:
                urls[entry.url] = (f"{entry.name} {entry.version} ({entry.platform})", entry.line)
    refs: dict[Any, Any] = {}
    for site in sites:
        if site.ref.pinned:
            refs.setdefault(site.ref, site)
    jobs: list[tuple[str, Any]] = [("url", u) for u in urls] + [("image", r) for r in refs]
    if not jobs:
        return 0, 0, []
    client = None
    if refs:
        from audit.registry.client import RegistryClient

        client = RegistryClient(insecure=options.insecure, timeout=options.timeout, retries=1)

    def one(job: tuple[str, Any]) -> tuple[str, str]:
        kind, item = job
        if kind == "url":
            return probe_url(item, options.timeout)
        return _probe_image(client, item)

    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(jobs))) as pool:
        outcomes = list(pool.map(one, jobs))
    checked = unreachable = 0
    out: list[Finding] = []
    for (kind, item), (status, detail) in zip(jobs, outcomes, strict=True):
        if status == DENIED:
            raise denied(item, int(detail.split()[1]) if detail.startswith("HTTP ") else 401)
        if status == UNREACHABLE:
            unreachable += 1
            if unchecked is not None:
                unchecked.append(_unchecked(project, kind, item, urls, refs, detail))
            continue
        checked += 1
        if status != GONE:
            continue
        if kind == "url":
            what, line = urls[item]
            out.append(
                finding(
                    "RA017",
                    project.lock_name,
                    line,
                    f"{what} cannot be downloaded from {redact_url(item)} ({detail})",
                )
            )
        else:
            site = refs[item]
            out.append(
                finding(
                    "RA018",
                    _site_file(project.root, site.path),
                    site.line,
                    f"{item} is no longer in its registry ({detail})",
                )
            )
    return checked, unreachable, out


def _unchecked(
    project: CondaProject, kind: str, item: Any, urls: dict, refs: dict, detail: str
) -> tuple[str, int, str, str]:
    if kind == "url":
        what, line = urls[item]
        return project.lock_name, line, f"{what} at {redact_url(item)}", detail
    site = refs[item]
    return _site_file(project.root, site.path), site.line, str(item), detail


def _site_file(root: Path, path: str) -> str:
    from audit.check.run import rel

    return rel(root, path)


def _probe_image(client: Any, ref: Any) -> tuple[str, str]:
    from audit.core.errors import AccessDeniedError, InfrastructureError, ReproAuditError
    from audit.registry.client import NotFoundError

    try:
        client.get_manifest(ref.api_host, ref.repository, ref.digest)
        return OK, ""
    except NotFoundError as exc:
        return GONE, exc.message
    except AccessDeniedError:
        raise
    except InfrastructureError as exc:
        return UNREACHABLE, exc.message
    except ReproAuditError as exc:
        return GONE, exc.message
