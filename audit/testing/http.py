"""Run an HTTP handler on 127.0.0.1 in a daemon thread, for tests and benchmarks.

Channels, package indexes, stub registries and delaying proxies all need the same thing:
a server on a free loopback port that stops, and frees its socket, when the block ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
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
