"""Serve a directory over HTTP on 127.0.0.1, for channel, index and credential tests.

No conda channel or private index is reachable from CI, so tests serve their own. The
server runs in a daemon thread, logs nothing, and optionally demands HTTP basic auth.
"""

from __future__ import annotations

import base64
import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@contextmanager
def serve_handler(handler: Callable[..., Any], *, backlog: int = 256) -> Iterator[str]:
    """Serve `handler` at a free port; yield `127.0.0.1:PORT`.

    A large listen backlog, since the default 5 drops connections under a few dozen
    concurrent clients (the benchmarks open that many).
    """

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = backlog

    server = Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)



class _QuietHandler(SimpleHTTPRequestHandler):
    """A static file handler that checks basic auth or a `/t/<token>/` path prefix (when set)
    and keeps stderr clean."""

    expected_auth: str | None = None
    token: str | None = None

    def log_message(self, format: str, *args: Any) -> None:
        """Stay silent: request logs would bury test output."""

    def _authorized(self) -> bool:
        if self.token is not None:
            prefix = f"/t/{self.token}/"
            if self.path.startswith(prefix):
                self.path = "/" + self.path[len(prefix) :]
                return True
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False
        if self.expected_auth is None or self.headers.get("Authorization") == self.expected_auth:
            return True
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="repro-audit-test"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def do_GET(self) -> None:
        if self._authorized():
            super().do_GET()

    def do_HEAD(self) -> None:
        if self._authorized():
            super().do_HEAD()


@contextmanager
def serve_directory(
    path: Path | str, auth: tuple[str, str] | None = None, token: str | None = None
) -> Iterator[str]:
    """Serve `path` at a free port; yield `http://127.0.0.1:PORT` (no trailing slash).

    With `auth=(user, password)` every request without those basic credentials gets 401.
    With `token=T` (anaconda.org style) files are served only under `/t/T/`, anything
    else gets 401. The server is shut down and its socket closed when the block exits.
    """
    expected = None
    if auth is not None:
        encoded = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        expected = f"Basic {encoded}"
    attrs = {"expected_auth": expected, "token": token}
    handler = type("Handler", (_QuietHandler,), attrs)
    with serve_handler(functools.partial(handler, directory=str(Path(path).resolve()))) as host:
        yield f"http://{host}"
