"""Benchmark `repro-audit pin`: concurrent resolution and the start-up of `pin --check`.

Starts its own `docker-registry` on 127.0.0.1, pushes 40 images (20 multi-arch indexes,
20 single manifests), writes 10 Dockerfiles with 4 references each, then reports:

1. pinning all 40 references (in-process `run_pin`, fresh client) against 40 x the median
   time of resolving one reference alone (target ratio <= 0.3);
2. the wall time of `python -m audit pin --check` on the 10 pinned files, a subprocess
   including interpreter start-up (target <= 0.4 s), next to `python -c pass`.

Run: python bench/bench_pin.py [--rounds 5] [--quick] [--json PATH]

Figures (`--json`, bench/run.py): both ratios. `--quick`: 3 rounds, the bare loopback
registry behind the 20 ms latency proxy only.
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # support: the test helpers
sys.path.insert(0, str(ROOT / "bench"))

from common import emit, figure  # noqa: E402
from support.http import serve_handler  # noqa: E402
from support.registry import (  # noqa: E402
    LocalRegistry,
    StaticCredentials,
    push_image,
    push_index,
)

from audit.pin.run import PinOptions, run_pin  # noqa: E402
from audit.registry.client import RegistryClient  # noqa: E402
from audit.registry.reference import parse_reference  # noqa: E402

#: the figures this script emits (`--json PATH`), filled as it runs
FIGURES: list[dict] = []

FILES, REFS_PER_FILE = 10, 4


@contextmanager
def delaying_proxy(target: str, latency: float):
    """Forward to `target`, adding `latency` seconds per request: a registry across a network."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            time.sleep(latency)
            upstream = http.client.HTTPConnection(target, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            upstream.request("GET", self.path, headers=headers)
            answer = upstream.getresponse()
            body = answer.read()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            upstream.close()

    with serve_handler(Handler) as host:
        yield host


def client() -> RegistryClient:
    return RegistryClient(credentials=StaticCredentials())


def push_all(registry: LocalRegistry) -> None:
    pusher = client()
    for index in range(FILES * REFS_PER_FILE):
        repository = f"bench/img{index}"
        if index % 2:
            platforms = [("linux", "amd64", None), ("linux", "arm64", "v8")]
            push_index(pusher, registry.host, repository, "1.0", platforms)
        else:
            push_image(pusher, registry.host, repository, "1.0")


def write_dockerfiles(directory: Path, refs: list[str]) -> list[Path]:
    paths = []
    for number in range(FILES):
        chunk = refs[number * REFS_PER_FILE : (number + 1) * REFS_PER_FILE]
        folder = directory / f"svc{number}"
        folder.mkdir(parents=True, exist_ok=True)
        lines = [f"ARG BASE={chunk[0]}", "FROM ${BASE} AS build", "RUN make"]
        lines += [f"FROM {chunk[1]} AS test", f"COPY --from={chunk[2]} /x /x"]
        lines += [f"FROM {chunk[3]}", "COPY --from=build /out /out"]
        path = folder / "Dockerfile"
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths


def median_time(action, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--latency-ms",
        type=int,
        nargs="+",
        default=[0, 20],
        help="Per-request latency added by a proxy (0 = the bare loopback registry).",
    )
    parser.add_argument("--quick", action="store_true", help="3 rounds, 20 ms latency only")
    parser.add_argument("--json", type=Path, help="write the figures here (bench/run.py)")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.latency_ms = 3, [20]
    if shutil.which("docker-registry") is None:
        sys.exit("docker-registry is not installed (apt-get install docker-registry)")
    with tempfile.TemporaryDirectory() as tmp:
        registry = LocalRegistry(Path(tmp) / "registry").start()
        try:
            push_all(registry)
            rows = []
            for latency in args.latency_ms:
                if latency == 0:  # the bare loopback registry, no proxy in between
                    rows += measure_pin(registry.host, Path(tmp) / "lat0", args.rounds, 0)
                    continue
                with delaying_proxy(registry.host, latency / 1000) as host:
                    rows += measure_pin(host, Path(tmp) / f"lat{latency}", args.rounds, latency)
            rows += measure_check(registry.host, Path(tmp) / "check", args.rounds)
        finally:
            registry.stop()
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>10}  {note}")
    command = f"python bench/bench_pin.py --rounds {args.rounds} --latency-ms " + " ".join(
        str(x) for x in args.latency_ms
    )
    emit([{**row, "command": command} for row in FIGURES], args.json)


def measure_pin(host: str, work: Path, rounds: int, latency: int) -> list[tuple[str, str, str]]:
    """Median single resolution x 40 against the median concurrent pin of all 40."""
    refs = [f"{host}/bench/img{i}:1.0" for i in range(FILES * REFS_PER_FILE)]
    singles = []
    for ref in refs[: min(len(refs), rounds * 4)]:
        started = time.perf_counter()
        client().resolve(parse_reference(ref))
        singles.append(time.perf_counter() - started)
    single = statistics.median(singles)
    counter = iter(range(1_000_000))

    def pin_fresh() -> None:
        files = write_dockerfiles(work / str(next(counter)), refs)
        result = run_pin(PinOptions(dockerfiles=files))
        assert sum(r.status == "pinned" for r in result.references) == len(refs)

    concurrent = median_time(pin_fresh, rounds)
    sequential = single * len(refs)
    label = f"[{latency} ms/request]"
    FIGURES.append(
        figure(
            f"pin.concurrent.{latency}ms",
            f"pin of 40 references in 10 files, {latency} ms per request",
            concurrent,
            "40 x one resolution alone",
            sequential,
            0.3 if latency else None,  # concurrency pays for latency, not for loopback
            "",
        )
    )
    return [
        (f"{label} single resolution (median)", f"{single * 1000:.1f} ms", ""),
        (f"{label} 40 x single resolution", f"{sequential * 1000:.1f} ms", ""),
        (
            f"{label} pin 40 refs in 10 files",
            f"{concurrent * 1000:.1f} ms",
            f"ratio {concurrent / sequential:.2f} (target <= 0.30)",
        ),
    ]


def measure_check(host: str, work: Path, rounds: int) -> list[tuple[str, str, str]]:
    """Wall time of `python -m audit pin --check` on the pinned files, start-up included."""
    refs = [f"{host}/bench/img{i}:1.0" for i in range(FILES * REFS_PER_FILE)]
    files = write_dockerfiles(work, refs)
    run_pin(PinOptions(dockerfiles=files))
    command = [sys.executable, "-m", "audit", "pin", "--check"]
    for path in files:
        command += ["-f", str(path)]

    def check() -> None:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, check=False)
        assert done.returncode == 0, done.stderr

    check_wall = median_time(check, rounds)
    bare = median_time(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), rounds)
    FIGURES.append(
        figure(
            "pin.check",
            "pin --check of 10 pinned files, nothing to do (target 0.4 s wall)",
            check_wall,
            "python -c pass",
            bare,
            None,
            "",
        )
    )
    return [
        (
            "pin --check, 10 files, nothing to do (wall)",
            f"{check_wall * 1000:.0f} ms",
            "target <= 400 ms",
        ),
        ("python -c pass (wall)", f"{bare * 1000:.0f} ms", ""),
    ]


if __name__ == "__main__":
    main()
