"""Re-solving a merged lock: the merged environment file, both sides' records preferred.

Used when a per-package merge is not enough: the same package changed differently on
both sides, the merged packages no longer satisfy each other's dependencies, or both
sides edited environment.yml (so neither side's content hash is the merge's). The
solver gets every record of the clean merge, and both sides' records of a conflicting
package, as `locked_packages`: it keeps what it can and moves only what it must.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from audit.merge.threeway import Key


def _records(document: dict[str, Any], work: Path, name: str) -> dict[str, list]:
    """Rattler records per platform of a lock document (written to a scratch file)."""
    from audit.core.errors import InputError
    from audit.lockfile.condalock import dump_lockfile, read_lock_records

    path = work / name
    path.write_text(dump_lockfile(document, name), encoding="utf-8")
    platforms = document["metadata"].get("platforms") or []
    try:
        return {p: read_lock_records(path, p) for p in platforms}
    except InputError as exc:  # name the lock, not the scratch file
        reason = exc.message.removeprefix("cannot read lockfile: ")
        what = name.removesuffix(".yml")
        raise InputError(f"rattler cannot read the {what} lock: {reason}") from None


Records = dict[str, list]


def merged_records(document: dict[str, Any]) -> Records | None:
    """Rattler records per platform of a merged lock (None: rattler cannot read it; it is
    merged as text then, with nothing to check). Read once for both checks below."""
    from audit.core.errors import InputError

    with tempfile.TemporaryDirectory(prefix="repro-audit-merge-") as tmp:
        try:
            return _records(document, Path(tmp), "merged.yml")
        except InputError:
            return None


def unsatisfied(document: dict[str, Any], records: Records | None = None) -> list[str]:
    """`platform: package needs dep` for each conda dependency the merged set does not meet."""
    from rattler import MatchSpec

    by_platform = records if records is not None else merged_records(document)
    problems: list[str] = []
    for platform, platform_records in (by_platform or {}).items():
        by_name = {r.name.normalized: r for r in platform_records}
        for record in platform_records:
            for dep in record.depends:
                name = dep.split()[0].split("[")[0]
                if name.startswith("__"):
                    continue
                other = by_name.get(name)
                if other is None or not MatchSpec(dep).matches(other):
                    problems.append(f"{platform}: {record.name.normalized} needs {dep}")
    return problems


def unmet_specs(
    document: dict[str, Any], env_data: bytes, env_path: str, records: Records | None = None
) -> list[str]:
    """`platform: name version`, for each conda spec of the merged environment file the
    merged packages do not meet: one side moved a package the other side's edit of the
    environment file constrains (main pins `numpy 2.0.*`, a branch bumped numpy to 2.1),
    which no per-package merge sees and the content hash does not catch."""
    from audit.core.errors import InputError
    from audit.envfile.condaspec import record_match_spec
    from audit.envfile.lines import read_envfiles

    platforms = list(document["metadata"].get("platforms") or [])
    by_platform = records if records is not None else merged_records(document)
    with tempfile.TemporaryDirectory(prefix="repro-audit-merge-") as tmp:
        env_file = Path(tmp) / "environment.yml"
        env_file.write_bytes(env_data)
        try:
            env = read_envfiles([env_file], [env_path], platforms)
        except InputError:
            return []  # said elsewhere: the environment file does not read
    if by_platform is None:
        return []
    problems: list[str] = []
    for platform in platforms:
        by_name = {r.name.normalized: r for r in by_platform.get(platform, [])}
        for spec in env.conda.get(platform, []):
            try:
                match, _ = record_match_spec(spec.value, spec.where)
            except InputError:
                continue
            name = match.name.normalized if match.name is not None else spec.value
            record = by_name.get(name)
            if record is None or not match.matches(record):
                have = f"{name} {record.version}" if record is not None else f"no {name}"
                problems.append(f"{platform}: {have} against '{spec.value}'")
        problems += _unmet_pip(document, platform, env.pip.get(platform, []))
    return problems


def _unmet_pip(document: dict[str, Any], platform: str, specs: list[Any]) -> list[str]:
    """pip requirements of the merged environment file the merged wheels do not meet."""
    from packaging.requirements import InvalidRequirement, Requirement

    from audit.envfile.lines import pip_name
    from audit.envfile.pip import pep503

    wheels = {
        pep503(str(p.get("name", ""))): str(p.get("version", ""))
        for p in document.get("package") or []
        if p.get("manager") == "pip" and p.get("platform") == platform
    }
    out: list[str] = []
    for spec in specs:
        if "://" in spec.value:
            continue  # a URL or VCS requirement only has to be present: not a version
        try:
            req = Requirement(spec.value)
        except InvalidRequirement:
            continue
        name = pep503(pip_name(spec.value))
        version = wheels.get(name)
        if version is None:
            out.append(f"{platform}: no pip {name} against '{spec.value}'")
        elif req.specifier and not req.specifier.contains(version, prereleases=True):
            out.append(f"{platform}: pip {name} {version} against '{spec.value}'")
    return out


def preferences(
    merged: dict[str, Any], ours: dict[str, Any], theirs: dict[str, Any], conflicts: Iterable[Key]
) -> dict[str, list]:
    """The merged records, plus both sides' records of each conflicting package."""
    wanted = {(p, n) for p, m, n in conflicts if m == "conda"}
    with tempfile.TemporaryDirectory(prefix="repro-audit-merge-") as tmp:
        work = Path(tmp)
        out = {p: list(rs) for p, rs in _records(merged, work, "merged.yml").items()}
        for side, name in ((ours, "ours.yml"), (theirs, "theirs.yml")):
            for platform, records in _records(side, work, name).items():
                extra = [r for r in records if (platform, r.name.normalized) in wanted]
                out.setdefault(platform, []).extend(extra)
    return out


def resolve(
    env_text: bytes,
    env_path: str,
    lock_path: str,
    merged: dict[str, Any],
    locked: dict[str, list],
) -> dict[str, Any]:
    """Solve the merged environment file as `lock` would, preferring `locked` records."""
    from audit.lock.asof import AS_OF_KEY, UNDATED_KEY, AsOf
    from audit.lock.run import LockOptions, options_digest, parse_inputs, solve_document

    custom = merged["metadata"].get("custom_metadata") or {}
    as_of = None
    if AS_OF_KEY in custom:
        from audit.core.asof import parse_as_of

        as_of = AsOf(parse_as_of(custom[AS_OF_KEY]), custom.get(UNDATED_KEY, "exclude"))
    platforms = list(merged["metadata"].get("platforms") or [])
    with tempfile.TemporaryDirectory(prefix="repro-audit-merge-env-") as tmp:
        env_file = Path(tmp) / Path(env_path).name
        env_file.write_bytes(env_text)
        options = LockOptions(
            files=[env_file],
            lockfile=Path(lock_path),
            explicit=False,
            as_of=as_of,
            channel_base_dir=Path(env_path).parent.resolve(),
        )
        digest = options_digest(options)
        spec, virtual, hashes = parse_inputs(options, digest)
        if set(spec.platforms) != set(platforms):  # the lock was made with -p
            options.platforms = platforms
            digest = options_digest(options)
            spec, virtual, hashes = parse_inputs(options, digest)
        solved = solve_document(options, spec, virtual, hashes, digest, locked=locked)
    document = solved.document
    document["metadata"]["sources"] = merged["metadata"].get("sources") or []
    return document
