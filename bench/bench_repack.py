"""What re-packing a Dockerfile step's layer canonically costs, against `tar -cf` of it.

`build` re-packs every RUN/COPY/ADD layer it has not seen before (audit.build.repack) so
that the image id depends on the files alone. This script makes a layer folder of the
given size itself (random bytes, so nothing compresses or dedups), then times the re-pack
(walk, sort, clamp, write, hash) against GNU tar writing the same folder, in one run.

    python bench/bench_repack.py --mb 200 --files 10000 --runs 3 [--json out.json] [--quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import emit, figure  # noqa: E402


def make_layer(root: Path, megabytes: int, files: int) -> None:
    size = megabytes * 1_000_000 // files
    per_folder = 100
    for number in range(files):
        folder = root / f"d{number // per_folder:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{number:06d}").write_bytes(os.urandom(size))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="50 MB in 2,500 files, 1 run")
    args = parser.parse_args()
    if args.quick:
        args.mb, args.files, args.runs = 50, 2_500, 1
    from audit.build.repack import _repack_folder

    with tempfile.TemporaryDirectory(prefix="repro-audit-bench-repack-") as tmp:
        layer, work = Path(tmp) / "layer", Path(tmp) / "work"
        make_layer(layer, args.mb, args.files)
        tars, repacks = [], []
        for _ in range(args.runs):
            started = time.perf_counter()
            subprocess.run(["tar", "-cf", str(Path(tmp) / "base.tar"), "-C", str(layer), "."],
                           check=True)  # fmt: skip
            tars.append(time.perf_counter() - started)
            started = time.perf_counter()
            _, path = _repack_folder(layer, "layer", 0, work)
            repacks.append(time.perf_counter() - started)
            path.unlink()
        shutil.rmtree(layer)
    tar_s, repack_s = statistics.median(tars), statistics.median(repacks)
    print(f"{'layer':<28}{'tar -cf':>10}{'re-pack':>10}{'ratio':>8}")
    print(f"{f'{args.mb} MB, {args.files} files':<28}{tar_s:>9.2f}s{repack_s:>9.2f}s"
          f"{repack_s / tar_s:>8.2f}")  # fmt: skip
    command = f"python bench/bench_repack.py --mb {args.mb} --files {args.files}"
    emit(
        [figure("repack", f"re-pack a {args.mb} MB / {args.files}-file step layer",
                repack_s, "tar -cf of the same folder", tar_s, None, command)],  # fmt: skip
        args.json,
    )


if __name__ == "__main__":
    main()
