"""A build record (JSON written by `build`) → the inventory it recorded.

The record stores `Inventory.to_json()` under `"inventory"` (a list of them when it
covers several platforms), so reading it is a round trip, not a re-derivation.
"""

from __future__ import annotations

from typing import Any

from audit.core.errors import InputError
from audit.core.safeload import load_json
from audit.inventory.interface import Inventory, InventoryError, InventorySource
from audit.record import RECORD_KIND


def looks_like_record(data: Any) -> bool:
    return isinstance(data, dict) and "inventory" in data


def check_record(document: dict[str, Any], where: str) -> None:
    """A build record against its published schema; a bare stored inventory against its part."""
    from audit.core.schemas import BUILD_RECORD, validate

    try:
        if document.get("kind") == RECORD_KIND:
            validate(document, BUILD_RECORD, where)
        else:
            validate(document["inventory"], BUILD_RECORD, where, ref="inventories")
    except InputError as exc:
        raise InventoryError(exc.message, where=exc.where, hint=exc.hint) from None


class RecordSource(InventorySource):
    """The inventory (or inventories) stored in a build record."""

    def __init__(
        self, spec: str, data: bytes = b"", document: Any = None, *, owned: bool = False
    ) -> None:
        self.spec = spec
        self.data = data
        #: the parsed JSON when the caller already has it (sniffing parses it once)
        self.document = document
        #: `document` was parsed for this source alone: its package dicts become the
        #: packages' own (no copy), so it is read once and the result kept
        self.owned = owned
        self._read: list[Inventory] | None = None

    def read(self) -> list[Inventory]:
        if self._read is None:
            self._read = self._inventories()
        return list(self._read)

    def _inventories(self) -> list[Inventory]:
        document, owned = self.document, self.owned
        if document is None:
            owned = True
            try:
                document = load_json(self.data, self.spec)
            except InputError as exc:
                raise InventoryError(exc.message, where=exc.where) from None
        if not looks_like_record(document):
            raise InventoryError("not a build record: no 'inventory' key", where=self.spec)
        check_record(document, self.spec)
        stored = document["inventory"]
        items = stored if isinstance(stored, list) else [stored]
        if not all(isinstance(item, dict) for item in items):
            raise InventoryError("build record's 'inventory' is not an object", where=self.spec)
        inventories = []
        for item in items:
            inventory = Inventory.from_json(item, owned=owned)
            inventories.append(inventory if inventory.source else inventory.with_source(self.spec))
        return inventories
