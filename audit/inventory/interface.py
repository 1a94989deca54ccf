"""The inventory data model and the interface every inventory source implements.

An `Inventory` is the common currency of `inventory`, `diff`, `drift` and `verify`: a
lockfile, a conda prefix, an image or a build record all become the same sorted, frozen,
JSON-serialisable list of `Package`s, so two of them compare field by field.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import gc
import itertools
import operator
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from audit.core.errors import InputError

#: Package managers an inventory knows; `Package.manager` is always one of them.
MANAGERS = ("conda", "pip", "deb", "apk", "rpm")

#: Version of the JSON shape written by `Inventory.to_json()`.
SCHEMA_VERSION = 1


class InventoryError(InputError):
    """A source that cannot be read as an inventory: corrupt, truncated or unknown (exit 2)."""


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small acyclic objects.

    Reading 50,000 packages allocates ~1 M objects; the collector would walk all of them
    again and again (a third of the time) to find cycles they cannot have.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        # what was built is long-lived and acyclic: move it out of the collector's sight
        # (refcounting still frees it), so re-enabling does not scan it all at once
        gc.freeze()
        if enabled:
            gc.enable()


def normalize_name(manager: str, name: str) -> str:
    """One spelling per package so inventories of different sources compare.

    conda, deb and apk names are lower-case already by their own rules (we lower-case to
    be safe); pip names follow PEP 503 (`Foo_Bar` and `foo.bar` are `foo-bar`).
    """
    if manager == "pip":
        if _PEP503.fullmatch(name):
            return name  # already canonical: the common case, and 10x cheaper
        from packaging.utils import canonicalize_name

        return str(canonicalize_name(name))
    return name.strip().lower()


_PEP503 = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@dataclass(frozen=True, order=True)
class Package:
    """One installed or locked package. Empty strings mean "the source does not say"."""

    manager: str
    name: str
    version: str
    build: str = ""
    channel: str = ""
    platform: str = ""
    url: str = ""
    sha256: str = ""
    md5: str = ""
    depends: tuple[str, ...] = ()
    #: who installed it (a dist-info's INSTALLER, e.g. "pip" or "uv"); "" when unknown
    installer: str = ""
    #: where it was found inside a prefix or image (a conda-meta or dist-info path)
    location: str = ""
    #: in an image: the diff_id of the layer that put it there, and that layer's history
    #: entry (`created_by`, the build step); "" for other sources
    layer: str = ""
    created_by: str = ""

    def __post_init__(self) -> None:
        if self.manager not in MANAGERS:
            raise ValueError(f"unknown package manager {self.manager!r}")
        name = normalize_name(self.manager, self.name)
        if name != self.name:
            object.__setattr__(self, "name", name)
        if type(self.depends) is not tuple:
            object.__setattr__(self, "depends", tuple(self.depends))

    def __eq__(self, other: object) -> bool:
        """Field by field, as the generated method, but one C-level dict comparison.

        A frozen dataclass keeps exactly its fields in `__dict__`; the generated `__eq__`
        builds two 14-tuples per call, which a diff of 50,000 packages pays 50,000 times.
        """
        if other.__class__ is not Package:
            return NotImplemented
        return self is other or self.__dict__ == other.__dict__  # type: ignore[attr-defined]

    @property
    def key(self) -> tuple[str, str]:
        """What identifies a package across two inventories: (manager, name)."""
        return (self.manager, self.name)

    def to_json(self) -> dict[str, Any]:
        """All fields, `depends` as a list; stable key order for byte-identical output."""
        data = {name: getattr(self, name) for name in _field_order()}
        data["depends"] = list(self.depends)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Package:
        """Inverse of `to_json`; unknown keys are ignored, missing ones take defaults."""
        known = _package_fields()
        if cls is Package and data.keys() == known and _is_canonical(data):
            # what `to_json` writes, already valid: the fields as they are, without the
            # generated __init__'s 14 object.__setattr__ calls (a third of reading an
            # inventory of 50,000 packages)
            package = object.__new__(Package)
            package.__dict__.update(data)
            package.__dict__["depends"] = tuple(data["depends"])
            return package
        kwargs = (
            dict(data) if known.issuperset(data) else {k: v for k, v in data.items() if k in known}
        )
        kwargs["depends"] = tuple(kwargs.get("depends") or ())
        return cls(**kwargs)


@functools.cache
def _field_order() -> tuple[str, ...]:
    """Package's field names in order, computed once: `fields()` is slow on 50,000 packages."""
    return tuple(f.name for f in fields(Package))


@functools.cache
def _package_fields() -> frozenset[str]:
    return frozenset(_field_order())


def _is_canonical(data: Mapping[str, Any]) -> bool:
    """Whether `__post_init__` would leave these fields as they are (strings, known
    manager, normalised name, a list of dependencies)."""
    manager, name = data["manager"], data["name"]
    return (
        manager in MANAGERS
        and type(name) is str
        and normalize_name(manager, name) == name
        and type(data["depends"]) in (list, tuple)
    )


def packages_from_json(
    items: list[Any], *, owned: bool = False, canonical: bool | None = None
) -> tuple[Package, ...]:
    """`Package.from_json` of every item; all at once when they are what `to_json` writes.

    Reading a stored inventory of 50,000 packages spent 3 µs per package in Python
    (checks, `__new__`, 14 fields copied); checked column by column, each package is then
    an object whose `__dict__` is its item. `owned`: the items are the caller's to give
    away (freshly parsed), so they are not copied first. `canonical`: what the caller
    already knows of `canonical_packages(items)` (None: not asked yet).
    """
    if not (canonical_packages(items) if canonical is None else canonical):
        return tuple(map(Package.from_json, items))
    fields = list(map(dict, items)) if not owned else items
    for data in fields:
        data["depends"] = tuple(data["depends"])
    packages = list(map(object.__new__, itertools.repeat(Package, len(fields))))
    setter = map(object.__setattr__, packages, itertools.repeat("__dict__"), fields)
    collections.deque(setter, maxlen=0)  # runs the map: C-level, no per-package bytecode
    return tuple(packages)


def canonical_packages(items: list[Any]) -> bool:
    """Whether `items` are what `to_json` writes: each a dict of exactly Package's fields,
    of the types the published schema gives them, with the names and managers
    `__post_init__` would leave as they are. Checked column by column.

    The types are checked against the schema file itself (audit.core.schemacheck), so such
    a list needs no other schema check (audit.inventory.record skips it).
    """
    from audit.core.schemacheck import uniform_ok

    if not items or type(items[0]) is not dict or tuple(items[0]) != _field_order():
        return False
    if not uniform_ok(items, _package_rule()):  # every item has the first's keys, typed
        return False
    managers = list(map(operator.itemgetter("manager"), items))
    names = list(map(operator.itemgetter("name"), items))
    if not set(managers) <= set(MANAGERS):
        return False
    if list(map(str.lower, map(str.strip, names))) != names:
        return False
    pip = itertools.compress(names, map("pip".__eq__, managers))
    return all(map(_PEP503.fullmatch, pip))


@functools.cache
def _package_rule() -> dict[str, Any]:
    """The published schema's definition of one package (build-record.schema.json)."""
    from audit.core.schemas import BUILD_RECORD, schema

    return schema(BUILD_RECORD)["$defs"]["package"]


@dataclass(frozen=True)
class ImageMeta:
    """What an image's config says about its layers and its base image.

    Kept beside an image's inventory so that a change between two images can be blamed on
    the base image moving or on a build step (audit.diff.attribution); not a package field.
    """

    #: the layers' diff_ids, lowest first, and each one's history entry ("" when unknown)
    layers: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()
    #: the base image, when the image's labels name it (`org.opencontainers.image.base.*`,
    #: else a single `io.repro-audit.base.digests`); "" when they do not
    base_name: str = ""
    base_digest: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "layers": list(self.layers),
            "steps": list(self.steps),
            "base_name": self.base_name,
            "base_digest": self.base_digest,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImageMeta:
        layers = tuple(str(x) for x in data.get("layers") or ())
        steps = tuple(str(x) for x in data.get("steps") or ())
        return cls(
            layers=layers,
            steps=steps if len(steps) == len(layers) else ("",) * len(layers),
            base_name=str(data.get("base_name") or ""),
            base_digest=str(data.get("base_digest") or ""),
        )


@dataclass(frozen=True)
class Inventory:
    """Every package of one environment on one platform, sorted by key then location."""

    source: str
    platform: str
    packages: tuple[Package, ...] = field(default=())
    #: images only: the layers and base image (never compared, written as `image`)
    image: ImageMeta | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "packages", _sorted_packages(self.packages))

    def by_key(self) -> dict[tuple[str, str], Package]:
        """Packages keyed by (manager, name).

        A name can appear twice only in images or prefixes that hold several environments
        (e.g. `/opt/conda` and `/opt/conda/envs/x`); the first by location wins here, while
        `packages` keeps all of them.
        """
        out = dict(zip(map(_KEY, self.packages), self.packages, strict=True))  # C loops only
        if len(out) != len(self.packages):  # a name twice: keep the first, not the last
            out = {}
            for package in self.packages:
                out.setdefault(package.key, package)
        return out

    def to_json(self) -> dict[str, Any]:
        return {**self.to_json_head(), "packages": [p.to_json() for p in self.packages]}

    def to_json_head(self) -> dict[str, Any]:
        """Everything of `to_json` but the packages (for a streamed writer)."""
        head: dict[str, Any] = {
            "schema": SCHEMA_VERSION,
            "source": self.source,
            "platform": self.platform,
        }
        if self.image is not None:
            head["image"] = self.image.to_json()
        return head

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any], *, owned: bool = False, canonical: bool | None = None
    ) -> Inventory:
        """Inverse of `to_json`; raises InventoryError on a shape it does not recognise.

        `owned`: `data` was parsed for this call alone; its package dicts become the
        packages' own. `canonical`: see `packages_from_json`.
        """
        try:
            items = list(data.get("packages") or ())
            with no_gc():
                packages = packages_from_json(items, owned=owned, canonical=canonical)
            image = data.get("image")
            return cls(
                source=str(data.get("source", "")),
                platform=str(data.get("platform", "")),
                packages=packages,
                image=ImageMeta.from_json(image) if isinstance(image, Mapping) else None,
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise InventoryError(f"not an inventory: {exc}") from None

    def with_source(self, source: str) -> Inventory:
        return replace(self, source=source)


_PLACE = operator.attrgetter("manager", "name", "location")
_KEY = operator.attrgetter("manager", "name")


def _sorted_packages(packages: Iterable[Package]) -> tuple[Package, ...]:
    """By (manager, name, location), ties by every field: the order `packages` keeps.

    The C-level `attrgetter` key first (a Python key function was half the cost of
    reading a stored inventory); the full key only when two places are equal.
    """
    given = tuple(packages)
    places = list(map(_PLACE, given))
    if all(map(operator.lt, places, itertools.islice(places, 1, None))):
        return given  # already in order, no two alike (what `to_json` wrote)
    ordered = sorted(given, key=_PLACE)
    places = list(map(_PLACE, ordered))
    if any(map(operator.eq, places, itertools.islice(places, 1, None))):
        ordered.sort(key=lambda p: (p.manager, p.name, p.location, p))
    return tuple(ordered)


def dedupe(packages: Iterable[Package]) -> tuple[Package, ...]:
    """One package per (manager, name, location): the last one read wins.

    Lockfiles may list a name twice (conda-lock's categories, explicit files with two
    channels); an environment can hold only one of them, the one installed last.
    """
    out: dict[tuple[str, str, str], Package] = {}
    for package in packages:
        out[(package.manager, package.name, package.location)] = package
    return tuple(out.values())


class InventorySource(ABC):
    """Something that can be read into inventories: a lockfile, a prefix, an image, ..."""

    #: What the user named (shown as `Inventory.source`; URLs redacted).
    spec: str

    @abstractmethod
    def read(self) -> list[Inventory]:
        """One inventory per platform the source describes (an image or a prefix has one)."""
