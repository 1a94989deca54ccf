"""Shared pytest fixtures. Keep each engineer's fixtures in their own commented block."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from support import make_channel
from support.http import serve_directory

# ---------------------------------------------------------------------------------------
# Fixture conda channel (fixtures/make_channel.py) and HTTP serving (tests/helpers/http.py)
# The channel is deterministic, so building it once per session is safe; tests must not
# modify it: build a private one with `make_channel.build_channel(tmp_path, ...)` instead.
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def channel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The base fixture channel, built once per session (treat as read-only)."""
    return make_channel.build_channel(tmp_path_factory.mktemp("channel"))


@pytest.fixture(scope="session")
def newer_channel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same channel "months later": adds numpy 2.1.0, six 1.17.0, tzdata 2025a, ..."""
    return make_channel.build_channel(tmp_path_factory.mktemp("channel-newer"), newer=True)


@pytest.fixture(scope="session")
def channel_url(channel_dir: Path) -> str:
    """`file://` URL of `channel_dir`, as lockfiles record it."""
    return channel_dir.as_uri()


@pytest.fixture(scope="session")
def http_channel(channel_dir: Path) -> Iterator[str]:
    """`channel_dir` served at `http://127.0.0.1:PORT` (no trailing slash) for the session."""
    with serve_directory(channel_dir) as url:
        yield url


@pytest.fixture
def serve_dir() -> Iterator[Callable[..., str]]:
    """Factory: `serve_dir(path, auth=None) -> url`; servers stop when the test ends."""
    with ExitStack() as stack:

        def serve(path: Path | str, auth: tuple[str, str] | None = None) -> str:
            return stack.enter_context(serve_directory(path, auth=auth))

        yield serve


# ------------------------------------------------------------------ end of channel block
