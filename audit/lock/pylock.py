"""The wheel of each package of uv's `pylock.toml`, chosen by the target's tag priority."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from audit.core.errors import InputError
from audit.lock.piptags import Target


@dataclass(frozen=True)
class Chosen:
    """One wheel to lock: where it is and what the index says it hashes to."""

    name: str
    version: str
    url: str  # may carry credentials if uv kept them; redacted on output
    sha256: str | None
    size: int | None


def _artifact_url(artifact: Mapping[str, Any], lock_dir: Path) -> str:
    if "url" in artifact:
        return str(artifact["url"])
    path = Path(str(artifact["path"]))
    return (path if path.is_absolute() else (lock_dir / path)).resolve().as_uri()


def choose_wheel(package: Mapping[str, Any], target: Target, lock_dir: Path, source: str) -> Chosen:
    """The most preferred wheel of a pylock package for the target's tags."""
    name = canonicalize_name(str(package["name"]))
    version = str(package.get("version", ""))
    candidates: list[Mapping[str, Any]] = list(package.get("wheels") or [])
    archive = package.get("archive")
    if (
        not candidates
        and isinstance(archive, Mapping)
        and _artifact_url(archive, lock_dir).split("#")[0].endswith(".whl")
    ):
        candidates = [archive]
    where = f"pip package '{name}' {version}".rstrip()
    if not candidates:
        kinds = {"sdist": "only a source distribution", "archive": "only a source archive"}
        kinds |= {"vcs": "only a VCS checkout", "directory": "only a local directory"}
        kind = next((text for key, text in kinds.items() if package.get(key)), "no files")
        raise InputError(
            f"{where} has {kind} for {target.platform}",
            where=source,
            hint="repro-audit locks wheels only",
        )
    ranked: list[tuple[int, str, Mapping[str, Any]]] = []
    seen_tags: set[str] = set()
    for wheel in candidates:
        url = _artifact_url(wheel, lock_dir)
        filename = urllib.parse.unquote(url.split("#")[0].split("?")[0].rsplit("/", 1)[-1])
        try:
            _, _, _, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename:
            continue
        seen_tags.update(str(t) for t in tags)
        ranks = [target.tag_rank[t] for t in tags if t in target.tag_rank]
        if ranks:
            ranked.append((min(ranks), filename, wheel))
    if not ranked:
        raise InputError(
            f"{where} has no portable wheel for {target.platform}"
            f" (python {target.python_version}); wheels: {', '.join(sorted(seen_tags)) or 'none'}",
            where=source,
            hint="repro-audit locks wheels only and never picks linux_* wheels",
        )
    _, _, wheel = min(ranked, key=lambda item: (item[0], item[1]))
    hashes = wheel.get("hashes") or {}
    size = wheel.get("size")
    return Chosen(
        name=name,
        version=version,
        url=_artifact_url(wheel, lock_dir),
        sha256=str(hashes["sha256"]).lower() if "sha256" in hashes else None,
        size=int(size) if isinstance(size, int) else None,
    )
