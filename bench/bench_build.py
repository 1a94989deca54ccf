"""Benchmark a `repro-audit build` rebuild (unchanged lock) against Docker's cached rebuild.

Sets up, offline: the fixture conda channel, a busybox base image (`docker import`) pushed
to a local `docker-registry`, a project locked (`repro-audit lock`) and pinned
(`repro-audit pin`), plus one synthetic locked wheel of SIZE MB in FILES files so the
environment has a realistic weight. Then, each in a fresh process, RUNS times:

  - `repro-audit build -t bench/build:1`      (second and later builds: unchanged lock)
  - `docker build` (classic builder) of the same generated context: the user's files, the
    staged environment as `rootfs/` and the Dockerfile our build amounts to (the user's
    instructions + `COPY rootfs/ /` + ENV + LABEL), also a second and later time (cached)

and prints a table with the medians and their ratio (target: ≤ 1.3×).

    python bench/bench_build.py [--size-mb 200] [--files 2000] [--runs 5] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests"))  # support: the test helpers

from support.build import (  # noqa: E402
    add_pip_entry,
    busybox_path,
    import_busybox,
    make_wheel,
    push_tag,
)
from support.registry import LocalRegistry  # noqa: E402

from audit.build.run import env_dockerfile  # noqa: E402

ENVIRONMENT = """\
name: bench
channels: [conda-forge]
dependencies:
  - python 3.11.*
  - numpy
  - six
  - tzdata
platforms: [linux-64]
"""
PREFIX = "/opt/conda/envs/bench"
OURS_TAG = "bench/build:1"
DOCKER_TAG = "bench/docker-cached:1"


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Run `cmd`, fail loudly on a non-zero exit, return the wall time in seconds."""
    start = time.perf_counter()
    done = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    return elapsed


def load_make_channel():
    spec = importlib.util.spec_from_file_location(
        "make_channel", REPO_ROOT / "fixtures" / "make_channel.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_channel"] = module
    spec.loader.exec_module(module)
    return module


def synthetic_files(size_mb: int, count: int) -> dict[str, bytes]:
    """`count` files totalling `size_mb` MB, half random (incompressible), half text."""
    rng = random.Random(20240601)
    each = max(1, size_mb * 1024 * 1024 // max(count, 1))
    files = {}
    for index in range(count):
        if index % 2:
            data = rng.randbytes(each)
        else:
            data = (f"# module {index}\n" + "x = 1\n" * (each // 6)).encode()[:each]
        files[f"data/part{index // 100:03d}/f{index:05d}.py"] = data
    return files


def docker_cli_build(context: Path, tag: str) -> float:
    return run(
        ["docker", "build", "-q", "-t", tag, str(context)], context, {"DOCKER_BUILDKIT": "0"}
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)

    import docker

    client = docker.from_env()
    client.ping()
    if shutil.which("docker") is None or busybox_path() is None:
        raise SystemExit("needs the docker CLI and busybox-static")
    work = Path(tempfile.mkdtemp(prefix="bench-build-"))
    registry = LocalRegistry(work / "registry").start()
    try:
        make_channel = load_make_channel()
        channel = make_channel.build_channel(work / "channel")
        repository = f"{registry.host}/bench-base"
        import_busybox(client, repository, "1", busybox_path() or "")
        push_tag(client, repository, "1")

        project = work / "project"
        project.mkdir()
        (project / "environment.yml").write_text(ENVIRONMENT)
        (project / "app.py").write_text("print('hello')\n")
        (project / "Dockerfile").write_text(f"FROM {repository}:1\nCOPY app.py /app/app.py\n")
        cli = [sys.executable, "-m", "audit"]
        run([*cli, "lock", "-c", channel.as_uri(), "-p", "linux-64"], project)
        run([*cli, "pin"], project)
        wheels = work / "wheels"
        wheels.mkdir()
        wheel = make_wheel(wheels, "benchdata", "1.0", synthetic_files(args.size_mb, args.files))
        add_pip_entry(project / "conda-lock.yml", wheel, wheel.as_uri())

        build = [*cli, "build", "-t", OURS_TAG, "--prefix", PREFIX]
        build += ["--cache-dir", str(work / "cache")]
        cold = run(build, project)
        ours = [run(build, project) for _ in range(args.runs)]
        record = json.loads((project / "build-record.json").read_text())

        # the same context for docker itself: user files + staged env + combined Dockerfile
        context = work / "docker-context"
        context.mkdir()
        shutil.copy2(project / "app.py", context / "app.py")
        stage = next(
            p
            for p in (work / "cache" / "stages").glob("*.json")
            if json.loads(p.read_text())["sha256"] == record["outputs"]["env_tar_sha256"]
        ).with_suffix(".tar")
        with tarfile.open(stage) as archive:
            archive.extractall(context, filter="tar")
        user = (project / "Dockerfile").read_text()
        ours_tail = env_dockerfile("x", PREFIX, "/bin", record["outputs"]["labels"])
        (context / "Dockerfile").write_text(user + ours_tail.split("\n", 1)[1])
        docker_cold = docker_cli_build(context, DOCKER_TAG)
        theirs = [docker_cli_build(context, DOCKER_TAG) for _ in range(args.runs)]

        env_bytes = stage.stat().st_size
        rows = [
            ("repro-audit build (first, cold cache)", cold, cold),
            ("docker build (first, no cache)", docker_cold, docker_cold),
            ("repro-audit build (rebuild, same lock)", statistics.median(ours), min(ours)),
            ("docker build (rebuild, cached)", statistics.median(theirs), min(theirs)),
        ]
        print(
            f"environment: {len(record['inventory']['packages'])} packages, "
            f"{env_bytes / 1e6:.0f} MB staged tar, {args.files} synthetic files; "
            f"runs={args.runs}"
        )
        print(f"{'what':44} {'median s':>9} {'min s':>8}")
        for name, median, best in rows:
            print(f"{name:44} {median:9.2f} {best:8.2f}")
        ratio = statistics.median(ours) / statistics.median(theirs)
        print(f"rebuild ratio (repro-audit / docker cached): {ratio:.2f}x (target <= 1.3x)")
    finally:
        for tag in (OURS_TAG, DOCKER_TAG, f"{registry.host}/bench-base:1"):
            with contextlib.suppress(docker.errors.APIError):
                client.api.remove_image(tag, force=True)
        registry.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
