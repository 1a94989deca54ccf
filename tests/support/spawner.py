"""Run a command from a small process, so its peak RSS (wait4) is its own.

Linux records the parent's resident pages in a forked child's peak RSS, so a command
forked from a pytest process holding hundreds of MB reports that much; a forkserver
process (a fresh interpreter) forks it instead.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import subprocess
from typing import Any

_POOL: Any = None


def _run(args: list[str], cwd: str, env: dict[str, str], out: str, err: str) -> tuple[int, int]:
    with open(out, "w") as stdout, open(err, "w") as stderr:
        process = subprocess.Popen(args, cwd=cwd, stdout=stdout, stderr=stderr, env=env)
        _, status, usage = os.wait4(process.pid, 0)
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss


def run_small(
    args: list[str], cwd: str, env: dict[str, str], out: str, err: str
) -> tuple[int, int]:
    """(exit code, peak RSS in KB) of `args`, started from a small process."""
    global _POOL
    if _POOL is None:
        _POOL = multiprocessing.get_context("forkserver").Pool(1)
        atexit.register(_POOL.terminate)  # before interpreter teardown, not during it
    return _POOL.apply(_run, (args, cwd, env, out, err))
