"""EnvSpec → solved conda records per platform, with py-rattler.

All platforms are solved concurrently through one Gateway, so repodata shared between
them (noarch, above all) is fetched and parsed once.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from audit.channels import ChannelRef, token_mirrors
from audit.core.errors import InfrastructureError, InputError, UnsatisfiableError
from audit.core.fs import default_cache_dir  # noqa: F401
from audit.core.interrupt import run_async
from audit.core.platforms import VirtualPackage
from audit.envfile.condaspec import as_match_spec

if TYPE_CHECKING:
    from rattler import Gateway, RepoDataRecord

#: Connection failures are retried this many times, with exponential backoff, then exit 3.
RETRIES = 3
BACKOFF_SECONDS = 0.5

_CONNECTION_HINTS = (
    "error sending request",
    "connection refused",
    "dns error",
    "timed out",
    "connection reset",
    "tcp connect error",
    "operation timed out",
    "503",
    "502",
    "504",
    "429",
)
#: rattler says "HTTP status client error (401 Unauthorized) for url (…)"; a bare "401"
#: could be part of a port number.
_DENIED = re.compile(r"\b(?:401 unauthorized|403 forbidden)\b|\bunauthorized\b|\bforbidden\b", re.I)
_MISSING_HINTS = ("404", "not found", "no such file", "could not find subdir")


@dataclass(frozen=True)
class SolveRequest:
    """One platform's solve: specs, the virtual packages assumed, preferred records."""

    platform: str
    specs: tuple[str, ...]
    virtual_packages: tuple[VirtualPackage, ...]
    locked: tuple[RepoDataRecord, ...] = ()
    #: `lock --as-of`: ignore records newer than this instant (see audit.lock.asof)
    exclude_newer: datetime | None = None
    timestamp_policy: str | None = None


def _auth_headers(host: str, path: str) -> dict[str, str] | None:
    """rattler's header callback: the store's Authorization for this request, if any."""
    from audit.core.credentials import current

    header = current().header_for(host, path)
    return {"Authorization": header} if header else None


def make_gateway(cache_dir: Path | None, channels: Sequence[ChannelRef] = ()) -> Gateway:
    """A Gateway whose client retries transient HTTP errors and reads channel credentials.

    Basic/bearer credentials come from the one store through a header callback, the
    channels' tokens through mirrors with the token in their path
    (`audit.channels.token_mirrors`), other hosts' through rattler's auth file
    (`audit.channels.install_rattler_auth`): the channel URLs rattler sees, caches and
    names its cache files after never hold a secret.
    """
    from rattler import Gateway
    from rattler.networking import (
        AddHeadersMiddleware,
        AuthenticationMiddleware,
        Client,
        MirrorMiddleware,
        RetryMiddleware,
    )

    mirrors = token_mirrors(channels)
    client = Client(
        [
            # first: the header callback then sees the token path and adds no header
            *([MirrorMiddleware(mirrors)] if mirrors else []),
            AddHeadersMiddleware(_auth_headers),
            AuthenticationMiddleware(),
            RetryMiddleware(max_retries=RETRIES),
        ]
    )
    return Gateway(cache_dir=str(cache_dir or default_cache_dir() / "rattler"), client=client)


def solve_all(
    channels: Sequence[ChannelRef],
    requests: Sequence[SolveRequest],
    *,
    cache_dir: Path | None = None,
    where: Mapping[str, str] | None = None,
) -> dict[str, list[RepoDataRecord]]:
    """Solve every request concurrently; records per platform, sorted topologically.

    Transient channel errors are retried with backoff, then raise InfrastructureError.
    """
    attempt = 0
    while True:
        try:
            return run_async(lambda: _solve_all(channels, requests, cache_dir))
        except Exception as exc:
            error = classify_solver_error(exc, channels, where or {})
            if isinstance(error, InfrastructureError) and attempt < RETRIES - 1:
                time.sleep(BACKOFF_SECONDS * (2**attempt))
                attempt += 1
                continue
            raise error from None


async def _solve_all(
    channels: Sequence[ChannelRef], requests: Sequence[SolveRequest], cache_dir: Path | None
) -> dict[str, list[RepoDataRecord]]:
    gateway = make_gateway(cache_dir, channels)
    rattler_channels = [c.to_rattler() for c in channels]
    # every solve runs to its end before the loop closes: a failing platform must not leave
    # rattler's other futures completing into a closed loop (a stray traceback at exit)
    results = await asyncio.gather(
        *(_solve_one(gateway, rattler_channels, request) for request in requests),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return {request.platform: records for request, records in zip(requests, results, strict=True)}


async def _solve_one(gateway: Gateway, channels: list, request: SolveRequest) -> list:
    from rattler import BuildString, GenericVirtualPackage, PackageName, Version, solve

    virtual = [
        GenericVirtualPackage(PackageName(v.name), Version(v.version), BuildString(v.build))
        for v in request.virtual_packages
    ]
    as_of = {}
    if request.exclude_newer is not None:
        as_of = {"exclude_newer": request.exclude_newer}
        as_of["timestamp_policy"] = request.timestamp_policy or "require-timestamp"
    try:
        records = await solve(
            channels,
            [as_match_spec(s) for s in request.specs],
            gateway=gateway,
            platforms=[request.platform, "noarch"],
            virtual_packages=virtual,
            locked_packages=list(request.locked) or None,
            **as_of,
        )
    except Exception as exc:
        exc.add_note(f"platform={request.platform}")
        raise
    return install_order(records)


def install_order(records: list[RepoDataRecord]) -> list[RepoDataRecord]:
    """Records in rattler's topological (install) order, keeping the RepoDataRecords."""
    from rattler import RepoDataRecord

    by_name = {r.name.normalized: r for r in records}
    ordered = RepoDataRecord.sort_topologically(records)
    return [by_name[r.name.normalized] for r in ordered]


def classify_solver_error(
    exc: BaseException, channels: Sequence[ChannelRef], where: Mapping[str, str]
) -> Exception:
    """Turn a rattler exception into our one-line error with the right exit code."""
    from rattler.exceptions import GatewayError, InvalidMatchSpecError, SolverError

    platform = next(
        (n.split("=", 1)[1] for n in getattr(exc, "__notes__", []) if n.startswith("platform=")),
        None,
    )
    text = str(exc)
    lower = text.lower()
    if isinstance(exc, SolverError):
        return UnsatisfiableError(
            f"cannot solve on {platform}: {explain_conflict(text)}",
            where=_conflict_where(text, where),
        )
    if isinstance(exc, InvalidMatchSpecError):
        return InputError(f"invalid match spec: {_first_line(text)}")
    if isinstance(exc, GatewayError):
        channel = _channel_in(text, channels)
        if _DENIED.search(text):
            return _denied(text, channels, channel)
        if any(h in lower for h in _CONNECTION_HINTS):
            return InfrastructureError(
                f"channel unreachable: {channel or _first_line(text)}",
                hint="check the URL, the network and credentials",
            )
        if any(h in lower for h in _MISSING_HINTS):
            return InputError(
                f"unknown channel: {channel or _first_line(text)}",
                hint="a channel needs a noarch/repodata.json",
            )
        return InfrastructureError(f"channel error: {_first_line(text)}")
    if isinstance(exc, (InputError, InfrastructureError)):
        return exc  # type: ignore[return-value]
    return InfrastructureError(f"solver failed: {type(exc).__name__}: {_first_line(text)}")


def _denied(text: str, channels: Sequence[ChannelRef], channel: str | None) -> Exception:
    """401/403 from a channel: AccessDeniedError with how to give credentials for its host."""
    from audit.core.credentials import hint_for
    from audit.core.errors import AccessDeniedError
    from audit.core.redact import redact_url

    match = _DENIED.search(text)
    status = "403" if match and match.group(0).lower().endswith("forbidden") else "401"
    url = next((c.safe_url for c in channels if c.display == channel), None)
    if url is None:
        match = re.search(r"https?://[^\s)]+", text)
        url = match.group(0) if match else ""
    return AccessDeniedError(
        f"access denied (HTTP {status}) to channel {channel or redact_url(url)}",
        hint=hint_for(url) if url else None,
    )


def explain_conflict(text: str) -> str:
    """The solver's explanation folded onto one line (it names the conflicting specs)."""
    text = re.sub(r"^Cannot solve the request because of:\s*", "", text.strip())
    lines = [ln.strip(" │├└─").strip() for ln in text.splitlines()]
    return "; ".join(ln for ln in lines if ln)[:600] or "unsatisfiable"


def _conflict_where(text: str, where: Mapping[str, str]) -> str | None:
    """file:line of the first requested package named in the solver's explanation."""
    for name, loc in where.items():
        if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text):
            return loc
    return None


def _channel_in(text: str, channels: Sequence[ChannelRef]) -> str | None:
    """The channel a rattler message is about (its URLs may hold a masked `/t/***/`)."""
    from audit.core.redact import strip_credentials

    text = strip_credentials(text)
    for channel in channels:
        if channel.safe_url.rstrip("/") in text or channel.display in text:
            return channel.display
    match = re.search(r"channel '([^']+)'", text)
    return match.group(1) if match else None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"
