"""Benchmark `repro-audit lock` against a minimal `rattler.solve` script, in one run.

Ratios, not absolute times, since these machines are noisy. Every figure is the median
of several runs of a whole process (interpreter start-up included), warm caches.

    python bench/bench_lock.py [--runs 5] [--quick] [--json PATH]

`--quick` (bench/run.py --quick): the synthetic channel on one platform only, 2 runs.

Channels: the real Anaconda snapshot in ../shared/data (split by subdir) and a synthetic
conda-forge-scale channel (≥ 200,000 records) from bench/gen_channel.py.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
sys.path.insert(0, str(HERE))

from common import emit, figure, shared_data  # noqa: E402
from gen_channel import generate, top_level_specs  # noqa: E402

#: the Anaconda snapshot, beside the repository or any folder above it (a worktree's too)
SHARED = shared_data() / "repodata" / "conda-defaults" / "index4.json"
#: the figures this script emits (`--json PATH`), filled as it runs
FIGURES: list[dict] = []

BASELINE = """
import asyncio, sys, json, rattler
from rattler import Channel, Gateway, GenericVirtualPackage, PackageName, Version, BuildString
channel, platform, cache = sys.argv[1], sys.argv[2], sys.argv[3]
specs = json.loads(sys.argv[4])
vp = [GenericVirtualPackage(PackageName(n), Version(v), BuildString("0"))
      for n, v in (("__glibc", "2.28"), ("__unix", "0"), ("__linux", "5.10"))]
records = asyncio.run(rattler.solve([Channel(channel)], specs, gateway=Gateway(cache_dir=cache),
                      platforms=[platform, "noarch"], virtual_packages=vp))
print(len(records))
"""


def split_defaults(out: Path) -> Path:
    """The Anaconda snapshot as a channel: one repodata.json per subdir."""
    if (out / "noarch" / "repodata.json").exists():
        return out
    data = json.loads(SHARED.read_text())
    subdirs: dict[str, dict] = {"noarch": {}, "linux-64": {}}
    for fn, rec in data.items():
        subdir = rec.get("subdir") or ("linux-64" if rec.get("platform") == "linux" else "noarch")
        subdirs.setdefault(subdir, {})[fn] = dict(rec, subdir=subdir)
    for subdir, recs in subdirs.items():
        (out / subdir).mkdir(parents=True, exist_ok=True)
        body = {"info": {"subdir": subdir}, "packages": recs, "packages.conda": {}}
        (out / subdir / "repodata.json").write_text(json.dumps(body))
    return out


#: Runs that died of a signal, per command label (reported, not fatal: see stress_solve.py).
CRASHES: dict[str, list[str]] = {}


def timed(cmd: list[str], runs: int, before: object = None, cwd: Path | None = None) -> float:
    """Median wall seconds of `cmd` over `runs` (one warm-up run first).

    A run killed by a signal (py-rattler's solve has been seen to segfault at exit) is
    recorded in CRASHES and run again, so one crash does not abort the whole benchmark;
    any other failure still stops it.
    """
    samples = []
    attempts = 0
    while len(samples) < runs + 1:
        if callable(before):
            before()
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        attempts += 1
        if proc.returncode < 0 and attempts <= 3 * (runs + 1):
            name = signal.Signals(-proc.returncode).name
            label = "rattler.solve script" if "-c" in cmd else " ".join(cmd[1:4])
            CRASHES.setdefault(label, []).append(name)
            print(f"CRASH ({name}): {' '.join(cmd[:4])} ...", file=sys.stderr)
            continue
        if proc.returncode not in (0,):
            raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")
        samples.append(elapsed)
    return statistics.median(samples[1:])


def env_file(path: Path, channel: Path, specs: list[str], platforms: list[str]) -> Path:
    lines = ["name: bench", "channels:", f"  - {channel.as_uri()}", "dependencies:"]
    lines += [f"  - {s}" for s in specs]
    lines += ["platforms:"] + [f"  - {p}" for p in platforms]
    path.write_text("\n".join(lines) + "\n")
    return path


def lock_cmd(env: Path, lockfile: Path, platforms: list[str], cache: Path) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "audit",
        "lock",
        "-f",
        str(env),
        "--lockfile",
        str(lockfile),
        "--cache-dir",
        str(cache),
    ]
    for p in platforms:
        cmd += ["-p", p]
    return cmd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="synthetic, 1 platform, 2 runs")
    parser.add_argument("--json", type=Path, help="write the figures here (bench/run.py)")
    args = parser.parse_args()
    if args.quick:
        args.runs = 2
    WORK.mkdir(exist_ok=True)
    cache = WORK / "cache"
    synth = WORK / "synth"
    if not (synth / "noarch" / "repodata.json").exists():
        counts = generate(synth)
        print(f"generated synthetic channel: {sum(counts.values())} records", file=sys.stderr)
    synth_records = sum(
        len(json.loads((synth / s / "repodata.json").read_text())["packages.conda"])
        for s in ("noarch", "linux-64", "osx-64", "osx-arm64", "win-64")
    )
    rows: list[tuple[str, str, str, str]] = []

    cases = []
    if SHARED.exists() and not args.quick:
        defaults = split_defaults(WORK / "defaults")
        cases.append(
            (
                "anaconda snapshot",
                defaults,
                ["python 3.6.*", "numpy", "pandas", "scipy", "matplotlib"],
            )
        )
    cases.append((f"synthetic ({synth_records:,} records)", synth, top_level_specs(90)))

    for label, channel, specs in cases:
        work = WORK / label.split()[0]
        work.mkdir(exist_ok=True)
        env = env_file(work / "environment.yml", channel, specs, ["linux-64"])
        lockfile = work / "conda-lock.yml"
        ours = timed(
            lock_cmd(env, lockfile, ["linux-64"], cache),
            args.runs,
            before=lambda lf=lockfile: lf.unlink(missing_ok=True),
        )
        base = timed(
            [
                sys.executable,
                "-c",
                BASELINE,
                channel.as_uri(),
                "linux-64",
                str(cache / "baseline"),
                json.dumps(specs),
            ],
            args.runs,
        )
        rows.append(
            (
                f"lock 1 platform, {label}",
                f"{ours:.3f}s",
                f"rattler.solve script {base:.3f}s",
                f"{ours / base:.2f}x (target <= 1.5x)",
            )
        )
        FIGURES.append(
            figure(
                f"lock.one_platform.{label.split()[0]}",
                f"lock, 1 platform, {label}",
                ours,
                "a bare rattler.solve script",
                base,
                1.5,
                f"python bench/bench_lock.py --runs {args.runs}"
                + (" --quick" if args.quick else ""),
            )
        )
    if args.quick:
        report(rows, args.runs)
        emit(FIGURES, args.json)
        return

    platforms = ["linux-64", "osx-64", "osx-arm64", "win-64"]
    work = WORK / "multi"
    work.mkdir(exist_ok=True)
    specs = top_level_specs(90)
    singles = {}
    for p in platforms:
        env = env_file(work / f"env-{p}.yml", synth, specs, [p])
        lockfile = work / f"lock-{p}.yml"
        singles[p] = timed(
            lock_cmd(env, lockfile, [p], cache),
            args.runs,
            before=lambda lf=lockfile: lf.unlink(missing_ok=True),
        )
    env = env_file(work / "environment.yml", synth, specs, platforms)
    lockfile = work / "conda-lock.yml"
    four = timed(
        lock_cmd(env, lockfile, platforms, cache),
        args.runs,
        before=lambda: lockfile.unlink(missing_ok=True),
    )
    slowest = max(singles.values())
    rows.append(
        (
            "lock 4 platforms, synthetic",
            f"{four:.3f}s",
            f"slowest single platform {slowest:.3f}s",
            f"{four / slowest:.2f}x (target <= 1.5x)",
        )
    )
    FIGURES.append(
        figure(
            "lock.four_platforms",
            "lock, 4 platforms of the synthetic channel",
            four,
            "the slowest single-platform lock",
            slowest,
            1.5,
            f"python bench/bench_lock.py --runs {args.runs}",
        )
    )

    # lock --check on the in-sync 4-platform lock
    subprocess.run(lock_cmd(env, lockfile, platforms, cache), check=True, capture_output=True)
    packages = sum(1 for line in lockfile.read_text().splitlines() if line.startswith("- name:"))
    check = timed([*lock_cmd(env, lockfile, platforms, cache), "--check"], args.runs)
    pass_time = timed([sys.executable, "-c", "pass"], args.runs)
    rows.append(
        (
            f"lock --check, in sync ({packages // 4} packages x 4 platforms)",
            f"{check:.3f}s",
            f"python -c pass {pass_time:.3f}s",
            "target <= 0.5s wall",
        )
    )
    FIGURES.append(
        figure(
            "lock.check",
            f"lock --check, in sync ({packages // 4} packages x 4 platforms; target 0.5 s wall)",
            check,
            "python -c pass",
            pass_time,
            None,
            f"python bench/bench_lock.py --runs {args.runs}",
        )
    )
    report(rows, args.runs)
    emit(FIGURES, args.json)


def report(rows: list[tuple[str, str, str, str]], runs: int) -> None:
    width = [max(len(r[i]) for r in rows) for i in range(4)]
    header = ("case", "repro-audit", "baseline", "ratio")
    width = [max(w, len(h)) for w, h in zip(width, header, strict=True)]
    print(" | ".join(h.ljust(w) for h, w in zip(header, width, strict=True)))
    print("-|-".join("-" * w for w in width))
    for row in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(row, width, strict=True)))
    print(f"\n{os.cpu_count()} cores, median of {runs} runs, warm caches")
    for what, signals in sorted(CRASHES.items()):
        print(f"crashed runs (re-run): {what}: {len(signals)} x {', '.join(sorted(set(signals)))}")


if __name__ == "__main__":
    main()
