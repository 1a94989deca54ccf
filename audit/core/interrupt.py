"""SIGTERM and SIGINT end a command the way an error does: unwound, cleaned up, one line.

Python's default SIGTERM action kills the process on the spot: no `finally`, no context
manager exit, no `atexit`, so every temp folder stays behind (a cancelled CI job,
`timeout`, `docker stop` and Kubernetes all send SIGTERM). Here both signals raise
`Interrupted` in the main thread instead; it derives from BaseException, so no
`except Exception` on the way swallows it, and every `with TemporaryDirectory()` and
atomic write unwinds as it would for an error. The CLI then prints what was interrupted
and exits 128 + the signal number (130 for SIGINT, 143 for SIGTERM), as shells do.

What "was interrupted" is the command and the last progress phase it announced
(`doing`), so the line says `build interrupted (SIGTERM) while staging the environment`.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

_STATE: dict[str, str] = {"command": "", "phase": ""}
_SEEN: list[int] = []


class Interrupted(BaseException):
    """A signal asked the process to stop; raised where the main thread was."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def one_line(self) -> str:
        what = _STATE["command"] or "repro-audit"
        during = f" while {_STATE['phase']}" if _STATE["phase"] else ""
        name = signal.Signals(self.signum).name
        from audit.core.escape import printable

        return printable(f"{what} interrupted ({name}){during}; its temporary files were removed")


def _raise(signum: int, _frame: FrameType | None) -> None:
    """The handler: raise once; a repeated signal during the clean-up is not a new raise."""
    if _SEEN:
        return
    _SEEN.append(signum)
    raise Interrupted(signum)


Handlers = dict[int, Any]


def install(command: str) -> Handlers:
    """Turn SIGTERM and SIGINT into `Interrupted` for this run of `command` (main thread).

    Returns the handlers it replaced, for `restore` (an in-process caller, e.g. a test
    runner, gets its own Ctrl-C back).
    """
    _STATE["command"] = command
    _STATE["phase"] = ""
    _SEEN.clear()
    if threading.current_thread() is not threading.main_thread():
        return {}  # signal handlers can only be set from the main thread
    return {signum: signal.signal(signum, _raise) for signum in (signal.SIGTERM, signal.SIGINT)}


def restore(previous: Handlers) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def doing(phase: str) -> None:
    """Remember what the command is doing now, for the interruption line."""
    _STATE["phase"] = phase
