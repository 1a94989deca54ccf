"""A build record (JSON written by `build`) → the inventory it recorded.

The record stores `Inventory.to_json()` under `"inventory"` (a list of them when it
covers several platforms), so reading it is a round trip, not a re-derivation.
"""

from __future__ import annotations

from typing import Any

from audit.core.errors import InputError
from audit.core.safeload import load_json
from audit.inventory.interface import (
    Inventory,
    InventoryError,
    InventorySource,
    canonical_packages,
)
from audit.record import RECORD_KIND


def looks_like_record(data: Any) -> bool:
    return isinstance(data, dict) and "inventory" in data


def check_record(document: dict[str, Any], where: str, *, depth_checked: bool = True) -> None:
    """A build record against its published schema; a bare stored inventory against its part.

    `depth_checked=False`: loaded without the depth guard (see audit.core.schemas.validate).
    """
    from audit.core.schemas import BUILD_RECORD, validate

    try:
        if document.get("kind") == RECORD_KIND:
            validate(document, BUILD_RECORD, where, depth_checked=depth_checked)
        else:
            stored = document["inventory"]
            validate(stored, BUILD_RECORD, where, ref="inventories", depth_checked=depth_checked)
    except InputError as exc:
        raise InventoryError(exc.message, where=exc.where, hint=exc.hint) from None


def _canonical(item: Any) -> bool:
    """Whether a stored inventory's packages are what `to_json` writes (and so valid)."""
    packages = item.get("packages") if isinstance(item, dict) else None
    return isinstance(packages, list) and bool(packages) and canonical_packages(packages)


def _without_packages(document: dict[str, Any], canonical: list[bool]) -> dict[str, Any]:
    """`document` with the packages lists already checked (`canonical`) emptied: the rest
    is what the schema check still has to see (50,000 packages twice cost 70 ms)."""
    if not any(canonical):
        return document
    stored = document["inventory"]
    items = stored if isinstance(stored, list) else [stored]
    emptied = [{**i, "packages": []} if ok else i for i, ok in zip(items, canonical, strict=True)]
    return {**document, "inventory": emptied if isinstance(stored, list) else emptied[0]}


class RecordSource(InventorySource):
    """The inventory (or inventories) stored in a build record."""

    def __init__(
        self,
        spec: str,
        data: bytes = b"",
        document: Any = None,
        *,
        owned: bool = False,
        depth_checked: bool = True,
    ) -> None:
        self.spec = spec
        self.data = data
        #: the parsed JSON when the caller already has it (sniffing parses it once)
        self.document = document
        #: `document` was parsed for this source alone: its package dicts become the
        #: packages' own (no copy), so it is read once and the result kept
        self.owned = owned
        #: False: `document` was loaded without the depth guard (the schema check runs it)
        self.depth_checked = depth_checked
        self._read: list[Inventory] | None = None

    def read(self) -> list[Inventory]:
        if self._read is None:
            self._read = self._inventories()
        return list(self._read)

    def _inventories(self) -> list[Inventory]:
        document, owned, depth_checked = self.document, self.owned, self.depth_checked
        if document is None:
            owned = depth_checked = True
            try:
                document = load_json(self.data, self.spec)
            except InputError as exc:
                raise InventoryError(exc.message, where=exc.where) from None
        if not looks_like_record(document):
            raise InventoryError("not a build record: no 'inventory' key", where=self.spec)
        stored = document["inventory"]
        items = stored if isinstance(stored, list) else [stored]
        canonical = [_canonical(item) for item in items]
        rest = _without_packages(document, canonical)
        check_record(rest, self.spec, depth_checked=depth_checked)
        if not all(isinstance(item, dict) for item in items):
            raise InventoryError("build record's 'inventory' is not an object", where=self.spec)
        inventories = []
        for item, known in zip(items, canonical, strict=True):
            inventory = Inventory.from_json(item, owned=owned, canonical=known)
            inventories.append(inventory if inventory.source else inventory.with_source(self.spec))
        return inventories
