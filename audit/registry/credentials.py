"""Registry credentials the way the docker CLI finds them.

`$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`): a per-registry helper in
`credHelpers`, else the `credsStore` helper, else the base64 `auth` (or `identitytoken`) in
`auths`. A helper is `docker-credential-<name> get` with the server URL on stdin. When
Docker's config has nothing for a host, the one credential store of the run
(`audit.core.credentials`: `--auth-file`, `REPRO_AUDIT_AUTH_FILE`, netrc) is asked. This
module stays the registry's own source because Docker's config, its helpers and identity
tokens exist only for registries. A missing file means anonymous access; nothing read
here is ever printed.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

from audit.core.errors import InputError
from audit.registry.reference import DOCKER_HUB, DOCKER_HUB_API

HUB_SERVER = "https://index.docker.io/v1/"
_HUB_HOSTS = {DOCKER_HUB, DOCKER_HUB_API, "index.docker.io", "registry.hub.docker.com"}


@dataclass(frozen=True)
class Credential:
    username: str
    secret: str
    identity_token: str | None = None

    def __repr__(self) -> str:  # keep secrets out of tracebacks and logs
        return f"Credential(username={self.username!r}, secret=***)"


def config_path() -> Path:
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def _host_of(key: str) -> str:
    """`https://index.docker.io/v1/` → `docker.io`; `http://h:5000/x` → `h:5000`."""
    host = key.split("://", 1)[-1].split("/", 1)[0]
    return DOCKER_HUB if host in _HUB_HOSTS else host


@dataclass
class DockerCredentials:
    """Lazy, cached lookup of credentials per registry host."""

    path: Path | None = None
    _config: dict | None = field(default=None, repr=False)
    _cache: dict[str, Credential | None] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def lookup(self, host: str) -> Credential | None:
        host = _host_of(host)
        with self._lock:
            if host not in self._cache:
                self._cache[host] = self._find(host)
            return self._cache[host]

    def _load(self) -> dict:
        if self._config is None:
            path = self.path or config_path()
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                text = "{}"
            except OSError as exc:
                raise InputError(f"cannot read: {exc.strerror}", where=str(path)) from None
            try:
                config = json.loads(text)
            except ValueError as exc:
                raise InputError(f"invalid JSON: {exc.msg}", where=f"{path}:{exc.lineno}") from None
            self._config = config if isinstance(config, dict) else {}
        return self._config

    def _find(self, host: str) -> Credential | None:
        config = self._load()
        server = HUB_SERVER if host == DOCKER_HUB else host
        helpers = config.get("credHelpers") or {}
        helper = next((name for key, name in helpers.items() if _host_of(key) == host), None)
        if helper:
            return run_helper(helper, server)
        if config.get("credsStore"):
            found = run_helper(str(config["credsStore"]), server)
            if found:
                return found
        for key, entry in (config.get("auths") or {}).items():
            if _host_of(key) == host and isinstance(entry, dict):
                found = _from_auth_entry(entry)
                if found:
                    return found
        return _from_store(host)


def _from_store(host: str) -> Credential | None:
    """The run's auth file / netrc entry for a registry host (user and password only)."""
    from audit.core.credentials import current

    secret = current().for_url(f"https://{host}/v2/")
    if secret is None or secret.kind != "basic":
        return None
    return Credential(secret.username, secret.password)


def _from_auth_entry(entry: dict) -> Credential | None:
    if entry.get("identitytoken"):
        return Credential(entry.get("username", "<token>"), "", str(entry["identitytoken"]))
    if entry.get("auth"):
        try:
            user, _, secret = base64.b64decode(entry["auth"]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return Credential(user, secret)
    if entry.get("username") and entry.get("password"):
        return Credential(str(entry["username"]), str(entry["password"]))
    return None


def run_helper(helper: str, server: str) -> Credential | None:
    """`docker-credential-<helper> get`; None when it is missing or has nothing for `server`."""
    try:
        done = subprocess.run(
            [f"docker-credential-{helper}", "get"],
            input=server,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        return None
    user, secret = str(answer.get("Username", "")), str(answer.get("Secret", ""))
    if not secret:
        return None
    if user == "<token>":
        return Credential(user, "", secret)
    return Credential(user, secret)
