"""Progress on long work: bytes and files per second, what is being read and why.

Long phases (staging a multi-GB environment, streaming an image, loading a layer) report
through a `Meter`: a line every few seconds while on a terminal (or with
REPRO_AUDIT_PROGRESS=1, for a CI log that wants them), and one summary line at the end
always, so a piped run stays short and a person at a terminal sees it move.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator

Say = Callable[[str, str], None]

#: Seconds between two live lines.
INTERVAL = 2.0


def live_enabled() -> bool:
    """Live lines on a terminal, or when asked (REPRO_AUDIT_PROGRESS=1); never when =0."""
    wanted = os.environ.get("REPRO_AUDIT_PROGRESS")
    if wanted in ("0", "1"):
        return wanted == "1"
    return sys.stderr.isatty()


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(count) < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} GB"  # pragma: no cover


class Meter:
    """Counts bytes and files of one phase; says how fast it goes and how far it is."""

    def __init__(self, say: Say, phase: str, what: str, total_bytes: int = 0) -> None:
        self.say = say
        self.phase = phase
        self.what = what
        self.total = total_bytes
        self.bytes = 0
        self.files = 0
        self.start = time.monotonic()
        self._next = self.start + INTERVAL
        self._live = live_enabled()

    def add(self, size: int = 0, files: int = 0) -> None:
        self.bytes += size
        self.files += files
        if self._live and (now := time.monotonic()) >= self._next:
            self._next = now + INTERVAL
            self.say(self.phase, f"{self.what}: {self._rate(now)}")
            note(self.phase, self.what)  # an interruption names the phase, not its rate

    def _rate(self, now: float) -> str:
        elapsed = max(now - self.start, 1e-6)
        done = human_bytes(self.bytes)
        if self.total:
            done += f" of {human_bytes(self.total)} ({100 * self.bytes / self.total:.0f}%)"
        parts = [done, f"{human_bytes(self.bytes / elapsed)}/s"]
        if self.files:
            parts.append(f"{self.files:,} files ({self.files / elapsed:,.0f}/s)")
        return ", ".join(parts)

    def done(self, extra: str = "") -> None:
        """The summary line: what was done, how much, how fast."""
        now = time.monotonic()
        tail = f" {extra}" if extra else ""
        self.say(self.phase, f"{self.what}: {self._rate(now)} in {now - self.start:.1f} s{tail}")
        note(self.phase, self.what)

    def counted(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """`chunks` passed through, counted."""
        for chunk in chunks:
            self.add(len(chunk))
            yield chunk


def plain_line(phase: str, message: str) -> None:
    """`     phase message` on stderr, plain text (what a terminal-less run shows)."""
    note(phase, message)
    sys.stderr.write(f"{phase:>10} {message}\n")
    sys.stderr.flush()


def note(phase: str, message: str) -> None:
    """Remember the phase (shown or not): an interruption line says what it stopped."""
    from audit.core.interrupt import doing

    doing(f"{phase} {message}".strip()[:120])


def stderr_say() -> Say:
    """A progress sink for commands whose stdout is their output (`inventory`, `diff`):
    plain lines on stderr when live progress is on, else only noted."""
    return plain_line if live_enabled() else note
