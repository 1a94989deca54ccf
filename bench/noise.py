"""Measure each figure's noise band: the spread of its ratio over repeated runs.

    python bench/noise.py [--repeat 3] [--full] [--write]

Runs every script of bench/run.py's SCRIPTS `--repeat` times (`--quick` sizes unless
`--full`) and prints, per figure, the band `max / min - 1` of its ratio. With `--write`
the bands go into bench/results.json's `noise_bands` (figures not measured keep theirs),
with a note of when, how many runs and the machine's load. `bench/run.py` calls a figure
a regression only when it is worse than the recorded ratio by more than its band.

Bands measured on a busy machine are wide and let real regressions through: measure them
on a quiet one (load average near 0, nothing else running) before relying on the gate.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import COMMITTED, run_scripts  # noqa: E402

#: a band is never narrower than this: a few runs that agree by luck are not a promise
#: (3 runs on the shared machine gave monorepo.check ±7%, and the next run was 19% off)
FLOOR = 0.15


def bands(runs: list[list[dict]]) -> dict[str, float]:
    """Per figure id, `max / min - 1` of its ratio over the runs (FLOOR at least)."""
    ratios: dict[str, list[float]] = defaultdict(list)
    for figures in runs:
        for figure in figures:
            if figure.get("ratio"):
                ratios[figure["id"]].append(figure["ratio"])
    return {
        key: round(max(FLOOR, max(values) / min(values) - 1), 2)
        for key, values in sorted(ratios.items())
        if len(values) > 1
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="full sizes (minutes per run)")
    parser.add_argument("--write", action="store_true", help="store them in results.json")
    args = parser.parse_args()
    runs = []
    started = time.monotonic()
    for index in range(args.repeat):
        print(f"noise: run {index + 1} of {args.repeat}", file=sys.stderr)
        runs.append(run_scripts(quick=not args.full))
    measured = bands(runs)
    for key, band in measured.items():
        print(f"{key:<40} ±{band * 100:.0f}%")
    if args.write:
        committed = json.loads(COMMITTED.read_text()) if COMMITTED.is_file() else {}
        committed["noise_bands"] = {**committed.get("noise_bands", {}), **measured}
        load = os.getloadavg()[0]
        committed["noise_note"] = (
            f"bands = max/min - 1 of the ratio over {args.repeat} runs of "
            f"`bench/noise.py{' --full' if args.full else ''}` ({len(os.sched_getaffinity(0))} "
            f"cores, load average {load:.1f} at the end, {time.monotonic() - started:.0f} s, "
            f"{time.strftime('%Y-%m-%d')}); re-measure on a quiet machine"
        )
        COMMITTED.write_text(json.dumps(committed, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
