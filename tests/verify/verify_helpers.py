"""Helpers of the `verify` tests: a project locked, pinned and built "at T0", then aged.

Each `World` owns its channel directory (served over HTTP so a deleted file is a real
404), its base image repository in a shared local registry, its project and its artifact
cache, so a test may mutate all of them: rebuild the channel with newer packages, re-push
the base tag, delete a locked artifact or the base digest.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.build import busybox_path, busybox_rootfs, push_tag
from support.cli import repro_audit

ENVIRONMENT_YML = """\
name: app
channels:
  - {channel}
dependencies:
  - python 3.11.*
  - six
  - tzdata
platforms:
  - linux-64
"""


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """`repro-audit ARGS` in a subprocess (real exit codes, real environment)."""
    return repro_audit(*args, cwd=cwd, env=env, timeout=timeout)


def verify_json(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, Any]:
    """(exit code, parsed JSON) of `repro-audit verify ARGS --json`."""
    done = cli("verify", *args, "--json", cwd=cwd, env=env)
    try:
        return done.returncode, json.loads(done.stdout)
    except ValueError:
        return done.returncode, {"stdout": done.stdout, "stderr": done.stderr}


@dataclass
class World:
    root: Path
    channel: Path
    channel_url: str
    project: Path
    cache: Path
    registry_host: str
    repository: str
    tag: str
    image_tag: str
    base_digest: str = ""
    made_images: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {"REPRO_AUDIT_CACHE_DIR": str(self.cache)}

    @property
    def record(self) -> Path:
        return self.project / "build-record.json"

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return cli(*args, cwd=self.project, env=self.env)

    def run_env(self, extra: dict[str, str], *args: str) -> subprocess.CompletedProcess:
        return cli(*args, cwd=self.project, env={**self.env, **extra})

    def verify(self, *args: str) -> tuple[int, Any]:
        return verify_json(str(self.record), *args, cwd=self.project, env=self.env)


def delete_manifest(host: str, repository: str, digest: str) -> int:
    """Registry API DELETE of a manifest by digest (storage.delete.enabled); the status."""
    from support.registry import LocalRegistry

    return LocalRegistry(Path("."), port=int(host.rsplit(":", 1)[1])).delete_manifest(
        repository, digest
    )


def locked_file(lockfile: Path, name: str) -> str:
    """`subdir/file` of the locked artifact of package `name`."""
    import yaml

    for entry in yaml.safe_load(lockfile.read_text(encoding="utf-8"))["package"]:
        if entry["name"] == name:
            return "/".join(entry["url"].rsplit("/", 2)[-2:])
    raise KeyError(name)


def seeded_rootfs(seed: str) -> bytes:
    """The busybox rootfs plus /etc/seed: other content for the same tag."""
    busybox = busybox_path()
    assert busybox is not None
    source = io.BytesIO(busybox_rootfs(busybox))
    out = io.BytesIO()
    with tarfile.open(fileobj=source) as old, tarfile.open(fileobj=out, mode="w") as new:
        for member in old.getmembers():
            new.addfile(member, old.extractfile(member) if member.isfile() else None)
        if seed:
            data = f"{seed}\n".encode()
            info = tarfile.TarInfo("etc/seed")
            info.size, info.mode = len(data), 0o644
            new.addfile(info, io.BytesIO(data))
    return out.getvalue()


def push_base(client: Any, repository: str, tag: str, seed: str) -> str:
    """`docker import` a (seeded) busybox rootfs as repository:tag and push it; the digest."""
    client.api.import_image_from_data(
        seeded_rootfs(seed),
        repository=repository,
        tag=tag,
        changes=["ENV PATH=/bin", 'CMD ["/bin/sh"]'],
    )
    return push_tag(client, repository, tag)
