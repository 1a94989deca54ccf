"""`drift`: the periodic report combining lock history, upstream, base images and image.

Four sections (five when a build record and today's image are both given: their OS
packages), each computed independently so one unreachable channel or registry marks only
its own section unavailable. Every finding carries a likely root cause:

- spec edit: the lock changed in a revision where environment.yml changed too (or
  environment.yml today no longer matches the lock's content hash);
- new upstream release: the lock changed (or would change today) with the spec as it was;
- lock-format/tool change: the lock's bytes changed but only URLs or metadata did, or
  the lock became unreadable;
- base image moved: a pinned tag now points at another digest (or an OS package came
  with another base image);
- installed outside the lock: the image holds packages (or versions) the lock does not.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from audit.core.errors import (
    EXIT_FINDINGS,
    EXIT_INFRA,
    EXIT_OK,
    AccessDeniedError,
    InfrastructureError,
    InputError,
    ReproAuditError,
)
from audit.diff.classify import Change, diff_inventories
from audit.dockerfile.naming import is_dockerfile
from audit.drift.history import (
    CAUSE_BASE_IMAGE,
    CAUSE_OUTSIDE,
    CAUSE_SPEC,
    CAUSE_TOOL,
    CAUSE_UPSTREAM,
    GitRepo,
    History,
    ImageMove,
    image_lock_moves,
    walk_history,
)
from audit.inventory.interface import Inventory

CAUSES = (CAUSE_SPEC, CAUSE_UPSTREAM, CAUSE_BASE_IMAGE, CAUSE_OUTSIDE, CAUSE_TOOL)
CAUSE_OTHER_LOCK = "image built from another lock"
SECTION_TITLES = {
    "history": "Lock history",
    "upstream": "Upstream (re-lock today)",
    "images": "Base images",
    "image_vs_lock": "Image vs lock",
    "image_vs_record": "OS packages vs build record",
}
SECTION_ORDER = tuple(SECTION_TITLES)
#: Package managers a conda lock speaks for; deb/apk come with the base image.
LOCK_MANAGERS = frozenset({"conda", "pip"})


@dataclass(frozen=True)
class Finding:
    """One thing that drifted, where, and the likely reason."""

    section: str
    kind: str
    cause: str
    subject: str
    platform: str = ""
    manager: str = ""
    old: str = ""
    new: str = ""
    revision: str = ""
    detail: str = ""
    #: image findings: the build step that put the package there (`Dockerfile:12 (RUN …)`)
    origin: str = ""
    #: history findings: the commit's time, so a report reads newest first, as `git log`
    #: does (by sha, the first rows of a table were any revision of the window)
    when: int = 0

    def sort_key(self) -> tuple[int, int, str, str, str, str, str]:
        return (
            SECTION_ORDER.index(self.section),
            -self.when,
            self.revision,
            self.platform,
            self.manager,
            self.subject,
            self.kind,
        )

    def to_json(self) -> dict[str, str]:
        return {
            "section": self.section,
            "kind": self.kind,
            "cause": self.cause,
            "subject": self.subject,
            "platform": self.platform,
            "manager": self.manager,
            "old": self.old,
            "new": self.new,
            "revision": self.revision,
            "detail": self.detail,
            "origin": self.origin,
        }


@dataclass
class Section:
    """One part of the report: ok (maybe with findings), unavailable (why), or skipped."""

    name: str
    status: str = "ok"
    reason: str = ""
    findings: list[Finding] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return SECTION_TITLES[self.name]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status,
            "reason": self.reason,
            "findings": [f.to_json() for f in sorted(self.findings, key=Finding.sort_key)],
            "data": self.data,
        }


@dataclass
class DriftReport:
    """Everything `drift` found; formats render it, the CLI exits with `exit_code`."""

    repository: str
    lockfile: str
    head: str
    sections: list[Section]
    history: History | None = None
    chart_platform: str = ""

    @property
    def findings(self) -> list[Finding]:
        return sorted((f for s in self.sections for f in s.findings), key=Finding.sort_key)

    def section(self, name: str) -> Section | None:
        return next((s for s in self.sections if s.name == name), None)

    @property
    def exit_code(self) -> int:
        """1 on any finding; 3 when every requested section was unavailable; else 0."""
        if self.findings:
            return EXIT_FINDINGS
        requested = [s for s in self.sections if s.status != "skipped"]
        if requested and all(s.status == "unavailable" for s in requested):
            return EXIT_INFRA
        return EXIT_OK

    def cause_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for finding in self.findings:
            out[finding.cause] = out.get(finding.cause, 0) + 1
        return dict(sorted(out.items()))


@dataclass
class DriftOptions:
    path: Path = Path(".")
    lockfile: Path = Path("conda-lock.yml")
    files: list[Path] = field(default_factory=list)
    limit: int = 20
    since: str | None = None
    image: str | None = None
    platform: str | None = None
    history: bool = True
    upstream: bool = True
    images: bool = True
    cache_dir: Path | None = None
    insecure: frozenset[str] = frozenset()
    timeout: float = 15.0
    retries: int = 2
    #: `--as-of`: the upstream section solves as the channels stood then (an AsOf)
    as_of: Any = None
    #: `--record` with `--image`: the recorded build today's image is compared with
    record: str | None = None


def _under(base: Path, path: Path) -> Path:
    return path if path.is_absolute() else base / path


def run_drift(options: DriftOptions) -> DriftReport:
    """Compute every requested section; bad input raises, unreachable services do not."""
    if options.limit < 1:
        raise InputError("-n must be at least 1")
    root = Path(options.path)
    with GitRepo(root) as repo:
        lock_path = _under(root, options.lockfile)
        env_paths = [_under(root, f) for f in (options.files or [Path("environment.yml")])]
        lock_rel = repo.relpath(lock_path)
        env_rels = [repo.relpath(p) for p in env_paths]
        tracked = _tracked_files(repo)
        dockerfiles = sorted(p for p in tracked if is_dockerfile(p))
        image_locks = sorted(p for p in tracked if PurePosixPath(p).name == "image-lock.json")
        head = repo.rev_parse("HEAD") if options.history or options.since else ""
        sections: list[Section] = []
        history: History | None = None
        if options.history:
            history = walk_history(
                repo,
                lock_rel,
                spec_files=env_rels,
                dockerfiles=dockerfiles,
                image_locks=image_locks,
                limit=options.limit,
                since=options.since,
            )
            moves = image_lock_moves(repo, image_locks, limit=options.limit, since=options.since)
            sections.append(history_section(history, moves))
        else:
            sections.append(Section("history", status="skipped"))
        top = repo.top
    lock_inventories, lock_error = _read_lock(lock_path)
    if options.upstream:
        sections.append(upstream_section(options, lock_path, env_paths, lock_inventories))
    else:
        sections.append(Section("upstream", status="skipped"))
    if options.images:
        locks = sorted({top / p for p in image_locks} | _untracked_image_locks(root))
        sections.append(images_section(options, locks, top))
    else:
        sections.append(Section("images", status="skipped"))
    if options.image:
        sections.append(image_vs_lock_section(options, lock_inventories, lock_error, lock_path))
    else:
        sections.append(Section("image_vs_lock", status="skipped"))
    if options.record and options.image:
        sections.append(image_vs_record_section(options))
    platforms = history.platforms if history else tuple(i.platform for i in lock_inventories)
    chart = "linux-64" if "linux-64" in platforms else (platforms[0] if platforms else "")
    return DriftReport(
        repository=top.name,
        lockfile=lock_rel,
        head=head,
        sections=sections,
        history=history,
        chart_platform=options.platform or chart,
    )


def _tracked_files(repo: GitRepo) -> list[str]:
    done = repo.git("ls-files", "-z")
    return [p for p in done.stdout.decode("utf-8", errors="replace").split("\0") if p]


def _untracked_image_locks(root: Path) -> set[Path]:
    candidate = root / "image-lock.json"
    return {candidate.resolve()} if candidate.is_file() else set()


def _read_lock(path: Path) -> tuple[list[Inventory], str]:
    from audit.inventory import open_source

    try:
        return open_source(str(path)).read(), ""
    except ReproAuditError as exc:
        return [], exc.one_line()


# --------------------------------------------------------------------------- history


def history_section(history: History, moves: Sequence[ImageMove] = ()) -> Section:
    """One finding per package change per revision, unreadable locks, re-pinned bases."""
    section = Section("history")
    for move in moves:
        section.findings.append(
            Finding(
                "history",
                "image-moved",
                CAUSE_BASE_IMAGE,
                move.reference,
                old=move.old,
                new=move.new,
                revision=move.commit.sha[:12],
                detail=f"re-pinned in {move.path}",
                when=move.commit.time,
            )
        )
    for revision in history.revisions:
        short = revision.commit.sha[:12]
        if revision.error:
            section.findings.append(
                Finding(
                    "history",
                    "corrupt-lock",
                    CAUSE_TOOL,
                    history.lockfile,
                    revision=short,
                    detail=revision.error,
                    when=revision.commit.time,
                )
            )
        if not (revision.error or revision.created or revision.change_count) and (
            revision is not history.revisions[0]
        ):
            section.findings.append(
                Finding(
                    "history",
                    "lock-rewritten",
                    revision.cause,
                    history.lockfile,
                    revision=short,
                    detail="the lock's bytes changed, no package did",
                    when=revision.commit.time,
                )
            )
        for platform in revision.changes:
            for change in platform.changes:
                section.findings.append(
                    _change_finding(
                        "history", change, revision.cause, revision=short,
                        when=revision.commit.time,
                    )  # fmt: skip
                )
    section.data = {
        "revisions": len(history.revisions),
        "changed_revisions": sum(1 for r in history.revisions if r.change_count or r.error),
        "packages_with_new_versions": len({(m, n) for (_, m, n) in history.timelines}),
    }
    return section


def _change_finding(
    section: str, change: Change, cause: str, *, revision: str = "", when: int = 0
) -> Finding:
    from audit.diff.changes import describe

    return Finding(
        section,
        change.kind,
        cause,
        change.name,
        platform=change.platform,
        manager=change.manager,
        old=change.old_version,
        new=change.new_version,
        revision=revision,
        detail=describe(change),
        when=when,
    )


# --------------------------------------------------------------------------- upstream


def upstream_section(
    options: DriftOptions, lock_path: Path, env_paths: list[Path], locked: list[Inventory]
) -> Section:
    """Diff the committed lock against a solve of environment.yml today (nothing written)."""
    section = Section("upstream")
    missing = [p for p in env_paths if not p.is_file()]
    if missing:
        return Section("upstream", "unavailable", f"{missing[0].name} not found")
    if not locked:
        return Section("upstream", "unavailable", f"cannot read {lock_path.name}")
    from audit.drift.upstream import solve_without_writing
    from audit.lock.run import LockOptions
    from audit.lockfile.condalock import read_metadata

    meta = None
    with contextlib.suppress(ReproAuditError, OSError, ValueError):
        meta = read_metadata(lock_path)
    platforms = sorted(i.platform for i in locked if i.platform)
    lock_options = LockOptions(
        files=env_paths,
        platforms=list(meta.platforms) if meta else platforms,
        lockfile=lock_path,
        explicit=False,
        check=True,
        cache_dir=options.cache_dir,
        as_of=options.as_of,
    )
    try:
        solved = solve_without_writing(lock_options, probe_timeout=options.timeout)
    except AccessDeniedError:
        raise  # missing credentials: exit 2 with how to give them, not "unavailable"
    except InfrastructureError as exc:
        return Section("upstream", "unavailable", exc.one_line())
    except InputError as exc:
        return Section("upstream", "unavailable", f"cannot solve today: {exc.one_line()}")
    old_hash = dict(meta.content_hash) if meta else {}
    by_platform = {i.platform: i for i in locked}
    stale = []
    for inventory in solved.inventories:
        before = by_platform.get(inventory.platform)
        spec_changed = old_hash.get(inventory.platform) != solved.content_hash.get(
            inventory.platform
        )
        if spec_changed:
            stale.append(inventory.platform)
        if before is None:
            continue
        cause = CAUSE_SPEC if spec_changed else CAUSE_UPSTREAM
        result = diff_inventories(before, inventory, platform=inventory.platform)
        for change in result.changes:
            section.findings.append(_change_finding("upstream", change, cause))
    section.data = {
        "platforms": [i.platform for i in solved.inventories],
        "spec_changed_since_lock": sorted(stale),
    }
    return section


# --------------------------------------------------------------------------- base images


def images_section(options: DriftOptions, locks: list[Path], top: Path) -> Section:
    """For each pinned tag of every image-lock.json: does the tag still name that digest?"""
    from audit.imagelock import read_lock
    from audit.registry.client import NotFoundError, RegistryClient
    from audit.registry.reference import ImageRef

    section = Section("images")
    entries: dict[str, tuple[ImageRef, str, list[str]]] = {}
    for path in locks:
        for entry in read_lock(path).values():
            if not entry.tag:
                continue
            ref = ImageRef(entry.registry, entry.repository, entry.tag)
            where = [_display(top, path.parent / f) for f in entry.files] or [_display(top, path)]
            key = f"{ref.tagged()}@{entry.digest}"
            entries.setdefault(key, (ref, entry.digest, []))[2].extend(where)
    if not entries:
        section.data = {"checked": 0, "unavailable": [], "note": "no pinned tags found"}
        return section
    client = RegistryClient(
        insecure=options.insecure, timeout=options.timeout, retries=options.retries, backoff=0.1
    )
    unavailable: list[dict[str, str]] = []
    checked = []
    for key in sorted(entries):
        ref, digest, files = entries[key]
        try:
            resolved = client.resolve(ref)
        except NotFoundError as exc:
            section.findings.append(
                Finding(
                    "images",
                    "tag-missing",
                    CAUSE_BASE_IMAGE,
                    ref.tagged(),
                    old=digest,
                    detail=f"{exc.one_line()}; pinned in {', '.join(sorted(set(files)))}",
                )
            )
            continue
        except AccessDeniedError:
            raise
        except ReproAuditError as exc:
            unavailable.append({"reference": ref.tagged(), "reason": exc.one_line()})
            continue
        checked.append({"reference": ref.tagged(), "pinned": digest, "now": resolved.digest})
        if resolved.digest != digest:
            section.findings.append(
                Finding(
                    "images",
                    "image-moved",
                    CAUSE_BASE_IMAGE,
                    ref.tagged(),
                    old=digest,
                    new=resolved.digest,
                    detail=f"pinned in {', '.join(sorted(set(files)))}",
                )
            )
    section.data = {"checked": len(checked), "references": checked, "unavailable": unavailable}
    if unavailable and not checked and not section.findings:
        section.status = "unavailable"
        section.reason = unavailable[0]["reason"]
    return section


def _display(top: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(top.resolve()).as_posix()
    except ValueError:
        return path.name


# --------------------------------------------------------------------------- image vs lock


def image_vs_lock_section(
    options: DriftOptions,
    locked: list[Inventory],
    lock_error: str,
    lock_path: Path | None = None,
) -> Section:
    """conda and pip packages of the image (or build record) that the lock does not explain.

    When the image's `io.repro-audit.lock.sha256` label names another lock than today's,
    its differences are blamed on that ("image built from another lock"), not on packages
    installed outside the lock.
    """
    from audit.inventory import normalize_platform

    assert options.image is not None
    if not locked:
        return Section("image_vs_lock", "unavailable", lock_error or "the lock holds nothing")
    try:
        image = _one_image(options.image, options.platform)
    except InfrastructureError as exc:
        return Section("image_vs_lock", "unavailable", exc.one_line())
    wanted = normalize_platform(options.platform)
    platform = wanted or image.platform
    lock = next((i for i in locked if i.platform == platform), None)
    if lock is None:
        if len(locked) == 1:
            lock = locked[0]
        else:
            available = ", ".join(sorted(i.platform for i in locked))
            raise InputError(
                f"the lock has no platform {platform or '(image says none)'}",
                hint=f"pass -p PLATFORM (lock: {available})",
            )
    ours = Inventory(lock.source, lock.platform, _only(lock))
    theirs = Inventory(image.source, lock.platform, _only(image))
    result = diff_inventories(ours, theirs, platform=lock.platform)
    from audit.dockerfile.provenance import load_provenance

    provenance = load_provenance(options.image, Path(options.path))
    section = Section("image_vs_lock")
    built, current = _lock_provenance(options.image, lock_path)
    other = built is not None and current is not None and built != current
    for change in result.changes:
        if change.kind == "metadata-changed":
            continue  # the lock and an installed record spell URLs and depends differently
        if other:
            cause = f"{CAUSE_OTHER_LOCK} (sha256:{built})"
        else:
            cause = CAUSE_OTHER_LOCK if change.kind == "removed" else CAUSE_OUTSIDE
        finding = _change_finding("image_vs_lock", change, cause)
        kind = {"removed": "missing-from-image", "added": "outside-lock"}.get(
            change.kind, change.kind
        )
        origin = ""
        if change.new is not None and change.kind != "removed":
            origin = provenance.origin(change.new)
        detail = "; ".join(
            p for p in (f"installed by {origin}" if origin else "", finding.detail) if p
        )
        finding = Finding(**{**finding.to_json(), "kind": kind, "detail": detail, "origin": origin})
        section.findings.append(finding)
    system = [p for p in image.packages if p.manager not in LOCK_MANAGERS]
    section.data = {
        "image": image.source,
        "platform": lock.platform,
        "image_packages": len(image.packages),
        "system_packages": len(system),
        "system_packages_by_step": _count_by_origin(system, provenance),
        "explained": len(result.changes) == 0,
        "built_from_lock": f"sha256:{built}" if built else None,
        "lock_sha256": f"sha256:{current}" if current else None,
    }
    return section


def _one_image(spec: str, platform: str | None) -> Inventory:
    """The inventory of an image (or build record) for `platform`, else its first one."""
    from audit.inventory import normalize_platform, open_source

    inventories = open_source(spec, platform).read()
    if not inventories:
        raise InputError("holds no inventory", where=spec)
    wanted = normalize_platform(platform)
    return next((i for i in inventories if wanted and i.platform == wanted), inventories[0])


def _lock_provenance(image: str, lock_path: Path | None) -> tuple[str | None, str | None]:
    """(sha256 of the lock the image was built from, sha256 of today's lockfile)."""
    from audit.core.fs import sha256_file
    from audit.drift.provenance import built_from_lock

    current = None
    if lock_path is not None and lock_path.is_file():
        current = sha256_file(lock_path)[0]
    return built_from_lock(image), current


def _count_by_origin(packages: list, provenance: Any) -> dict[str, int]:
    """deb/apk packages per build step (`Dockerfile:3 (RUN apt-get …)`, base layers…)."""
    counts: dict[str, int] = {}
    for package in packages:
        origin = provenance.origin(package) or "unknown layer"
        counts[origin] = counts.get(origin, 0) + 1
    return dict(sorted(counts.items()))


def _only(inventory: Inventory) -> tuple:
    return tuple(p for p in inventory.packages if p.manager in LOCK_MANAGERS)


# --------------------------------------------------------------------------- image vs record


def image_vs_record_section(options: DriftOptions) -> Section:
    """The deb/apk packages of today's image against the recorded build's, each change
    blamed on the base image moving or on the Dockerfile step that made it."""
    from audit.diff.attribution import ATTRIBUTED, CAUSE_BASE, CAUSE_STEP
    from audit.diff.classify import diff_many
    from audit.diff.sides import attribute_sources

    assert options.record is not None and options.image is not None
    old = _one_image(options.record, options.platform)
    try:
        new = _one_image(options.image, options.platform)
    except InfrastructureError as exc:
        return Section("image_vs_record", "unavailable", exc.one_line())
    only = [
        Inventory(
            i.source, i.platform, tuple(p for p in i.packages if p.manager in ATTRIBUTED), i.image
        )
        for i in (old, new)
    ]
    dockerfile = Path(options.path) / "Dockerfile"
    drift = diff_many(only[:1], only[1:], old.platform or new.platform or None)
    drift = attribute_sources(
        drift,
        (options.record, [old], None),
        (options.image, [new], dockerfile if dockerfile.is_file() else None),
        root=Path(options.path),
    )
    section = Section("image_vs_record")
    for change in drift.changes:
        finding = _change_finding("image_vs_record", change, CAUSE_OUTSIDE)
        attribution = change.attribution
        origin, cause, detail = "", "unknown layer", finding.detail
        if attribution is not None and attribution.cause == CAUSE_BASE:
            cause = attribution.text  # base image moved (old → new)
        elif attribution is not None and attribution.cause == CAUSE_STEP:
            origin, cause = attribution.text, CAUSE_OUTSIDE
        elif attribution is not None:
            detail = "; ".join(p for p in (attribution.text, detail) if p)
        section.findings.append(
            Finding(**{**finding.to_json(), "cause": cause, "origin": origin, "detail": detail})
        )
    section.data = {
        "record": _display(Path(options.path), Path(options.record)),
        "image": new.source,
        "platform": new.platform or old.platform,
        "system_packages": {"record": len(only[0].packages), "image": len(only[1].packages)},
    }
    return section
