"""Benchmark `repro-audit build` against a plain BuildKit build of the equivalent Dockerfile.

Sets up, offline: the fixture conda channel, a busybox base image (`docker import`) pushed
to a local `docker-registry`, a project locked (`repro-audit lock`) and pinned
(`repro-audit pin`), plus one synthetic locked wheel of SIZE MB in FILES files so the
environment has a realistic weight. Then, each in a fresh process, RUNS times:

  - `repro-audit build -t bench/build:1`      (second and later builds: unchanged lock)
  - the baseline: BuildKit (the same docker client `build` picks) building the equivalent
    Dockerfile from a context holding the user's files and the staged environment (the
    user's instructions + `COPY <prefix> <prefix>` + ENV + LABEL), again after a first
    build (every step a cache hit)
  - first builds: ours with the artifacts and the stage cached but no image made yet
    (user step and environment layer both new), against the baseline with `--no-cache`

and prints the medians and the ratios (targets: rebuild ≤ 1.3×, first build ≤ 1.5×).

  - the environment appended again to an unchanged user image (the final image's memo
    dropped, as after a lock change): with the user image's `docker save` remembered
    (`<cache>/saved/`) and without, alternately; `--base-mb` gives the base image a layer
    of that many MB so the saved stream has a realistic size

    python bench/bench_build.py [--size-mb 200] [--files 2000] [--base-mb 0] [--runs 5] [--keep]
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

from audit.build.builders import choose  # noqa: E402

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


#: The largest peak RSS (MB) of any repro-audit process the bench ran, per case.
PEAK_MB: dict[str, float] = {}


def _timed(cmd: list[str], cwd: str, env: dict[str, str]) -> tuple[float, int, str, float]:
    """In the small spawner process: (seconds, exit code, stderr, the child's peak RSS MB)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
        err.seek(0)
        text = err.read().decode()
    return elapsed, os.waitstatus_to_exitcode(status), text, usage.ru_maxrss / 1024


#: Children are started from a process made before the bench holds GBs of synthetic
#: data: Linux counts the parent's resident pages into a forked child's peak RSS.
SPAWNER = None


def run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None, case: str = ""
) -> float:
    """Run `cmd`, fail loudly on a non-zero exit, return the wall time in seconds; the
    process's own peak RSS is kept in PEAK_MB[case] (wait4: that child only)."""
    full_env = {**os.environ, **(env or {})}
    if SPAWNER is not None:
        elapsed, code, err, peak = SPAWNER.apply(_timed, (cmd, str(cwd), full_env))
    else:
        elapsed, code, err, peak = _timed(cmd, str(cwd), full_env)
    if code != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({code}):\n{err}")
    if case:
        PEAK_MB[case] = max(PEAK_MB.get(case, 0.0), peak)
    return elapsed


def stats(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), min(values)


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


def docker_cli_build(context: Path, tag: str, *extra: str) -> float:
    """The baseline: BuildKit through the client `repro-audit build` would use."""
    builder, _ = choose(None)
    if not builder.buildkit or builder.client is None:
        raise SystemExit("needs a docker client with BuildKit (see scripts/setup.sh)")
    args = (
        [builder.client, "buildx", "build", "--load"]
        if builder.kind == "buildx"
        else [builder.client, "build"]
    )
    return run([*args, "-q", "-t", tag, *extra, str(context)], context, {"DOCKER_BUILDKIT": "1"})


def equivalent_dockerfile(user: str, labels: dict[str, str]) -> str:
    """The user's Dockerfile + the environment from the context + ENV + LABEL."""
    label = " ".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items()))
    return (
        user
        + f"COPY {PREFIX.lstrip('/')} {PREFIX}\n"
        + f'ENV PATH="{PREFIX}/bin:/bin" CONDA_PREFIX="{PREFIX}"\n'
        + f"LABEL {label}\n"
    )


def layered_base(
    client, context: Path, repository: str, files: dict[str, bytes], count: int
) -> None:
    """`repository:1` again, with `files` spread over `count` layers (one COPY each)."""
    context.mkdir()
    names = sorted(files)
    steps = [f"FROM {repository}:1"]
    for part in range(count):
        for name in names[part::count]:
            path = context / f"part{part}" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(files[name])
        steps.append(f"COPY part{part}/ /")
    (context / "Dockerfile").write_text("\n".join(steps) + "\n")
    docker_cli_build(context, f"{repository}:1")
    shutil.rmtree(context)


def first_build(build: list[str], project: Path, cache: Path, client) -> float:
    """Ours with the stage cached but nothing built: the memo and both images gone."""
    import docker.errors

    shutil.rmtree(cache / "images", ignore_errors=True)
    with contextlib.suppress(docker.errors.APIError):
        client.api.remove_image(OURS_TAG, force=True)
    (project / "app.py").write_text(f"print('hello {time.perf_counter_ns()}')\n")
    return run(build, project, case="first build after a Dockerfile change")


def append_again(build: list[str], project: Path, cache: Path, client, remembered: bool) -> float:
    """Ours after a lock change on an unchanged user image: the final image's memo and the
    image gone, the user image kept; its layers' indexes and config remembered or not (then
    read again from the engine's storage, or streamed where that is not readable)."""
    import docker.errors

    shutil.rmtree(cache / "images", ignore_errors=True)
    if not remembered:
        shutil.rmtree(cache / "layers", ignore_errors=True)
        shutil.rmtree(cache / "configs", ignore_errors=True)
    with contextlib.suppress(docker.errors.APIError):
        client.api.remove_image(OURS_TAG, force=True)
    return run(build, project, case="env appended again")


def docker_save_seconds(tag: str) -> float:
    """The baseline of an image read: `docker save IMAGE > /dev/null`."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        subprocess.run(["docker", "save", tag], stdout=sink, check=True)
    return time.perf_counter() - start


def after_change(context: Path) -> float:
    """BuildKit's build of the same Dockerfile after the same edit (its cache kept)."""
    (context / "app.py").write_text(f"print('hello {time.perf_counter_ns()}')\n")
    return docker_cli_build(context, DOCKER_TAG)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--base-mb", type=int, default=0, help="extra MB in the base image")
    parser.add_argument("--base-layers", type=int, default=1, help="layers the extra MB fill")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    global SPAWNER
    import multiprocessing

    SPAWNER = multiprocessing.get_context("forkserver").Pool(1)

    import docker

    client = docker.from_env()
    client.ping()
    if shutil.which("docker") is None or busybox_path() is None:
        raise SystemExit("needs the docker CLI and busybox-static")
    # measured as installed: an installed wheel has its bytecode, an editable checkout
    # (or PYTHONDONTWRITEBYTECODE) may not, which would add ~0.1 s of compiling per run
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO_ROOT / "audit")], check=True)
    work = Path(tempfile.mkdtemp(prefix="bench-build-"))
    registry = LocalRegistry(work / "registry").start()
    try:
        make_channel = load_make_channel()
        channel = make_channel.build_channel(work / "channel")
        repository = f"{registry.host}/bench-base"
        extra = (
            {
                f"usr/share/bench/{name}": data
                for name, data in synthetic_files(args.base_mb, 200).items()
            }
            if args.base_mb
            else None
        )
        one_layer = extra if args.base_layers <= 1 else None
        import_busybox(client, repository, "1", busybox_path() or "", one_layer)
        if args.base_layers > 1 and extra:
            layered_base(client, work / "base-context", repository, extra, args.base_layers)
        push_tag(client, repository, "1")
        del extra, one_layer  # GBs the rest of the bench does not need

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
        cold = run(build, project, case="first build, cold cache")
        ours = [run(build, project, case="rebuild") for _ in range(args.runs)]
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
        (context / "Dockerfile").write_text(
            equivalent_dockerfile(user, record["outputs"]["labels"])
        )
        docker_cold = docker_cli_build(context, DOCKER_TAG, "--no-cache")
        theirs = [docker_cli_build(context, DOCKER_TAG) for _ in range(args.runs)]
        theirs_first = [
            docker_cli_build(context, DOCKER_TAG, "--no-cache") for _ in range(args.runs)
        ]
        theirs_change = [after_change(context) for _ in range(args.runs)]
        ours_first = [first_build(build, project, work / "cache", client) for _ in range(args.runs)]
        inventory = [*cli, "inventory", f"docker-daemon:{OURS_TAG}", "--format", "json"]
        known = {"REPRO_AUDIT_CACHE_DIR": str(work / "cache")}
        fresh = {"REPRO_AUDIT_CACHE_DIR": str(work / "fresh-cache")}
        inv_known, inv_fresh, saves = [], [], []
        for _ in range(args.runs):
            saves.append(docker_save_seconds(OURS_TAG))
            inv_known.append(run(inventory, project, known, case="inventory"))
            shutil.rmtree(work / "fresh-cache", ignore_errors=True)
            inv_fresh.append(run(inventory, project, fresh, case="inventory"))
        verify = [*cli, "verify", "build-record.json", "--rebuild", "--cache-dir",
                  str(work / "cache")]  # fmt: skip
        rebuilt = [run(verify, project, case="verify --rebuild") for _ in range(args.runs)]
        again_saved, again_unsaved = [], []
        for _ in range(args.runs):
            again_saved.append(append_again(build, project, work / "cache", client, True))
            again_unsaved.append(append_again(build, project, work / "cache", client, False))

        env_bytes = stage.stat().st_size
        rows = [
            ("repro-audit build (first, cold cache)", cold, cold),
            ("repro-audit build (first image, stage cached)", *stats(ours_first)),
            ("BuildKit build (first, --no-cache)", *stats(theirs_first)),
            ("repro-audit build (rebuild, same lock)", *stats(ours)),
            ("BuildKit build (rebuild, cached)", *stats(theirs)),
            ("env appended to the same user image, save remembered", *stats(again_saved)),
            ("env appended to the same user image, save streamed", *stats(again_unsaved)),
            ("BuildKit build after the same app.py change (cached)", *stats(theirs_change)),
            ("inventory docker-daemon: (layers seen before)", *stats(inv_known)),
            ("inventory docker-daemon: (empty cache)", *stats(inv_fresh)),
            ("docker save IMAGE > /dev/null", *stats(saves)),
            ("repro-audit verify --rebuild", *stats(rebuilt)),
        ]
        del docker_cold
        print(
            f"environment: {len(record['inventory']['packages'])} packages, "
            f"{env_bytes / 1e6:.0f} MB staged tar, {args.files} synthetic files, "
            f"base +{args.base_mb} MB; "
            f"runs={args.runs}; builder: {record['inputs']['builder']}"
        )
        print(f"{'what':48} {'median s':>9} {'min s':>8}")
        for name, median, best in rows:
            print(f"{name:48} {median:9.2f} {best:8.2f}")
        ratio = statistics.median(ours) / statistics.median(theirs)
        first = statistics.median(ours_first) / statistics.median(theirs_first)
        print(f"rebuild ratio (repro-audit / BuildKit cached): {ratio:.2f}x (target <= 1.3x)")
        print(
            f"first-build ratio (repro-audit / BuildKit --no-cache): {first:.2f}x (target <= 1.5x)"
        )
        change = statistics.median(ours_first) / (statistics.median(theirs_change) + 1)
        print(
            "first build after a Dockerfile change / (BuildKit after the same change + 1 s): "
            f"{change:.2f}x (target <= 1.5x)"
        )
        read = statistics.median(inv_known) / statistics.median(saves)
        print(f"inventory, base seen before / docker save: {read:.2f}x (target <= 0.3x)")
        print("peak RSS per case (MB, target <= 300): " + ", ".join(
            f"{case} {mb:.0f}" for case, mb in sorted(PEAK_MB.items())
        ))  # fmt: skip
    finally:
        for tag in (OURS_TAG, DOCKER_TAG, f"{registry.host}/bench-base:1"):
            with contextlib.suppress(docker.errors.APIError):
                client.api.remove_image(tag, force=True)
        registry.stop()
        SPAWNER.terminate()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
