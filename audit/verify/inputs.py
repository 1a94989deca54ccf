"""The record's inputs: the lock and Dockerfile it names (sha256-checked), artifacts, bases."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit.artifacts import Artifact
from audit.core.errors import (
    ReproAuditError,
)
from audit.core.fs import sha256_file
from audit.verify.verdict import (
    GONE,
    MISMATCH,
    Problem,
)

RECORD_NAME = "build-record.json"


@dataclass
class Inputs:
    """A record and the files it names, located on disk (or extracted from git)."""

    record_path: Path
    record: dict[str, Any]
    lockfile: Path | None
    dockerfile: Path | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def inputs(self) -> dict[str, Any]:
        return dict(self.record.get("inputs") or {})

    @property
    def platform(self) -> str:
        return str(self.inputs.get("platform") or "linux/amd64")

    @property
    def conda_platform(self) -> str:
        return str(self.inputs.get("conda_platform") or "linux-64")


def _candidates(recorded: str, record_dir: Path) -> list[Path]:
    path = Path(recorded)
    if path.is_absolute():
        return [path, record_dir / path.name]
    return [record_dir / path, Path.cwd() / path, record_dir / path.name]


def locate(
    kind: str, entry: dict[str, Any], record_dir: Path
) -> tuple[Path | None, Problem | None]:
    """The file a record entry names ({path, sha256}), checked against its sha256."""
    recorded = entry.get("path")
    expected = entry.get("sha256")
    if not recorded:
        return None, Problem(kind, kind, "", GONE, "the record names no file")
    existing = [p for p in _candidates(str(recorded), record_dir) if p.is_file()]
    for path in existing:
        if not expected or sha256_file(path)[0] == expected:
            return path, None
    if existing:
        got = sha256_file(existing[0])[0]
        return existing[0], Problem(
            kind,
            str(recorded),
            str(existing[0]),
            MISMATCH,
            f"{recorded} changed since the build (verify git:REV to use the committed one)",
            expected=expected,
            got=got,
        )
    return None, Problem(kind, str(recorded), str(recorded), GONE, f"{recorded} not found")


def load_inputs(record_path: Path) -> Inputs:
    from audit.record import read_record

    record = read_record(record_path)
    inputs = record.get("inputs") or {}
    base = record_path.resolve().parent
    problems: list[Problem] = []
    lockfile, problem = locate("lockfile", dict(inputs.get("lockfile") or {}), base)
    if problem:
        problems.append(problem)
    dockerfile = None
    docker_entry = dict(inputs.get("dockerfile") or {})
    if not docker_entry.get("generated") and docker_entry.get("path"):
        dockerfile, problem = locate("dockerfile", docker_entry, base)
        if problem:
            problems.append(problem)
    return Inputs(record_path, record, lockfile, dockerfile, problems)


def lock_artifacts(inputs: Inputs) -> tuple[list[Artifact], list[dict[str, Any]], list[Problem]]:
    """(artifacts, repodata records, problems): the lock read by today's readers.

    When the lock is unavailable the record's own package list stands in, so the
    artifact checks still run.
    """
    from audit.build import lock_artifact, read_pip_wheels, wheel_artifact

    problems: list[Problem] = []
    platform = inputs.conda_platform
    if inputs.lockfile is not None:
        from audit.inventory import read_inventory
        from audit.lockfile.condalock import read_lock_records

        try:
            _register_lock_channels(inputs.lockfile)
            records = read_lock_records(inputs.lockfile, platform)
            wheels = read_pip_wheels(inputs.lockfile, platform)
            read_inventory(str(inputs.lockfile), platform)
            artifacts = [lock_artifact(r) for r in records]
            artifacts += [wheel_artifact(w, platform) for w in wheels]
            repodata = [json.loads(record.to_json()) for record in records]
            problems += hand_edits(inputs.lockfile, platform)
            if artifacts or not _record_packages(inputs):
                return artifacts, repodata, problems
            problems.append(
                Problem(
                    "lockfile",
                    str(inputs.lockfile),
                    str(inputs.lockfile),
                    MISMATCH,
                    f"today's reader finds no {platform} packages in the lock",
                )
            )
        except ReproAuditError as exc:
            problems.append(
                Problem(
                    "lockfile",
                    str(inputs.lockfile),
                    str(inputs.lockfile),
                    MISMATCH,
                    f"does not parse with repro-audit today: {exc.one_line()}",
                )
            )
    return _record_packages(inputs), [], problems


def _register_lock_channels(lockfile: Path) -> None:
    """The lock's `${VAR}` channel URLs feed the credential store (expanded in memory)."""
    from audit.core.credentials import register_urls
    from audit.lockfile.condalock import read_metadata

    meta = read_metadata(lockfile)
    if meta is not None:
        register_urls(meta.channels)


def hand_edits(lockfile: Path, platform: str) -> list[Problem]:
    """Entries of `platform` whose name/version/build contradict their URL's file name."""
    from audit.lockfile.filename import hand_edits as edited_entries
    from audit.lockfile.scan import scan_lock

    try:
        text = lockfile.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []  # the readers above already said why
    out: list[Problem] = []
    for entry, why in edited_entries(scan_lock(text, depends=False).entries, platform):
        out.append(
            Problem(
                "lockfile",
                f"{entry.name} {entry.version} ({platform})",
                f"{lockfile.name}:{entry.line}",
                MISMATCH,
                f"the lock entry was edited by hand: {why}",
            )
        )
    return out


def _record_packages(inputs: Inputs) -> list[Artifact]:
    packages = dict(inputs.inputs.get("packages") or {})
    out = []
    for manager in ("conda", "pip"):
        for item in packages.get(manager) or []:
            url = str(item.get("url") or "")
            file_name = url.rsplit("/", 1)[-1]
            subdir = url.rsplit("/", 2)[-2] if manager == "conda" and url.count("/") >= 2 else ""
            out.append(
                Artifact(
                    name=str(item.get("name")),
                    version=str(item.get("version")),
                    platform=subdir or inputs.conda_platform,
                    url=url,
                    sha256=str(item.get("sha256") or ""),
                    file_name=file_name,
                )
            )
    return out


def pinned_bases(inputs: Inputs) -> tuple[list[Any], list[Problem]]:
    """The base images as ImageRefs with digests; unpinned ones are problems."""
    from audit.registry.reference import ReferenceError, parse_reference

    refs: dict[str, Any] = {}
    problems = []
    for image in inputs.inputs.get("base_images") or []:
        text = str(image.get("ref") or "")
        digest = image.get("digest")
        if not digest:
            problems.append(
                Problem(
                    "base-image",
                    text,
                    str(image.get("where") or ""),
                    GONE,
                    "built unpinned (--allow-unpinned): no digest to rebuild from",
                )
            )
            continue
        try:
            ref = parse_reference(text).with_digest(digest)
        except ReferenceError as exc:
            problems.append(Problem("base-image", text, "", GONE, f"unparsable reference: {exc}"))
            continue
        refs.setdefault(ref.canonical(), ref)
    return list(refs.values()), problems
