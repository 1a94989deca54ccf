"""What every bench script shares: where the CLI and the shared data are, and one JSON
shape for the figures (`bench/run.py` collects, compares and documents them).

A figure is one row: `{"id", "what", "seconds", "baseline", "baseline_seconds", "ratio",
"target", "command"}`; `ratio` is `seconds / baseline_seconds` measured in the same run
(absolute seconds alone move with the machine's load), `target` the ratio it must stay
at or under (None: no target).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]

# every process a bench script starts measures this tree's code, whichever copy of the
# package the interpreter has installed (an editable install may point at another clone)
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(REPO_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
)


def cli() -> list[str]:
    """The repro-audit command of this interpreter: the script beside `sys.executable`
    (the virtual environment's bin, activated or not), else `python -m audit`."""
    script = Path(sys.executable).with_name("repro-audit")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "audit"]


def shared_data() -> Path:
    """`shared/data` beside the repository or any folder above it (a clone, a worktree)."""
    for folder in REPO_ROOT.parents:
        candidate = folder / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return REPO_ROOT.parent / "shared" / "data"


def figure(
    id: str,
    what: str,
    seconds: float,
    baseline: str,
    baseline_seconds: float,
    target: float | None,
    command: str,
) -> dict[str, Any]:
    return {
        "id": id,
        "what": what,
        "seconds": round(seconds, 4),
        "baseline": baseline,
        "baseline_seconds": round(baseline_seconds, 4),
        "ratio": round(seconds / baseline_seconds, 3) if baseline_seconds else None,
        "target": target,
        "command": command,
    }


def emit(rows: list[dict[str, Any]], path: Path | None) -> None:
    """Write the figures to `path` (the `--json PATH` every bench script takes)."""
    if path is not None:
        path.write_text(json.dumps({"figures": rows}, indent=2, sort_keys=True) + "\n")
