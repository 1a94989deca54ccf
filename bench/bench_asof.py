"""`lock --as-of` on real inputs: its cost against a plain re-lock, and the real-world corpus.

    python bench/bench_asof.py [--runs 5]

1. Ratio: `lock --force --as-of DATE` against `lock --force` (same run, same channel: the
   real Anaconda snapshot in ../shared/data split by subdir), whole processes, warm caches.
   The difference is the survey (a gateway query counting newer and undated candidates).
2. Corpus: every file of ../shared/data/real-world/envs locked `--as-of 2018-06-01 -p
   linux-64` against that snapshot (`-c` overrides the files' channels; the pip index is a
   dead local port, so nothing leaves the machine). A file passes when the command ends
   with a documented exit code and, when it fails, one line on stderr and no traceback.
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REAL = ROOT.parent / "shared" / "data" / "real-world" / "envs"
sys.path.insert(0, str(HERE))

from bench_lock import split_defaults  # noqa: E402

ENV = "channels:\n  - {channel}\ndependencies:\n" + "".join(
    f"  - {s}\n" for s in ("python 3.6.*", "numpy", "pandas", "scipy", "matplotlib")
)


def cli(args: list[str], cwd: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REPRO_AUDIT_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "audit", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def once(args: list[str], cwd: Path, cache: Path) -> float:
    start = time.perf_counter()
    proc = cli(args, cwd, cache)
    if proc.returncode != 0:
        raise SystemExit(f"{args}: {proc.stderr}")
    return time.perf_counter() - start


def ratio(work: Path, channel: Path, runs: int) -> None:
    """Both commands alternately (so load drift hits both alike), medians compared."""
    project = work / "ratio"
    project.mkdir()
    (project / "environment.yml").write_text(ENV.format(channel=channel.as_uri()))
    base = ["lock", "-p", "linux-64", "--no-explicit", "--force"]
    as_of_args = [*base, "--as-of", "2018-06-01"]
    cache = work / "cache"
    once(base, project, cache)  # warm-up both
    once(as_of_args, project, cache)
    plain, as_of = [], []
    for _ in range(runs):
        plain.append(once(base, project, cache))
        as_of.append(once(as_of_args, project, cache))
    a, b = statistics.median(plain), statistics.median(as_of)
    print(f"lock --force                     {a:.3f}s  (median of {runs}, alternating)")
    print(f"lock --force --as-of 2018-06-01  {b:.3f}s   ratio {b / a:.2f}x")


def corpus(work: Path, channel: Path) -> None:
    if not REAL.is_dir():
        print(f"corpus skipped: {REAL} not found")
        return
    outcomes: collections.Counter[str] = collections.Counter()
    passed = warned = 0
    files = sorted(p for p in REAL.iterdir() if p.suffix in (".yml", ".yaml"))
    for path in files:
        project = work / path.stem
        project.mkdir()
        args = [
            "lock",
            "-f",
            str(path),
            "--lockfile",
            str(project / "conda-lock.yml"),
            "-p",
            "linux-64",
            "-c",
            channel.as_uri(),
            "--no-explicit",
            "--as-of",
            "2018-06-01",
            "--pypi-index-url",
            "http://127.0.0.1:9/simple",
        ]
        proc = cli(args, project, work / "cache")
        # conda-lock's parser warns about editable pip lines on stderr too: judged apart
        lines = [ln for ln in proc.stderr.strip().splitlines() if not ln.startswith("Warning:")]
        warned += len(lines) != len(proc.stderr.strip().splitlines())
        ok = proc.returncode in (0, 1, 2, 3) and "Traceback" not in proc.stderr
        ok = ok and (proc.returncode == 0 or len(lines) == 1)
        passed += ok
        outcomes[f"exit {proc.returncode}"] += 1
        first = lines[0][:110] if lines else ""
        print(f"  {'ok  ' if ok else 'FAIL'} {proc.returncode} {path.name[:48]:48} {first}")
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items()))
    print(f"corpus: {passed}/{len(files)} pass ({summary}; {warned} with parser warnings)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-asof-") as tmp:
        work = Path(tmp)
        channel = split_defaults(work / "defaults")
        ratio(work, channel, args.runs)
        corpus(work, channel)


if __name__ == "__main__":
    main()
