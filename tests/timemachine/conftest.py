"""Fixtures of the time-machine tests: a channel with releases at many dates (and undated).

The channel is `make_channel.build_channel(newer=True, undated=True)`: every base release
(2020-05 … 2024-06), the releases "published months later" (2025-01 … 2025-02), and
`legacy-data` 1.0.0 without a timestamp beside 2.0.0 of 2024-09-01.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import make_channel


@pytest.fixture(scope="session")
def dated_channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once per session; tests must not modify it."""
    return make_channel.build_channel(
        tmp_path_factory.mktemp("channel-dated"), newer=True, undated=True
    )
