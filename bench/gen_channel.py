"""Generate a synthetic conda-forge-scale channel (repodata only) for solver benchmarks.

Realistic shape: a few thousand package names in layers (low layers are libraries that
many packages depend on, like conda-forge's libzlib or openssl), several versions per
name, several build numbers and python variants per version, version-ranged dependencies
on lower layers, `python_abi` pinning, and noarch packages. Package files are not written:
a solve only reads repodata. Deterministic for a given seed.

    python bench/gen_channel.py OUT [--records 200000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from pathlib import Path

PLATFORMS = ("linux-64", "osx-64", "osx-arm64", "win-64")
PYTHONS = ("3.10", "3.11", "3.12")
TIMESTAMP = 1_700_000_000_000


def _digest(text: str, algo: str) -> str:
    return hashlib.new(algo, text.encode()).hexdigest()


def _record(
    name: str,
    version: str,
    build: str,
    number: int,
    depends: list[str],
    subdir: str,
    noarch: str | None,
) -> tuple[str, dict]:
    fn = f"{name}-{version}-{build}.conda"
    rec: dict = {
        "build": build,
        "build_number": number,
        "depends": depends,
        "license": "BSD-3-Clause",
        "md5": _digest(subdir + fn, "md5"),
        "name": name,
        "sha256": _digest(subdir + fn, "sha256"),
        "size": 1000 + len(fn) * 37,
        "subdir": subdir,
        "timestamp": TIMESTAMP + number * 1000,
        "version": version,
    }
    if noarch:
        rec["noarch"] = noarch
    return fn, rec


def generate(out: Path, records: int = 210_000, seed: int = 7) -> dict[str, int]:
    """Write `<out>/<subdir>/repodata.json` for noarch and PLATFORMS; counts per subdir."""
    rng = random.Random(seed)
    # per platform: names * versions * builds * pythons ≈ records / len(PLATFORMS)
    per_platform = records // (len(PLATFORMS) + 1)
    versions_per_name, builds_per_version = 6, 2
    arch_names = per_platform // (versions_per_name * builds_per_version * len(PYTHONS))
    layers = 8
    names = [
        f"pkg{layer}-{i:04d}"
        for layer in range(layers)
        for i in range(max(1, arch_names // layers))
    ]
    layer_of = {n: int(n[3]) for n in names}
    noarch_names = [f"py-{i:04d}" for i in range(max(1, per_platform // (versions_per_name * 2)))]
    deps_of: dict[str, list[str]] = {}
    for name in names:
        lower = [n for n in names if layer_of[n] < layer_of[name]]
        deps_of[name] = rng.sample(lower, min(len(lower), rng.randint(1, 5))) if lower else []
    for name in noarch_names:
        deps_of[name] = rng.sample(names, 2)

    subdirs: dict[str, dict] = {s: {} for s in ("noarch", *PLATFORMS)}
    for subdir in PLATFORMS:
        for py in PYTHONS:
            tag = py.replace(".", "")
            fn, rec = _record(
                "python",
                f"{py}.9",
                "h0_0_cpython",
                0,
                [f"python_abi {py}.* *_cp{tag}"],
                subdir,
                None,
            )
            subdirs[subdir][fn] = rec
            fn, rec = _record("python_abi", py, f"5_cp{tag}", 5, [], subdir, None)
            subdirs[subdir][fn] = rec
        for name in names:
            for v in range(versions_per_name):
                version = f"{1 + v // 3}.{v % 3}.0"
                for b in range(builds_per_version):
                    deps = [f"{d} >={1 + rng.randint(0, 1)}.0,<3" for d in deps_of[name]]
                    for py in PYTHONS:
                        tag = py.replace(".", "")
                        pydeps = [
                            f"python >={py},<{py}.0a0".replace(
                                f"<{py}.0a0", f"<{py[:-1]}{int(py[-1]) + 1}.0a0"
                            )
                            if len(py) == 4
                            else f"python >={py},<{py[:-2]}{int(py[-2:]) + 1}.0a0",
                            f"python_abi {py}.* *_cp{tag}",
                        ]
                        fn, rec = _record(
                            name, version, f"py{tag}h{b:04d}_{b}", b, deps + pydeps, subdir, None
                        )
                        subdirs[subdir][fn] = rec
    for name in noarch_names:
        for v in range(versions_per_name):
            for b in range(2):
                deps = ["python >=3.8", *(f"{d} >=1.0" for d in deps_of[name])]
                fn, rec = _record(
                    name, f"0.{v}.{b}", f"pyhd8ed1ab_{b}", b, deps, "noarch", "python"
                )
                subdirs["noarch"][fn] = rec
    counts = {}
    for subdir, recs in subdirs.items():
        (out / subdir).mkdir(parents=True, exist_ok=True)
        body = {
            "info": {"subdir": subdir},
            "packages": {},
            "packages.conda": recs,
            "repodata_version": 1,
        }
        (out / subdir / "repodata.json").write_text(json.dumps(body, sort_keys=True))
        counts[subdir] = len(recs)
    return counts


def top_level_specs(count: int, seed: int = 11) -> list[str]:
    """Specs from the top layers: their closure is large, like a real data-science env."""
    rng = random.Random(seed)
    return ["python 3.11.*", *sorted(f"pkg7-{i:04d}" for i in rng.sample(range(130), count))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--records", type=int, default=210_000)
    args = parser.parse_args()
    counts = generate(args.out, args.records)
    print(json.dumps(counts, sort_keys=True), "total", sum(counts.values()))


if __name__ == "__main__":
    main()
