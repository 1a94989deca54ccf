"""How a lockfile changed over git history, and each package's version timeline.

Git objects come through one long-lived `git cat-file --batch` process (not a process
per revision). A conda-lock.yml is split into its package entries and each entry is
parsed once per distinct text (cached by content), so walking 200 revisions of a
750-package lock parses only the entries that changed. A corrupt lock at a revision is
a finding for that revision; the walk goes on against the last good one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from audit.core.errors import InputError
from audit.core.git import Commit, GitRepo  # noqa: F401 - re-exported for drift.report
from audit.core.safeload import load_json
from audit.diff.classify import PlatformDrift, diff_inventories
from audit.inventory.interface import Inventory, InventoryError, Package

#: Root causes a finding can carry (see drift_report).
CAUSE_SPEC = "spec edit"
CAUSE_UPSTREAM = "new upstream release"
CAUSE_BASE_IMAGE = "base image moved"
CAUSE_OUTSIDE = "installed outside the lock"
CAUSE_TOOL = "lock-format/tool change"


# --------------------------------------------------------------------------- fast lock parse


class LockParser:
    """conda-lock.yml bytes → inventories, through the one conda-lock.yml reader.

    Revisions of one lock share most entries: the reader keeps each Package by its entry
    text across revisions, so a walk over hundreds of revisions scans only the entries
    that changed and holds one object per distinct entry. The result is always what
    `inventory` says for the same bytes.
    """

    def __init__(self) -> None:
        self._entries: dict[Any, Package] = {}

    def parse(self, data: bytes, where: str) -> list[Inventory]:
        from audit.inventory import source_from_bytes

        return source_from_bytes(where, data, "conda-lock.yml", entry_cache=self._entries).read()


# --------------------------------------------------------------------------- history


@dataclass
class Revision:
    """One commit that touched the lock: what changed, and why we think so."""

    commit: Commit
    changes: list[PlatformDrift] = field(default_factory=list)
    error: str | None = None
    cause: str = ""
    created: bool = False
    spec_changed: bool = False
    dockerfile_changed: bool = False
    image_lock_changed: bool = False

    @property
    def change_count(self) -> int:
        return sum(len(p.changes) for p in self.changes)

    def to_json(self) -> dict[str, Any]:
        from audit.diff.formats.json import platform_document

        return {
            "sha": self.commit.sha,
            "time": self.commit.time,
            "subject": self.commit.subject,
            "error": self.error,
            "cause": self.cause,
            "created": self.created,
            "spec_changed": self.spec_changed,
            "dockerfile_changed": self.dockerfile_changed,
            "image_lock_changed": self.image_lock_changed,
            "platforms": [platform_document(p) for p in self.changes if p.changes],
        }


@dataclass
class History:
    """Revisions oldest first (the first is the baseline) and per-package timelines."""

    lockfile: str
    revisions: list[Revision]
    #: (platform, manager, name) → version at each revision ("" = absent), for packages
    #: whose version changed at least once in the window
    timelines: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    platforms: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "lockfile": self.lockfile,
            "platforms": list(self.platforms),
            "revisions": [r.to_json() for r in self.revisions],
            "timelines": [
                {"platform": p, "manager": m, "name": n, "versions": versions}
                for (p, m, n), versions in sorted(self.timelines.items())
            ],
        }


def _label(package: Package | None) -> str:
    return package.version if package is not None else ""


def _cause(revision: Revision) -> str:
    """Why the lock changed in this revision: the spec, the tool, or upstream."""
    if revision.error:
        return CAUSE_TOOL
    if revision.spec_changed:
        return CAUSE_SPEC
    kinds = {c.kind for p in revision.changes for c in p.changes}
    if not kinds or kinds <= {"metadata-changed", "channel-changed"}:
        return CAUSE_TOOL
    return CAUSE_UPSTREAM


def walk_history(
    repo: GitRepo,
    lockfile: str,
    *,
    spec_files: Sequence[str] = (),
    dockerfiles: Sequence[str] = (),
    image_locks: Sequence[str] = (),
    limit: int = 20,
    since: str | None = None,
) -> History:
    """The lock at the last `limit` commits that touched it (or those after `since`).

    Paths are repository paths. The commit before the window (or `since` itself) is
    the baseline every change is measured from; without one, the oldest commit of the
    window is the lock's creation.
    """
    base_commit, commits = _window(repo, lockfile, limit, since)
    walker = _Walker(
        repo, lockfile, {"spec": spec_files, "docker": dockerfiles, "image": image_locks}
    )
    revisions: list[Revision] = []
    states: list[dict[str, Inventory] | None] = []
    if base_commit is not None:
        state, error = walker.load(base_commit.sha)
        base = Revision(base_commit, error=error)
        base.cause = ""
        walker.last_good, walker.last_blobs = state, walker.blobs(base_commit.sha)
        revisions.append(base)
        states.append(state)
    for commit in commits:
        revision, state = walker.step(commit)
        revisions.append(revision)
        states.append(state)
    platforms = tuple(sorted({p for s in states if s for p in s}))
    return History(
        lockfile=lockfile,
        revisions=revisions,
        timelines=_timelines(states),
        platforms=platforms,
    )


def _window(
    repo: GitRepo, lockfile: str, limit: int, since: str | None
) -> tuple[Commit | None, list[Commit]]:
    """(the baseline commit or None, the commits of the window oldest first)."""
    if limit < 1:
        raise InputError("-n must be at least 1")
    if since:
        base_sha = repo.rev_parse(since)
        commits = list(reversed(repo.log(lockfile, since=base_sha)))
        shown = repo.git("show", "-s", "--format=%ct%x00%s", base_sha).stdout.decode()
        ctime, _, subject = shown.strip().partition("\x00")
        if repo.read(base_sha, lockfile) is None:
            return None, commits
        return Commit(base_sha, int(ctime or 0), subject), commits
    repo.rev_parse("HEAD")
    found = repo.log(lockfile, limit=limit + 1)
    if not found:
        raise InputError(f"{lockfile!r} was never committed", where=str(repo.top))
    commits = list(reversed(found))
    if len(found) > limit:
        return commits[0], commits[1:]
    return None, commits


class _Walker:
    """One step of the walk: the lock at a commit, diffed against the last readable one."""

    def __init__(self, repo: GitRepo, lockfile: str, groups: dict[str, Sequence[str]]) -> None:
        self.repo = repo
        self.lockfile = lockfile
        self.groups = groups
        self.parser = LockParser()
        self.last_good: dict[str, Inventory] | None = None
        self.last_blobs: dict[str, str] = {}

    def blobs(self, sha: str) -> dict[str, str]:
        """Blob ids of the spec files, Dockerfiles and image locks at `sha` (what changed)."""
        out: dict[str, str] = {}
        for group, paths in self.groups.items():
            out[group] = "|".join(
                (found[0] if (found := self.repo.read(sha, p)) else "-") for p in paths
            )
        return out

    def load(self, sha: str) -> tuple[dict[str, Inventory] | None, str | None]:
        found = self.repo.read(sha, self.lockfile)
        if found is None:
            return None, f"{self.lockfile} is absent at {sha[:12]}"
        try:
            inventories = self.parser.parse(found[1], f"git:{sha[:12]}:{self.lockfile}")
        except InventoryError as exc:
            return None, exc.one_line()
        return {i.platform: i for i in inventories}, None

    def step(self, commit: Commit) -> tuple[Revision, dict[str, Inventory] | None]:
        state, error = self.load(commit.sha)
        revision = Revision(commit, error=error)
        current = self.blobs(commit.sha)
        if self.last_blobs:
            revision.spec_changed = current["spec"] != self.last_blobs["spec"]
            revision.dockerfile_changed = current["docker"] != self.last_blobs["docker"]
            revision.image_lock_changed = current["image"] != self.last_blobs["image"]
        self.last_blobs = current
        if state is not None and self.last_good is None:
            revision.created = True
        elif state is not None and self.last_good is not None:
            revision.changes = _diff_states(self.last_good, state)
        if state is not None:
            self.last_good = state
        revision.cause = "" if revision.created else _cause(revision)
        return revision, state


def _diff_states(old: dict[str, Inventory], new: dict[str, Inventory]) -> list[PlatformDrift]:
    out = []
    for platform in sorted(set(old) | set(new)):
        a = old.get(platform) or Inventory(source="", platform=platform)
        b = new.get(platform) or Inventory(source="", platform=platform)
        out.append(diff_inventories(a, b, platform=platform))
    return out


def _timelines(
    states: Sequence[dict[str, Inventory] | None],
) -> dict[tuple[str, str, str], list[str]]:
    """Version per revision of every package whose version (or build) moved in the window.

    A package rebuilt without a new version is labelled `version-build` throughout.

    A revision whose lock was unreadable repeats the previous versions (the lock that
    was in force), so the lines stay continuous.
    """
    keyed: list[dict[tuple[str, str, str], tuple[str, str]]] = []
    previous: dict[tuple[str, str, str], tuple[str, str]] = {}
    for state in states:
        if state is None:
            keyed.append(previous)
            continue
        current = {
            (platform, p.manager, p.name): (p.version, p.build)
            for platform, inventory in state.items()
            for p in inventory.packages
        }
        keyed.append(current)
        previous = current
    moved: set[tuple[str, str, str]] = set()
    rebuilt: set[tuple[str, str, str]] = set()
    for before, after in zip(keyed, keyed[1:], strict=False):
        if before is after:
            continue
        for key in before.keys() | after.keys():
            old, new = before.get(key), after.get(key)
            if old != new:
                moved.add(key)
                if old and new and old[0] == new[0]:
                    rebuilt.add(key)

    def label(value: tuple[str, str] | None, with_build: bool) -> str:
        if value is None:
            return ""
        return f"{value[0]}-{value[1]}" if with_build and value[1] else value[0]

    return {key: [label(k.get(key), key in rebuilt) for k in keyed] for key in sorted(moved)}


def iter_changes(history: History) -> Iterator[tuple[Revision, PlatformDrift]]:
    for revision in history.revisions:
        for platform in revision.changes:
            if platform.changes:
                yield revision, platform


def repo_path(repo: GitRepo, path: Path) -> str:
    """A repository path for `path` given relative to the cwd or absolute."""
    return PurePosixPath(repo.relpath(path)).as_posix()


# --------------------------------------------------------------------------- base images


@dataclass(frozen=True)
class ImageMove:
    """A pinned tag whose digest changed in a commit of an image-lock.json."""

    commit: Commit
    path: str
    reference: str  # registry/repository:tag
    old: str
    new: str


def _pinned_tags(data: bytes) -> dict[str, str] | None:
    """registry/repository:tag → digest of an image-lock.json blob (None when unreadable)."""
    try:
        images = load_json(data, "image-lock.json").get("images") or {}
        return {
            f"{e['registry']}/{e['repository']}:{e.get('tag') or ''}": str(e["digest"])
            for e in sorted(images.values(), key=lambda e: str(e.get("digest", "")))
            if e.get("tag")
        }
    except (InputError, AttributeError, KeyError, TypeError):
        return None


def image_lock_moves(
    repo: GitRepo, image_locks: Sequence[str], *, limit: int = 20, since: str | None = None
) -> list[ImageMove]:
    """Tags re-pinned to another digest, over the same window as the lock's history.

    Each image-lock.json is walked on its own commits (a base can move without the conda
    lock changing); the commit before the window is the baseline when there is one.
    """
    moves: list[ImageMove] = []
    for path in image_locks:
        found = repo.log(
            path, since=repo.rev_parse(since) if since else None, limit=None if since else limit + 1
        )
        commits = list(reversed(found))
        previous: dict[str, str] | None = None
        if since:
            blob = repo.read(repo.rev_parse(since), path)
            previous = _pinned_tags(blob[1]) if blob else None
        for commit in commits:
            blob = repo.read(commit.sha, path)
            current = _pinned_tags(blob[1]) if blob else None
            if previous is not None and current is not None:
                for reference in sorted(previous.keys() & current.keys()):
                    if previous[reference] != current[reference]:
                        moves.append(
                            ImageMove(
                                commit, path, reference, previous[reference], current[reference]
                            )
                        )
            if current is not None:
                previous = current
    return sorted(moves, key=lambda m: (m.commit.time, m.path, m.reference))
