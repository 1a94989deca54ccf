"""Test and bench support for `verify`: records and locks made without Docker.

Static verification needs a build record, and a real one needs Docker. These helpers
write a record of the same shape for a lock (no base image, no outputs worth comparing),
and a large synthetic lock over files in a directory, for unit tests and bench/. Never
used by the CLI.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from audit import __version__
from audit.record import BuildRecord, write_record


def record_for_lock(lockfile: Path, record: Path, platform: str = "linux-64") -> Path:
    """Write a build record whose inputs are `lockfile` (by path and sha256) only."""
    from audit.build.materialize import CONDA_TO_OCI
    from audit.inventory import read_inventory

    inventory = read_inventory(str(lockfile), platform)
    conda = [
        {
            "name": p.name,
            "version": p.version,
            "build": p.build,
            "sha256": p.sha256,
            "url": p.url,
        }
        for p in inventory.packages
        if p.manager == "conda"
    ]
    pip = [
        {"name": p.name, "version": p.version, "sha256": p.sha256, "url": p.url}
        for p in inventory.packages
        if p.manager == "pip"
    ]
    rel = lockfile.resolve().relative_to(record.resolve().parent).as_posix()
    write_record(
        record,
        BuildRecord(
            tool_version=__version__,
            environment=[],
            lockfile={
                "path": rel,
                "sha256": hashlib.sha256(lockfile.read_bytes()).hexdigest(),
                "content_hash": "",
                "platforms": [platform],
            },
            dockerfile={"path": None, "generated": True, "sha256": "", "base": None},
            base_images=[],
            allow_unpinned=False,
            unpinned=[],
            platform=CONDA_TO_OCI.get(platform, "linux/amd64"),
            conda_platform=platform,
            prefix="/opt/conda/envs/env",
            source_date_epoch=0,
            packages={"conda": conda, "pip": pip},
            image_id="",
            tag=None,
            env_layer_diff_id="",
            env_tar_sha256="",
            layers=[],
            labels={},
            repo_digest=None,
            inventory=inventory.to_json(),
        ),
    )
    return record


def synthetic_lock(channel: Path, url: str, count: int, lockfile: Path) -> list[Path]:
    """`count` tiny `.conda` files in `channel/noarch/` and a conda-lock.yml naming them.

    The files are not real packages (verify's static check only needs URLs and hashes).
    """
    noarch = channel / "noarch"
    noarch.mkdir(parents=True, exist_ok=True)
    (channel / "linux-64").mkdir(exist_ok=True)
    lines = [
        "version: 1",
        "metadata:",
        "  content_hash:",
        "    linux-64: synthetic",
        "  channels:",
        f"  - url: {url}",
        "    used_env_vars: []",
        "  platforms:",
        "  - linux-64",
        "  sources:",
        "  - environment.yml",
        "package:",
    ]
    files = []
    for index in range(count):
        name = f"pkg{index:04d}"
        file_name = f"{name}-1.0.{index}-h0_0.conda"
        data = f"synthetic artifact {index}\n".encode() * 8
        path = noarch / file_name
        path.write_bytes(data)
        files.append(path)
        lines += [
            f"- name: {name}",
            f"  version: 1.0.{index}",
            "  manager: conda",
            "  platform: linux-64",
            "  dependencies: {}",
            f"  url: {url}/noarch/{file_name}",
            "  hash:",
            f"    md5: {hashlib.md5(data).hexdigest()}",
            f"    sha256: {hashlib.sha256(data).hexdigest()}",
            "  build: h0_0",
            "  category: main",
            "  optional: false",
        ]
    lockfile.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for subdir in ("noarch", "linux-64"):
        document = {"info": {"subdir": subdir}, "packages": {}, "packages.conda": {}}
        (channel / subdir / "repodata.json").write_text(json.dumps(document), encoding="utf-8")
    return files
