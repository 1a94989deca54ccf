"""One credential resolution for every channel, package index and registry URL.

Credentials are looked up per URL, in this order (the first source that has one wins):

1. the URL itself: `${VAR}` placeholders (`https://${CH_USER}:${CH_PASS}@host/ch`,
   `https://host/t/${TOKEN}/ch`), expanded from the environment in memory only, and the
   channel / index URLs of the run registered with `register_urls` (an environment file,
   the lock's `channels`, pip's and uv's index variables);
2. `--auth-file FILE`, else `REPRO_AUDIT_AUTH_FILE`: JSON `{"host[:port][/path]":
   "user:password" | {"token": …} | {"bearer": …} | {"username": …, "password": …}}`;
3. `RATTLER_AUTH_FILE` (rattler's format: `{"host": {"BasicHTTP": …} | {"CondaToken": …}
   | {"BearerToken": …}}`; our auth file accepts these values too);
4. uv's `UV_INDEX_<NAME>_USERNAME` / `_PASSWORD` for `UV_INDEX=name=url`;
5. `~/.netrc` (or `$NETRC`);
6. keyring, when it is installed with a usable backend: asked only after a 401 from a
   host nothing else had credentials for (as pip does; a keyring can be slow).

Registries add Docker's own config (`audit.registry.credentials`), which falls back on
this store. Nothing here is ever written down: `Secret.__repr__` hides the value, and
callers only see redacted URLs (`audit.core.redact`).
"""

from __future__ import annotations

import base64
import json
import netrc
import os
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit.core.errors import InputError

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_TOKEN_PATH = re.compile(r"^/t/([^/]+)(?=/|$)")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_PIP_URL_VARS = (
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_INDEX",
)


@dataclass(frozen=True)
class Secret:
    """One credential: basic (username + password), an anaconda.org token or a bearer token."""

    kind: str  # "basic" | "token" | "bearer"
    username: str = ""
    password: str = ""
    token: str = ""
    source: str = ""

    def __repr__(self) -> str:  # keep secrets out of tracebacks and logs
        return f"Secret(kind={self.kind!r}, source={self.source!r}, value=***)"

    def header(self) -> str | None:
        """The Authorization header value (None for a token, which goes in the path)."""
        if self.kind == "basic":
            raw = f"{self.username}:{self.password}".encode()
            return "Basic " + base64.b64encode(raw).decode()
        if self.kind == "bearer":
            return f"Bearer {self.token}"
        return None


def env_vars(url: str) -> list[str]:
    """The `${VAR}` / `$VAR` names a URL uses, sorted (conda-lock's `used_env_vars`)."""
    return sorted({a or b for a, b in _PLACEHOLDER.findall(url)})


def expand(url: str, env: Any = None) -> tuple[str, list[str]]:
    """`url` with its placeholders expanded from `env`, and the names that were unset."""
    env = os.environ if env is None else env
    missing: list[str] = []

    def sub(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name in env:
            return env[name]
        missing.append(name)
        return ""

    return _PLACEHOLDER.sub(sub, url), sorted(set(missing))


@dataclass(frozen=True)
class _Key:
    """Where a credential applies: a host, optionally a port and a path prefix."""

    host: str
    port: int | None
    path: str

    @staticmethod
    def parse(text: str) -> _Key:
        text = _SCHEME.sub("", text.strip()).rstrip("/")
        host_port, _, path = text.partition("/")
        host, port = host_port, None
        match = re.match(r"^(.*):(\d+)$", host_port)
        if match:
            host, port = match.group(1), int(match.group(2))
        return _Key(host.lower().strip("[]"), port, "/" + path if path else "")

    def matches(self, host: str, port: int | None, path: str, any_port: bool = False) -> bool:
        if self.host.startswith("*."):
            if not host.endswith(self.host[1:]):
                return False
        elif self.host != host:
            return False
        if self.port is not None and self.port != port and not any_port:
            return False
        return not self.path or path == self.path or path.startswith(self.path + "/")

    def rank(self) -> tuple[int, int, int]:
        return (len(self.path), self.port is not None, not self.host.startswith("*."))


def _secret_from_value(value: Any, source: str, key: str) -> Secret:
    """Our auth-file values and rattler's, as one Secret."""
    if isinstance(value, str) and ":" in value:
        user, password = value.split(":", 1)
        return Secret("basic", user, password, source=source)
    if isinstance(value, dict):
        if "BasicHTTP" in value and isinstance(value["BasicHTTP"], dict):
            value = value["BasicHTTP"]
        if {"username", "password"} <= set(value):
            return Secret("basic", str(value["username"]), str(value["password"]), source=source)
        for name, kind in (("token", "token"), ("CondaToken", "token"), ("bearer", "bearer")):
            if name in value:
                return Secret(kind, token=str(value[name]), source=source)
        if "BearerToken" in value:
            return Secret("bearer", token=str(value["BearerToken"]), source=source)
    raise InputError(
        f"credentials for '{key}' must be 'user:password', {{'token': ...}}, "
        "{'bearer': ...} or {'username': ..., 'password': ...}",
        where=source,
    )


def read_auth_file(path: Path) -> list[tuple[_Key, Secret]]:
    """Entries of an auth file (ours or rattler's); a bad file is exit 2 naming it."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("auth file not found", where=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read auth file: {exc.strerror}", where=str(path)) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", where=f"{path}:{exc.lineno}") from None
    if not isinstance(data, dict):
        raise InputError("auth file must be a JSON object", where=str(path))
    return [(_Key.parse(k), _secret_from_value(v, str(path), k)) for k, v in sorted(data.items())]


def _url_parts(url: str) -> tuple[str, int | None, str]:
    parts = urllib.parse.urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    try:
        port = parts.port or default
    except ValueError:
        port = default
    return (parts.hostname or "").lower(), port, parts.path or "/"


def _realm(host: str, port: int | None) -> str:
    """`host:port`: what a remembered answer is keyed by (one host may serve many ports)."""
    return f"{host}:{port}" if port is not None else host


def secret_in_url(url: str, source: str = "URL") -> Secret | None:
    """The credential a URL carries itself (`user:pass@` or `/t/<token>/`), if any."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is not None or parts.username:
        user = urllib.parse.unquote(parts.username or "")
        password = urllib.parse.unquote(parts.password or "")
        if not user and not password:  # `${U}:${P}@` with neither set: no credential
            return None
        return Secret("basic", user, password, source=source)
    match = _TOKEN_PATH.match(parts.path)
    if match:
        return Secret("token", token=urllib.parse.unquote(match.group(1)), source=source)
    return None


@dataclass
class Credentials:
    """The process's credential store: every source above, looked up lazily and cached."""

    auth_file: Path | None = None
    env: Any = field(default=None, repr=False)
    _entries: list[tuple[_Key, Secret]] = field(default_factory=list, repr=False)
    _files: list[tuple[_Key, Secret]] | None = field(default=None, repr=False)
    _placeholders: dict[tuple[str, int | None], list[str]] = field(default_factory=dict, repr=False)
    _fallback: dict[str, Secret | None] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def __post_init__(self) -> None:
        if self.env is None:
            self.env = os.environ
        self._register_pip_env()

    # ------------------------------------------------------------------ sources

    def register_urls(self, urls: Any, source: str = "URL", whole_host: bool = False) -> None:
        """Remember the credentials that channel / index URLs carry (placeholders expanded).

        A channel's apply under its path; an index's (`whole_host`, as pip and uv do) to
        every URL of its scheme, host and port, since wheels live elsewhere on the host.
        A placeholder that is not set is remembered, so a 401 from that host can say which
        variables to set.
        """
        for url in urls:
            if not url:
                continue
            expanded, missing = expand(str(url), self.env)
            host, port, path = _url_parts(expanded)
            with self._lock:
                if missing:
                    self._placeholders.setdefault((host, port), []).extend(missing)
                secret = secret_in_url(expanded, source)
                if secret is None or not host:
                    continue
                token = _TOKEN_PATH.match(path)
                base = "" if whole_host else (path[token.end() :] if token else path)
                self._entries.append((_Key(host, port, base.rstrip("/")), secret))

    def _register_pip_env(self) -> None:
        urls: list[str] = []
        for name in _PIP_URL_VARS:
            for value in (self.env.get(name) or "").split():
                urls.append(re.sub(r"^[A-Za-z0-9_-]+=", "", value))
        self.register_urls(urls, source="pip/uv environment", whole_host=True)
        for value in (self.env.get("UV_INDEX") or "").split():
            name, sep, url = value.partition("=")
            if not sep:
                continue
            var = re.sub(r"[^A-Z0-9]", "_", name.upper())
            user = self.env.get(f"UV_INDEX_{var}_USERNAME")
            password = self.env.get(f"UV_INDEX_{var}_PASSWORD")
            if user is not None or password is not None:
                host, port, _ = _url_parts(url)
                secret = Secret("basic", user or "", password or "", source=f"UV_INDEX_{var}_*")
                self._entries.append((_Key(host, port, ""), secret))

    def _file_entries(self) -> list[tuple[_Key, Secret]]:
        with self._lock:
            if self._files is None:
                found: list[tuple[_Key, Secret]] = []
                ours = self.auth_file or self.env.get("REPRO_AUDIT_AUTH_FILE")
                if ours:
                    found += read_auth_file(Path(ours))
                theirs = self.env.get("RATTLER_AUTH_FILE")
                if theirs and Path(theirs).is_file() and theirs != str(ours):
                    found += read_auth_file(Path(theirs))
                self._files = found
            return self._files

    # ------------------------------------------------------------------ lookup

    def for_url(self, url: str) -> Secret | None:
        """The credential for `url` (which may be redacted), or None for anonymous access."""
        own = secret_in_url(expand(url, self.env)[0])
        if own is not None:
            return own
        host, port, path = _url_parts(url)
        if not host:
            return None
        with self._lock:
            registered = list(self._entries)
        for entries in (registered, self._file_entries()):
            best = _best(entries, host, port, path)
            if best is not None:
                return best
        return self._netrc(host)

    def _netrc(self, host: str) -> Secret | None:
        """netrc, read once per host and remembered (a solve sends many requests)."""
        with self._lock:
            if host in self._fallback:
                return self._fallback[host]
        found = _from_netrc(host)
        with self._lock:
            self._fallback[host] = found
        return found

    def from_keyring(self, url: str) -> Secret | None:
        """keyring's credential, asked only after a 401 (as pip does: it may be slow).

        Remembered per host and port: two indexes on one host are two services.
        """
        host, port, _ = _url_parts(url)
        key = f"keyring:{_realm(host, port)}"
        with self._lock:
            if key in self._fallback:
                return self._fallback[key]
        found = _from_keyring(url)
        with self._lock:
            self._fallback[key] = found
        return found

    def header_for(self, host: str, path: str) -> str | None:
        """Authorization for a request rattler makes (its callback sees no port or scheme).

        None for a path holding a token (a token channel's mirror): the token is the
        credential, and with no port to match on a header could be another port's.
        """
        if _TOKEN_PATH.match(path or ""):
            return None
        host = host.lower()
        with self._lock:
            registered = list(self._entries)
        for entries in (registered, self._file_entries()):
            best = _best(entries, host, None, path or "/", any_port=True)
            if best is not None:
                return best.header()
        found = self._netrc(host)
        return found.header() if found else None

    def authorize(self, url: str) -> tuple[str, dict[str, str]]:
        """(the URL to request, headers): userinfo moved to a header, a token into the path."""
        expanded = expand(url, self.env)[0]
        secret = self.for_url(expanded)
        request_url = strip_userinfo(expanded)
        if secret is None:
            return request_url, {}
        if secret.kind == "token":
            parts = urllib.parse.urlsplit(request_url)
            if not _TOKEN_PATH.match(parts.path):
                path = f"/t/{urllib.parse.quote(secret.token, safe='')}{parts.path}"
                request_url = urllib.parse.urlunsplit(parts._replace(path=path))
            return request_url, {}
        header = secret.header()
        return request_url, ({"Authorization": header} if header else {})

    def missing_vars(self, host: str, port: int | None = None) -> list[str]:
        """The unset placeholders of the URLs registered for this host and port (any port
        when None)."""
        host = host.lower()
        with self._lock:
            found = [
                name
                for (h, p), names in self._placeholders.items()
                if h == host and (port is None or p == port)
                for name in names
            ]
        return sorted(set(found))

    def with_userinfo(self, url: str) -> str:
        """`url` with its basic credential as `user:password@`, for a tool that reads only
        URLs (uv's index variables). Only for that tool's environment, never argv or output.
        """
        expanded = expand(url, self.env)[0]
        if urllib.parse.urlsplit(expanded).username is not None:
            return expanded
        secret = self.for_url(expanded)
        if secret is None or secret.kind != "basic":
            return expanded
        parts = urllib.parse.urlsplit(expanded)
        user = urllib.parse.quote(secret.username, safe="")
        password = urllib.parse.quote(secret.password, safe="")
        return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:{password}@{parts.netloc}"))

    def entries_for_rattler(self) -> dict[str, Any]:
        """Tokens in rattler's auth-file format, keyed by host (rattler inserts `/t/<token>/`)."""
        out: dict[str, Any] = {}
        for key, secret in [*self._entries, *self._file_entries()]:
            if secret.kind == "token":
                out.setdefault(key.host, {"CondaToken": secret.token})
        return out


def _best(
    entries: list[tuple[_Key, Secret]],
    host: str,
    port: int | None,
    path: str,
    any_port: bool = False,
) -> Any:
    found = [
        (key.rank(), i, secret)
        for i, (key, secret) in enumerate(entries)
        if key.matches(host, port, path, any_port)
    ]
    if not found:
        return None
    found.sort(key=lambda item: (item[0], -item[1]))
    return found[-1][2]


def _from_netrc(host: str) -> Secret | None:
    try:
        entry = netrc.netrc(os.environ.get("NETRC")).authenticators(host)
    except (OSError, netrc.NetrcParseError):
        return None
    if not entry:
        return None
    login, _, password = entry
    return Secret("basic", login or "", password or "", source="netrc")


def _from_keyring(url: str) -> Secret | None:
    """keyring's credential for the URL (or its host), when a real backend is configured."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    try:
        if isinstance(keyring.get_keyring(), fail.Keyring):
            return None
        parts = urllib.parse.urlsplit(url)
        for service in (url, f"{parts.scheme}://{parts.netloc}", parts.hostname or ""):
            found = keyring.get_credential(service, None)
            if found is not None and found.password:
                return Secret("basic", found.username or "", found.password, source="keyring")
    except Exception:  # noqa: BLE001 - a broken keyring means "no credential", never a crash
        return None
    return None


def strip_userinfo(url: str) -> str:
    """`scheme://user:pass@host/…` → `scheme://host/…` (the token path is left alone)."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def hint_for(url: str, *, registry: bool = False, store: Credentials | None = None) -> str:
    """How to give credentials for the host of `url`: one short sentence."""
    host, port, _ = _url_parts(url if "://" in url else f"https://{url}")
    where = f"{host}:{port}" if port not in (None, 80, 443) else host
    missing = (store or current()).missing_vars(host, port)
    ways = [f"set {', '.join(missing)}"] if missing else []
    if registry:
        ways.append(f"docker login {where}")
    ways.append(f'an entry "{where}" in --auth-file or REPRO_AUDIT_AUTH_FILE')
    if not registry:
        ways.append("~/.netrc")
    guide = "docs/guides/private-channels.md"
    return f"give credentials for {where}: " + "; or ".join(ways) + f" ({guide})"


_CURRENT: Credentials | None = None
_CURRENT_LOCK = threading.Lock()


def current() -> Credentials:
    """The process-wide store (created from the environment on first use)."""
    global _CURRENT
    with _CURRENT_LOCK:
        if _CURRENT is None:
            _CURRENT = Credentials()
        return _CURRENT


def configure(auth_file: Path | None = None, urls: Any = ()) -> Credentials:
    """Start the process-wide store from the command line (`--auth-file`, channel URLs)."""
    global _CURRENT
    store = Credentials(auth_file=auth_file)
    store.register_urls(urls)
    if auth_file is not None:
        store._file_entries()  # a missing or malformed auth file is exit 2 at once
    with _CURRENT_LOCK:
        _CURRENT = store
    return store


def register_urls(urls: Any, whole_host: bool = False) -> None:
    """Add the channel / index URLs of a lock or environment file to the process's store."""
    current().register_urls(urls, whole_host=whole_host)
