"""Conda rules: the lock exists and parses, covers the platforms, is in sync, explicit files agree.

"In sync" is decided in two layers. The input digest repro-audit stores in the lock says in
microseconds that environment.yml is byte-for-byte what was locked; when it differs,
conda-lock's content hash (imported only then, ~0.5 s) gives the same verdict as
`lock --check`, so a comment-only edit is not a finding. Independently, and always, every
spec is matched against the locked records and the records are walked from the specs over
their `depends`: an unmet spec or a package nothing needs is a finding even when the hashes
were edited by hand to look current.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.check.run import Finding, error_finding, finding, rel
from audit.core.errors import InputError
from audit.core.platforms import KNOWN_PLATFORMS
from audit.envfile.lines import EnvFile, Located, pip_name, read_envfiles
from audit.lockfile.scan import ScannedEntry, ScannedLock, scan_lock

if TYPE_CHECKING:
    from audit.lockfile.condalock import LockMetadata


@dataclass
class CondaProject:
    """What the conda rules read; policy and --online rules reuse it."""

    root: Path
    env: EnvFile | None = None
    env_name: str | None = None
    lock_name: str = "conda-lock.yml"
    lock_path: Path | None = None
    meta: LockMetadata | None = None
    scanned: ScannedLock | None = None
    #: platform → name → locked conda entry
    conda: dict[str, dict[str, ScannedEntry]] = field(default_factory=dict)
    #: platform → PEP 503 name → locked pip entry
    pip: dict[str, dict[str, ScannedEntry]] = field(default_factory=dict)


def package_record(entry: ScannedEntry) -> Any:
    """A rattler PackageRecord of a locked entry: what MatchSpec.matches needs, built on demand.

    None when rattler refuses the entry's fields (a version or build it cannot parse):
    the spec is then reported unmet, naming what is locked.
    """
    from rattler import BuildString, PackageRecord

    build = entry.build_string or "unknown"
    tail = build.rsplit("_", 1)[-1]
    try:
        return PackageRecord(
            name=entry.name,
            version=entry.version,
            build=BuildString(build),
            build_number=int(tail) if tail.isdigit() else 0,
            subdir=entry.subdir,
        )
    except Exception:  # rattler raises its own types and ValueError for bad fields
        return None


def check_conda(
    root: Path,
    env_path: Path | None,
    lock_path: Path,
    texts: dict[str, str],
    findings: list[Finding],
    env_files: list[Path] | None = None,
) -> CondaProject:
    """Run the conda rules; fill `texts` with every file read (for the credential scan).

    `env_files` are the project's own (configured, or named by its lock); without them
    the lock's sources, else `env_path`.

    Paths are named relative to `root` (the checked folder). An environment file that
    cannot be read or parsed is an RA037 finding; the rules that need what it asks for
    are then skipped, the lock's own rules still run.
    """
    project = CondaProject(root, lock_name=rel(root, lock_path), lock_path=lock_path)
    lock_ok = _read_lock(project, lock_path, texts, findings)
    env_files = env_files or _env_files(lock_path.parent, env_path, project.meta)
    if env_files:
        names = [rel(root, p) for p in env_files]
        project.env_name = names[0]
        readable = True
        for path, name in zip(env_files, names, strict=True):
            text = _read_text(path, name, "RA037", findings)
            readable = readable and text is not None
            if text is not None:
                texts[name] = text
        if readable:
            try:
                project.env = read_envfiles(env_files, names, KNOWN_PLATFORMS)
            except InputError as exc:
                findings.append(error_finding("RA037", exc, names[0]))
    if project.meta is None:
        if env_files and not lock_path.exists():
            findings.append(
                finding(
                    "RA001",
                    project.env_name or "",
                    0,
                    f"no {project.lock_name}: run `repro-audit lock` and commit the lock",
                )
            )
        return project
    if project.env is not None:
        try:
            findings.extend(_platform_rules(project))
            if lock_ok:
                findings.extend(_spec_rules(project))
                findings.extend(_hash_rules(project, env_files))
        except InputError as exc:  # a spec conda-lock or packaging refuses
            findings.append(error_finding("RA037", exc, project.env_name or ""))
    findings.extend(_explicit_rules(project, texts))
    findings.extend(_pip_hash_rules(project))
    findings.extend(_pip_local_rules(project))
    return project


def _pip_local_rules(project: CondaProject) -> list[Finding]:
    """Local pip sources (`-e .`): the lock cannot hold them, so the image will lack them."""
    if project.env is None:
        return []
    seen: dict[tuple[str, int], str] = {}
    for section in project.env.pip_sections.values():
        for item in section.local:
            seen.setdefault((item.file, item.line), item.written)
    return [
        finding(
            "RA019",
            file,
            line,
            f"pip source '{written}' is local: not locked (install it in the image yourself)",
        )
        for (file, line), written in sorted(seen.items())
    ]


# --------------------------------------------------------------------------- reading


def _read_lock(
    project: CondaProject, lock_path: Path, texts: dict[str, str], findings: list[Finding]
) -> bool:
    """Metadata and scanned entries; False (with a finding) when the lock is unreadable."""
    name = project.lock_name
    if not lock_path.exists():
        return False
    from audit.core.text import MAX_LOCK_BYTES, cannot_read, check_size, decode_text

    try:
        check_size(lock_path, name, MAX_LOCK_BYTES, "a conda-lock.yml")
        text = decode_text(lock_path.read_bytes(), name)
    except OSError as exc:
        findings.append(finding("RA002", name, 0, cannot_read(lock_path, exc)))
        return False
    except InputError as exc:
        findings.append(finding("RA002", name, 0, exc.message))
        return False
    texts[name] = text
    scanned = scan_lock(text)
    try:
        project.meta = _metadata(lock_path, scanned.head)
    except InputError as exc:
        findings.append(finding("RA002", name, _line_of(exc.message), exc.message))
        return False
    project.scanned = scanned
    if not project.meta.platforms:
        findings.append(finding("RA002", name, 0, "the lock names no platforms"))
        return False
    ok = True
    for entry in scanned.entries:
        missing = [
            k for k in ("name", "version", "manager", "platform", "url") if not getattr(entry, k)
        ]
        if missing or entry.manager not in ("conda", "pip"):
            what = f"no {', '.join(missing)}" if missing else f"unknown manager {entry.manager!r}"
            findings.append(finding("RA002", name, entry.line, f"malformed package entry: {what}"))
            ok = False
            continue
        if entry.manager == "conda":
            project.conda.setdefault(entry.platform, {})[entry.name.lower()] = entry
        else:
            project.pip.setdefault(entry.platform, {})[_pep503(entry.name)] = entry
    return ok


def _metadata(path: Path, head: str) -> LockMetadata:
    """conda-lock.yml's metadata block, parsed from the text outside the package list."""
    from audit.lockfile.condalock import parse_metadata

    return parse_metadata(path, head)


def _line_of(message: str) -> int:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else 0


def _env_files(lock_dir: Path, env_path: Path | None, meta: LockMetadata | None) -> list[Path]:
    """The lock's own `sources` (relative to the lock) when they all exist, else the
    environment.yml found."""
    if meta is not None and meta.sources:
        sources = [Path(os.path.normpath(lock_dir / s)) for s in meta.sources]
        if all(p.is_file() for p in sources):
            return sources
    return [env_path] if env_path is not None else []


def _read_text(path: Path, name: str, rule_id: str, findings: list[Finding]) -> str | None:
    """The environment file's text, or None with a finding saying why it cannot be read
    (one over the size limit is refused before it is read: no memory spent on junk)."""
    from audit.core.text import MAX_ENV_BYTES, cannot_read, check_size, decode_text

    try:
        check_size(path, name, MAX_ENV_BYTES)
        return decode_text(path.read_bytes(), name)
    except OSError as exc:
        findings.append(finding(rule_id, name, 0, cannot_read(path, exc)))
    except InputError as exc:
        findings.append(error_finding(rule_id, exc, name))
    return None


# --------------------------------------------------------------------------- platforms


def _platform_rules(project: CondaProject) -> Iterable[Finding]:
    assert project.env is not None and project.meta is not None and project.scanned is not None
    locked = set(project.meta.platforms)
    asked = project.env.platforms
    for platform in asked:
        if platform.value not in locked:
            yield finding(
                "RA003",
                platform.file,
                platform.line,
                f"platform {platform.value} is not in {project.lock_name} "
                f"(locked: {', '.join(project.meta.platforms)})",
            )
    if asked:
        names = {p.value for p in asked}
        for platform in project.meta.platforms:
            if platform not in names:
                yield finding(
                    "RA004",
                    project.lock_name,
                    project.scanned.key_lines.get(f"platform.{platform}", 0),
                    f"platform {platform} is locked but {project.env_name} no longer asks for it",
                )


# --------------------------------------------------------------------------- hashes


def _hash_rules(project: CondaProject, env_files: list[Path]) -> Iterable[Finding]:
    """Input digest first (fast); conda-lock's content hash only when the digest differs."""
    from audit.lock.run import (
        LockOptions,
        options_digest,
        options_stale,
        parse_inputs,
        resolution_digest,
    )

    meta = project.meta
    assert meta is not None and project.scanned is not None
    candidates = [
        LockOptions(
            files=env_files,
            platforms=platforms,
            lockfile=project.lock_path or Path(),
            explicit=explicit,
        )
        for platforms in ([], list(meta.platforms))
        for explicit in (True, False)
    ]
    if meta.input_digest and any(options_digest(o) == meta.input_digest for o in candidates):
        return []
    platforms = [p for p in meta.platforms if p in KNOWN_PLATFORMS]
    options = LockOptions(
        files=env_files, platforms=platforms, lockfile=project.lock_path or Path()
    )
    try:
        spec, virtual, hashes = parse_inputs(options, options_digest(options))
    except InputError as exc:  # name files as findings do: relative to the project
        if exc.where:
            exc.where = exc.where.replace(f"{project.root}{os.sep}", "")
        raise
    stale = sorted(p for p in platforms if meta.content_hash.get(p) != hashes.get(p))
    if not stale:
        digest = resolution_digest(options, spec, virtual)
        moved = options_stale(meta, digest, tuple(platforms), files_only=True)
        if moved:
            line = project.scanned.key_lines.get("metadata.custom_metadata", 0)
            return [
                finding(
                    "RA005",
                    project.lock_name,
                    line,
                    f"{project.env_name} changed since the lock: {next(iter(moved.values()))} "
                    "(run `repro-audit lock`)",
                )
            ]
        return []
    line = project.scanned.key_lines.get(
        f"content_hash.{stale[0]}"
    ) or project.scanned.key_lines.get("metadata.content_hash", 0)
    return [
        finding(
            "RA005",
            project.lock_name,
            line,
            f"{project.env_name} changed since the lock: content hash differs for "
            f"{', '.join(stale)} (run `repro-audit lock`)",
        )
    ]


# --------------------------------------------------------------------------- specs


def _pep503(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _spec_rules(project: CondaProject) -> list[Finding]:
    """Every spec met on every platform; nothing locked that no spec reaches."""
    from audit.envfile.condaspec import record_match_spec

    env, meta = project.env, project.meta
    assert env is not None and meta is not None
    unmet: dict[Located, list[str]] = {}
    leftover: dict[tuple[str, str], list[tuple[str, str, int]]] = {}
    parsed: dict[str, Any] = {}
    for platform in meta.platforms:
        by_name = project.conda.get(platform, {})
        roots: list[str] = []
        for spec in env.conda.get(platform, []):
            if spec.value not in parsed:
                parsed[spec.value] = record_match_spec(spec.value, spec.where)
            match_spec, channel = parsed[spec.value]
            name = match_spec.name.normalized if match_spec.name is not None else spec.value
            roots.append(name)
            entry = by_name.get(name)
            if entry is None:
                unmet.setdefault(spec, []).append(f"{platform}: not locked")
            elif (
                (record := package_record(entry)) is None
                or not match_spec.matches(record)
                or not _channel_ok(channel, entry.url)
            ):
                unmet.setdefault(spec, []).append(
                    f"{platform}: locked {name} {entry.version} {entry.build_string}"
                    + (f" from {_channel_of(entry.url)}" if channel else "")
                )
        depends = {n: [d.lower() for d in e.depends] for n, e in by_name.items()}
        reached = _closure(roots, depends)
        for name, entry in sorted(by_name.items()):
            if name not in reached and not name.startswith("__"):
                leftover.setdefault(("conda", name), []).append(
                    (platform, entry.version, entry.line)
                )
        _pip_rules(project, platform, project.pip.get(platform, {}), unmet, leftover)
    out: list[Finding] = []
    for spec, problems in unmet.items():
        out.append(
            finding(
                "RA006",
                spec.file,
                spec.line,
                f"'{spec.value}' is not met by {project.lock_name} ({'; '.join(problems)})",
            )
        )
    for (manager, name), where in sorted(leftover.items()):
        platforms = ", ".join(p for p, _, _ in where)
        line = min((ln for _, _, ln in where if ln), default=0)
        kind = "pip package" if manager == "pip" else "package"
        out.append(
            finding(
                "RA007",
                project.lock_name,
                line,
                f"{kind} {name} {where[0][1]} is locked ({platforms}) but nothing in "
                f"{project.env_name} needs it",
            )
        )
    return out


def _channel_of(url: str) -> str:
    """Channel URL of a package URL: drop `<subdir>/<file>`."""
    from audit.core.redact import redact_url

    return redact_url(url).rsplit("/", 2)[0].rstrip("/")


def _channel_ok(channel: str | None, url: str) -> bool:
    if not channel:
        return True
    found = _channel_of(url)
    want = channel.split("/")[0] if "://" not in channel else channel.rstrip("/")
    if "://" in want:
        return found == want
    return found.rsplit("/", 1)[-1] == want or found == want


def _closure(roots: Iterable[str], depends: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    stack = [r for r in roots if r in depends]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(d for d in depends.get(name, ()) if d in depends and d not in seen)
    return seen


def _pip_rules(
    project: CondaProject,
    platform: str,
    entries: dict[str, ScannedEntry],
    unmet: dict[Located, list[str]],
    leftover: dict[tuple[str, str], list[tuple[str, str, int]]],
) -> None:
    """pip requirements met by the locked wheels; no wheel that no requirement reaches."""
    assert project.env is not None
    specs = project.env.pip.get(platform, [])
    if not specs and not entries:
        return
    from packaging.requirements import InvalidRequirement, Requirement

    roots: list[str] = []
    for spec in specs:
        name = pip_name(spec.value)
        req = None
        if "://" not in spec.value:  # a URL or VCS requirement only has to be present
            try:
                req = Requirement(spec.value)
            except InvalidRequirement as exc:
                raise InputError(
                    f"invalid pip requirement '{spec.value}': {exc}",
                    where=f"{spec.file}:{spec.line}",
                ) from None
        roots.append(name)
        entry = entries.get(name)
        if entry is None:
            unmet.setdefault(spec, []).append(f"{platform}: not locked")
        elif req and req.specifier and not req.specifier.contains(entry.version, prereleases=True):
            unmet.setdefault(spec, []).append(f"{platform}: locked {entry.name} {entry.version}")
    depends = {n: [_pep503(d) for d in e.depends] for n, e in entries.items()}
    reached = _closure(roots, depends)
    for name, entry in sorted(entries.items()):
        if name not in reached:
            leftover.setdefault(("pip", name), []).append((platform, entry.version, entry.line))


# --------------------------------------------------------------------------- explicit


def _explicit_rules(project: CondaProject, texts: dict[str, str]) -> list[Finding]:
    """conda-<platform>.lock beside the lock: present for each platform, same hash and URLs."""
    from audit.core.text import cannot_read, decode_text
    from audit.lockfile.condalock import explicit_path

    meta, scanned, lock_path = project.meta, project.scanned, project.lock_path
    if meta is None or scanned is None or lock_path is None:
        return []
    existing = sorted(lock_path.parent.glob("conda-*.lock"))
    if not existing:
        return []  # locked with --no-explicit
    out: list[Finding] = []
    expected = {explicit_path(lock_path, p) for p in meta.platforms}
    for path in existing:
        if path not in expected:
            out.append(
                finding(
                    "RA008",
                    rel(project.root, path),
                    0,
                    f"{path.name} is for a platform {project.lock_name} does not lock",
                )
            )
    for platform in meta.platforms:
        path = explicit_path(lock_path, platform)
        name = rel(project.root, path)
        if not path.exists():
            out.append(
                finding(
                    "RA008",
                    project.lock_name,
                    scanned.key_lines.get(f"platform.{platform}", 0),
                    f"{path.name} is missing (run `repro-audit lock`)",
                )
            )
            continue
        try:
            text = decode_text(path.read_bytes(), name)
        except OSError as exc:
            out.append(finding("RA008", name, 0, cannot_read(path, exc)))
            continue
        except InputError as exc:
            out.append(finding("RA008", name, 0, exc.message))
            continue
        texts[name] = text
        out.extend(_compare_explicit(project, platform, name, text, _redact))
    return out


def _redact(url: str) -> str:
    """redact_url, skipped for the (usual) URL that cannot hold credentials."""
    from audit.core.redact import redact_url

    return redact_url(url) if "@" in url or "/t/" in url else url


def _compare_explicit(
    project: CondaProject, platform: str, name: str, text: str, redact: Any
) -> list[Finding]:
    assert project.meta is not None and project.scanned is not None
    locked = {
        redact(e.url): e.hashes.get("sha256", "")
        for e in project.scanned.entries
        if e.platform == platform and e.manager == "conda"
    }
    seen: set[str] = set()
    out: list[Finding] = []
    explicit_line = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("# input_hash:"):
            found = line.split(":", 1)[1].strip()
            if found != project.meta.content_hash.get(platform):
                return [
                    finding(
                        "RA008",
                        name,
                        number,
                        f"input_hash differs from {project.lock_name}'s content hash for "
                        f"{platform} (run `repro-audit lock`)",
                    )
                ]
        elif line == "@EXPLICIT":
            explicit_line = number
        elif line and not line.startswith("#"):
            url, _, frag = line.partition("#")
            url = redact(url)
            seen.add(url)
            if url not in locked:
                out.append(
                    finding(
                        "RA008", name, number, f"{url} is not in {project.lock_name} ({platform})"
                    )
                )
            elif frag.startswith("sha256:") and locked[url] and frag[7:] != locked[url]:
                out.append(
                    finding(
                        "RA008", name, number, f"sha256 of {url} differs from {project.lock_name}"
                    )
                )
    for url in sorted(set(locked) - seen):
        out.append(
            finding(
                "RA008",
                name,
                explicit_line,
                f"{url.rsplit('/', 1)[-1]} is in {project.lock_name} ({platform}) but not here",
            )
        )
    return out


# --------------------------------------------------------------------------- pip hashes


def _pip_hash_rules(project: CondaProject) -> list[Finding]:
    """RA009 for a wheel without sha256; a VCS entry's commit is its hash, so RA034 asks
    instead that it names a full commit sha, not a branch or tag that can move."""
    from audit.core.redact import redact_url
    from audit.lockfile.vcs import parse_vcs_url

    if project.scanned is None:
        return []
    out: list[Finding] = []
    for entry in project.scanned.entries:
        if entry.manager != "pip":
            continue
        vcs = parse_vcs_url(entry.url)
        label = f"pip package {entry.name} {entry.version} ({entry.platform})"
        if vcs is not None and not vcs.pinned:
            ref = f"'{vcs.ref}'" if vcs.ref else "no ref"
            out.append(
                finding(
                    "RA034",
                    project.lock_name,
                    entry.line,
                    f"{label} is locked to {ref} of {redact_url(vcs.remote)}, not a commit sha",
                )
            )
        elif vcs is None and not re.fullmatch(r"[0-9a-f]{64}", entry.hashes.get("sha256", "")):
            out.append(finding("RA009", project.lock_name, entry.line, f"{label} has no sha256"))
    return out
