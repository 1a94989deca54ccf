"""The `lock` stage: environment.yml → conda-lock.yml + explicit files.

Order of work, cheapest first: an input digest of the raw files says in milliseconds that
nothing changed; otherwise conda-lock's semantic content hash decides; only a stale lock
is solved (all platforms concurrently), and only then is anything written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.core.errors import (
    EXIT_FINDINGS,
    EXIT_OK,
    FindingsError,
    InputError,
    UnsatisfiableError,
)
from audit.core.fs import atomic_write_text
from audit.core.platforms import check_platform
from audit.lockfile.condalock import (
    LockedEntry,
    LockMetadata,
    explicit_input_hash,
    explicit_path,
    input_digest,
    read_metadata,
)

if TYPE_CHECKING:
    from audit.core.platforms import VirtualPackageSet
    from audit.envfile.spec import EnvSpec
    from audit.lock.asof import AsOf, AsOfReport


@dataclass
class LockOptions:
    files: list[Path]
    platforms: list[str] = field(default_factory=list)
    lockfile: Path = Path("conda-lock.yml")
    explicit: bool = True
    check: bool = False
    update: list[str] = field(default_factory=list)
    force: bool = False
    channels: list[str] = field(default_factory=list)
    virtual_packages: Path | None = None
    with_cuda: str | None = None
    pypi_index_url: str | None = None
    auth_file: Path | None = None
    cache_dir: Path | None = None
    progress: bool = False
    #: `--as-of`: solve as the channels (and PyPI) stood at this instant
    as_of: AsOf | None = None
    #: where relative channel paths resolve (default: the first file's directory); for
    #: commands that solve a copy of a file (reconstruct, merge-lock)
    channel_base_dir: Path | None = None


@dataclass(frozen=True, order=True)
class PackageChange:
    """A package that differs between the old lock and the new one."""

    platform: str
    manager: str
    name: str
    old: str | None
    new: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "manager": self.manager,
            "name": self.name,
            "old": self.old,
            "new": self.new,
        }


@dataclass
class LockResult:
    """What `lock` did or found; the CLI renders it and exits with `exit_code`."""

    status: str  # "current" | "written" | "stale"
    lockfile: Path
    platforms: tuple[str, ...] = ()
    stale: dict[str, str] = field(default_factory=dict)  # platform → why
    changes: list[PackageChange] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    written: list[Path] = field(default_factory=list)
    #: "file:line: what" for what was read but not locked as written (extras, `-e .`)
    warnings: tuple[str, ...] = ()
    as_of: AsOfReport | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_FINDINGS if self.status == "stale" else EXIT_OK

    def to_json(self) -> dict[str, Any]:
        extra = {"as_of": self.as_of.to_json()} if self.as_of is not None else {}
        return {
            **extra,
            "status": self.status,
            "lockfile": self.lockfile.as_posix(),
            "platforms": list(self.platforms),
            "stale": dict(sorted(self.stale.items())),
            "changes": [c.to_json() for c in sorted(self.changes)],
            "counts": {p: dict(sorted(c.items())) for p, c in sorted(self.counts.items())},
            "written": [p.as_posix() for p in self.written],
            "exit_code": self.exit_code,
            **({"warnings": list(self.warnings)} if self.warnings else {}),
        }


def run_lock(options: LockOptions) -> LockResult:
    """Lock, or say the lock is current, or (with `check`) say what is stale.

    A writing run holds an advisory lock on the lockfile's directory, so two `lock` runs on
    one project take turns: the second sees the first one's lock set, whole.
    """
    for platform in options.platforms:
        check_platform(platform)
    if options.check:
        return _run_lock(options)
    from audit.core.fs import directory_lock

    with directory_lock(options.lockfile.parent):
        return _run_lock(options)


def _run_lock(options: LockOptions) -> LockResult:
    digest = options_digest(options)
    meta = read_metadata(options.lockfile)
    if options.check and (options.update or options.force):
        raise InputError("--check cannot be combined with --update or --force")
    relock = bool(options.update) or options.force
    if meta is not None and not relock and meta.input_digest == digest:
        missing = _explicit_problems(options, meta, meta.platforms)
        if not missing:
            return LockResult("current", options.lockfile, meta.platforms)
    with _progress(options.progress) as say:
        say("reading environment")
        spec, virtual, hashes = parse_inputs(options, digest)
        stale = _stale_platforms(meta, spec.platforms, hashes)
        if not stale and meta is not None:
            stale = options_stale(meta, resolution_digest(options, spec, virtual), spec.platforms)
        stale = stale or _as_of_stale(options, meta, spec.platforms)
        if not stale:
            stale = _explicit_problems(options, meta, spec.platforms) if meta else {}
        notes = spec_warnings(spec)
        if not stale and not relock:
            return LockResult("current", options.lockfile, spec.platforms, warnings=notes)
        if options.check:
            return LockResult(
                "stale", options.lockfile, spec.platforms, stale=stale, warnings=notes
            )
        result = _solve_and_write(options, spec, virtual, hashes, digest, meta, say)
        result.warnings = notes
        return result


def spec_warnings(spec: EnvSpec) -> tuple[str, ...]:
    """What the environment asks for that the lock does not hold as written."""
    local = tuple(f"{item}: local source, not locked" for item in spec.pip_local)
    return (*spec.warnings, *local)


def parse_inputs(options: LockOptions, digest: str) -> tuple[EnvSpec, VirtualPackageSet, dict]:
    """EnvSpec, virtual packages and content hashes; from the parse cache when inputs match.

    conda-lock's parser and hash are the truth, but importing conda-lock alone costs
    ~0.4 s; their result depends only on the bytes the input digest covers, so it is
    cached under that digest and reused until any input byte changes.
    """
    from audit.core.platforms import VirtualPackageSet, load_virtual_packages
    from audit.envfile.spec import EnvSpec, load_spec

    cache = _parse_cache_path(options, digest)
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        data = json.loads(cache.read_text(encoding="utf-8"))
        return (
            EnvSpec.from_json(data["spec"]),
            VirtualPackageSet.from_json(data["virtual"]),
            dict(data["content_hash"]),
        )
    spec = load_spec(options.files, platforms=options.platforms, channels=options.channels)
    virtual = load_virtual_packages(options.virtual_packages, options.with_cuda)
    hashes = _content_hashes(spec, virtual)
    entry = {"spec": spec.to_json(), "virtual": virtual.to_json(), "content_hash": hashes}
    if _holds_secret(spec):  # literal credentials are never written, not even to the cache
        return spec, virtual, hashes
    with contextlib.suppress(OSError, InputError):
        cache.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(cache, json.dumps(entry, sort_keys=True))
    return spec, virtual, hashes


def _holds_secret(spec: EnvSpec) -> bool:
    """True when a channel or index URL of the spec carries a literal secret."""
    from audit.core.redact import has_credentials

    urls = [*spec.channels, *spec.pip_index_urls, *spec.pip_extra_index_urls]
    return any(has_credentials(str(url)) for url in urls)


def _parse_cache_path(options: LockOptions, digest: str) -> Path:
    from audit.core.fs import default_cache_dir

    base = options.cache_dir or default_cache_dir()
    # the spec remembers file names for messages, so the key covers where the files are too
    where = [str(Path.cwd()), *(str(f) for f in options.files)]
    key = hashlib.sha256(json.dumps([digest, where]).encode()).hexdigest()
    return base / "parsed-specs" / f"{key}.json"


def options_digest(options: LockOptions) -> str:
    """The lock's input digest for these options (what `lock --check` compares)."""
    # the as-of keys appear only when set, so locks made without --as-of keep their digest
    as_of = options.as_of.metadata() if options.as_of is not None else {}
    return input_digest(
        options.files,
        platforms=options.platforms,
        channels=options.channels,
        extra_files=[options.virtual_packages],
        options={
            "with_cuda": options.with_cuda,
            "pypi_index_url": options.pypi_index_url,
            "explicit": str(options.explicit),
            **as_of,
        },
    )


def resolution_digest(options: LockOptions, spec: EnvSpec, virtual: VirtualPackageSet) -> str:
    """sha256 of the resolution inputs conda-lock's content hash leaves out, per source.

    conda-lock hashes specs, channels and virtual packages, not where pip resolves: a
    changed `--index-url` line must still make the lock stale. Two parts, joined with
    `:`: what the environment files say (pip index lines, channels, virtual packages),
    which `check` can recompute from the files alone; then the command line's
    `--pypi-index-url`, which only `lock` knows.
    """
    from audit.core.redact import redact_url

    files = {
        "channels": [redact_url(c) for c in spec.channels],
        "pip_index_urls": [redact_url(u) for u in spec.pip_index_urls],
        "pip_extra_index_urls": [redact_url(u) for u in spec.pip_extra_index_urls],
        "virtual_packages": virtual.to_json(),
    }
    cli = {"pypi_index_url": redact_url(options.pypi_index_url or "")}
    return ":".join(
        hashlib.sha256(json.dumps(part, sort_keys=True).encode()).hexdigest()[:32]
        for part in (files, cli)
    )


def options_stale(
    meta: LockMetadata, digest: str, platforms: tuple[str, ...], *, files_only: bool = False
) -> dict[str, str]:
    """Every platform stale when the lock was solved with other resolution options.

    `files_only` compares only what the environment files decide (`check` does not know
    the command line). A lock without the key (written by conda-lock or an older
    repro-audit) is not judged.
    """
    recorded = meta.options_digest
    if recorded is None:
        return {}
    if files_only:
        recorded, digest = recorded.split(":")[0], digest.split(":")[0]
    if recorded == digest:
        return {}
    why = "resolution options changed since the lock (pip index, channels or virtual packages)"
    return {p: why for p in platforms}


def _as_of_stale(
    options: LockOptions, meta: LockMetadata | None, platforms: tuple[str, ...]
) -> dict[str, str]:
    """Every platform, when the lock was made as of another date than requested."""
    from audit.lock.asof import is_stale

    why = is_stale(meta.custom, options.as_of) if meta is not None else None
    return {p: why for p in platforms} if why else {}


def _content_hashes(spec: Any, virtual: Any) -> dict[str, str]:
    """conda-lock's content hash per platform; folded with what it cannot see, if any.

    A file conda-lock reads alike keeps conda-lock's hash byte for byte; one with pip
    hashes, `variables:`, local sources or duplicate specs gets a hash that changes with
    them too (conda-lock cannot read such a file, so there is no hash of its to agree with).
    """
    from conda_lock.content_hash import compute_content_hashes

    hashes = compute_content_hashes(spec.lock_spec, virtual.fake_repo)
    extras = spec.hash_extras()
    if not extras:
        return hashes
    folded = json.dumps(extras, sort_keys=True)
    return {p: hashlib.sha256(f"{h}\n{folded}".encode()).hexdigest() for p, h in hashes.items()}


def _stale_platforms(
    meta: LockMetadata | None, platforms: tuple[str, ...], hashes: dict[str, str]
) -> dict[str, str]:
    """Why each platform's lock is not current (empty when all are)."""
    if meta is None:
        return {p: "no lockfile" for p in platforms}
    stale: dict[str, str] = {}
    for platform in platforms:
        if platform not in meta.platforms or platform not in meta.content_hash:
            stale[platform] = "platform missing from the lock"
        elif meta.content_hash[platform] != hashes[platform]:
            stale[platform] = "environment changed since the lock (content hash differs)"
    for platform in meta.platforms:
        if platform not in platforms:
            stale[platform] = "platform locked but no longer requested"
    return stale


def _explicit_problems(
    options: LockOptions, meta: LockMetadata | None, platforms: tuple[str, ...]
) -> dict[str, str]:
    """Explicit files that are missing or carry another input hash than conda-lock.yml."""
    if not options.explicit or meta is None:
        return {}
    problems: dict[str, str] = {}
    for platform in platforms:
        path = explicit_path(options.lockfile, platform)
        found = explicit_input_hash(path)
        if found is None:
            problems[platform] = f"{path.name} missing"
        elif found != meta.content_hash.get(platform):
            problems[platform] = f"{path.name} does not match conda-lock.yml"
    return problems


@dataclass
class Solved:
    """A solve's outcome before anything is written: records, wheels, the lock document."""

    records: dict[str, list]
    pip: dict[str, list]
    document: dict[str, Any]
    as_of: AsOfReport | None = None


def solve_document(
    options: LockOptions,
    spec: EnvSpec,
    virtual: VirtualPackageSet,
    hashes: dict[str, str],
    digest: str,
    say: Any = lambda _msg: None,
    *,
    locked: dict[str, list] | None = None,
    before_solve: Any = None,
) -> Solved:
    """Solve every platform (conda, then pip) into the lock document `lock` would write.

    Shared by `lock` and by drift's upstream section, which must see exactly what a
    re-lock would give. `before_solve(channels)` may refuse early (e.g. a dead host).
    """
    from audit.channels import bind_channel_specs, install_rattler_auth, resolve_channels
    from audit.core import credentials
    from audit.lock.solve import SolveRequest, solve_all
    from audit.lockfile.condalock import lock_document, relative_sources

    if options.auth_file is not None and credentials.current().auth_file != options.auth_file:
        credentials.configure(auth_file=options.auth_file)  # called as a library
    base_dir = options.channel_base_dir or options.files[0].resolve().parent
    channels = resolve_channels(spec.channels, base_dir=base_dir)
    if before_solve is not None:
        before_solve(channels)
    as_of = options.as_of
    requests = [
        SolveRequest(
            platform=p,
            specs=bind_channel_specs(spec.conda_specs[p], channels),
            virtual_packages=virtual.for_platform(p),
            locked=tuple((locked or {}).get(p, ())),
            exclude_newer=as_of.when if as_of else None,
            timestamp_policy=as_of.rattler_policy if as_of else None,
        )
        for p in spec.platforms
    ]
    with (
        tempfile.TemporaryDirectory(prefix="repro-audit-auth-") as tmp,
        _restore_env("RATTLER_AUTH_FILE"),
    ):
        install_rattler_auth(Path(tmp), channels)
        say(f"solving {len(requests)} platform(s)")
        where = {name: loc for name in spec.lines if (loc := spec.where(name))}
        where.update({name: ", ".join(locs) for name, locs in spec.duplicates.items()})
        report = _as_of_survey(options, channels, requests)
        try:
            records = solve_all(channels, requests, cache_dir=options.cache_dir, where=where)
        except UnsatisfiableError as exc:
            if as_of is None:
                raise
            raise UnsatisfiableError(
                f"as of {as_of.iso}: {exc.message}", where=exc.where, hint=_as_of_hint(as_of)
            ) from None
        pip = _lock_pip_sections(options, spec, virtual, records, say)
    from audit.lockfile.condalock import extra_metadata

    document = lock_document(
        extra=extra_metadata(spec.variables, spec.pip_local),
        platforms=spec.platforms,
        channels=[c.display for c in channels],
        sources=relative_sources(options.files, options.lockfile),
        content_hash=hashes,
        conda=records,
        pip=pip,
        categories=spec.categories,
        digest=digest,
        options_digest=resolution_digest(options, spec, virtual),
        custom=as_of.metadata() if as_of else None,
    )
    if report is not None:
        from audit.lock.asof import note_selected

        note_selected(report, records)
    return Solved(records=records, pip=pip, document=document, as_of=report)


def _as_of_hint(as_of: AsOf) -> str:
    if as_of.undated == "exclude":
        return "records newer than the date, and records without a timestamp, are excluded"
    return "records newer than the date are excluded"


def _as_of_survey(options: LockOptions, channels: list, requests: list) -> AsOfReport | None:
    """With --as-of: what the date hides, counted before the solve (None without it)."""
    if options.as_of is None:
        return None
    from audit.lock.asof import survey

    specs = {r.platform: r.specs for r in requests}
    return survey(channels, specs, options.as_of, options.cache_dir)


def _solve_and_write(
    options: LockOptions,
    spec: EnvSpec,
    virtual: VirtualPackageSet,
    hashes: dict[str, str],
    digest: str,
    meta: LockMetadata | None,
    say: Any,
) -> LockResult:
    from audit.lock.explicit import explicit_files
    from audit.lockfile.condalock import document_entries, read_entries, write_lock_set

    old_entries = read_entries(options.lockfile) if meta is not None else []
    locked = _locked_for_update(options, spec.platforms) if options.update else {}
    solved = solve_document(options, spec, virtual, hashes, digest, say, locked=locked)
    records, pip = solved.records, solved.pip
    say("writing lockfiles")
    # derived from the document, as merge-lock derives them from a merged one
    explicit = (
        explicit_files(solved.document, options.lockfile, records) if options.explicit else {}
    )
    write_lock_set(solved.document, options.lockfile, explicit)
    written = [options.lockfile, *explicit]
    return LockResult(
        "written",
        options.lockfile,
        spec.platforms,
        changes=diff_entries(old_entries, document_entries(solved.document))
        if meta is not None
        else [],
        counts={
            p: {
                "conda": sum(1 for r in records[p] if not r.name.normalized.startswith("__")),
                "pip": len(pip.get(p, ())),
            }
            for p in spec.platforms
        },
        written=written,
        as_of=solved.as_of,
    )


def _locked_for_update(options: LockOptions, platforms: tuple[str, ...]) -> dict[str, list]:
    """The existing lock's records as solver preferences, minus the packages to update."""
    from audit.lockfile.condalock import read_lock_records

    wanted = {n.lower() for n in options.update}
    found: set[str] = set()
    locked: dict[str, list] = {}
    for platform in platforms:
        records = read_lock_records(options.lockfile, platform)
        names = {r.name.normalized for r in records}
        found |= wanted & names
        locked[platform] = [r for r in records if r.name.normalized not in wanted]
    unknown = sorted(wanted - found)
    if unknown:
        raise InputError(
            f"cannot update {', '.join(unknown)}: not in the lock", where=str(options.lockfile)
        )
    return locked


def _lock_pip_sections(
    options: LockOptions, spec: Any, virtual: Any, records: dict[str, list], say: Any
) -> dict[str, list]:
    """Lock each platform's pip: requirements for the python the conda solve picked."""
    todo = [p for p in spec.platforms if spec.pip_specs.get(p)]
    if not todo:
        return {}

    say(f"resolving pip packages for {len(todo)} platform(s)")
    index_url = options.pypi_index_url or next(iter(spec.pip_index_urls), None)
    from audit.core.credentials import register_urls

    register_urls([index_url, *spec.pip_extra_index_urls], whole_host=True)

    def one(platform: str) -> list:
        installed = {r.name.normalized: str(r.version) for r in records[platform]}
        python = installed.get("python")
        if python is None:
            raise InputError(
                f"the pip: section needs python in the conda dependencies ({platform})",
                where=str(options.files[0]),
            )
        glibc = next(
            (v.version for v in virtual.for_platform(platform) if v.name == "__glibc"), None
        )
        try:
            locked = _lock_pip(spec, platform, installed, index_url, glibc, options)
        except FindingsError as exc:  # a `URL#sha256=` the index contradicts: name its line
            exc.where = next(
                (
                    w
                    for hashes, w in spec.pip_hashes.values()
                    if any(h in exc.message for h in hashes)
                ),
                exc.where,
            )
            raise
        except InputError as exc:
            exc.where = _pip_where(spec, exc.message) or exc.where
            raise
        check_pip_hashes(locked, spec.pip_hashes, platform)
        return locked

    with ThreadPoolExecutor(max_workers=len(todo)) as pool:
        results = list(pool.map(one, todo))
    return dict(zip(todo, results, strict=True))


def _pip_where(spec: Any, message: str) -> str | None:
    """file:line of the pip requirement an error names (`pip requirement 'NAME …'`)."""
    match = re.match(r"pip requirement '([A-Za-z0-9][A-Za-z0-9._-]*)", message)
    return spec.where(re.sub(r"[-_.]+", "-", match.group(1)).lower()) if match else None


def _lock_pip(
    spec: Any, platform: str, installed: dict, index_url: str | None, glibc: Any, options: Any
) -> list:
    from audit.lock.pypi import lock_pip

    python = installed["python"]
    return lock_pip(
        spec.pip_specs[platform],
        platform=platform,
        python_version=".".join(python.split(".")[:2]),
        conda_installed=installed,
        index_url=index_url,
        extra_index_urls=spec.pip_extra_index_urls,
        glibc=glibc,
        cache_dir=options.cache_dir,
        source=str(options.files[0]),
        find_links=spec.pip_find_links,
        pre=spec.pip_pre,
        constraints=spec.pip_constraints,
        **({"exclude_newer": options.as_of.iso} if options.as_of else {}),
    )


def check_pip_hashes(
    locked: list, expected: dict[str, tuple[tuple[str, ...], str]], platform: str
) -> None:
    """Every `--hash=` / `URL#sha256=` of the pip section matches the wheel locked for it."""
    for wheel in locked:
        want = expected.get(wheel.name)
        if want is not None and wheel.sha256 not in want[0]:
            raise FindingsError(
                f"sha256 mismatch for pip package {wheel.name} {wheel.version} ({platform}):"
                f" expected {', '.join(want[0])}, locked {wheel.sha256}",
                where=want[1],
            )


def diff_entries(old: list[LockedEntry], new: list[LockedEntry]) -> list[PackageChange]:
    """Per (platform, manager, name): what changed between two locks."""

    def index(entries: list[LockedEntry]) -> dict[tuple[str, str, str], str]:
        return {
            (e.platform, e.manager, e.name): f"{e.version}-{e.build}" if e.build else e.version
            for e in entries
        }

    a, b = index(old), index(new)
    changes = [
        PackageChange(*key, a.get(key), b.get(key))
        for key in sorted(set(a) | set(b))
        if a.get(key) != b.get(key)
    ]
    return changes


@contextlib.contextmanager
def _restore_env(name: str) -> Iterator[None]:
    """Put an environment variable back as it was (rattler's auth file is per solve)."""
    import os

    saved = os.environ.get(name)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


@contextlib.contextmanager
def _progress(enabled: bool) -> Iterator[Any]:
    """A rich status line on stderr while work is slow; silent when not a terminal."""
    if not enabled:
        yield lambda _msg: None
        return
    from audit.core.console import make_console

    console = make_console(stderr=True, color=True)
    with console.status("working") as status:
        yield lambda msg: status.update(f"{msg}…")
