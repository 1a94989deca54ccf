"""Inventory × Inventory → Drift: every package change, classified.

Classification is one keyed dict comparison (O(n)); field-level details are worked out
only for the pairs that changed, so two 50,000-package inventories diff in about the
time it takes to load them. Pure: no I/O beyond the shipped PyPI↔conda name mapping.
"""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cmp_to_key
from typing import Any

from audit.core.errors import InputError
from audit.inventory.interface import Inventory, Package, no_gc

#: Every kind of change, in the order reports list them (most alarming first).
KINDS = (
    "hash-changed",
    "downgraded",
    "removed",
    "added",
    "upgraded",
    "rebuilt",
    "channel-changed",
    "moved",
    "metadata-changed",
)
KIND_ORDER = {kind: index for index, kind in enumerate(KINDS)}

#: Fields compared for "metadata-changed" (same version, build, channel and bytes).
_METADATA_FIELDS = ("url", "depends")
_DETAIL_FIELDS = ("version", "build", "channel", "url", "sha256", "md5", "installer")


@dataclass(frozen=True)
class Change:
    """One package that differs; `old`/`new` are None for added/removed."""

    kind: str
    manager: str
    name: str
    old: Package | None
    new: Package | None
    platform: str = ""
    details: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    #: between two images, for deb/apk: why it differs (audit.diff.attribution.Attribution)
    attribution: Any = field(default=None, compare=False, hash=False)

    @property
    def old_version(self) -> str:
        return _label(self.old)

    @property
    def new_version(self) -> str:
        return _label(self.new)

    def sort_key(self) -> tuple[str, str, str, int]:
        return (self.platform, self.manager, self.name, KIND_ORDER.get(self.kind, 99))

    def to_json(self) -> dict[str, Any]:
        data = {
            "kind": self.kind,
            "platform": self.platform,
            "manager": self.manager,
            "name": self.name,
            "old": self.old.to_json() if self.old else None,
            "new": self.new.to_json() if self.new else None,
            "details": self.details,
        }
        if self.attribution is not None:
            data["attribution"] = self.attribution.to_json()
        return data


def _label(package: Package | None) -> str:
    if package is None:
        return ""
    return f"{package.version}-{package.build}" if package.build else package.version


@dataclass(frozen=True)
class PlatformDrift:
    """The changes between two inventories of one platform."""

    platform: str
    old_source: str
    new_source: str
    changes: tuple[Change, ...]
    old_count: int
    new_count: int

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(KINDS, 0)
        for change in self.changes:
            out[change.kind] += 1
        return out


@dataclass(frozen=True)
class Drift:
    """Changes per platform between two sources."""

    old_source: str
    new_source: str
    platforms: tuple[PlatformDrift, ...]

    @property
    def changes(self) -> tuple[Change, ...]:
        return tuple(c for p in self.platforms for c in p.changes)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(KINDS, 0)
        for change in self.changes:
            out[change.kind] += 1
        return out

    def selected(self, kinds: Iterable[str]) -> list[Change]:
        wanted = set(kinds)
        return [c for c in self.changes if c.kind in wanted]


# --------------------------------------------------------------------------- versions

_NUMERIC = re.compile(r"(\d+)")


def _natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Fallback ordering: digits compare as numbers, the rest as text."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in _NUMERIC.split(text) if part
    )


_RELEASE = re.compile(r"\d{1,18}(?:\.\d{1,18})*")


def _release_order(old: str, new: str) -> int | None:
    """-1, 0 or 1 for two plain releases (`1.26.4`, `2.0`), else None.

    Plain dotted numbers order the same in conda's and PEP 440's rules: number by number,
    missing ones zero (`1.2` == `1.2.0`). Deciding them here keeps rattler and packaging
    (30 ms of imports) off a diff whose changed versions are all plain.
    """
    if not (_RELEASE.fullmatch(old) and _RELEASE.fullmatch(new)):
        return None
    a, b = [int(x) for x in old.split(".")], [int(x) for x in new.split(".")]
    width = max(len(a), len(b))
    a += [0] * (width - len(a))
    b += [0] * (width - len(b))
    return (a > b) - (a < b)


def compare_versions(manager: str, old: str, new: str) -> int:
    """-1, 0 or 1: conda by rattler's order, pip by PEP 440, others by a natural sort."""
    if old == new:
        return 0
    if manager in ("conda", "pip"):
        order = _release_order(old, new)
        if order is not None:
            return order
    try:
        if manager == "conda":
            from rattler import Version

            a, b = Version(old), Version(new)
            return (a > b) - (a < b)
        if manager == "pip":
            from packaging.version import Version as PyVersion

            c, d = PyVersion(old), PyVersion(new)
            return (c > d) - (c < d)
    except Exception:  # an unparsable version: fall back to the natural order
        pass
    ka, kb = _natural_key(old), _natural_key(new)
    try:
        return (ka > kb) - (ka < kb)
    except TypeError:
        return (old > new) - (old < new)


def version_sort_key(manager: str) -> Any:
    """A sort key ordering version strings of `manager` oldest first."""
    return cmp_to_key(lambda a, b: compare_versions(manager, a, b))


# --------------------------------------------------------------------------- classification


def _known_differs(a: str, b: str) -> bool:
    """Both sources say something, and not the same thing ("" means "not recorded")."""
    return bool(a) and bool(b) and a != b


def classify(old: Package, new: Package) -> str | None:
    """The kind of change from `old` to `new` (same key), or None when equal.

    Only fields both sources record are compared: a lockfile knows hashes an image's
    pip metadata does not, and that is not a change.
    """
    if old.version != new.version:
        order = compare_versions(old.manager, old.version, new.version)
        if order < 0:
            return "upgraded"
        if order > 0:
            return "downgraded"
    if _known_differs(old.build, new.build) or old.version != new.version:
        return "rebuilt"
    if _known_differs(old.channel, new.channel):
        return "channel-changed"
    if _known_differs(old.sha256, new.sha256) or _known_differs(old.md5, new.md5):
        return "hash-changed"
    if _known_differs(old.url, new.url) or (
        old.depends and new.depends and set(old.depends) != set(new.depends)
    ):
        return "metadata-changed"
    return None


def _depends_map(depends: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for dep in depends:
        name, _, rest = dep.strip().partition(" ")
        out[name] = rest.strip()
    return out


def _view(package: Package, other: Package) -> dict[str, Any]:
    """The fields worth comparing: those both sides record and that differ."""
    data: dict[str, Any] = {}
    for name in _DETAIL_FIELDS:
        mine, theirs = getattr(package, name), getattr(other, name)
        if mine and theirs and mine != theirs:
            data[name] = mine
    if package.depends and other.depends and package.depends != other.depends:
        data["depends"] = _depends_map(package.depends)
    if package.manager != other.manager or package.name != other.name:
        data["manager"], data["name"] = package.manager, package.name
    return data


def _depends_changes(old: dict[str, str], new: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Dependencies added, removed and with another spec; empty parts left out."""
    parts: dict[str, dict[str, Any]] = {
        "added": {name: new[name] for name in sorted(new.keys() - old.keys())},
        "removed": {name: old[name] for name in sorted(old.keys() - new.keys())},
        "changed": {
            name: {"old": old[name], "new": new[name]}
            for name in sorted(old.keys() & new.keys())
            if old[name] != new[name]
        },
    }
    return {kind: part for kind, part in parts.items() if part}


def field_details(old: Package, new: Package) -> dict[str, Any]:
    """Field-level differences of one changed pair, in a stable shape.

    `{"fields": {field: {"old", "new"}}, "depends": {"added": {name: spec},
    "removed": {...}, "changed": {name: {"old", "new"}}}}`, empty parts left out; a field
    one side does not record is null. Two flat views compared key by key: a general
    differ (deepdiff) cost 70 ms of import and most of a diff's classification time.
    """
    a, b = _view(old, new), _view(new, old)
    fields_out = {
        name: {"old": a.get(name), "new": b.get(name)}
        for name in sorted((a.keys() | b.keys()) - {"depends"})
        if a.get(name) != b.get(name)
    }
    out: dict[str, Any] = {}
    if fields_out:
        out["fields"] = fields_out
    depends = _depends_changes(a.get("depends", {}), b.get("depends", {}))
    if depends:
        out["depends"] = depends
    return out


# --------------------------------------------------------------------------- moved


def _pip_to_conda(mapping: Mapping[str, str], pip_name: str) -> str:
    return mapping.get(pip_name, pip_name).lower()


def _moves(
    removed: dict[tuple[str, str], Package],
    added: dict[tuple[str, str], Package],
    mapping: Mapping[str, str] | None,
) -> list[tuple[Package, Package]]:
    """(old, new) pairs of a package removed from conda and added to pip, or back.

    Names are matched through the PyPI→conda mapping (PyPI `torch` is conda `pytorch`);
    identity when a name is not mapped.
    """
    conda_removed = {k[1]: p for k, p in removed.items() if k[0] == "conda"}
    conda_added = {k[1]: p for k, p in added.items() if k[0] == "conda"}
    pip_removed = [p for k, p in removed.items() if k[0] == "pip"]
    pip_added = [p for k, p in added.items() if k[0] == "pip"]
    if not ((conda_removed and pip_added) or (conda_added and pip_removed)):
        return []
    if mapping is None:
        mapping = _default_mapping()
    pairs: list[tuple[Package, Package]] = []
    for package in pip_added:
        match = conda_removed.get(_pip_to_conda(mapping, package.name))
        if match is not None:
            pairs.append((match, package))
    for package in pip_removed:
        match = conda_added.get(_pip_to_conda(mapping, package.name))
        if match is not None:
            pairs.append((package, match))
    return pairs


def _default_mapping() -> dict[str, str]:
    """The shipped PyPI→conda name mapping (identity when it cannot be read)."""
    try:
        from audit.core.names import load_mapping

        return load_mapping()
    except (ImportError, InputError):
        return {}


# --------------------------------------------------------------------------- diff


def _differing(
    a: dict[tuple[str, str], Package], b: dict[tuple[str, str], Package]
) -> Iterator[tuple[tuple[str, str], Package, Package | None]]:
    """(key, old, new or None) of every package of `a` that `b` lacks or holds otherwise.

    Equal pairs are sorted out with C-level loops only (a Python loop calling
    `Package.__eq__` 50,000 times was a third of classifying two large inventories).
    """
    keys, befores = list(a), list(a.values())
    afters = list(map(b.get, keys))
    fields = map(getattr, afters, itertools.repeat("__dict__"), itertools.repeat(None))
    same = map(operator.eq, map(vars, befores), fields)  # `is` pairs are equal dicts too
    for index in itertools.compress(range(len(keys)), map(operator.not_, same)):
        yield keys[index], befores[index], afters[index]


def diff_inventories(
    old: Inventory,
    new: Inventory,
    *,
    platform: str | None = None,
    mapping: Mapping[str, str] | None = None,
    details: bool = True,
) -> PlatformDrift:
    """Every change from `old` to `new`, sorted by (manager, name, kind)."""
    with no_gc():
        return _diff_inventories(old, new, platform=platform, mapping=mapping, details=details)


def _diff_inventories(
    old: Inventory,
    new: Inventory,
    *,
    platform: str | None,
    mapping: Mapping[str, str] | None,
    details: bool,
) -> PlatformDrift:
    where = platform if platform is not None else (new.platform or old.platform)
    a, b = old.by_key(), new.by_key()
    changes: list[Change] = []
    removed: dict[tuple[str, str], Package] = {}
    added: dict[tuple[str, str], Package] = {}
    for key, before, after in _differing(a, b):
        if after is None:
            removed[key] = before
            continue
        kind = classify(before, after)
        if kind is not None:
            extra = field_details(before, after) if details else {}
            changes.append(Change(kind, key[0], key[1], before, after, where, extra))
    added.update(itertools.compress(b.items(), map(operator.not_, map(a.__contains__, b))))
    for before, after in _moves(removed, added, mapping):
        removed.pop(before.key, None)
        added.pop(after.key, None)
        extra = field_details(before, after) if details else {}
        extra["from_manager"] = before.manager
        extra["to_manager"] = after.manager
        changes.append(Change("moved", after.manager, after.name, before, after, where, extra))
    changes += [Change("removed", k[0], k[1], p, None, where) for k, p in removed.items()]
    changes += [Change("added", k[0], k[1], None, p, where) for k, p in added.items()]
    changes.sort(key=Change.sort_key)
    return PlatformDrift(
        platform=where,
        old_source=old.source,
        new_source=new.source,
        changes=tuple(changes),
        old_count=len(a),
        new_count=len(b),
    )


def pair_platforms(
    old: Sequence[Inventory], new: Sequence[Inventory], platform: str | None = None
) -> list[tuple[Inventory, Inventory]]:
    """Which inventories of two sources to compare.

    With `platform`, that one on both sides (a source of a single inventory, like a
    prefix or an image, fits any: `-p` is how two platforms are compared on purpose).
    Without it: every platform both sides have; single inventories of the same or no
    platform pair up, and two sources with no platform in common are an InputError.
    """

    def pick(inventories: Sequence[Inventory], side: str) -> Inventory:
        assert platform is not None
        for inventory in inventories:
            if inventory.platform == platform:
                return inventory
        if len(inventories) == 1:  # one environment (an image, a prefix): -p names it
            return inventories[0]
        available = ", ".join(sorted(i.platform or "?" for i in inventories)) or "none"
        raise InputError(f"{side} has no platform {platform}", hint=f"available: {available}")

    if not old or not new:
        raise InputError("a source holds no inventory to compare")
    if platform:
        return [(pick(old, "OLD"), pick(new, "NEW"))]
    if len(old) == 1 and len(new) == 1:
        a, b = old[0], new[0]
        if not a.platform or not b.platform or a.platform == b.platform:
            return [(a, b)]
        raise InputError(
            f"OLD is {a.platform} and NEW is {b.platform}",
            hint="pass -p PLATFORM to compare them anyway",
        )
    by_old = {i.platform: i for i in old}
    by_new = {i.platform: i for i in new}
    common = sorted(set(by_old) & set(by_new))
    if not common:
        if len(old) == 1 and not old[0].platform:
            return [(old[0], by_new[p]) for p in sorted(by_new)]
        if len(new) == 1 and not new[0].platform:
            return [(by_old[p], new[0]) for p in sorted(by_old)]
        raise InputError(
            f"no platform in common (OLD: {', '.join(sorted(by_old))}; "
            f"NEW: {', '.join(sorted(by_new))})",
            hint="pass -p PLATFORM",
        )
    return [(by_old[p], by_new[p]) for p in common]


def diff_many(
    old: Sequence[Inventory],
    new: Sequence[Inventory],
    platform: str | None = None,
    *,
    old_source: str = "",
    new_source: str = "",
) -> Drift:
    """Diff every platform pair of two sources (see `pair_platforms`)."""
    pairs = pair_platforms(old, new, platform)
    mapping: dict[str, str] | None = None
    results = []
    for a, b in pairs:
        where = platform or b.platform or a.platform
        results.append(diff_inventories(a, b, platform=where, mapping=mapping))
    return Drift(
        old_source=old_source or (old[0].source if old else ""),
        new_source=new_source or (new[0].source if new else ""),
        platforms=tuple(sorted(results, key=lambda r: r.platform)),
    )


# --------------------------------------------------------------------------- --fail-on


def parse_fail_on(text: str | None) -> frozenset[str]:
    """`--fail-on added,removed` → kinds; `any` (default) is every kind, `none` none."""
    if text is None or not text.strip():
        return frozenset(KINDS)
    wanted: set[str] = set()
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        if part == "any":
            wanted |= set(KINDS)
        elif part == "none":
            continue
        elif part in KIND_ORDER:
            wanted.add(part)
        else:
            raise InputError(
                f"--fail-on: unknown kind {part!r}",
                hint=f"kinds: {', '.join(sorted(KINDS))}, any, none",
            )
    return frozenset(wanted)
