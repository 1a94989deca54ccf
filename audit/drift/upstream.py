"""What re-locking environment.yml today would give, without writing anything.

The same parse and solve as `lock` (its parse cache, solver, pip locking and lock
document builder), stopped before the write: the would-be lock document is read back
through the conda-lock reader, so the result compares field for field with the
committed lock's inventory.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.inventory.interface import Inventory, dedupe
from audit.lock.run import LockOptions


@dataclass(frozen=True)
class UpstreamSolve:
    """The would-be lock: one inventory per platform, and whether the spec changed."""

    inventories: tuple[Inventory, ...]
    #: platform → content hash of environment.yml today (conda-lock's semantic hash)
    content_hash: dict[str, str]


def probe_channels(urls: list[str], timeout: float) -> None:
    """Fail fast (InfrastructureError) on a channel host that refuses or never answers.

    The solver retries a dead channel with backoff for many seconds; a weekly report
    wants "unavailable" at once. Only connection failures count: any HTTP answer (even
    401 or 404) means the host is there, and the solver reports the rest precisely.
    """
    import urllib.error
    import urllib.request

    from audit.core.errors import InfrastructureError
    from audit.core.redact import redact_url

    for url in urls:
        if not url.startswith(("http://", "https://")):
            continue
        request = urllib.request.Request(f"{url}/noarch/repodata.json", method="HEAD")
        try:
            with urllib.request.urlopen(request, timeout=timeout):
                pass
        except urllib.error.HTTPError:
            continue
        except (TimeoutError, urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise InfrastructureError(
                f"channel unreachable: {redact_url(url)} ({reason})",
                hint="the upstream section needs the channels of environment.yml",
            ) from None


def solve_without_writing(options: LockOptions, probe_timeout: float = 10.0) -> UpstreamSolve:
    """Solve `options.files` as `lock` would today; never touch the lockfile.

    Raises InfrastructureError when a channel (or PyPI) is unreachable, InputError for
    a bad or unsatisfiable environment.
    """
    from audit.inventory.condalock import package_from_entry
    from audit.lock.run import options_digest, parse_inputs, solve_document

    digest = options_digest(options)
    spec, virtual, hashes = parse_inputs(options, digest)
    solved = solve_document(
        options,
        spec,
        virtual,
        hashes,
        digest,
        before_solve=lambda channels: probe_channels(
            [c.url for c in channels], timeout=probe_timeout
        ),
    )
    document = solved.document
    by_platform: dict[str, list] = {p: [] for p in spec.platforms}
    for entry in document["package"]:
        package = package_from_entry(entry)
        by_platform.setdefault(package.platform, []).append(package)
    source = f"{options.files[0].name} solved today"
    inventories = tuple(
        Inventory(source=source, platform=p, packages=dedupe(packages))
        for p, packages in sorted(by_platform.items())
    )
    return UpstreamSolve(inventories=inventories, content_hash=dict(hashes))
