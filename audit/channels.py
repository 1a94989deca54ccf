"""Channels as users write them → URLs a solver can fetch and URLs safe to write down.

A channel is a name (`conda-forge` → https://conda.anaconda.org/conda-forge), a URL
(`https://…`, `file://…`), or a local path. `$VAR` / `${VAR}` in a URL are expanded from
the environment when fetching (the conda-lock convention for credentials); what is written
to any output is the redacted URL, never the expanded secret.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.core.errors import InputError
from audit.core.redact import redact_url

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
        return redact_url(self.url)

    def to_rattler(self) -> Any:
        from rattler import Channel

        return Channel(self.url)


def resolve_channel(written: str, *, base_dir: Path | None = None) -> ChannelRef:
    """Resolve a channel as written in an environment file or on the command line."""
    text = written.strip()
    if not text:
        raise InputError("empty channel name")
    expanded = os.path.expandvars(text)
    if _URL.match(expanded):
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


def install_auth_file(auth_file: Path | None, *, work_dir: Path) -> None:
    """Make channel credentials from `auth_file` visible to rattler (RATTLER_AUTH_FILE).

    Our format: JSON `{"host-or-url-prefix": "user:password" | {"token": "..."} |
    {"username": ..., "password": ...}}`. It is translated into rattler's own format in a
    private file, since rattler reads credentials only from there or the keyring.
    """
    if auth_file is None:
        return
    try:
        data = json.loads(auth_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("auth file not found", where=str(auth_file)) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", where=f"{auth_file}:{exc.lineno}") from None
    if not isinstance(data, dict):
        raise InputError("auth file must be a JSON object", where=str(auth_file))
    translated: dict[str, Any] = {}
    for host, value in sorted(data.items()):
        key = _auth_key(host)
        translated[key] = _auth_value(value, str(auth_file), host)
        bare = re.sub(r":\d+$", "", key)  # rattler looks credentials up by host name alone
        translated.setdefault(bare, translated[key])
    target = work_dir / "rattler-auth.json"
    target.write_text(json.dumps(translated), encoding="utf-8")
    target.chmod(0o600)
    os.environ["RATTLER_AUTH_FILE"] = str(target)


def _auth_key(host: str) -> str:
    """rattler keys credentials by host (optionally with a path prefix), without scheme."""
    return re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*://", "", host).rstrip("/")


def _auth_value(value: Any, where: str, host: str) -> dict[str, Any]:
    if isinstance(value, str) and ":" in value:
        user, password = value.split(":", 1)
        return {"BasicHTTP": {"username": user, "password": password}}
    if isinstance(value, dict) and "token" in value:
        return {"CondaToken": str(value["token"])}
    if isinstance(value, dict) and "bearer" in value:
        return {"BearerToken": str(value["bearer"])}
    if isinstance(value, dict) and {"username", "password"} <= set(value):
        return {"BasicHTTP": {"username": value["username"], "password": value["password"]}}
    raise InputError(
        f"credentials for '{host}' must be 'user:password' or {{'token': ...}}", where=where
    )


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
                candidates = {ref.written, ref.url, ref.url.rstrip("/").rsplit("/", 1)[-1]}
                if head in candidates:
                    spec = f"{ref.url}::{rest}"
                    break
        out.append(spec)
    return tuple(out)
