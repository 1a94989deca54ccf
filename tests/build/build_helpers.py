"""Helpers of the `build` tests (shared by conftest.py, the tests and nothing else)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ENVIRONMENT_YML = """\
name: app
channels:
  - conda-forge
dependencies:
  - python 3.11.*
  - six
  - tzdata
platforms:
  - linux-64
"""
PREFIX = "/opt/conda/envs/app"
BASE_REPOSITORY = "ra-build-base"


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`repro-audit ARGS` in a subprocess (real exit codes, real environment)."""
    return subprocess.run(
        [sys.executable, "-m", "audit", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


@dataclass
class BaseImage:
    host: str
    repository: str
    tag: str
    digest: str

    @property
    def tagged(self) -> str:
        return f"{self.host}/{self.repository}:{self.tag}"

    @property
    def pinned(self) -> str:
        return f"{self.tagged}@{self.digest}"


def write_project(directory: Path, channel: str, base: BaseImage | None) -> Path:
    """environment.yml, a context file, .dockerignore, and (with `base`) a Dockerfile."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "environment.yml").write_text(ENVIRONMENT_YML, encoding="utf-8")
    (directory / "hello.txt").write_text("hello from the context\n", encoding="utf-8")
    (directory / "secret.txt").write_text("must not reach the image\n", encoding="utf-8")
    (directory / ".dockerignore").write_text("secret.txt\n", encoding="utf-8")
    done = cli("lock", "-c", channel, "-p", "linux-64", cwd=directory)
    assert done.returncode == 0, done.stderr
    if base is not None:
        (directory / "Dockerfile").write_text(
            f"FROM {base.tagged}\nCOPY . /app/\n", encoding="utf-8"
        )
        done = cli("pin", cwd=directory)
        assert done.returncode == 0, done.stdout + done.stderr
    return directory


def make_wheel(directory: Path, name: str = "tinywheel", version: str = "1.0") -> Path:
    """A pure-Python wheel with a module and a console script (PEP 427 layout, RECORD)."""
    import base64
    import hashlib
    import zipfile

    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"VALUE = 42\n",
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
        ),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
        f"{dist_info}/entry_points.txt": f"[console_scripts]\n{name} = {name}:main\n".encode(),
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(zipfile.ZipInfo(path, (1980, 1, 1, 0, 0, 0)), data)
    return wheel


def add_pip_entry(lockfile: Path, wheel: Path, url: str, platform: str = "linux-64") -> None:
    """Append a `manager: pip` entry (url + sha256), as `repro-audit lock` writes them."""
    import hashlib

    import yaml

    document = yaml.safe_load(lockfile.read_text(encoding="utf-8"))
    name, version = wheel.name.split("-")[:2]
    document["package"].append(
        {
            "name": name,
            "version": version,
            "manager": "pip",
            "platform": platform,
            "dependencies": {},
            "url": url,
            "hash": {"sha256": hashlib.sha256(wheel.read_bytes()).hexdigest()},
            "category": "main",
            "optional": False,
        }
    )
    lockfile.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
