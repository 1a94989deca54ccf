"""SIGTERM/SIGINT around an event loop (`audit.core.interrupt.run_async`), in-process with
real signals: the coroutine is cancelled (its clean-up runs), `Interrupted` comes out,
and nothing prints "never awaited" or a half-made loop's traceback."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import warnings
from collections.abc import Iterator

import pytest

from audit.core import interrupt


@pytest.fixture
def handlers() -> Iterator[None]:
    previous = interrupt.install("repro-audit test")
    yield
    interrupt.restore(previous)


def test_a_signal_while_the_coroutine_waits_cancels_it(handlers: None) -> None:
    cleaned: list[str] = []

    async def work() -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(5)
        finally:
            cleaned.append("finally")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(interrupt.Interrupted) as raised:
            interrupt.run_async(work)
        gc.collect()
    assert raised.value.exit_code == 143
    assert cleaned == ["finally"]
    assert not [w for w in caught if "never awaited" in str(w.message)]


def test_a_signal_while_the_loop_is_made_waits_for_the_loop(handlers: None) -> None:
    started: list[str] = []

    async def work() -> None:
        started.append("ran")

    def make():  # runs inside the set-up section, where a raise would split the loop
        coroutine = work()
        os.kill(os.getpid(), signal.SIGINT)  # raised here, it would never be awaited
        return coroutine

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(interrupt.Interrupted) as raised:
            interrupt.run_async(make)
        gc.collect()
    assert raised.value.exit_code == 130
    assert started == []  # cancelled before it ran, and closed: no "never awaited"
    assert not [w for w in caught if "never awaited" in str(w.message)]


def test_without_a_signal_it_is_asyncio_run(handlers: None) -> None:
    async def work() -> int:
        await asyncio.sleep(0)
        return 42

    assert interrupt.run_async(work) == 42
