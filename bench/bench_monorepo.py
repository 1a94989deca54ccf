"""Benchmark `repro-audit check` at the root of a monorepo of many locked projects.

The repository: PROJECTS folders `services/pNN/`, each with an environment.yml from the
synthetic channel of bench/gen_channel.py locked by `repro-audit lock` for linux-64
(~300 packages), its explicit lock, a Dockerfile pinned by digest and its image-lock.json,
committed to git (with an ignored `build/` folder holding more Dockerfiles, which check
must not read). A few distinct environments are locked and reused across projects.

Reported (median wall seconds, subprocess, interpreter start-up included), next to the
baseline of the same run: `git ls-files` plus reading every listed file in one Python
process, which is the least any repository-wide check must do:

- `check` at the root (every project);
- `check --changed-since HEAD` with one project's Dockerfile edited;
- `check --changed-since HEAD` with one project's environment.yml edited without
  re-locking (stale: conda-lock's content hash is computed for it).

Targets: check at the root <= 2 s, --changed-since with one project changed <= 0.5 s.

    python bench/bench_monorepo.py [--projects 50] [--runs 5] [--quick] [--keep DIR] [--json PATH]

Figures (`--json`, bench/run.py): each `check` as a ratio to that baseline.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
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

from gen_channel import generate  # noqa: E402

EXE = cli()  # the venv's repro-audit, activated or not
GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.org"]
BASELINE = (
    "import subprocess\n"
    "out = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', "
    "'--exclude-standard'], capture_output=True, check=True).stdout\n"
    "n = 0\n"
    "for p in out.decode().split('\\0'):\n"
    "    if p:\n"
    "        with open(p, 'rb') as f: n += len(f.read())\n"
)


def _environment(channel: Path, variant: int) -> str:
    """~300 locked packages: python, a band of top-layer packages and noarch ones."""
    specs = ["python 3.11.*"]
    specs += [f"pkg7-{i:04d}" for i in range(variant % 2, 41, 2)]
    specs += [f"py-{i:04d}" for i in range(variant * 7, variant * 7 + 60)]
    body = "\n".join(f"  - {s}" for s in specs)
    return (
        f"name: service\nchannels:\n  - {channel.as_uri()}\ndependencies:\n{body}\n"
        "platforms:\n  - linux-64\n"
    )


def _image(i: int) -> tuple[str, str]:
    digest = "sha256:" + hashlib.sha256(f"image {i}".encode()).hexdigest()
    dockerfile = (
        f"FROM docker.io/library/debian:12-slim@{digest}\nCOPY conda-lock.yml /tmp/\nRUN true\n"
    )
    key = f"docker.io/library/debian:12-slim@{digest}"
    entry = {
        "registry": "docker.io",
        "repository": "library/debian",
        "tag": "12-slim",
        "digest": digest,
        "media_type": "application/vnd.oci.image.index.v1+json",
        "platforms": [],
        "files": ["Dockerfile"],
    }
    return dockerfile, json.dumps({"version": 1, "images": {key: entry}}, indent=2) + "\n"


def build_repo(work: Path, projects: int, variants: int) -> Path:
    """The monorepo, committed; distinct environments are locked once and copied."""
    channel = work / "channel"
    generate(channel, records=60_000)
    locked: list[Path] = []
    for v in range(variants):
        folder = work / "variants" / str(v)
        folder.mkdir(parents=True)
        (folder / "environment.yml").write_text(_environment(channel, v))
        subprocess.run(
            [*EXE, "lock", "--cache-dir", str(work / "cache")],
            cwd=folder,
            check=True,
            capture_output=True,
        )
        locked.append(folder)
    repo = work / "repo"
    for i in range(projects):
        project = repo / "services" / f"p{i:02d}"
        project.mkdir(parents=True)
        source = locked[i % variants]
        for name in ("environment.yml", "conda-lock.yml", "conda-linux-64.lock"):
            shutil.copy(source / name, project / name)
        dockerfile, image_lock = _image(i)
        (project / "Dockerfile").write_text(dockerfile)
        (project / "image-lock.json").write_text(image_lock)
    (repo / "README.md").write_text("services\n")
    (repo / ".gitignore").write_text("build/\n")
    for i in range(20):  # an ignored build folder: never read
        (repo / "build" / str(i)).mkdir(parents=True)
        (repo / "build" / str(i) / "Dockerfile").write_text("FROM python:3.11\n")
    subprocess.run(["git", "init", "-q", "."], cwd=repo, check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-qm", "services"], cwd=repo, check=True)
    return repo


CPU: list[float] = []  # CPU seconds (user + sys, children included) of the last timed()


def timed(cmd: list[str], runs: int, cwd: Path) -> tuple[float, int, str]:
    """Median wall seconds over `runs` (after one warm-up), the last exit code and stdout;
    the median CPU seconds go to CPU (a loaded machine stretches wall time, not CPU)."""
    subprocess.run(cmd, cwd=cwd, capture_output=True)
    times, cpus, done = [], [], None
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    assert done is not None
    CPU[:] = [statistics.median(cpus)]
    return statistics.median(times), done.returncode, done.stdout


def _projects_checked(stdout: str) -> int:
    return len(json.loads(stdout)["projects"])


#: figure id of each timed row (the baseline row is every figure's baseline)
_IDS = {
    "check (root)": "monorepo.check",
    "check --changed-since (1 Dockerfile)": "monorepo.changed_dockerfile",
    "check --changed-since (1 stale env)": "monorepo.changed_env",
}


def _figures(rows: list[tuple], count: int, args: argparse.Namespace) -> list[dict]:
    """The rows as figures (bench/common.py): ratios to the git ls-files baseline."""
    base = rows[0][1]
    command = "python bench/bench_monorepo.py " + (
        "--quick"
        if args.quick
        else f"--projects {args.projects} --variants {args.variants} --runs {args.runs}"
    )
    return [
        figure(
            _IDS[label],
            f"{label}, {count} projects"
            + (f" (target {target} s wall)" if target is not None else ""),
            seconds,
            "git ls-files + read every file",
            base,
            None,
            command,
        )
        for label, seconds, _cpu, _code, _checked, target in rows[1:]
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=50)
    parser.add_argument("--variants", type=int, default=3, help="Distinct environments locked.")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="10 projects, 1 variant, 3 runs.")
    parser.add_argument("--keep", type=Path, help="Build the repository here and keep it.")
    parser.add_argument("--json", type=Path, help="write the figures here (bench/run.py)")
    args = parser.parse_args()
    if args.quick:
        args.projects, args.variants, args.runs = 10, 1, 3
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-monorepo-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        repo = work / "repo"
        if not (repo / ".git").exists():
            for stale in ("channel", "variants", "repo"):
                shutil.rmtree(work / stale, ignore_errors=True)
            repo = build_repo(work, args.projects, args.variants)
        count = len(list((repo / "services").iterdir()))
        packages = (repo / "services" / "p00" / "conda-lock.yml").read_text().count("\n- name:")
        print(f"repository: {count} projects x ~{packages} locked packages + a Dockerfile each")
        rows = []
        base, _, _ = timed([sys.executable, "-c", BASELINE], args.runs, repo)
        rows.append(("baseline: git ls-files + read every file", base, *CPU, 0, count, None))
        check = [*EXE, "check", "--format", "json"]
        seconds, code, out = timed(check, args.runs, repo)
        rows.append(("check (root)", seconds, *CPU, code, _projects_checked(out), 2.0))
        dockerfile = repo / "services" / "p01" / "Dockerfile"
        original = dockerfile.read_text()
        dockerfile.write_text(original + "RUN true\n")
        seconds, code, out = timed([*check, "--changed-since", "HEAD"], args.runs, repo)
        rows.append(
            (
                "check --changed-since (1 Dockerfile)",
                seconds,
                *CPU,
                code,
                _projects_checked(out),
                0.5,
            )
        )
        dockerfile.write_text(original)
        env = repo / "services" / "p02" / "environment.yml"
        original = env.read_text()
        env.write_text(original.replace("  - python 3.11.*\n", "  - python 3.11.*\n  - py-0200\n"))
        seconds, code, out = timed([*check, "--changed-since", "HEAD"], args.runs, repo)
        rows.append(
            (
                "check --changed-since (1 stale env)",
                seconds,
                *CPU,
                code,
                _projects_checked(out),
                None,
            )
        )
        env.write_text(original)
        emit(_figures(rows, count, args), args.json)
        load = os.getloadavg()[0]
        print(f"cores: {len(os.sched_getaffinity(0))}, load average {load:.1f} at the end")
        print(
            f"{'command':<42} {'median s':>9} {'x base':>7} {'cpu s':>6} {'exit':>5} "
            f"{'projects':>9}  target"
        )
        for label, seconds, cpu, code, checked, target in rows:
            verdict = "" if target is None else f"<= {target} s "
            if target is not None:
                verdict += "ok" if seconds <= target else "MISSED"
            print(
                f"{label:<42} {seconds:>9.3f} {seconds / base:>7.1f} {cpu:>6.2f} {code:>5} "
                f"{checked:>9}  {verdict}"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
