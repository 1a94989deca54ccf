"""Channels as users write them → URLs a solver can fetch and URLs safe to write down.

A channel is a name (`conda-forge` → https://conda.anaconda.org/conda-forge), a URL
(`https://…`, `file://…`), or a local path. `$VAR` / `${VAR}` in a URL are expanded from
the environment in memory only (the conda-lock convention for credentials): the
credentials go to the one store (`audit.core.credentials`), the solver sees the URL
without them (so rattler's cache never holds a secret) and outputs keep the placeholders.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.core.credentials import current, expand, register_urls
from audit.core.errors import InputError
from audit.core.redact import redact_url, strip_credentials

CHANNEL_ALIAS = "https://conda.anaconda.org"
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


@dataclass(frozen=True)
class ChannelRef:
    """One channel: as written, the URL to fetch (secrets expanded) and the safe URL."""

    written: str
    url: str

    @property
    def display(self) -> str:
        """The channel as it may be shown or written: no credentials."""
        return redact_url(self.written)

    @property
    def safe_url(self) -> str:
        """The URL to fetch, without any credential (they come from the store)."""
        return strip_credentials(self.url)

    def to_rattler(self) -> Any:
        from rattler import Channel

        return Channel(self.safe_url)


def resolve_channel(written: str, *, base_dir: Path | None = None) -> ChannelRef:
    """Resolve a channel as written in an environment file or on the command line."""
    text = written.strip()
    if not text:
        raise InputError("empty channel name")
    expanded = expand(text)[0] if _URL.match(text) else os.path.expandvars(text)
    if _URL.match(expanded):
        register_urls([text])
        return ChannelRef(written=text, url=expanded.rstrip("/"))
    path = Path(expanded).expanduser()
    looks_like_path = text.startswith((".", "/", "~")) or os.sep in text and path.exists()
    if looks_like_path or (base_dir is not None and (base_dir / path).is_dir() and "/" in text):
        for candidate in (path, (base_dir or Path.cwd()) / path):
            if candidate.is_dir():
                return ChannelRef(written=text, url=candidate.resolve().as_uri())
        raise InputError(f"unknown channel: local channel directory '{text}' does not exist")
    if not _NAME.match(text):
        raise InputError(f"invalid channel '{text}'")
    return ChannelRef(written=text, url=f"{CHANNEL_ALIAS}/{text}")


def resolve_channels(
    written: list[str] | tuple[str, ...], *, base_dir: Path | None = None
) -> list[ChannelRef]:
    """Resolve every channel, refusing duplicates (a common copy-paste mistake)."""
    refs = [resolve_channel(c, base_dir=base_dir) for c in written if c != "nodefaults"]
    seen: set[str] = set()
    for ref in refs:
        if ref.url in seen:
            raise InputError(f"channel listed twice: {ref.display}")
        seen.add(ref.url)
    if not refs:
        raise InputError("no channels: add 'channels:' to the environment file or pass -c")
    return refs


def _host(url: str) -> str:
    return (urllib.parse.urlsplit(url).hostname or "").lower()


def token_mirrors(channels: Sequence[ChannelRef]) -> dict[str, list[str]]:
    """rattler mirrors sending each token channel to its own `/t/<token>/` URL.

    rattler's auth file is keyed by host name alone (it never looks up a `host:port`
    key), so a token there reaches every port and path of the host: two token channels
    on one host, ports apart, would share one token. A mirror is per channel URL (port
    and path included); rattler still caches, records and names its files after the
    channel URL without the token, and masks `/t/<token>/` in the errors it reports.
    """
    mirrors: dict[str, list[str]] = {}
    for ref in channels:
        secret = current().for_url(ref.safe_url) if _host(ref.safe_url) else None
        if secret is not None and secret.kind == "token":
            base = ref.safe_url.rstrip("/") + "/"
            mirrors[base] = [current().authorize(base)[0]]
    return mirrors


def install_rattler_auth(work_dir: Path, channels: Sequence[ChannelRef] = ()) -> None:
    """Give rattler the tokens of hosts no channel of the run is on, in its auth format.

    The channels' own tokens go through `token_mirrors`; a host-keyed token for a channel
    host would be put in front of the mirror's (and reach the host's other ports), so it
    is left out, and the user's own `RATTLER_AUTH_FILE` (which the store has read) is
    replaced. Basic and bearer credentials reach rattler through a header callback
    (`audit.lock.solve`).
    """
    hosts = {_host(ref.safe_url) for ref in channels}
    tokens = {h: v for h, v in current().entries_for_rattler().items() if h not in hosts}
    if not tokens and "RATTLER_AUTH_FILE" not in os.environ:
        return
    target = work_dir / "rattler-auth.json"
    target.touch(mode=0o600)
    target.write_text(json.dumps(tokens), encoding="utf-8")
    os.environ["RATTLER_AUTH_FILE"] = str(target)


def bind_channel_specs(specs: tuple[str, ...], channels: list[ChannelRef]) -> tuple[str, ...]:
    """Point `channel::pkg` specs at the URL of the environment's channel they name.

    conda-lock keeps conda's canonical channel name (for a URL, its last path segment), which
    rattler would resolve against anaconda.org; the environment's own channel is meant.
    """
    out: list[str] = []
    for spec in specs:
        head, sep, rest = spec.partition("::")
        if sep:
            for ref in channels:
                url = ref.safe_url
                candidates = {ref.written, ref.url, url, url.rstrip("/").rsplit("/", 1)[-1]}
                if head in candidates:
                    spec = f"{url}::{rest}"
                    break
        out.append(spec)
    return tuple(out)
