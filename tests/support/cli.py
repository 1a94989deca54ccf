"""Run `repro-audit` as a user does: a subprocess, so exit codes and stderr are real."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def repro_audit(
    *args: str,
    cwd: Path | str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """`python -m audit ARGS` with `env` added to this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "audit", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )
