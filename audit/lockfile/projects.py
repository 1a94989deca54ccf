"""The conda projects of a repository: each folder with an environment file or a lock.

A project is a folder holding `environment.yml` (or `.yaml`), `conda-lock.yml`, or a
configuration naming its `environment-files` (`audit.lockfile.projectconfig`). Its
environment files are the configured ones; else the ones its lock names in
`metadata.sources` (what `lock -f` was given: `envs/base.yml` + `envs/gpu.yml`, or a file
in another folder) when they all exist; else its own environment.yml. An environment file
that some lock or configuration names is that project's, not a project of its own, so a
shared file does not ask for a second lock.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from audit.lockfile.projectconfig import CONFIG_FILES, configured_env_files

ENV_NAMES = ("environment.yml", "environment.yaml")
CONFIG_NAMES = tuple(name for name, _ in CONFIG_FILES)
LOCK_NAME = "conda-lock.yml"
_SOURCES = re.compile(r"^  sources:\n((?:  - .*\n)*)", re.MULTILINE)


@dataclass(frozen=True)
class Project:
    """One project, every path relative to the listed root (POSIX)."""

    dir: str  # "." at the root
    env: str | None  # the folder's own environment.y*ml
    lock: str  # where its conda-lock.yml is or belongs (it may not exist)
    has_lock: bool
    #: the environment files the lock names (relative to the root), when they all exist
    sources: tuple[str, ...] = ()

    @property
    def env_files(self) -> tuple[str, ...]:
        return self.sources or ((self.env,) if self.env else ())


def join(folder: str, name: str) -> str:
    return name if folder in ("", ".") else f"{folder}/{name}"


def parent(path: str) -> str:
    return posixpath.dirname(path) or "."


def present(path: Path) -> bool:
    """A file to check: a regular file, or a symlink to nothing (reading it is the finding,
    not silence); a folder or a FIFO of that name is not one (a FIFO would hang a read)."""
    return path.is_file() or (path.is_symlink() and not path.exists())


def find_projects(root: Path, paths: tuple[str, ...]) -> list[Project]:
    """The projects among `paths` (files relative to `root`), sorted by folder."""
    envs: dict[str, str] = {}
    locks: set[str] = set()
    configured: dict[str, tuple[str, ...]] = {}
    for path in paths:
        name = posixpath.basename(path)
        if name in ENV_NAMES and parent(path) not in envs and present(root / path):
            envs[parent(path)] = path
        elif name == LOCK_NAME and present(root / path):
            locks.add(parent(path))
        elif name in CONFIG_NAMES and parent(path) not in configured:
            files = configured_env_files(root / parent(path))
            if files is not None:
                configured[parent(path)] = tuple(
                    posixpath.normpath(join(parent(path), f)) for f in files
                )
    projects: list[Project] = []
    claimed: set[str] = {f for files in configured.values() for f in files}
    for folder, files in sorted(configured.items()):
        lock = join(folder, LOCK_NAME)
        has_lock = folder in locks
        projects.append(Project(folder, None if files else envs.get(folder), lock, has_lock, files))
    locks -= set(configured)
    for folder in sorted(locks):
        lock = join(folder, LOCK_NAME)
        sources = tuple(
            posixpath.normpath(join(folder, s)) for s in lock_sources(root / lock) or ()
        )
        if not sources or not all((root / s).is_file() for s in sources):
            sources = ()
        claimed.update(sources)
        projects.append(Project(folder, envs.get(folder), lock, True, sources))
    for folder, env in sorted(envs.items()):
        if folder not in locks and folder not in configured and env not in claimed:
            projects.append(Project(folder, env, join(folder, LOCK_NAME), False))
    return sorted(projects, key=lambda p: p.dir)


def lock_sources(path: Path) -> tuple[str, ...] | None:
    """`metadata.sources` of a conda-lock.yml, read from its head only (None: unreadable).

    The metadata block comes before the package list; the block list repro-audit and
    conda-lock write is read with a pattern, anything else with the YAML loader.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(64 * 1024)
    except OSError:
        return None
    text = data.decode("utf-8", "replace")
    end = text.find("\npackage:")
    head = text[: end + 1] if end >= 0 else text
    match = _SOURCES.search(head)
    if match is not None:
        return tuple(line[4:].strip().strip("'\"") for line in match.group(1).splitlines())
    if "sources:" not in head:
        return ()
    from audit.core.errors import InputError
    from audit.core.safeload import load_yaml

    try:
        data = load_yaml(head, path.name)
    except InputError:  # a lock that does not parse (or a bomb) is the conda rules' finding
        return None
    meta = data.get("metadata") if isinstance(data, dict) else None
    sources = meta.get("sources") if isinstance(meta, dict) else None
    return tuple(str(s) for s in sources) if isinstance(sources, list) else None
