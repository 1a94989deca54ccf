"""Benchmark `repro-audit verify`: static checks against plain HEADs, rebuild against build.

1. Static: COUNT tiny artifacts in a channel directory served over HTTP on 127.0.0.1
   (`ThreadingHTTPServer`), a conda-lock.yml naming them (correct sha256) and a build
   record of it. Each in a fresh process, RUNS times:
     - `repro-audit verify build-record.json --json`     (HEAD per artifact, 32 threads)
     - a plain script: COUNT concurrent HTTP HEADs (ThreadPoolExecutor(32) + urllib)
   and the ratio of the medians (target ≤ 2×).
2. Rebuild (with `--rebuild`, needs dockerd, docker-registry, busybox-static): the fixture
   channel, a busybox base pushed to a local registry and pinned, a project locked and
   built once with a cold cache (`repro-audit build`), then `verify --rebuild` RUNS times
   (it always rebuilds from a fresh stage without Docker's build cache).

    python bench/bench_verify.py [--count 750] [--runs 5] [--rebuild] [--quick] [--json PATH]

Figures (`--json`, bench/run.py): the static ratio. `--quick`: 3 runs, no --rebuild.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests"))  # support: the test helpers
sys.path.insert(0, str(REPO_ROOT / "bench"))

from common import emit, figure  # noqa: E402
from support.http import serve_handler  # noqa: E402
from support.verify import record_for_lock, synthetic_lock  # noqa: E402

PLAIN_HEADS = """\
import sys, urllib.request
from concurrent.futures import ThreadPoolExecutor
urls = open(sys.argv[1]).read().split()
def head(url):
    with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=15) as r:
        return r.status
with ThreadPoolExecutor(32) as pool:
    statuses = list(pool.map(head, urls))
assert all(s == 200 for s in statuses), statuses
"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No request log."""


@contextlib.contextmanager
def serve(path: Path) -> Iterator[str]:
    with serve_handler(functools.partial(_Quiet, directory=str(path))) as host:
        yield f"http://{host}"


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return seconds


def bench_static(count: int, runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        root = Path(tmp)
        with serve(root) as url:
            lock = root / "conda-lock.yml"
            files = synthetic_lock(root / "channel", f"{url}/channel", count, lock)
            record_for_lock(lock, root / "build-record.json")
            urls = root / "urls.txt"
            urls.write_text(
                "\n".join(f"{url}/channel/noarch/{f.name}" for f in files) + "\n",
                encoding="utf-8",
            )
            script = root / "plain_heads.py"
            script.write_text(PLAIN_HEADS, encoding="utf-8")
            env = {**os.environ, "REPRO_AUDIT_CACHE_DIR": str(root / "cache")}
            verify_cmd = [sys.executable, "-m", "audit", "verify", "build-record.json", "--json"]
            plain_cmd = [sys.executable, str(script), str(urls)]
            timed(verify_cmd, root, env)  # warm the page cache and imports
            ours, plain = [], []
            for _ in range(runs):
                ours.append(timed(verify_cmd, root, env))
                plain.append(timed(plain_cmd, root, env))
    result = {"verify_s": statistics.median(ours), "plain_heads_s": statistics.median(plain)}
    result["ratio"] = result["verify_s"] / result["plain_heads_s"]
    return result


def bench_rebuild(runs: int) -> dict[str, float]:
    import docker
    from support.build import busybox_path, import_busybox, push_tag
    from support.registry import LocalRegistry

    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from support import make_channel

    client = docker.from_env()
    busybox = busybox_path()
    if busybox is None or shutil.which("docker-registry") is None:
        raise SystemExit("--rebuild needs busybox-static and docker-registry")
    with tempfile.TemporaryDirectory(prefix="bench-verify-rebuild-") as tmp:
        root = Path(tmp)
        registry = LocalRegistry(root / "registry").start()
        tag = "bench/verify:1"
        try:
            repository = f"{registry.host}/bench/verify-base"
            import_busybox(client, repository, "1", busybox)
            push_tag(client, repository, "1")
            channel = make_channel.build_channel(root / "channel")
            project = root / "project"
            (project / "files" / "app").mkdir(parents=True)
            (project / "files" / "app" / "hello.txt").write_text("hello\n")
            (project / "environment.yml").write_text(
                f"name: bench\nchannels: [{channel.as_uri()}]\ndependencies:\n"
                "  - python 3.11.*\n  - numpy\n  - six\n  - tzdata\nplatforms: [linux-64]\n"
            )
            (project / "Dockerfile").write_text(f"FROM {repository}:1\nCOPY files/ /\n")
            env = {**os.environ, "REPRO_AUDIT_CACHE_DIR": str(root / "cache")}
            cli = [sys.executable, "-m", "audit"]
            timed([*cli, "lock", "-p", "linux-64"], project, env)
            timed([*cli, "pin"], project, env)
            build_s = timed([*cli, "build", "-t", tag], project, env)
            verify_cmd = [*cli, "verify", "build-record.json", "--rebuild", "--json"]
            rebuild_s = [timed(verify_cmd, project, env) for _ in range(runs)]
            done = subprocess.run(verify_cmd, cwd=project, capture_output=True, text=True, env=env)
            verdict = json.loads(done.stdout)
        finally:
            with contextlib.suppress(Exception):
                client.api.remove_image(tag, force=True)
            with contextlib.suppress(Exception):
                client.api.remove_image(f"{registry.host}/bench/verify-base:1", force=True)
            registry.stop()
    return {
        "build_s": build_s,
        "verify_rebuild_s": statistics.median(rebuild_s),
        "rebuild_only_s": verdict["rebuild"]["seconds"],
        "verdict": verdict["verdict"],
        "image_identical": verdict["image_identical"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=750)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true", help="also time verify --rebuild")
    parser.add_argument("--quick", action="store_true", help="3 runs (bench/run.py --quick)")
    parser.add_argument("--json", type=Path, help="write the figures here (bench/run.py)")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.rebuild = 3, False
    static = bench_static(args.count, args.runs)
    emit(
        [
            figure(
                "verify.static",
                f"verify --json of a build record, {args.count} artifacts over HTTP",
                static["verify_s"],
                f"a plain script: {args.count} HEADs, 32 threads",
                static["plain_heads_s"],
                2.0,
                f"python bench/bench_verify.py --count {args.count} --runs {args.runs}",
            )
        ],
        args.json,
    )
    print(f"static verify, {args.count} artifacts over HTTP (median of {args.runs})")
    print(f"  repro-audit verify --json   {static['verify_s']:.3f} s")
    print(f"  plain {args.count} HEADs (32 threads) {static['plain_heads_s']:.3f} s")
    print(f"  ratio                       {static['ratio']:.2f}x (target <= 2x)")
    if args.rebuild:
        rebuilt = bench_rebuild(args.runs)
        print(f"rebuild (median of {args.runs})")
        print(f"  repro-audit build (cold cache)    {rebuilt['build_s']:.2f} s")
        print(f"  repro-audit verify --rebuild      {rebuilt['verify_rebuild_s']:.2f} s")
        print(f"    of which the rebuild itself     {rebuilt['rebuild_only_s']:.2f} s")
        print(f"  verdict {rebuilt['verdict']}, image_identical {rebuilt['image_identical']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
