"""Benchmark `repro-audit check` on a project where everything is in order.

The project: environment.yml with 90 top-level specs from the synthetic channel of
bench/gen_channel.py, locked for 4 platforms by `repro-audit lock` (~750 packages per
platform), explicit lock files, and two Dockerfiles pinned by digest with a matching
image-lock.json. Reports the median wall time (subprocess, interpreter start-up included)
of `repro-audit check` next to `python -c pass` and `repro-audit --version`.
Target: check <= 0.5 s.

    python bench/bench_check.py [--runs 9] [--keep DIR] [--quick] [--json PATH]

Figures (`--json`, bench/run.py): `check` and `--version` as ratios to `python -c pass`
measured in the same run. `--quick`: 5 runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cli, emit, figure  # noqa: E402

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from gen_channel import generate, top_level_specs  # noqa: E402

PLATFORMS = ["linux-64", "osx-64", "osx-arm64", "win-64"]
EXE = cli()  # the venv's repro-audit, activated or not


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def write_images(project: Path) -> None:
    """Two Dockerfiles pinned by digest, and the image-lock.json that records those digests."""
    images = {}
    for i, (repo, tag) in enumerate([("library/debian", "12-slim"), ("library/busybox", "1.36")]):
        digest = _digest(f"{repo}:{tag}")
        name = "Dockerfile" if i == 0 else "worker.Dockerfile"
        (project / name).write_text(
            f"FROM docker.io/{repo}:{tag}@{digest}\nCOPY conda-lock.yml /tmp/\nRUN true\n"
        )
        key = f"docker.io/{repo}:{tag}@{digest}"
        images[key] = {
            "registry": "docker.io",
            "repository": repo,
            "tag": tag,
            "digest": digest,
            "media_type": "application/vnd.oci.image.index.v1+json",
            "platforms": [],
            "files": [name],
        }
    document = {"version": 1, "images": dict(sorted(images.items()))}
    (project / "image-lock.json").write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


def build_project(work: Path) -> Path:
    channel = work / "channel"
    channel.mkdir()
    generate(channel)
    project = work / "project"
    project.mkdir()
    specs = "\n".join(f"  - {s}" for s in top_level_specs(90))
    platforms = "\n".join(f"  - {p}" for p in PLATFORMS)
    (project / "environment.yml").write_text(
        f"name: bench\nchannels:\n  - {channel.as_uri()}\ndependencies:\n{specs}\n"
        f"platforms:\n{platforms}\n"
    )
    subprocess.run(
        [*EXE, "lock", "--cache-dir", str(work / "cache")],
        cwd=project,
        check=True,
        capture_output=True,
    )
    write_images(project)
    return project


def timed(cmd: list[str], runs: int, cwd: Path) -> tuple[float, int]:
    """Median wall seconds over `runs` (after one warm-up) and the last exit code."""
    subprocess.run(cmd, cwd=cwd, capture_output=True)
    times, code = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        code = subprocess.run(cmd, cwd=cwd, capture_output=True).returncode
        times.append(time.perf_counter() - start)
    return statistics.median(times), code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--keep", type=Path, help="Build the project here and keep it.")
    parser.add_argument("--quick", action="store_true", help="5 runs (bench/run.py --quick)")
    parser.add_argument("--json", type=Path, help="write the figures here (bench/run.py)")
    args = parser.parse_args()
    if args.quick:
        args.runs = 5
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-check-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        project = work / "project"
        if not (project / "conda-lock.yml").exists():
            shutil.rmtree(work / "channel", ignore_errors=True)
            shutil.rmtree(project, ignore_errors=True)
            project = build_project(work)
        text = (project / "conda-lock.yml").read_text()
        packages = sum(1 for line in text.splitlines() if line.startswith("- name:"))
        rows = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("repro-audit --version", [*EXE, "--version"]),
            ("repro-audit check", [*EXE, "check"]),
        ]
        print(f"project: {packages} locked packages ({packages // 4} x 4 platforms), 2 Dockerfiles")
        print(f"{'command':<28} {'median s':>9}  exit")
        seconds = {}
        for label, cmd in rows:
            seconds[label], code = timed(cmd, args.runs, project)
            print(f"{label:<28} {seconds[label]:>9.3f}  {code}")
        command = f"python bench/bench_check.py --runs {args.runs}"
        base = seconds["python -c pass"]
        figures = [
            figure(
                "startup.version",
                "repro-audit --version (interpreter start-up included)",
                seconds["repro-audit --version"],
                "python -c pass",
                base,
                None,
                command,
            ),
            figure(
                "check.project",
                f"check of a project of {packages} locked packages (target 0.5 s wall)",
                seconds["repro-audit check"],
                "python -c pass",
                base,
                None,
                command,
            ),
        ]
        emit(figures, args.json)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
