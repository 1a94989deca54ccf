"""A small OCI distribution client: resolve a tag to a digest, read and push manifests.

Requests go through the one pooled client (`audit.core.http`: retries of 429/5xx and
connection failures with exponential backoff and Retry-After, no Authorization on
redirects). It speaks the token flow of the distribution spec (`WWW-Authenticate: Bearer
realm=…` → token endpoint), Basic auth, anonymous access and the manifest media types of
OCI and Docker. Errors map onto the exit-code contract:
404/401/403 are bad input (2), a registry that does not answer is infrastructure (3).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from audit.core.credentials import hint_for
from audit.core.errors import AccessDeniedError, InfrastructureError, InputError
from audit.core.http import RETRY_STATUSES
from audit.core.redact import redact_url
from audit.registry.credentials import Credential, DockerCredentials
from audit.registry.reference import ImageRef, is_loopback

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
ACCEPT = ", ".join([OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST])
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class RegistryError(InputError):
    """The registry answered, but not with what we asked for (exit 2)."""


class NotFoundError(RegistryError):
    """404: the tag, digest or repository does not exist."""


class DeniedError(RegistryError, AccessDeniedError):
    """401/403: no access with the credentials we have (exit 2, with how to log in)."""


class UnreachableError(InfrastructureError):
    """No answer, or only 429/5xx after every retry (exit 3)."""


@dataclass(frozen=True, order=True)
class PlatformManifest:
    """One platform image: what a build on that platform actually pulls."""

    os: str
    architecture: str
    variant: str | None
    digest: str

    def to_json(self) -> dict[str, str | None]:
        return {
            "os": self.os,
            "architecture": self.architecture,
            "variant": self.variant,
            "digest": self.digest,
        }


@dataclass(frozen=True)
class Resolved:
    """A reference resolved: the digest to pin (index digest if multi-arch) and platforms."""

    digest: str
    media_type: str
    platforms: tuple[PlatformManifest, ...]


@dataclass
class _Response:
    status: int
    headers: Mapping[str, str]
    body: bytes
    stream: Any = None  # the open urllib3 response, for `open_blob`


@dataclass
class RegistryClient:
    """Thread-safe client; one instance serves every registry of a run."""

    credentials: DockerCredentials = field(default_factory=DockerCredentials)
    insecure: frozenset[str] = frozenset()
    timeout: float = 15.0
    retries: int = 4
    backoff: float = 0.25
    _tokens: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # ------------------------------------------------------------------ public API

    def resolve(self, ref: ImageRef) -> Resolved:
        """Resolve `ref` (its digest if it has one, else its tag) to a digest + platforms."""
        reference = ref.digest or ref.tag or "latest"
        body, media_type, digest = self.get_manifest(ref.api_host, ref.repository, reference)
        if ref.digest and digest != ref.digest:
            raise RegistryError(f"{ref.name}@{ref.digest}: registry returned {digest}")
        return Resolved(digest, media_type, self._platforms(ref, body, media_type, digest))

    def get_manifest(self, host: str, repository: str, reference: str) -> tuple[bytes, str, str]:
        """GET a manifest: (body, media type, sha256 digest of the body)."""
        path = f"/v2/{repository}/manifests/{reference}"
        response = self._request("GET", host, repository, path, {"Accept": ACCEPT})
        what = (
            f"{host}/{repository}:{reference}"
            if ":" not in reference
            else (f"{host}/{repository}@{reference}")
        )
        self._raise_for_status(response, what, "pull")
        media_type = _media_type(response)
        digest = "sha256:" + hashlib.sha256(response.body).hexdigest()
        claimed = response.headers.get("Docker-Content-Digest")
        if claimed and claimed.startswith("sha256:") and claimed != digest:
            raise RegistryError(f"{what}: body digest {digest} differs from header {claimed}")
        return response.body, media_type, digest

    def get_blob(self, host: str, repository: str, digest: str) -> bytes:
        response = self._request("GET", host, repository, f"/v2/{repository}/blobs/{digest}", {})
        self._raise_for_status(response, f"{host}/{repository}@{digest}", "pull")
        return response.body

    def put_blob(self, host: str, repository: str, data: bytes) -> str:
        """Monolithic upload (POST then PUT ?digest=); returns the blob digest."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        start = self._request(
            "POST", host, repository, f"/v2/{repository}/blobs/uploads/", {}, b"", push=True
        )
        self._raise_for_status(start, f"{host}/{repository} upload", "push", ok=(202,))
        location = start.headers.get("Location", "")
        parsed = urllib.parse.urlsplit(location)
        query = urllib.parse.parse_qsl(parsed.query) + [("digest", digest)]
        path = f"{parsed.path}?{urllib.parse.urlencode(query)}"
        headers = {"Content-Type": "application/octet-stream"}
        done = self._request("PUT", host, repository, path, headers, data, push=True)
        self._raise_for_status(done, f"{host}/{repository}@{digest}", "push", ok=(201,))
        return digest

    def put_manifest(
        self, host: str, repository: str, reference: str, body: bytes, media_type: str
    ) -> str:
        """PUT a manifest under a tag or digest; returns its digest."""
        path = f"/v2/{repository}/manifests/{reference}"
        headers = {"Content-Type": media_type}
        response = self._request("PUT", host, repository, path, headers, body, push=True)
        self._raise_for_status(response, f"{host}/{repository}:{reference}", "push", ok=(201,))
        return "sha256:" + hashlib.sha256(body).hexdigest()

    def ping(self, host: str) -> int:
        """Status of GET /v2/ (200 or 401 mean a registry is there)."""
        return self._send("GET", f"{self._scheme(host)}://{host}/v2/", {}, None, host).status

    def open_blob(self, host: str, repository: str, digest: str) -> Any:
        """A blob's body as a stream (read it, then close it): layers too big to hold."""
        path = f"/v2/{repository}/blobs/{digest}"
        response = self._request("GET", host, repository, path, {}, stream=True)
        self._raise_for_status(response, f"{host}/{repository}@{digest}", "pull")
        return response.stream

    # ------------------------------------------------------------------ internals

    def _platforms(
        self, ref: ImageRef, body: bytes, media_type: str, digest: str
    ) -> tuple[PlatformManifest, ...]:
        document = _json(body, ref.tagged())
        if media_type in INDEX_TYPES:
            found = []
            for entry in document.get("manifests") or []:
                platform = entry.get("platform") or {}
                os_name = platform.get("os", "unknown")
                if os_name == "unknown":  # attestation manifests, not runnable images
                    continue
                found.append(
                    PlatformManifest(
                        os_name,
                        platform.get("architecture", "unknown"),
                        platform.get("variant"),
                        entry.get("digest", ""),
                    )
                )
            return tuple(sorted(found))
        config_digest = (document.get("config") or {}).get("digest")
        if not config_digest:
            raise RegistryError(f"{ref.tagged()}: manifest has no config")
        config = _json(self.get_blob(ref.api_host, ref.repository, config_digest), ref.tagged())
        return (
            PlatformManifest(
                config.get("os", "unknown"),
                config.get("architecture", "unknown"),
                config.get("variant"),
                digest,
            ),
        )

    def _scheme(self, host: str) -> str:
        return "http" if is_loopback(host) or host in self.insecure else "https"

    def _request(
        self,
        method: str,
        host: str,
        repository: str,
        path: str,
        headers: dict[str, str],
        body: bytes | None = None,
        push: bool = False,
        stream: bool = False,
    ) -> _Response:
        """Send (retries in `audit.core.http`); answer one 401 challenge, then resend."""
        url = f"{self._scheme(host)}://{host}{path}"
        scope = f"repository:{repository}:{'pull,push' if push else 'pull'}"
        authenticated = False
        while True:
            sent = dict(headers)
            authorization = self._cached_auth(host, scope)
            if authorization:
                sent["Authorization"] = authorization
            response = self._send(method, url, sent, body, host, stream=stream)
            if response.status == 401 and not authenticated:
                authenticated = True
                self._authenticate(host, scope, response.headers.get("WWW-Authenticate", ""))
                continue
            return response

    def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        host: str,
        stream: bool = False,
    ) -> _Response:
        """One request through the shared client: retries 429/5xx and connection failures
        with backoff (Retry-After honoured); Authorization is never sent on a redirect."""
        from audit.core import http

        try:
            answer = http.request(
                method,
                url,
                headers=headers,
                body=body,
                timeout=self.timeout,
                retries=self.retries,
                backoff=self.backoff,
                stream=stream,
                auth=False,  # the registry's own tokens, negotiated here
            )
        except InfrastructureError as exc:
            raise UnreachableError(
                f"registry {host} did not answer: {exc.message.split(': ', 1)[-1]}",
                hint=exc.hint,
            ) from None
        if stream and answer.status == 200:
            return _Response(answer.status, answer.headers, b"", answer)
        data = answer.data if not stream else answer.read()
        answer.release_conn()
        return _Response(answer.status, answer.headers, data)

    def _cached_auth(self, host: str, scope: str) -> str | None:
        with self._lock:
            return self._tokens.get((host, scope)) or self._tokens.get((host, "*"))

    def _authenticate(self, host: str, scope: str, challenge: str) -> None:
        """Turn a WWW-Authenticate challenge into an Authorization header for later requests."""
        scheme = challenge.split(" ", 1)[0].lower()
        params = dict(_CHALLENGE_PARAM.findall(challenge))
        credential = self.credentials.lookup(host)
        if scheme == "basic":
            if credential is None or credential.identity_token:
                raise DeniedError(
                    f"access denied (HTTP 401) by registry {host}: it requires a login",
                    hint=hint_for(host, registry=True),
                )
            with self._lock:
                self._tokens[(host, "*")] = _basic(credential)
            return
        if scheme != "bearer" or "realm" not in params:
            raise DeniedError(f"registry {host} answered 401 with no usable challenge")
        token = self._fetch_token(host, params, scope, credential)
        with self._lock:
            self._tokens[(host, scope)] = f"Bearer {token}"

    def _fetch_token(
        self, host: str, params: dict[str, str], scope: str, credential: Credential | None
    ) -> str:
        query = {"service": params.get("service", host), "scope": params.get("scope", scope)}
        realm = params["realm"]
        headers: dict[str, str] = {}
        if credential is not None and credential.identity_token:
            form = {
                **query,
                "grant_type": "refresh_token",
                "client_id": "repro-audit",
                "refresh_token": credential.identity_token,
            }
            data: bytes | None = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            response = self._send("POST", realm, headers, data, host)
        else:
            if credential is not None:
                headers["Authorization"] = _basic(credential)
            url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
            response = self._send("GET", url, headers, None, host)
        if response.status in (401, 403):
            raise DeniedError(
                f"access denied (HTTP {response.status}) by token service {redact_url(realm)}"
                f" for {host}",
                hint=hint_for(host, registry=True),
            )
        if response.status != 200:
            raise UnreachableError(
                f"token service {redact_url(realm)} answered HTTP {response.status}"
            )
        document = _json(response.body, redact_url(realm))
        token = document.get("token") or document.get("access_token")
        if not token:
            raise RegistryError(f"token service {redact_url(realm)} returned no token")
        return str(token)

    def _raise_for_status(
        self, response: _Response, what: str, action: str, ok: Iterable[int] = (200,)
    ) -> None:
        status = response.status
        if status in ok:
            return
        detail = _error_detail(response.body)
        if status == 404:
            raise NotFoundError(f"{what}: not found{detail}")
        if status in (401, 403):
            raise DeniedError(
                f"access denied (HTTP {status}) to {action} {what}{detail}",
                hint=hint_for(what.split("/", 1)[0], registry=True),
            )
        if status in RETRY_STATUSES:
            raise UnreachableError(f"{what}: registry answered HTTP {status} after retries")
        raise RegistryError(f"{what}: unexpected HTTP {status}{detail}")


def _basic(credential: Credential) -> str:
    raw = f"{credential.username}:{credential.secret}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def _media_type(response: _Response) -> str:
    content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip()
    if content_type in INDEX_TYPES or content_type in MANIFEST_TYPES:
        return content_type
    try:
        declared = json.loads(response.body).get("mediaType", "")
    except (ValueError, AttributeError):
        declared = ""
    if declared in INDEX_TYPES or declared in MANIFEST_TYPES:
        return declared
    raise RegistryError(f"unsupported manifest media type {content_type or declared!r}")


def _json(body: bytes, what: str) -> dict:
    try:
        document = json.loads(body)
    except ValueError:
        raise RegistryError(f"{what}: registry returned invalid JSON") from None
    if not isinstance(document, dict):
        raise RegistryError(f"{what}: registry returned unexpected JSON")
    return document


def _error_detail(body: bytes) -> str:
    """The first error code of a distribution error body, e.g. ` (MANIFEST_UNKNOWN)`."""
    try:
        errors = json.loads(body).get("errors") or []
        return f" ({errors[0].get('code')})" if errors else ""
    except (ValueError, AttributeError, IndexError, TypeError):
        return ""
