"""Stress: does a bare py-rattler solve script crash (SIGSEGV), and under which variant?

A bare script calling `rattler.solve` on the Anaconda snapshot with a warm Gateway cache
was seen to exit 139 in about 1 run of 13. This runs N fresh processes per variant and
counts how each ended, to find what the crash needs:

  bare           the script as bench_lock.py's baseline (records alive until exit)
  os-exit        the same, then os._exit(0) after flushing: no interpreter teardown
  drop-first     the same, but records and gateway deleted and gc run before exit
  gateway-local  the Gateway made inside the coroutine, as `repro-audit lock` does
  lock           `repro-audit lock --force` on the same channel (needs --with-cli)

    python bench/stress_solve.py [--runs 200] [--variants bare os-exit ...] [--with-cli]

Not a CI test: several hundred processes take minutes. Prints a table of exit statuses.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_lock import split_defaults  # noqa: E402

SPECS = ["python 3.6.*", "numpy", "pandas", "scipy", "matplotlib"]  # as bench_lock.py

HEAD = """
import asyncio, gc, os, sys, json, rattler
from rattler import Channel, Gateway, GenericVirtualPackage, PackageName, Version, BuildString
channel, platform, cache = sys.argv[1], sys.argv[2], sys.argv[3]
specs = json.loads(sys.argv[4])
vp = [GenericVirtualPackage(PackageName(n), Version(v), BuildString("0"))
      for n, v in (("__glibc", "2.28"), ("__unix", "0"), ("__linux", "5.10"))]
"""

VARIANTS = {
    "bare": HEAD
    + """
records = asyncio.run(rattler.solve([Channel(channel)], specs, gateway=Gateway(cache_dir=cache),
                      platforms=[platform, "noarch"], virtual_packages=vp))
print(len(records))
""",
    "os-exit": HEAD
    + """
records = asyncio.run(rattler.solve([Channel(channel)], specs, gateway=Gateway(cache_dir=cache),
                      platforms=[platform, "noarch"], virtual_packages=vp))
print(len(records))
sys.stdout.flush(); sys.stderr.flush()
os._exit(0)
""",
    "drop-first": HEAD
    + """
gateway = Gateway(cache_dir=cache)
records = asyncio.run(rattler.solve([Channel(channel)], specs, gateway=gateway,
                      platforms=[platform, "noarch"], virtual_packages=vp))
print(len(records))
del records, gateway
gc.collect()
""",
    "gateway-local": HEAD
    + """
async def main():
    gateway = Gateway(cache_dir=cache)
    found = await rattler.solve([Channel(channel)], specs, gateway=gateway,
                                platforms=[platform, "noarch"], virtual_packages=vp)
    return [str(r.name.normalized) for r in found]
print(len(asyncio.run(main())))
""",
}


def status(code: int) -> str:
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit {code}"


#: Where crashed runs died: faulthandler's innermost Python frame (or "no Python frame").
WHERE: collections.Counter = collections.Counter()


def run_variant(name: str, script: Path | None, args: list[str], runs: int) -> collections.Counter:
    counts: collections.Counter = collections.Counter()
    for _ in range(runs):
        cmd = [sys.executable, str(script), *args] if script else args
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        counts[status(done.returncode)] += 1
        if done.returncode < 0:
            WHERE[(name, _crash_site(done.stderr))] += 1
    return counts


def _crash_site(stderr: str) -> str:
    """faulthandler's report: the thread that crashed and its innermost frame."""
    lines = [line.strip() for line in stderr.splitlines()]
    for index, line in enumerate(lines):
        if line.startswith(("Fatal Python error", "thread '")):
            frames = [x for x in lines[index:] if x.startswith("File ")]
            head = line[:80]
            return f"{head} | {frames[0][:120]}" if frames else f"{head} | no Python frame"
    return lines[-1][:120] if lines else "no output"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    parser.add_argument("--with-cli", action="store_true", help="also stress `repro-audit lock`")
    parser.add_argument("--work", type=Path, default=HERE / ".work")
    args = parser.parse_args()
    args.work.mkdir(exist_ok=True)
    channel = split_defaults(args.work / "defaults")
    cache = args.work / "stress-cache"
    solve_args = [channel.as_uri(), "linux-64", str(cache), json.dumps(SPECS)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="stress-solve-") as tmp:
        for name in args.variants:
            script = Path(tmp) / f"{name}.py"
            script.write_text(VARIANTS[name])
            run_variant(name, script, solve_args, 1)  # warm the Gateway cache
            started = time.perf_counter()
            counts = run_variant(name, script, solve_args, args.runs)
            rows.append((name, counts, time.perf_counter() - started))
        if args.with_cli:
            project = Path(tmp) / "project"
            project.mkdir()
            env = project / "environment.yml"
            env.write_text(
                f"channels:\n  - {channel.as_uri()}\ndependencies:\n"
                + "".join(f"  - {s}\n" for s in SPECS)
                + "platforms:\n  - linux-64\n"
            )
            cli = [sys.executable, "-m", "audit", "lock", "-f", str(env), "--cache-dir", str(cache)]
            cli += ["--lockfile", str(project / "conda-lock.yml"), "--force"]
            started = time.perf_counter()
            counts = run_variant("lock", None, cli, args.runs)
            rows.append(("repro-audit lock --force", counts, time.perf_counter() - started))
    for (name, where), n in sorted(WHERE.items()):
        print(f"crash site [{name}] x{n}: {where}")
    print(f"{'variant':28} {'runs':>5}  outcomes  (seconds)")
    for name, counts, seconds in rows:
        outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
        print(f"{name:28} {sum(counts.values()):5d}  {outcomes}  ({seconds:.0f} s)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONFAULTHANDLER", "1")
    main()
