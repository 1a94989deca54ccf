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

import contextlib
import signal
import threading
from collections.abc import Callable, Coroutine, Iterator
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")

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
    """The handler: raise once; a repeated signal during the clean-up is not a new raise.
    Inside `_deferred` the signal is only noted, and raised when the section ends."""
    if _SEEN:
        return
    _SEEN.append(signum)
    if _DEFERRED:
        _PENDING.append(signum)
        return
    raise Interrupted(signum)


_DEFERRED: list[bool] = []
_PENDING: list[int] = []


@contextlib.contextmanager
def _deferred(*, raise_after: bool = True) -> Iterator[None]:
    """A section a signal must not cut in half (an event loop's creation or close: one
    raised inside leaves a half-made loop whose finalizer prints a traceback)."""
    _DEFERRED.append(True)
    try:
        yield
    finally:
        _DEFERRED.pop()
    if raise_after:
        _raise_pending()


def _raise_pending() -> None:
    if not _DEFERRED and _PENDING:
        raise Interrupted(_PENDING.pop())


def run_async(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """`asyncio.run(make())`, where SIGTERM/SIGINT cancel the coroutine and raise
    `Interrupted` only at points where the loop is whole: no half-made loop, no
    "coroutine was never awaited", no pending task destroyed with a warning."""
    import asyncio  # here, not at start-up: every command imports this module (46 ms)

    with _deferred(raise_after=False):
        loop = asyncio.new_event_loop()
        task = loop.create_task(make())
    try:
        _raise_pending()  # a signal during the set-up: the task is cancelled below
        result = loop.run_until_complete(task)
    except Interrupted:
        # Cancelled, the task ends here, but a native library's own threads (rattler's
        # tokio runtime) may still post their result to the loop: it is left open, so
        # that post lands instead of printing "Event loop is closed"; the process ends.
        with _deferred():
            task.cancel()
            with contextlib.suppress(BaseException):
                loop.run_until_complete(task)
        raise
    except BaseException:
        _close(loop)
        raise
    _close(loop)
    return result


def _close(loop: Any) -> None:  # an asyncio event loop
    with _deferred():
        with contextlib.suppress(Exception):
            loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


Handlers = dict[int, Any]


def install(command: str) -> Handlers:
    """Turn SIGTERM and SIGINT into `Interrupted` for this run of `command` (main thread).

    Returns the handlers it replaced, for `restore` (an in-process caller, e.g. a test
    runner, gets its own Ctrl-C back).
    """
    _STATE["command"] = command
    _STATE["phase"] = ""
    _SEEN.clear()
    _PENDING.clear()
    if threading.current_thread() is not threading.main_thread():
        return {}  # signal handlers can only be set from the main thread
    return {signum: signal.signal(signum, _raise) for signum in (signal.SIGTERM, signal.SIGINT)}


def restore(previous: Handlers) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def doing(phase: str) -> None:
    """Remember what the command is doing now, for the interruption line."""
    _STATE["phase"] = phase
