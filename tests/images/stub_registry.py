"""A scriptable fake registry for the flows a real local registry cannot show:
Bearer token auth, 429/5xx answers, redirects and silence."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from support.http import serve_handler

from audit.registry.client import OCI_MANIFEST

CONFIG = json.dumps({"architecture": "arm", "os": "linux", "variant": "v7"}).encode()
CONFIG_DIGEST = "sha256:" + hashlib.sha256(CONFIG).hexdigest()
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"digest": CONFIG_DIGEST, "size": len(CONFIG), "mediaType": "x"},
        "layers": [],
    }
).encode()
MANIFEST_DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()


@dataclass
class Script:
    """What the stub does; `seen` records (method, path, Authorization) per request."""

    token_user: tuple[str, str] | None = None  # Basic creds the token endpoint wants
    bearer: bool = False
    failures: list[int] = field(default_factory=list)  # statuses to answer first
    retry_after: str | None = None
    blob_redirect: str | None = None
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    script: Script

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        script = self.script
        auth = self.headers.get("Authorization")
        script.seen.append(("GET", self.path, auth))
        host = f"127.0.0.1:{self.server.server_address[1]}"
        if self.path.startswith("/token"):
            if script.token_user is not None:
                want = "Basic " + base64.b64encode(":".join(script.token_user).encode()).decode()
                if auth != want:
                    return self._send(401)
            return self._send(200, json.dumps({"token": "tok-123"}).encode())
        if script.failures:
            status = script.failures.pop(0)
            headers = {"Retry-After": script.retry_after} if script.retry_after else {}
            return self._send(status, b"", headers)
        if script.bearer and auth != "Bearer tok-123":
            challenge = (
                f'Bearer realm="http://{host}/token",service="stub",'
                'scope="repository:team/app:pull"'
            )
            return self._send(401, b"{}", {"WWW-Authenticate": challenge})
        if "/manifests/" in self.path:
            if not self.path.endswith(("/1.0", MANIFEST_DIGEST)):
                return self._send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
            return self._send(
                200,
                MANIFEST,
                {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": MANIFEST_DIGEST},
            )
        if "/blobs/" in self.path:
            if script.blob_redirect:
                return self._send(307, b"", {"Location": script.blob_redirect + self.path})
            return self._send(200, CONFIG)
        return self._send(200, b"{}")


@contextmanager
def stub_registry(script: Script) -> Iterator[str]:
    """Serve `script` on 127.0.0.1; yields the host:port."""
    with serve_handler(type("Handler", (_Handler,), {"script": script})) as host:
        yield host


@contextmanager
def silent_server() -> Iterator[str]:
    """Accepts TCP connections and never answers: a registry that hangs."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()
