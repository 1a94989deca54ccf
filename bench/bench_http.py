"""Benchmark the shared HTTP client's probe against plain urllib HEADs.

COUNT tiny files served on 127.0.0.1 by a `ThreadingHTTPServer`, probed with 32 threads
by `audit.core.http.probe` (pooled urllib3, credentials from the store) and by a plain
`urllib.request` HEAD per URL, alternating, RUNS times each; medians and their ratio.
Once against an HTTP/1.1 (keep-alive) server, as channels and registries are, and once
against HTTP/1.0 (a new connection per request: pooling cannot help).

    python bench/bench_http.py [--count 750] [--runs 5]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests"))  # support: the test helpers

from support.http import serve_handler  # noqa: E402

from audit.core import http  # noqa: E402


def plain_head(url: str) -> int:
    with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=15) as r:
        return r.status


def probe(url: str) -> str:
    return http.probe(url, timeout=15).status


def handler(directory: Path, protocol: str) -> Any:
    class Quiet(SimpleHTTPRequestHandler):
        protocol_version = protocol

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return functools.partial(Quiet, directory=str(directory))


def bench(directory: Path, count: int, runs: int, protocol: str) -> dict[str, float]:
    times: dict[str, list[float]] = {"probe": [], "plain": []}
    with serve_handler(handler(directory, protocol)) as host:
        urls = [f"http://{host}/f{i}" for i in range(count)]
        for _ in range(runs):
            for name, fn in (("probe", probe), ("plain", plain_head)):
                started = time.perf_counter()
                with ThreadPoolExecutor(32) as pool:
                    list(pool.map(fn, urls))
                times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=750)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for i in range(args.count):
            (directory / f"f{i}").write_bytes(b"x" * 100)
        for protocol in ("HTTP/1.1", "HTTP/1.0"):
            found = bench(directory, args.count, args.runs, protocol)
            print(
                f"{protocol}: {args.count} probes (32 threads, median of {args.runs}): "
                f"audit.core.http {found['probe']:.3f} s, urllib {found['plain']:.3f} s, "
                f"ratio {found['probe'] / found['plain']:.2f}x"
            )


if __name__ == "__main__":
    main()
