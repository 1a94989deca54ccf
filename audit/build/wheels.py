"""Locked wheels installed into a stage: each unpacked once, hardlinked into later stages.

A wheel is unpacked by PyPA `installer` (as pip lays it out) into a tree kept in the
cache, keyed by everything that decides the installed bytes: the wheel's sha256, the
python version, the prefix (scripts' shebangs name it) and installer's version. Every
later stage that locks the same wheel hardlinks that tree, as conda's package cache
hardlinks packages: a 2 GB torch wheel costs a directory walk, not an unzip of 2 GB.

Each tree has a manifest (size and mtime of every file) checked on use, so a tree that
was edited or damaged is unpacked again rather than staged; nothing in a stage is ever
written after it is linked (the tar only reads it), so the links cannot alter the tree.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from audit.core.errors import InputError
from audit.core.fs import out_of_space

TREE_FORMAT = 1

def python_version(records: list[Any]) -> str:
    """`3.11` from the lock's python record: the site-packages folder's name."""
    for record in records:
        if record.name.normalized == "python":
            return ".".join(str(record.version).split(".")[:2])
    raise InputError("the lock has pip wheels but no python package to install them into")


def install_wheels(
    wheels: list[Any],
    verified: dict[str, Path],
    stage: Path,
    prefix: str,
    records: list[Any],
    cache_dir: Path,
    say: Callable[[str, str], None],
) -> None:
    """Each verified wheel's installed tree, hardlinked into `stage` (unpacked if new)."""
    py = python_version(records)
    for wheel in wheels:
        source = verified[wheel.sha256.lower()]
        tree, reused = installed_tree(wheel, source, py, prefix, cache_dir)
        count = link_tree(tree, stage)
        how = "linked from the installed-wheel cache" if reused else "unpacked"
        say("installing", f"{wheel.file_name}: {count:,} files {how}")


def tree_key(sha256: str, py: str, prefix: str) -> str:
    from installer import __version__ as installer_version

    body = json.dumps([TREE_FORMAT, sha256.lower(), py, prefix, installer_version])
    return hashlib.sha256(body.encode()).hexdigest()


def installed_tree(
    wheel: Any, source: Path, py: str, prefix: str, cache_dir: Path
) -> tuple[Path, bool]:
    """(the folder holding the wheel installed for `prefix`, whether it was there)."""
    key = tree_key(wheel.sha256, py, prefix)
    home = Path(cache_dir) / "wheel-trees" / key[:2] / key
    if _intact(home):
        return home / "tree", True
    home.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".tree-", dir=home.parent))
    try:
        _unpack(wheel, source, work / "tree", prefix, py)
        manifest = {
            p.relative_to(work / "tree").as_posix(): [p.lstat().st_size, p.lstat().st_mtime_ns]
            for p in (work / "tree").rglob("*")
            if p.is_file() and not p.is_symlink()
        }
        (work / "manifest.json").write_text(json.dumps(manifest, sort_keys=True))
        shutil.rmtree(home, ignore_errors=True)  # an edited tree, dropped
        os.replace(work, home)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return home / "tree", False


def _intact(home: Path) -> bool:
    """Is every file of the tree there with the size and mtime it was unpacked with?"""
    try:
        manifest = json.loads((home / "manifest.json").read_text())
        tree = home / "tree"
        for rel, (size, mtime) in manifest.items():
            st = (tree / rel).lstat()
            if st.st_size != size or st.st_mtime_ns != mtime:
                return False
    except (OSError, ValueError, TypeError):
        return False
    return True


def link_tree(tree: Path, stage: Path) -> int:
    """Hardlink every file of `tree` into `stage` (copy where links are refused)."""
    count = 0
    for dirpath, dirnames, filenames in os.walk(tree):
        rel = Path(dirpath).relative_to(tree)
        target = stage / rel
        target.mkdir(parents=True, exist_ok=True)
        for name in filenames:
            src, dst = Path(dirpath) / name, target / name
            if dst.exists() or dst.is_symlink():
                dst.unlink()  # what installer does: a wheel's file replaces one there
            try:
                os.link(src, dst)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                    raise
                shutil.copy2(src, dst)
            count += 1
        dirnames.sort()
    return count


def _unpack(wheel: Any, source: Path, root: Path, prefix: str, py: str) -> None:
    """PyPA `installer` into `root`, laid out as the prefix will hold it."""
    from installer import install
    from installer.destinations import SchemeDictionaryDestination
    from installer.exceptions import InstallerError
    from installer.sources import WheelFile

    site = root / "lib" / f"python{py}" / "site-packages"
    scheme = {
        "purelib": str(site),
        "platlib": str(site),
        "headers": str(root / "include" / f"python{py}" / wheel.name),
        "scripts": str(root / "bin"),
        "data": str(root),
    }
    destination = SchemeDictionaryDestination(
        scheme,
        interpreter=f"{prefix}/bin/python",
        script_kind="posix",
        hash_algorithm="sha256",
        bytecode_optimization_levels=(),
    )
    try:
        with WheelFile.open(source) as opened:
            install(opened, destination, additional_metadata={"INSTALLER": b"pip\n"})
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise
        raise InputError(f"installing wheel {wheel.file_name} failed: {exc}") from None
    except (InstallerError, ValueError, KeyError) as exc:
        if out_of_space(str(exc), root.parent):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)) from None
        raise InputError(f"installing wheel {wheel.file_name} failed: {exc}") from None

