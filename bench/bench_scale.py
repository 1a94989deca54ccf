"""Scale benchmark: a 100,000-entry conda-lock.yml through inventory, diff and check.

Generates (deterministically) a conda-lock.yml of ENTRIES package entries over 4 platforms
in repro-audit's own output format (conda-lock v1, dependencies, hashes), a second lock
with ~2% of the entries changed, and a project (environment.yml naming a few packages
beside the lock, so `check` has specs to meet and RA007 findings to cap). Then, each in a
fresh process, wall time and peak RSS (wait4 ru_maxrss) of:
  - `python -c "import yaml, json"`                              (baseline: start-up)
  - a plain line count of the lock in Python                     (baseline: reading it)
  - `repro-audit inventory conda-lock.yml --format json`         (target <= 5 s, 400 MB)
  - `repro-audit inventory conda-lock.yml -p linux-64`           (table)
  - `repro-audit diff old.yml new.yml --format json`             (target <= 10 s)
  - `repro-audit check PROJECT --format json` and human          (target <= 5 s)

    python bench/bench_scale.py [--entries 100000] [--runs 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

PLATFORMS = ["linux-64", "osx-64", "osx-arm64", "win-64"]


def _entry(name: str, version: str, build: str, platform: str, deps: list[str]) -> str:
    url = f"https://conda.anaconda.org/conda-forge/{platform}/{name}-{version}-{build}.conda"
    sha = hashlib.sha256(url.encode()).hexdigest()
    md5 = hashlib.md5(url.encode()).hexdigest()
    lines = [
        f"- name: {name}",
        f"  version: {version}",
        "  manager: conda",
        f"  platform: {platform}",
        "  dependencies:" + ("" if deps else " {}"),
        *(f"    {d}: '>=1.0'" for d in deps),
        f"  url: {url}",
        "  hash:",
        f"    md5: {md5}",
        f"    sha256: {sha}",
        f"  build: {build}",
        "  category: main",
        "  optional: false",
    ]
    return "\n".join(lines) + "\n"


def write_lock(path: Path, entries: int, *, changed: float = 0.0) -> None:
    """A conda-lock.yml with `entries` packages; `changed` of them with another version."""
    per = entries // len(PLATFORMS)
    head = [
        "version: 1",
        "metadata:",
        "  content_hash:",
        *(f"    {p}: {hashlib.sha256(p.encode()).hexdigest()}" for p in PLATFORMS),
        "  channels:",
        "  - url: conda-forge",
        "    used_env_vars: []",
        "  platforms:",
        *(f"  - {p}" for p in PLATFORMS),
        "  sources:",
        "  - environment.yml",
        "package:",
    ]
    step = int(1 / changed) if changed else 0
    with path.open("w", encoding="utf-8") as out:
        out.write("\n".join(head) + "\n")
        for platform in PLATFORMS:
            for i in range(per):
                version = f"1.{i % 50}.{i % 7}"
                if step and i % step == 0:
                    version = f"2.{i % 50}.0"
                deps = [f"pkg{(i * 7 + k) % per:06d}" for k in range(1, 4)] if i else []
                out.write(_entry(f"pkg{i:06d}", version, f"h{i % 997:07x}_0", platform, deps))


def write_project(root: Path, entries: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_lock(root / "conda-lock.yml", entries)
    (root / "environment.yml").write_text(
        "channels:\n  - conda-forge\ndependencies:\n  - pkg000001\n  - pkg000002\n"
        "platforms:\n" + "".join(f"  - {p}\n" for p in PLATFORMS)
    )
    return root


def measure(cmd: list[str], cwd: Path, runs: int) -> tuple[float, float, float, int]:
    """(median wall seconds, median CPU seconds, peak RSS MB, exit code) over `runs` runs.

    CPU (user + system) is reported too: on a shared 2-core machine wall time moves with
    the load of other jobs, CPU time much less.
    """
    times, cpus, peaks, code = [], [], [], 0
    for _ in range(runs):
        started = time.perf_counter()
        with open(os.devnull, "wb") as sink:
            proc = subprocess.Popen(cmd, cwd=cwd, stdout=sink, stderr=subprocess.PIPE)
            _, status, usage = os.wait4(proc.pid, 0)
        times.append(time.perf_counter() - started)
        cpus.append(usage.ru_utime + usage.ru_stime)
        peaks.append(usage.ru_maxrss / 1024)
        code = os.waitstatus_to_exitcode(status)
        if code < 0:
            print(f"CRASH: {' '.join(cmd)} killed by signal {-code}", file=sys.stderr)
    return statistics.median(times), statistics.median(cpus), max(peaks), code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        project = work / "project"
        if not (project / "conda-lock.yml").exists():
            write_project(project, args.entries)
            write_lock(work / "new.yml", args.entries, changed=0.02)
        size = (project / "conda-lock.yml").stat().st_size / 1e6
        exe = [sys.executable, "-m", "audit"]
        count = "import sys; print(sum(1 for _ in open(sys.argv[1], encoding='utf-8')))"
        cases = [
            ("python start-up (baseline)", [sys.executable, "-c", "import yaml, json"], None),
            (
                "line count of the lock (baseline)",
                [sys.executable, "-c", count, "conda-lock.yml"],
                None,
            ),
            (
                "inventory --format json (all platforms)",
                [*exe, "inventory", "conda-lock.yml", "--format", "json"],
                (5, 400),
            ),
            (
                "inventory -p linux-64 (table)",
                [*exe, "inventory", "conda-lock.yml", "-p", "linux-64"],
                None,
            ),
            (
                "diff old new --format json",
                [
                    *exe,
                    "diff",
                    "conda-lock.yml",
                    str(work / "new.yml"),
                    "--format",
                    "json",
                    "--fail-on",
                    "none",
                ],
                (10, None),
            ),
            ("check --format json", [*exe, "check", ".", "--format", "json"], (5, None)),
            ("check (human, capped)", [*exe, "check", "."], (5, None)),
        ]
        print(f"lock: {args.entries:,} entries, {size:.1f} MB; median of {args.runs} runs")
        print(f"load average before: {os.getloadavg()[0]:.1f} (2 cores)")
        print(f"{'case':45} {'wall':>8} {'cpu':>8} {'peak RSS':>10} {'exit':>5}  target")
        for label, cmd, target in cases:
            wall, cpu, rss, code = measure(cmd, project, args.runs)
            goal = ""
            if target:
                goal = f"<= {target[0]} s" + (f", <= {target[1]} MB" if target[1] else "")
                ok = wall <= target[0] and (target[1] is None or rss <= target[1])
                goal += " ok" if ok else " MISSED"
            print(f"{label:45} {wall:7.2f}s {cpu:7.2f}s {rss:8.0f}MB {code:5d}  {goal}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
