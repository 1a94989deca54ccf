"""A base image with a real Python and pip, made offline from this machine's own Python.

Public registries are out of reach, so a test that needs `RUN python3 -m pip install …`
makes its base: the busybox rootfs (support.build) plus the interpreter this test run
uses (its binary, the shared libraries it and its extension modules load, its standard
library without tests) and the pip package it has installed. Deterministic tar (mtime 0,
owner 0:0, sorted). Never used by the CLI.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

from support.build import busybox_rootfs

_SKIP_DIRS = {
    "test", "tests", "__pycache__", "idlelib", "tkinter", "turtledemo", "ensurepip",
    "site-packages", "dist-packages",
}  # fmt: skip


def host_python() -> tuple[Path, Path, Path] | None:
    """(interpreter, stdlib, pip package dir) of this run, or None when one is missing."""
    try:
        import pip
    except ImportError:
        return None
    exe = Path(os.path.realpath(Path(sys.base_prefix) / "bin" / "python3"))
    stdlib = Path(sysconfig.get_path("stdlib"))
    if not exe.is_file() or not stdlib.is_dir():
        return None
    return exe, stdlib, Path(pip.__path__[0])


def _libraries(binaries: list[Path]) -> list[str]:
    found: set[str] = set()
    for binary in binaries:
        out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
        found.update(w for line in out.stdout.splitlines() for w in line.split() if w[:1] == "/")
    return sorted(found)


def _add(archive: tarfile.TarFile, source: str | Path, name: str) -> None:
    info = archive.gettarinfo(str(source), name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    if info.isfile():
        with open(source, "rb") as handle:
            archive.addfile(info, handle)
    elif info.isdir():
        archive.addfile(info)


def _tree(archive: tarfile.TarFile, top: Path, prefix: str) -> None:
    for root, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        for name in sorted(files):
            if not name.endswith(".pyc"):
                path = Path(root) / name
                _add(archive, path, f"{prefix}/{path.relative_to(top).as_posix()}")


def python_rootfs(busybox: str) -> bytes:
    """busybox + `/usr/bin/python3` + its stdlib (at the same path) + pip in the stdlib."""
    found = host_python()
    assert found is not None
    exe, stdlib, pip_dir = found
    dynload = sorted((stdlib / "lib-dynload").glob("*.so"))
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(busybox_rootfs(busybox))) as base,
        tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for member in base.getmembers():
            archive.addfile(member, base.extractfile(member) if member.isfile() else None)
        for library in _libraries([exe, *dynload]):
            _add(archive, os.path.realpath(library), library.lstrip("/"))
        _add(archive, exe, "usr/bin/python3")
        _tree(archive, stdlib, stdlib.as_posix().lstrip("/"))
        _tree(archive, pip_dir, f"{stdlib.as_posix().lstrip('/')}/pip")
    return out.getvalue()
