"""A streamed HTTP body read by a background thread, so the sender never waits on us."""

from __future__ import annotations

import io
from typing import Any


class PrefetchStream(io.RawIOBase):
    """Chunks of a streamed HTTP response, pulled by a background thread.

    dockerd writes `docker save` into a socket whose buffer holds little; if the parser
    stopped draining it, the daemon would wait. A reader thread keeps the socket drained
    (socket reads release the GIL) into a bounded queue, so the daemon's tar writing and
    our parsing overlap; memory stays bounded by the queue (QUEUE x chunk size).
    """

    QUEUE = 32

    def __init__(self, chunks: Any, on_error: Any) -> None:
        import queue
        import threading

        self._queue: queue.Queue[Any] = queue.Queue(self.QUEUE)
        self._pending = memoryview(b"")
        self._on_error = on_error
        self._done = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, args=(chunks,), daemon=True)
        self._thread.start()

    def _pump(self, chunks: Any) -> None:
        try:
            for chunk in chunks:
                if self._stop.is_set():
                    return
                self._queue.put(chunk)
            self._queue.put(None)
        except BaseException as exc:  # handed to the reading thread
            self._queue.put(exc)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            if self._done:
                return 0
            item = self._queue.get()
            if item is None:
                self._done = True
                return 0
            if isinstance(item, BaseException):
                self._done = True
                raise self._on_error(item)
            self._pending = memoryview(item)
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def close(self) -> None:
        """Stop the pump: it exits at its next chunk (or when the client closes the socket)."""
        import queue

        self._stop.set()
        try:  # make room so a pump blocked on a full queue wakes up and sees the flag
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass
        super().close()
