"""Three-way merge of two conda-lock.yml documents against their base (pure: data in, out).

Packages merge per (platform, manager, name): a side that did not touch a package takes
the other side's; both sides making the same change agree; different changes to one
package are a conflict. Metadata merges the same way field by field (content_hash and
custom_metadata per key). Nothing here writes text: conflicts are returned, never marked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from audit.core.errors import InputError
from audit.core.safeload import load_yaml

_MARKER = re.compile(r"^(<{7} |={7}$|>{7} |\|{7} )", re.MULTILINE)
Key = tuple[str, str, str]


@dataclass
class Merged:
    """The merged document (packages sorted as `lock` writes them) and what conflicted."""

    document: dict[str, Any]
    conflicts: list[Key] = field(default_factory=list)
    meta_conflicts: list[str] = field(default_factory=list)
    #: key → which side's entry the merge took ("ours", "theirs", "both")
    taken: dict[Key, str] = field(default_factory=dict)


def check_markers(text: str, where: str) -> None:
    """Refuse a lock that already holds conflict markers (a merge left half-done)."""
    match = _MARKER.search(text)
    if match:
        line = text.count("\n", 0, match.start()) + 1
        raise InputError(
            "conflict markers in the lock: resolve or regenerate it first",
            where=f"{where}:{line}",
            hint="`git checkout --ours FILE` then `repro-audit lock`",
        )


def parse_lock(text: str, where: str) -> dict[str, Any]:
    """A conda-lock.yml (v1) document, or a one-line InputError."""
    check_markers(text, where)
    data = load_yaml(text, where)
    if not isinstance(data, dict) or not isinstance(data.get("metadata"), dict):
        raise InputError("not a conda-lock.yml: no 'metadata' mapping", where=where)
    if not isinstance(data.get("package") or [], list) or data.get("version") not in (None, 1):
        raise InputError("not a conda-lock.yml v1 (a 'package' list)", where=where)
    return data


def _index(document: dict[str, Any]) -> dict[Key, tuple[dict[str, Any], ...]]:
    """Entries per key; conda-lock v1 repeats a package once per category, so a tuple."""
    out: dict[Key, list[dict[str, Any]]] = {}
    for entry in document.get("package") or []:
        if isinstance(entry, dict):
            key = (
                str(entry.get("platform")),
                str(entry.get("manager", "conda")),
                str(entry["name"]),
            )
            out.setdefault(key, []).append(entry)
    return {k: tuple(sorted(v, key=lambda e: str(e.get("category", "")))) for k, v in out.items()}


def _pick(base: Any, ours: Any, theirs: Any) -> tuple[Any, str | None]:
    """(value, side) of a three-way merge of one value; side None means conflict."""
    if ours == theirs:
        return ours, "both"
    if ours == base:
        return theirs, "theirs"
    if theirs == base:
        return ours, "ours"
    return None, None


def merge_documents(base: dict, ours: dict, theirs: dict) -> Merged:
    """Merge packages per key and metadata per field; conflicts listed, ours kept there."""
    b, o, t = _index(base), _index(ours), _index(theirs)
    packages: list[dict[str, Any]] = []
    merged = Merged(document={})
    for key in sorted(set(b) | set(o) | set(t)):
        value, side = _pick(b.get(key), o.get(key), t.get(key))
        if side is None:
            merged.conflicts.append(key)
            value = o.get(key)
        else:
            merged.taken[key] = side
        packages.extend(value or ())
    packages.sort(key=lambda p: (p["manager"], p["name"], p["platform"]))
    merged.document = {
        "version": 1,
        "metadata": _merge_metadata(base["metadata"], ours["metadata"], theirs["metadata"], merged),
        "package": packages,
    }
    return merged


def _merge_metadata(base: dict, ours: dict, theirs: dict, merged: Merged) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in dict.fromkeys([*ours, *theirs]):
        if name in ("content_hash", "custom_metadata"):
            out[name] = _merge_mapping(
                base.get(name) or {}, ours.get(name) or {}, theirs.get(name) or {}, name, merged
            )
            continue
        value, side = _pick(base.get(name), ours.get(name), theirs.get(name))
        if side is None:
            merged.meta_conflicts.append(name)
            value = ours.get(name)
        if value is not None:
            out[name] = value
    return out


def _merge_mapping(base: dict, ours: dict, theirs: dict, name: str, merged: Merged) -> dict:
    out = {}
    for key in sorted(set(base) | set(ours) | set(theirs)):
        value, side = _pick(base.get(key), ours.get(key), theirs.get(key))
        if side is None:
            merged.meta_conflicts.append(f"{name}.{key}")
            value = ours.get(key)
        if value is not None:
            out[key] = value
    return out
