"""Benchmark `repro-audit inventory` on a large image against plain streaming of its bytes.

Builds a `docker save`-layout archive directly in Python (no daemon needed): a base layer
of FILES ordinary files, a conda layer of RECORDS conda-meta records (plus dist-infos and a
dpkg status) and a small layer with whiteouts. Then measures, each in a fresh process,
wall time and peak RSS of
  - `cat X.tar > /dev/null`                      (raw streaming of the same bytes)
  - a Python loop over the tar stream            (tarfile `r|`, nested layers read through)
  - `repro-audit inventory docker-archive:X.tar --format json > /dev/null`
and, when Docker is running (`--daemon`), after `docker load`:
  - `docker save IMG > /dev/null`                (the issue's baseline)
  - `repro-audit inventory docker-daemon:IMG --format json > /dev/null`

    python bench/bench_inventory.py [--records 5000] [--files 100000] [--daemon]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SITE = "opt/conda/lib/python3.11/site-packages"


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    tar.addfile(info, io.BytesIO(data))


def _conda_record(index: int) -> bytes:
    """A conda-meta record of realistic size (~3 KB: a files list and paths_data)."""
    name = f"pkg{index:05d}"
    files = [f"lib/python3.11/site-packages/{name}/mod{i}.py" for i in range(12)]
    return json.dumps(
        {
            "name": name,
            "version": f"1.{index % 50}.0",
            "build": "py311h1234567_0",
            "build_number": 0,
            "channel": "https://conda.anaconda.org/conda-forge/linux-64",
            "subdir": "linux-64",
            "url": f"https://conda.anaconda.org/conda-forge/linux-64/{name}-1.0-py311_0.conda",
            "sha256": hashlib.sha256(name.encode()).hexdigest(),
            "md5": hashlib.md5(name.encode()).hexdigest(),
            "depends": ["python >=3.11,<3.12.0a0", "libgcc-ng >=12"],
            "files": files,
            "paths_data": {
                "paths": [
                    {"_path": f, "path_type": "hardlink", "sha256": "0" * 64, "size_in_bytes": 1}
                    for f in files
                ],
                "paths_version": 1,
            },
        }
    ).encode()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _layer(path: Path, fill: callable) -> None:  # type: ignore[valid-type]
    with path.open("wb") as handle, tarfile.open(fileobj=handle, mode="w") as tar:
        fill(tar)


def build_archive(target: Path, records: int, files: int, file_size: int) -> Path:
    """Write the archive (legacy docker save layout) and return its path."""
    work = Path(tempfile.mkdtemp(prefix="bench-inventory-", dir=target.parent))
    try:
        payload = bytes(range(256)) * (file_size // 256 + 1)

        def base(tar: tarfile.TarFile) -> None:
            for i in range(files):
                _add(tar, f"usr/share/data/d{i // 1000:03d}/f{i:06d}.bin", payload[:file_size])
            status = "".join(
                f"Package: deb{i}\nStatus: install ok installed\nVersion: 1.{i}\n\n"
                for i in range(300)
            )
            _add(tar, "var/lib/dpkg/status", status.encode())

        def conda(tar: tarfile.TarFile) -> None:
            for i in range(records):
                _add(tar, f"opt/conda/conda-meta/pkg{i:05d}-1.0-py311_0.json", _conda_record(i))
            for i in range(0, records, 10):
                dist = f"{SITE}/pkg{i:05d}-1.0.dist-info"
                meta = f"Metadata-Version: 2.1\nName: pkg{i:05d}\nVersion: 1.0\n\nlong text\n"
                _add(tar, f"{dist}/METADATA", meta.encode())
                _add(tar, f"{dist}/INSTALLER", b"conda\n" if i % 20 else b"pip\n")

        def top(tar: tarfile.TarFile) -> None:
            _add(tar, "opt/conda/conda-meta/.wh.pkg00000-1.0-py311_0.json", b"")
            _add(tar, "usr/share/data/.wh.d000", b"")

        layers = []
        for name, fill in (("base", base), ("conda", conda), ("top", top)):
            path = work / f"{name}.tar"
            _layer(path, fill)
            layers.append(path)
        diff_ids = ["sha256:" + _file_sha256(path) for path in layers]
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
            }
        ).encode()
        config_name = hashlib.sha256(config).hexdigest() + ".json"
        with target.open("wb") as handle, tarfile.open(fileobj=handle, mode="w") as tar:
            names = []
            for path, diff_id in zip(layers, diff_ids, strict=True):
                digest = diff_id.removeprefix("sha256:")
                tar.add(path, arcname=f"{digest}/layer.tar")
                names.append(f"{digest}/layer.tar")
            _add(tar, config_name, config)
            manifest = [{"Config": config_name, "RepoTags": ["bench/inventory:1"], "Layers": names}]
            _add(tar, "manifest.json", json.dumps(manifest).encode())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


_TAR_LOOP = """
import sys, tarfile
def walk(fileobj):
    with tarfile.open(fileobj=fileobj, mode="r|") as tar:
        for member in tar:
            if member.name.endswith("layer.tar"):
                walk(tar.extractfile(member))
            tar.members = []
with open(sys.argv[1], "rb") as handle:
    walk(handle)
"""


def measure(command: list[str] | str, repeat: int) -> tuple[float, float]:
    """(median wall seconds, peak RSS MB) of `command` with stdout to /dev/null."""
    walls, peaks = [], []
    for _ in range(repeat):
        wrapper = (
            "import resource, subprocess, sys, time, json\n"
            "cmd = json.loads(sys.argv[1])\n"
            "t = time.perf_counter()\n"
            "done = subprocess.run(cmd, shell=isinstance(cmd, str), stdout=subprocess.DEVNULL)\n"
            "wall = time.perf_counter() - t\n"
            "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
            "print(json.dumps([done.returncode, wall, peak]))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", wrapper, json.dumps(command)],
            capture_output=True,
            text=True,
            check=True,
        )
        code, wall, peak = json.loads(out.stdout)
        if code != 0:
            raise SystemExit(f"benchmark command failed ({code}): {command}")
        walls.append(wall)
        peaks.append(peak)
    return statistics.median(walls), max(peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--file-size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument(
        "--daemon", action="store_true", help="also docker load it and compare with docker save"
    )
    args = parser.parse_args()

    archive = args.workdir / f"bench-inventory-{args.records}-{args.files}.tar"
    started = time.perf_counter()
    if not archive.exists():
        build_archive(archive, args.records, args.files, args.file_size)
    size_mb = archive.stat().st_size / 1e6
    print(
        f"archive: {archive} ({size_mb:.0f} MB, {args.records} conda-meta records, "
        f"{args.files} other files; ready in {time.perf_counter() - started:.1f} s)"
    )
    subprocess.run(["cat", str(archive)], stdout=subprocess.DEVNULL, check=True)  # warm cache

    cli = [sys.executable, "-m", "audit", "inventory", "--format", "json"]
    rows: list[tuple[str, float, float]] = []
    rows.append(("cat X.tar > /dev/null", *measure(f"cat {archive}", args.repeat)))
    rows.append(
        ("python tarfile r| loop", *measure([sys.executable, "-c", _TAR_LOOP, str(archive)], 1))
    )
    rows.append(
        (
            "inventory docker-archive:X.tar",
            *measure([*cli, f"docker-archive:{archive}"], args.repeat),
        )
    )
    if args.daemon:
        subprocess.run(["docker", "load", "-i", str(archive)], check=True, capture_output=True)
        image = "bench/inventory:1"
        # interleaved, so both see the same machine load (dockerd's own speed varies a lot)
        saves, inventories = [], []
        for _ in range(args.repeat):
            saves.append(measure(f"docker save {image}", 1))
            inventories.append(measure([*cli, f"docker-daemon:{image}"], 1))
        rows.append(
            (
                "docker save IMG > /dev/null",
                statistics.median(w for w, _ in saves),
                max(p for _, p in saves),
            )
        )
        rows.append(
            (
                "inventory docker-daemon:IMG",
                statistics.median(w for w, _ in inventories),
                max(p for _, p in inventories),
            )
        )
        ratios = sorted(i[0] / s[0] for s, i in zip(saves, inventories, strict=True))
        median_ratio = statistics.median(ratios)
        print("per-run ratios inventory/save: " + ", ".join(f"{r:.2f}" for r in ratios))
        subprocess.run(["docker", "rmi", "-f", image], check=False, capture_output=True)

    inv = next(r for r in rows if r[0].startswith("inventory docker-archive"))
    print(f"\n{'command':36} {'wall s':>8} {'peak MB':>8} {'inventory/this':>15}")
    for name, wall, peak in rows:
        ratio = inv[1] / wall if not name.startswith("inventory") else float("nan")
        if name == "inventory docker-daemon:IMG":
            ratio = float("nan")
        print(f"{name:36} {wall:8.2f} {peak:8.0f} {ratio:15.2f}")
    if args.daemon:
        save = next(r for r in rows if r[0].startswith("docker save"))
        daemon = next(r for r in rows if r[0].startswith("inventory docker-daemon"))
        print(
            f"\ninventory docker-daemon / docker save: median per-run {median_ratio:.2f}x, "
            f"ratio of medians {daemon[1] / save[1]:.2f}x (target <= 1.3x); "
            f"peak RSS {daemon[2]:.0f} MB (target <= 150 MB)"
        )
    print(f"inventory docker-archive peak RSS: {inv[2]:.0f} MB (target <= 150 MB)")
    if os.environ.get("BENCH_KEEP") != "1":
        archive.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
