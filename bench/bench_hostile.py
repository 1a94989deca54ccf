"""Hostile inputs against the real CLI: each must end in <= 2 s and <= 200 MB peak RSS,
with exit 1 or 2 and no traceback (issue targets; BENCHMARKS.md).

Every case builds its input in a scratch folder (nothing is read from the corpus) and
runs `repro-audit ARGS` there as a user would; the child's wall time and peak RSS come
from wait4. The baseline of the same run is `repro-audit --version` (interpreter and CLI
start-up), so `ratio` says how much of a case is more than starting up.

    python bench/bench_hostile.py [--runs 3] [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import cli, emit, figure  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.hostile import bomb_lines, bomb_lock  # noqa: E402

TARGET_SECONDS = 2.0
TARGET_RSS_MB = 200.0
ENV = "channels: [conda-forge]\ndependencies:\n  - six\nplatforms: [linux-64]\n"



def _junk_lock(size: int) -> str:
    """A conda-lock.yml of `size` bytes of entries no solver wrote (cost 78 s, 1.4 GB once)."""
    head = "version: 1\nmetadata:\n  platforms: [linux-64]\npackage:\n"
    entry = (
        "- name: junk\n  version: 1.0\n  manager: conda\n  platform: linux-64\n"
        "  url: https://x/linux-64/junk-1.0-0.conda\n  hash: {md5: 0}\n"
    )
    return head + entry * (size // len(entry))

def bomb_env() -> str:
    return "\n".join(["x:", *bomb_lines(indent="  "), "dependencies:", "  - six", ""])


def record(inventory: object) -> str:
    return json.dumps(
        {
            "schema": 1,
            "kind": "repro-audit/build-record",
            "inputs": {"lockfile": {"path": "conda-lock.yml", "sha256": "0" * 64}},
            "outputs": {"image_id": "sha256:" + "1" * 64},
            "inventory": inventory,
        }
    )


@dataclass
class Case:
    id: str
    what: str
    files: dict[str, str | bytes]
    args: list[str]


def cases() -> list[Case]:
    good_lock = bomb_lock().split("  custom_metadata:")[0] + "package: []\n"
    deep_json = "[" * 200_000 + "]" * 200_000
    return [
        Case(
            "bomb-lock-check",
            "alias bomb in conda-lock.yml: check",
            {"environment.yml": ENV, "conda-lock.yml": bomb_lock()},
            ["check"],
        ),
        Case(
            "bomb-lock-lockcheck",
            "alias bomb in conda-lock.yml: lock --check",
            {"environment.yml": ENV, "conda-lock.yml": bomb_lock()},
            ["lock", "--check"],
        ),
        Case(
            "bomb-lock-merge",
            "alias bomb in conda-lock.yml: merge-lock",
            {"base.yml": good_lock, "ours.yml": good_lock, "theirs.yml": bomb_lock()},
            ["merge-lock", "base.yml", "ours.yml", "theirs.yml"],
        ),
        Case(
            "bomb-env-check",
            "alias bomb in environment.yml: check",
            {"environment.yml": bomb_env()},
            ["check"],
        ),
        Case(
            "bomb-env-lock",
            "alias bomb in environment.yml: lock",
            {"environment.yml": bomb_env()},
            ["lock"],
        ),
        Case(
            "deep-yaml",
            "500-deep flow nesting in environment.yml: lock --check",
            {"environment.yml": "dependencies:\n  - " + "[" * 500 + "]" * 500 + "\n"},
            ["lock", "--check"],
        ),
        Case(
            "escapes",
            "terminal escapes in a spec and a FROM: check --format github",
            {
                "environment.yml": 'channels: [c]\ndependencies:\n  - "numpy\\x1b]0;pwned\\x07'
                '\\x1b[2J"\n',
                "Dockerfile": "FROM evil\x1b[2J:1\n",
            },
            ["check", "--format", "github"],
        ),
        Case(
            "utf16",
            "UTF-16 environment.yml (PowerShell 5 export): check",
            {"environment.yml": ENV.encode("utf-16")},
            ["check"],
        ),
        Case(
            "big-env",
            "a 60 MB environment.yml: check",
            {"environment.yml": ENV + "# " + "x" * (60 << 20) + "\n"},
            ["check"],
        ),
        Case(
            "big-lock",
            "a 100 MB conda-lock.yml of 830,000 junk entries: check",
            {"environment.yml": ENV, "conda-lock.yml": _junk_lock(100 << 20)},
            ["check"],
        ),
        Case(
            "digest",
            "FROM with a 63-digit digest: check --format sarif",
            {"Dockerfile": "FROM golang:1.24.2-alpine3.20@sha256:" + "a" * 63 + "\n"},
            ["check", "--format", "sarif"],
        ),
        Case(
            "continuations",
            "Dockerfile of 20,000 line continuations: check",
            {"Dockerfile": "FROM a@sha256:" + "0" * 64 + "\nRUN " + "\\\n" * 20000 + "true\n"},
            ["check"],
        ),
        Case(
            "bigint",
            "a 5,000-digit integer in conda-lock.yml: lock --check",
            {
                "environment.yml": ENV,
                "conda-lock.yml": good_lock.replace("version: 1", "version: " + "9" * 5000),
            },
            ["lock", "--check"],
        ),
        Case(
            "record-type",
            "build record with inventory: 12345: verify",
            {"build-record.json": record(12345)},
            ["verify", "build-record.json"],
        ),
        Case(
            "record-deep",
            "build record nested 200,000 deep: verify",
            {"build-record.json": record(0).replace("0}", deep_json + "}")},
            ["verify", "build-record.json"],
        ),
        Case(
            "compose-bomb",
            "alias bomb in compose.yaml: check",
            {"compose.yaml": "\n".join(["x-bomb:", *bomb_lines(indent="  "), "services: {}", ""])},
            ["check"],
        ),
    ]


def _spawn(args: list[str], cwd: str, env: dict[str, str]) -> tuple[int, float, float, str]:
    started = time.perf_counter()
    with open(os.path.join(cwd, ".err"), "w+") as err:
        process = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        err.seek(0)
        text = err.read()
    return os.waitstatus_to_exitcode(status), wall, usage.ru_maxrss / 1024, text


_POOL: Any = None


def run_one(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, float, float, str]:
    """(exit code, wall seconds, peak RSS MB, stderr) of `args`, forked from a small
    forkserver process: Linux counts a forking parent's resident pages into the child's
    peak RSS, and this script holds the big inputs it writes."""
    global _POOL
    if _POOL is None:
        _POOL = multiprocessing.get_context("forkserver").Pool(1)
    return _POOL.apply(_spawn, (args, str(cwd), env))


def measure(case: Case, runs: int, scratch: Path, env: dict[str, str]) -> dict:
    folder = scratch / case.id
    timings: list[float] = []
    peak, code, err = 0.0, 0, ""
    for _ in range(runs):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        for name, data in case.files.items():
            (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode())
        code, wall, rss, err = run_one([*cli(), *case.args], folder, env)
        timings.append(wall)
        peak = max(peak, rss)
    seconds = statistics.median(timings)
    return {
        "case": case,
        "seconds": seconds,
        "rss_mb": peak,
        "code": code,
        "traceback": "Traceback" in err,
        "ok": code in (1, 2)
        and "Traceback" not in err
        and seconds <= TARGET_SECONDS
        and peak <= TARGET_RSS_MB,
    }


def baseline(runs: int, scratch: Path, env: dict[str, str]) -> float:
    return statistics.median(run_one([*cli(), "--version"], scratch, env)[1] for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one run per case")
    parser.add_argument("--json", type=Path, default=None)
    opts = parser.parse_args()
    runs = 1 if opts.quick else opts.runs
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        scratch = Path(tmp)
        env = {**os.environ, "REPRO_AUDIT_CACHE_DIR": str(scratch / ".cache"), "NO_COLOR": "1"}
        start = baseline(runs, scratch, env)
        rows = [measure(case, runs, scratch, env) for case in cases()]
    if _POOL is not None:
        _POOL.terminate()
    report(rows, start, runs, opts.json)
    if not all(r["ok"] for r in rows):
        sys.exit(1)


def report(rows: list[dict], start: float, runs: int, out: Path | None) -> None:
    print(f"{'case':<16} {'exit':>4} {'wall s':>7} {'RSS MB':>7}  verdict  what")
    figures = []
    for row in rows:
        case: Case = row["case"]
        verdict = "ok" if row["ok"] else ("TRACEBACK" if row["traceback"] else "MISSED")
        print(
            f"{case.id:<16} {row['code']:>4} {row['seconds']:>7.2f} {row['rss_mb']:>7.0f}"
            f"  {verdict:<7}  {case.what}"
        )
        entry = figure(
            f"hostile.{case.id}",
            case.what,
            row["seconds"],
            "repro-audit --version",
            start,
            None,
            f"python bench/bench_hostile.py --runs {runs}",
        )
        entry.update(
            rss_mb=round(row["rss_mb"], 1),
            target_seconds=TARGET_SECONDS,
            target_rss_mb=TARGET_RSS_MB,
            target_text=f"<= {TARGET_SECONDS:.0f} s, <= {TARGET_RSS_MB:.0f} MB "
            f"(was {row['rss_mb']:.0f} MB, exit {row['code']})",
            in_target=row["ok"],
        )
        figures.append(entry)
    worst = max(rows, key=lambda r: r["seconds"])
    print(
        f"start-up (repro-audit --version) {start:.2f} s; slowest {worst['case'].id} "
        f"{worst['seconds']:.2f} s; peak RSS {max(r['rss_mb'] for r in rows):.0f} MB; "
        f"targets <= {TARGET_SECONDS:.0f} s and <= {TARGET_RSS_MB:.0f} MB, exit 1 or 2, "
        f"no traceback: {sum(r['ok'] for r in rows)}/{len(rows)} cases"
    )
    emit(figures, out)


if __name__ == "__main__":
    main()
