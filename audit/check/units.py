"""What `check` checks together: each conda project with its Dockerfiles, compose files and
policy, and the files outside every project.

A Dockerfile or compose file belongs to the deepest project folder above it (its steps are
judged against that project's lock); the ones outside every project form the unit of the
checked folder itself. A unit's policy is the nearest `repro-audit.toml` or
`[tool.repro-audit]` of pyproject.toml from its folder up to the repository's top level,
as linters find their configuration: the nearest one wins, nothing is merged.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from audit.dockerfile.naming import is_dockerfile
from audit.lockfile.projects import LOCK_NAME, Project, find_projects, join, parent, present

POLICY_NAMES = ("repro-audit.toml", "pyproject.toml")
COMPOSE_NAMES = ("docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml")


@dataclass
class Unit:
    """One project (or the files outside every project), paths relative to the checked root."""

    dir: str
    project: Project | None = None
    dockerfiles: list[str] = field(default_factory=list)
    compose: list[str] = field(default_factory=list)
    #: folders (relative to the root, "." included; "../.." above it) that may hold its policy
    policy_dirs: tuple[str, ...] = ()

    @property
    def files(self) -> set[str]:
        """Files whose change asks for this unit to be checked again (besides its folder's)."""
        out = set(self.dockerfiles) | set(self.compose)
        if self.project is not None:
            out |= set(self.project.env_files) | {self.project.lock}
        out |= {join(d, n) for d in self.policy_dirs for n in POLICY_NAMES}
        return {posixpath.normpath(p) for p in out}


def make_units(root: Path, paths: tuple[str, ...], top: Path | None) -> list[Unit]:
    """The units of `paths` (files under `root`), sorted by folder; empty when none."""
    projects = find_projects(root, paths)
    units = {p.dir: Unit(p.dir, p) for p in projects}
    for path in paths:
        name = posixpath.basename(path)
        if name.lower().endswith(".dockerignore"):
            continue
        if is_dockerfile(name):
            kind = "dockerfiles"
        elif name.lower() in COMPOSE_NAMES:
            kind = "compose"
        else:
            continue
        if not present(root / path):
            continue  # deleted in the working tree, still in git's index
        owner = owner_of(path, units)
        unit = units.setdefault(owner, Unit(owner))
        getattr(unit, kind).append(path)
    ups = _levels_up(root, top)
    for unit in units.values():
        unit.policy_dirs = _policy_dirs(unit.dir, ups)
    return [units[d] for d in sorted(units)]


def owner_of(path: str, units: dict[str, Unit] | Iterable[str]) -> str:
    """The deepest unit folder above `path` ("." when none is)."""
    folder = parent(path)
    while folder not in ("", "."):
        if folder in units:
            return folder
        folder = parent(folder)
    return "."


def _levels_up(root: Path, top: Path | None) -> int:
    """How many folders the repository's top level is above `root` (0 outside git)."""
    if top is None:
        return 0
    import os

    relative = Path(os.path.relpath(root.resolve(), top.resolve()))
    return 0 if relative.as_posix() == "." else len(relative.parts)


def _policy_dirs(folder: str, ups: int) -> tuple[str, ...]:
    """`folder`, its parents up to the root, then `ups` folders above it."""
    out = []
    current = folder
    while True:
        out.append(current)
        if current == ".":
            break
        current = parent(current)
    out.extend("/".join([".."] * n) for n in range(1, ups + 1))
    return tuple(out)


def select(units: list[Unit], changed: set[str]) -> list[Unit]:
    """The units a change to `changed` (paths relative to the root) can alter."""
    if not changed:
        return []
    dirs = {u.dir for u in units}
    picked = []
    for unit in units:
        files = unit.files
        if any(p in files or owner_of(p, dirs) == unit.dir for p in changed):
            picked.append(unit)
    return picked


def lock_name(unit: Unit) -> str:
    return unit.project.lock if unit.project is not None else join(unit.dir, LOCK_NAME)
