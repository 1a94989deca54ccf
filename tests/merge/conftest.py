"""Fixtures of the merge tests: the time-machine helpers (tests/timemachine/tm_helpers.py)
on the path, so these tests run on their own too."""

from __future__ import annotations

import sys
from pathlib import Path

_TIMEMACHINE = str(Path(__file__).resolve().parents[1] / "timemachine")
if _TIMEMACHINE not in sys.path:
    sys.path.insert(0, _TIMEMACHINE)
