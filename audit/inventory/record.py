"""A build record (JSON written by `build`) → the inventory it recorded.

The record stores `Inventory.to_json()` under `"inventory"` (a list of them when it
covers several platforms), so reading it is a round trip, not a re-derivation.
"""

from __future__ import annotations

import json
from typing import Any

from audit.inventory.interface import Inventory, InventoryError, InventorySource


def looks_like_record(data: Any) -> bool:
    return isinstance(data, dict) and "inventory" in data


class RecordSource(InventorySource):
    """The inventory (or inventories) stored in a build record."""

    def __init__(self, spec: str, data: bytes = b"", document: Any = None) -> None:
        self.spec = spec
        self.data = data
        #: the parsed JSON when the caller already has it (sniffing parses it once)
        self.document = document

    def read(self) -> list[Inventory]:
        document = self.document
        if document is None:
            try:
                document = json.loads(self.data)
            except (ValueError, UnicodeDecodeError) as exc:
                raise InventoryError(f"build record is not JSON: {exc}", where=self.spec) from None
        if not looks_like_record(document):
            raise InventoryError("not a build record: no 'inventory' key", where=self.spec)
        stored = document["inventory"]
        items = stored if isinstance(stored, list) else [stored]
        if not all(isinstance(item, dict) for item in items):
            raise InventoryError("build record's 'inventory' is not an object", where=self.spec)
        inventories = []
        for item in items:
            inventory = Inventory.from_json(item)
            inventories.append(inventory if inventory.source else inventory.with_source(self.spec))
        return inventories
