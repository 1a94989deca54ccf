"""Benchmark `repro-audit diff` and `repro-audit drift` (history walk).

1. Two synthetic inventories of PACKAGES packages (JSON written by Inventory.to_json; the
   second has ~2% changes of every kind). Each in a fresh process, median of ROUNDS:
     - load only: `json.load` of both files
     - load only: `read_inventory` of both files (the same Inventory objects diff builds)
     - `repro-audit diff a.json b.json --format json > /dev/null`
   and in-process `DeepDiff(list_a, list_b, ignore_order=True)` on the same package dicts,
   at a smaller size (it is super-linear; see the printed extrapolation).
2. History: the pangeo conda-lock.yml (../shared/data, 754 entries) committed REVISIONS
   times with synthetic edits (version bumps, rebuilds, now and then an environment.yml
   edit) into a temp git repo; `repro-audit drift --no-upstream --no-images -n REVISIONS`.

    python bench/bench_diff.py [--packages 50000] [--deepdiff-size 5000] [--revisions 200]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

from common import cli, emit, figure, shared_data  # noqa: E402

PANGEO = shared_data() / "lockfiles/conda-lock/example/pangeo/conda-lock.yml"
#: the figures this script emits (`--json PATH`), filled as it runs
FIGURES: list[dict] = []

from audit.inventory import Inventory, Package  # noqa: E402


def make_inventories(n: int, seed: int = 7) -> tuple[Inventory, Inventory]:
    rng = random.Random(seed)
    base = "https://conda.anaconda.org/conda-forge/linux-64"
    old: list[Package] = []
    for i in range(n):
        manager = "pip" if i % 10 == 0 else "conda"
        name = f"pkg-{i:06d}"
        version = f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}"
        build = f"h{rng.getrandbits(28):07x}_0" if manager == "conda" else ""
        deps = tuple(f"pkg-{rng.randrange(n):06d} >={rng.randint(0, 5)}" for _ in range(3))
        old.append(
            Package(
                manager,
                name,
                version,
                build,
                channel="conda-forge" if manager == "conda" else "",
                platform="linux-64" if manager == "conda" else "",
                url=f"{base}/{name}-{version}-{build}.conda",
                sha256=f"{rng.getrandbits(256):064x}",
                depends=deps,
            )
        )
    new = list(old)
    for index in rng.sample(range(n), n // 50):  # 2% changed
        p = new[index]
        roll = rng.random()
        if roll < 0.4:
            new[index] = Package(**{**p.to_json(), "version": p.version + ".1"})
        elif roll < 0.55:
            new[index] = Package(**{**p.to_json(), "build": p.build + "1", "depends": p.depends})
        elif roll < 0.65:
            new[index] = Package(**{**p.to_json(), "sha256": "0" * 64, "depends": p.depends})
        elif roll < 0.8:
            new[index] = Package(**{**p.to_json(), "depends": (*p.depends[:2], "extra-dep >=1")})
        else:
            new[index] = None  # type: ignore[call-overload]
    kept = [p for p in new if p is not None]
    kept += [Package("conda", f"new-{i}", "1.0", "h0_0") for i in range(n // 200)]
    return (
        Inventory("a.json", "linux-64", tuple(old)),
        Inventory("b.json", "linux-64", tuple(kept)),
    )


def timed(cmd: list[str] | str, rounds: int, **kw: object) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]
        times.append(time.perf_counter() - start)
    # the least-disturbed run: on a shared machine the others only add other work's time
    return min(times)


def cpu_seconds(cmd: list[str], **kw: object) -> float:
    """User + system CPU seconds of one run of `cmd` (waiting for a core is not counted)."""
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]
    _, _, usage = os.wait4(process.pid, 0)
    return usage.ru_utime + usage.ru_stime


def paired(cmd: list[str], baseline: list[str], rounds: int, **kw: object) -> tuple[float, float]:
    """(seconds, baseline seconds) in CPU time, run alternately, one pair per round: the
    pair whose ratio is the median of the rounds' ratios. On a shared machine the two
    sides of a pair see the same load, where separate series see different ones."""
    pairs = [(cpu_seconds(cmd, **kw), cpu_seconds(baseline, **kw)) for _ in range(rounds)]
    pairs.sort(key=lambda pair: pair[0] / pair[1])
    return pairs[len(pairs) // 2]


def bench_diff(args: argparse.Namespace, work: Path) -> None:
    old, new = make_inventories(args.packages)
    a, b = work / "a.json", work / "b.json"
    a.write_text(json.dumps(old.to_json()))
    b.write_text(json.dumps(new.to_json()))
    py = sys.executable
    load_json = timed(
        [py, "-c", f"import json; json.load(open({str(a)!r})); json.load(open({str(b)!r}))"],
        args.rounds,
    )
    load_inv = timed(
        [
            py,
            "-c",
            f"from audit.inventory import read_inventory as r; r({str(a)!r}); r({str(b)!r})",
        ],
        args.rounds,
    )
    diff = timed([*cli(), "diff", str(a), str(b), "--format", "json"], args.rounds)
    diff_cpu, load_cpu = paired(
        [*cli(), "diff", str(a), str(b), "--format", "json"],
        [py, "-c", f"import json; json.load(open({str(a)!r})); json.load(open({str(b)!r}))"],
        max(args.rounds, 5),
    )
    FIGURES.append(
        figure(
            "diff.inventories",
            f"diff --format json of two {args.packages:,}-package inventories (CPU s)",
            diff_cpu,
            "json.load of both files",
            load_cpu,
            2.0,
            f"python bench/bench_diff.py --only diff --packages {args.packages}",
        )
    )
    print(
        f"diff of {args.packages} vs {len(new.packages)} packages "
        f"(~2% changed), best of {args.rounds}, fresh processes:"
    )
    print(f"  load both JSON files (json.load):         {load_json:6.2f} s")
    print(f"  load both as inventories (read_inventory): {load_inv:6.2f} s")
    print(
        f"  repro-audit diff --format json:            {diff:6.2f} s  "
        f"({diff / load_json:.2f}x json.load, {diff / load_inv:.2f}x read_inventory)"
    )
    print(
        f"  CPU time, alternate runs, median ratio:    {diff_cpu:6.2f} s  "
        f"({diff_cpu / load_cpu:.2f}x json.load's {load_cpu:.2f} s)"
    )

    from audit.diff.classify import diff_inventories

    try:
        from deepdiff import DeepDiff  # the `bench` extra: a general differ to compare with
    except ImportError:
        print("  DeepDiff: skipped (pip install -e '.[bench]')")
        return

    size = args.deepdiff_size
    small_old, small_new = make_inventories(size, seed=11)
    list_a = [p.to_json() for p in small_old.packages]
    list_b = [p.to_json() for p in small_new.packages]
    start = time.perf_counter()
    DeepDiff(list_a, list_b, ignore_order=True)
    deep = time.perf_counter() - start
    start = time.perf_counter()
    diff_inventories(small_old, small_new)
    ours_small = time.perf_counter() - start
    start = time.perf_counter()
    diff_inventories(old, new)
    ours_full = time.perf_counter() - start
    print(
        f"  DeepDiff(list_a, list_b, ignore_order=True) on {size}: {deep:6.2f} s "
        f"(diff_inventories on the same: {ours_small:.3f} s, {deep / ours_small:.0f}x faster)"
    )
    linear = deep * args.packages / size
    print(
        f"  DeepDiff extrapolated to {args.packages} (linear, a lower bound): {linear:6.1f} s "
        f"-> repro-audit diff end to end is {linear / diff:.0f}x faster; "
        f"diff_inventories in-process on {args.packages}: {ours_full:.2f} s"
    )


#: The floor of any history walk: one git log and every revision's lock bytes read.
READ_HISTORY = """
import subprocess
shas = subprocess.run(["git", "log", "--format=%H", "--", "conda-lock.yml"],
                      capture_output=True, check=True).stdout.split()
batch = subprocess.run(["git", "cat-file", "--batch"], capture_output=True, check=True,
                       input=b"".join(s + b":conda-lock.yml\\n" for s in shas)).stdout
"""


def bench_history(args: argparse.Namespace, work: Path) -> None:
    if not PANGEO.is_file():
        print(f"history: skipped, {PANGEO} is absent")
        return
    rng = random.Random(3)
    repo = work / "repo"
    repo.mkdir()
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@x",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@x",
    }
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    lines = PANGEO.read_text().splitlines(keepends=True)
    versions = [  # unquoted versions only: appending to a quoted one breaks the YAML
        i for i, line in enumerate(lines) if line.startswith("  version: ") and "'" not in line
    ]
    builds = [i for i, line in enumerate(lines) if line.startswith("  url: ") and "_0." in line]
    spec = ["name: pangeo\nchannels: [conda-forge]\ndependencies:\n", "  - python 3.10.*\n"]
    start = time.perf_counter()
    for revision in range(args.revisions):
        for index in rng.sample(versions, 4):
            lines[index] = lines[index].rstrip("\n") + f".{revision}\n"
        if revision % 3 == 0:
            index = rng.choice(builds)  # a rebuild: build number 0 -> 1 in the file name
            lines[index] = lines[index].replace("_0.", "_1.", 1)
        if revision % 10 == 0:
            spec.append(f"  - extra-{revision}\n")
        (repo / "conda-lock.yml").write_text("".join(lines))
        (repo / "environment.yml").write_text("".join(spec))
        subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
        subprocess.run(
            ["git", "commit", "-q", "-m", f"r{revision}"],
            cwd=repo,
            check=True,
            env={**env, "GIT_COMMITTER_DATE": f"@{1_700_000_000 + revision * 3600}"},
        )
    build = time.perf_counter() - start
    cmd = [
        *cli(),
        "drift",
        "--no-upstream",
        "--no-images",
        "-n",
        str(args.revisions),
        "--report",
        str(work / "drift.html"),
    ]
    seconds = timed(cmd, args.rounds, cwd=repo)
    floor = timed([sys.executable, "-c", READ_HISTORY], args.rounds, cwd=repo)
    FIGURES.append(
        figure(
            "drift.history",
            f"drift --no-upstream --no-images -n {args.revisions} (+ HTML) of the pangeo lock",
            seconds,
            "git log + cat-file --batch of every revision's lock",
            floor,
            None,
            f"python bench/bench_diff.py --only history --revisions {args.revisions}",
        )
    )
    print(
        f"history: {args.revisions} revisions of the pangeo lock ({len(versions)} entries), "
        f"repo built in {build:.1f} s"
    )
    print(
        f"  repro-audit drift --no-upstream --no-images -n {args.revisions} "
        f"(+ HTML report): {seconds:6.2f} s (best of {args.rounds})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=50_000)
    parser.add_argument("--deepdiff-size", type=int, default=5_000)
    parser.add_argument("--revisions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("diff", "history"))
    parser.add_argument("--quick", action="store_true", help="smaller sizes (bench/run.py --quick)")
    parser.add_argument("--json", type=Path, help="write the figures here (bench/run.py)")
    args = parser.parse_args()
    if args.quick:
        # diff at the size of its target (the issue: 50,000 packages <= 2x json.load);
        # at 20,000 start-up weighs more than the work and the ratio says little
        args.packages, args.deepdiff_size, args.revisions = 50_000, 1_000, 100
    with tempfile.TemporaryDirectory(prefix="bench-diff-") as tmp:
        if args.only != "history":
            bench_diff(args, Path(tmp))
        if args.only != "diff":
            bench_history(args, Path(tmp))
    emit(FIGURES, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
