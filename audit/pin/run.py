"""`repro-audit pin`: resolve every pulled image, rewrite the files, write the image locks.

The order of work is what makes it safe: parse every file (bad input stops here), resolve
every distinct reference concurrently (an unknown tag or an unreachable registry stops
here), compute every new file and lock in memory, and only then write, each file atomically.
`--check` never touches the network: a reference is fine when it carries a digest and the
lock next to its file has an entry for exactly that digest.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from audit.core.errors import EXIT_FINDINGS, EXIT_OK, InputError, ReproAuditError
from audit.dockerfile.parser import (
    Edit,
    ImageSite,
    UnresolvedImage,
    apply_edits,
    parse_for_platforms,
)
from audit.imagelock import LockEntry, lock_path_for, read_lock, write_lock
from audit.registry.reference import ImageRef

if TYPE_CHECKING:
    from audit.registry.client import RegistryClient, Resolved

MAX_WORKERS = 16


@dataclass
class PinOptions:
    dockerfiles: list[Path] = field(default_factory=list)
    compose_files: list[Path] = field(default_factory=list)
    check: bool = False
    update: bool = False
    insecure: frozenset[str] = frozenset()
    timeout: float = 15.0
    retries: int = 4


@dataclass
class RefReport:
    """What happened to one reference in one file."""

    file: str
    line: int
    reference: str
    status: str  # ok | pinned | locked | moved | unpinned | lock-mismatch
    digest: str | None = None
    old_digest: str | None = None
    detail: str = ""

    @property
    def finding(self) -> bool:
        return self.status in ("unpinned", "lock-mismatch")

    def to_json(self) -> dict:
        return {
            "file": self.file,
            "line": self.line,
            "reference": self.reference,
            "status": self.status,
            "digest": self.digest,
            "old_digest": self.old_digest,
            "detail": self.detail,
        }


@dataclass
class PinResult:
    mode: str
    references: list[RefReport]
    written: list[str]

    @property
    def exit_code(self) -> int:
        return EXIT_FINDINGS if any(r.finding for r in self.references) else EXIT_OK

    def to_json(self) -> dict:
        return {
            "mode": self.mode,
            "exit_code": self.exit_code,
            "references": [r.to_json() for r in self.references],
            "written": self.written,
        }


@dataclass
class _Source:
    """One input file: its text, its image sites and the lock beside it."""

    path: Path
    text: str
    sites: list[ImageSite]
    lock_path: Path
    #: lenient loads only: images that need a build ARG without a default
    unresolved: list[UnresolvedImage] = field(default_factory=list)


# --------------------------------------------------------------------------- loading


def _read(path: Path) -> str:
    from audit.core.text import cannot_read, decode_text

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(cannot_read(path, exc), where=str(path)) from None

    return decode_text(data, str(path))


def load_sources(options: PinOptions, *, lenient: bool = False) -> list[_Source]:
    """Every file's text and image sites; `lenient` (check) lists ARG-dependent images."""
    sources = []
    for path in options.dockerfiles:
        text = _read(path)
        parsed = parse_for_platforms(text, str(path), lenient=lenient)
        sources.append(_Source(path, text, parsed.sites, lock_path_for(path), parsed.unresolved))
    for path in options.compose_files:
        from audit.dockerfile.compose import parse_compose

        text = _read(path)
        sources.append(_Source(path, text, parse_compose(text, str(path)), lock_path_for(path)))
    return sources


# --------------------------------------------------------------------------- check


def _lock_key(ref: ImageRef) -> str:
    return ref.canonical()


def check(sources: list[_Source]) -> PinResult:
    """Offline: every site pinned, and its digest recorded in the lock beside its file."""
    locks = {source.lock_path: read_lock(source.lock_path) for source in sources}
    reports: list[RefReport] = []
    for source in sources:
        lock = locks[source.lock_path]
        for site in source.sites:
            reports.append(_check_site(site, lock, source.lock_path.name))
    return PinResult("check", reports, [])


def _check_site(site: ImageSite, lock: dict[str, LockEntry], lock_name: str) -> RefReport:
    report = RefReport(site.path, site.line, site.expanded, "ok", site.ref.digest)
    if not site.ref.pinned:
        report.status, report.detail = "unpinned", "no digest"
    elif _lock_key(site.ref) not in lock:
        others = [e.digest for e in lock.values() if e.tag and _same_tag(e, site.ref)]
        report.status = "lock-mismatch"
        report.detail = (
            f"{lock_name} has {', '.join(sorted(others))}" if others else f"not in {lock_name}"
        )
    return report


def _same_tag(entry: LockEntry, ref: ImageRef) -> bool:
    return (entry.registry, entry.repository, entry.tag) == (ref.registry, ref.repository, ref.tag)


# --------------------------------------------------------------------------- pin / update


def _wanted(site: ImageSite, lock: dict[str, LockEntry], update: bool) -> ImageRef | None:
    """The reference to resolve for this site, or None when nothing needs the network."""
    ref = site.ref
    if not ref.pinned:
        return ref
    if update and ref.tag is not None:
        return ref.with_digest(None)
    if _lock_key(ref) not in lock:
        return ref
    return None


def resolve_all(
    refs: list[ImageRef], client: RegistryClient
) -> dict[ImageRef, Resolved | ReproAuditError]:
    """Resolve distinct references concurrently; failures come back as values."""

    def one(ref: ImageRef) -> Resolved | ReproAuditError:
        try:
            return client.resolve(ref)
        except ReproAuditError as exc:
            return exc

    unique = sorted(set(refs))
    if not unique:
        return {}
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(unique))) as pool:
        return dict(zip(unique, pool.map(one, unique), strict=True))


def _raise_first(
    sources: list[_Source], wanted: dict[int, ImageRef], results: dict[ImageRef, object]
) -> None:
    """Bad input (a missing tag) beats an outage; the error names the first file:line."""
    failures = []
    for source in sources:
        for site in source.sites:
            ref = wanted.get(id(site))
            outcome = results.get(ref) if ref is not None else None
            if isinstance(outcome, ReproAuditError):
                failures.append((outcome.exit_code != 2, site, outcome))
    if failures:
        _, site, error = min(failures, key=lambda item: item[0])
        raise type(error)(error.message, where=site.where, hint=error.hint)


def pin(sources: list[_Source], client: RegistryClient, update: bool) -> PinResult:
    """Resolve what is needed, then rewrite files and locks (all in memory before writing)."""
    locks = {source.lock_path: read_lock(source.lock_path) for source in sources}
    wanted: dict[int, ImageRef] = {}
    for source in sources:
        for site in source.sites:
            ref = _wanted(site, locks[source.lock_path], update)
            if ref is not None:
                wanted[id(site)] = ref
    results = resolve_all(list(wanted.values()), client)
    _raise_first(sources, wanted, results)

    reports: list[RefReport] = []
    new_texts: dict[Path, str] = {}
    new_locks: dict[Path, dict[str, LockEntry]] = {}
    for source in sources:
        edits: list[Edit] = []
        lock = locks[source.lock_path]
        fresh = new_locks.setdefault(source.lock_path, _entries_of_other_files(lock, sources))
        for site in source.sites:
            ref = wanted.get(id(site))
            resolved = results.get(ref) if ref is not None else None
            in_lock = _lock_key(site.ref) in lock if site.ref.pinned else False
            report, edit, final = _apply(site, resolved, in_lock)  # type: ignore[arg-type]
            reports.append(report)
            if edit is not None:
                edits.append(edit)
            _record(fresh, final, resolved, lock, source)  # type: ignore[arg-type]
        new_texts[source.path] = apply_edits(source.text, edits, str(source.path))
    written = _write_all(sources, new_texts, new_locks)
    return PinResult("update" if update else "pin", reports, written)


def _apply(
    site: ImageSite, resolved: Resolved | None, in_lock: bool
) -> tuple[RefReport, Edit | None, ImageRef]:
    """Report, edit and final reference of one site."""
    ref = site.ref
    report = RefReport(site.path, site.line, site.expanded, "ok", ref.digest)
    if resolved is None:
        return report, None, ref
    report.digest = resolved.digest
    if not ref.pinned:
        report.status = "pinned"
        return report, site.pin_edit(resolved.digest), ref.with_digest(resolved.digest)
    if ref.digest != resolved.digest:
        report.status, report.old_digest = "moved", ref.digest
        return report, site.replace_digest_edit(resolved.digest), ref.with_digest(resolved.digest)
    report.status = "ok" if in_lock else "locked"
    return report, None, ref


def _entries_of_other_files(
    lock: dict[str, LockEntry], sources: list[_Source]
) -> dict[str, LockEntry]:
    """Keep what files outside this run still use; drop this run's files from the rest."""
    ours = {source.path.name for source in sources}
    kept = {}
    for key, entry in lock.items():
        others = [name for name in entry.files if name not in ours]
        if others:
            kept[key] = LockEntry(**{**entry.__dict__, "files": others})
    return kept


def _record(
    fresh: dict[str, LockEntry],
    final: ImageRef,
    resolved: Resolved | None,
    old_lock: dict[str, LockEntry],
    source: _Source,
) -> None:
    key = _lock_key(final)
    if key in fresh:
        fresh[key].files.append(source.path.name)
        return
    if resolved is not None and resolved.digest == final.digest:
        fresh[key] = LockEntry(
            registry=final.registry,
            repository=final.repository,
            tag=final.tag,
            digest=resolved.digest,
            media_type=resolved.media_type,
            platforms=[p.to_json() for p in resolved.platforms],
            files=[source.path.name],
        )
    elif key in old_lock:
        previous = old_lock[key]
        fresh[key] = LockEntry(**{**previous.__dict__, "files": [source.path.name]})


def _write_all(
    sources: list[_Source], texts: dict[Path, str], locks: dict[Path, dict[str, LockEntry]]
) -> list[str]:
    from audit.core.fs import atomic_write_text

    written = []
    for source in sources:
        if texts[source.path] != source.text:
            atomic_write_text(source.path, texts[source.path])
            written.append(str(source.path))
    for path, entries in locks.items():
        if write_lock(path, entries):
            written.append(str(path))
    return written


# --------------------------------------------------------------------------- entry


def run_pin(
    options: PinOptions, client_factory: Callable[[PinOptions], RegistryClient] | None = None
) -> PinResult:
    """Check, pin or update the files in `options`."""
    if options.check and options.update:
        raise InputError("--check and --update cannot be combined")
    sources = load_sources(options)
    if options.check:
        return check(sources)
    client = (client_factory or default_client)(options)
    return pin(sources, client, options.update)


def default_client(options: PinOptions) -> RegistryClient:
    from audit.registry.client import RegistryClient

    return RegistryClient(
        insecure=options.insecure, timeout=options.timeout, retries=options.retries
    )


def render_text(result: PinResult) -> list[str]:
    """Human lines: findings for --check, moves and pins otherwise."""
    lines = []
    for report in result.references:
        where = f"{report.file}:{report.line}"
        if report.finding:
            lines.append(f"{where}: {report.status}: {report.reference} ({report.detail})")
        elif report.status == "moved":
            tagged = report.reference.split("@", 1)[0]  # the old digest is said once, after
            lines.append(f"{where}: {tagged}: {report.old_digest} -> {report.digest}")
        elif report.status == "pinned":
            lines.append(f"{where}: pinned {report.reference} to {report.digest}")
    return lines
