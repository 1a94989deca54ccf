"""Start-up cost of `--version` and `check` against an earlier revision, in one run.

    python bench/bench_startup.py --baseline REV [--project DIR] [--runs 11]

REV is checked out with `git worktree` into a temporary directory and both trees run the
same commands alternately with the same interpreter (PYTHONPATH picks the tree), so the
ratio is immune to how busy the machine is. Without --project, bench_check.py's project
(2,960 locked packages, two pinned Dockerfiles) is built first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(tree: Path, args: list[str], cwd: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "audit", *args], cwd=cwd, env=env, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", required=True, help="git revision to compare with")
    parser.add_argument("--project", type=Path, help="a project for `check` (default: built)")
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        old = Path(tmp) / "baseline"
        subprocess.run(
            ["git", "worktree", "add", "-q", "--detach", str(old), args.baseline],
            cwd=ROOT,
            check=True,
        )
        try:
            project = args.project
            if project is None:
                keep = Path(tmp) / "bench-check"
                subprocess.run(
                    [
                        sys.executable,
                        str(ROOT / "bench/bench_check.py"),
                        "--runs",
                        "1",
                        "--keep",
                        str(keep),
                    ],
                    check=True,
                    capture_output=True,
                )
                project = keep / "project"
            cases = {"--version": ["--version"], "check": ["check", "."]}
            times = {(c, t): [] for c in cases for t in ("baseline", "now")}
            for _ in range(args.runs):
                for case, argv in cases.items():
                    times[(case, "baseline")].append(timed(old, argv, project))
                    times[(case, "now")].append(timed(ROOT, argv, project))
            print(f"{'command':<24}{'baseline s':>12}{'now s':>10}{'ratio':>8}")
            for case in cases:
                before = statistics.median(times[(case, "baseline")])
                now = statistics.median(times[(case, "now")])
                print(
                    f"{'repro-audit ' + case:<24}{before:>12.3f}{now:>10.3f}{now / before:>7.2f}x"
                )
            print(f"\nmedian of {args.runs} alternating runs; baseline {args.baseline}")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT)


if __name__ == "__main__":
    main()
