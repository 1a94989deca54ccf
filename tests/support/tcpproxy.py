"""A TCP listener on 127.0.0.1 that forwards to the local engine's unix socket.

It makes the engine a remote one for the code under test: `DOCKER_HOST=tcp://…` goes
through a network connection, as a build on another machine would, and `stop()` cuts
every connection at once, as a remote builder that stops answering does.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading

_REQUEST_LINE = re.compile(rb"(GET|HEAD|POST|PUT|DELETE) (/\S*) HTTP/1\.[01]\r\n")


class EngineProxy:
    """Forward tcp://127.0.0.1:<port> to `socket_path` until `stop()`."""

    def __init__(
        self,
        socket_path: str = "/var/run/docker.sock",
        listen_unix: str | None = None,
        cut_after: int | None = None,
    ) -> None:
        self.socket_path = socket_path
        self.listen_unix = listen_unix
        self.cut_after = cut_after
        #: set once a connection was dropped by `cut_after`
        self.cut = threading.Event()
        if listen_unix is None:
            self.listener = socket.create_server(("127.0.0.1", 0))
            self.port = self.listener.getsockname()[1]
        else:
            self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.listener.bind(listen_unix)
            self.listener.listen(16)
            self.port = 0
        self.connections = 0
        #: "METHOD /path" of every request that came through, in order
        self.requests: list[str] = []
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def host(self) -> str:
        if self.listen_unix is not None:
            return f"unix://{self.listen_unix}"
        return f"tcp://127.0.0.1:{self.port}"

    def start(self) -> EngineProxy:
        self._thread.start()
        return self

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(self.socket_path)
            except OSError:
                client.close()
                continue
            with self._lock:
                self.connections += 1
                self._open += [client, upstream]
            threading.Thread(
                target=self._requests_pipe, args=(client, upstream), daemon=True
            ).start()
            threading.Thread(
                target=self._answers_pipe, args=(upstream, client), daemon=True
            ).start()

    def _requests_pipe(self, source: socket.socket, sink: socket.socket) -> None:
        """Client → engine, noting each request line (a tail is kept across reads)."""
        tail = b""
        with contextlib.suppress(OSError):
            while data := source.recv(1 << 16):
                sink.sendall(data)
                window = tail + data
                for match in _REQUEST_LINE.finditer(window):
                    if match.end() > len(tail):  # not already seen in the last window
                        with self._lock:
                            self.requests.append(f"{match[1].decode()} {match[2].decode()}")
                tail = window[-512:]
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def stop(self) -> None:
        """Stop listening and cut every open connection."""
        with contextlib.suppress(OSError):  # wakes the blocked accept(); close alone won't
            self.listener.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.listener.close()
        self._thread.join(5)
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()
            self._open.clear()


    def _answers_pipe(self, source: socket.socket, sink: socket.socket) -> None:
        """Engine → client, dropped (both ends) past `cut_after` bytes."""
        relayed = 0
        with contextlib.suppress(OSError):
            while data := source.recv(1 << 16):
                if self.cut_after is not None and relayed + len(data) > self.cut_after:
                    self.cut.set()
                    for end in (source, sink):
                        with contextlib.suppress(OSError):
                            end.shutdown(socket.SHUT_RDWR)
                    return
                sink.sendall(data)
                relayed += len(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
