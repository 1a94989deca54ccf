"""Inventory → JSON, streamed: the same bytes as one `dumps` of the document, in pieces.

A 100,000-package inventory as one JSON document is ~100 MB of dicts and then ~70 MB of
text; written package by package it is neither. The text is byte-identical to
`audit.core.jsonout.dumps(envelope(...))` (sorted keys, indent 2), which tests check.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from audit.core.jsonout import envelope
from audit.inventory.interface import Inventory

_MARK = "\x00packages:{}\x00"


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)


def iter_inventory_json(inventories: list[Inventory], *, several: bool) -> Iterator[str]:
    """Pieces of the `inventory --format json` document (one or several platforms)."""
    heads: list[dict[str, Any]] = []
    for index, inventory in enumerate(inventories):
        head = inventory.to_json_head()
        head["packages"] = _MARK.format(index)
        heads.append(head)
    data: dict[str, Any] = (
        {"inventories": heads, "platforms": [i.platform for i in inventories]}
        if several
        else heads[0]
    )
    text = _dump(envelope("inventory", 0, data)) + "\n"  # jsonout.dumps ends in one newline
    position = 0
    for index, inventory in enumerate(inventories):
        marker = json.dumps(_MARK.format(index))
        at = text.index(marker, position)
        line_start = text.rfind("\n", 0, at) + 1
        line = text[line_start:at]
        indent = len(line) - len(line.lstrip(" "))
        yield text[position:at]
        yield from _packages(inventory, indent)
        position = at + len(marker)
    yield text[position:]


_STRING = json.encoder.encode_basestring  # type: ignore[attr-defined]


def _package_text(data: dict[str, Any], pad: str) -> str | None:
    """`json.dumps(data, indent=2, sort_keys=True)` re-indented at `pad`, for a flat dict.

    json's indenting encoder is pure Python (~30 µs a package); a package is only strings
    and a list of strings, written here with the C string encoder. None: not that shape.
    """
    inner = pad + "  "
    parts = []
    for key in sorted(data):
        value = data[key]
        if isinstance(value, str):
            text = _STRING(value)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            item = inner + "  "
            text = (
                "[" + item + ("," + item).join(map(_STRING, value)) + inner + "]" if value else "[]"
            )
        else:
            return None
        parts.append(f"{_STRING(key)}: {text}")
    return "{" + inner + ("," + inner).join(parts) + pad + "}" if parts else "{}"


def _packages(inventory: Inventory, indent: int) -> Iterator[str]:
    """The `[...]` of one inventory's packages, at the indentation of its key."""
    if not inventory.packages:
        yield "[]"
        return
    pad = "\n" + " " * (indent + 2)
    yield "["
    first = True
    for package in inventory.packages:
        data = package.to_json()
        item = _package_text(data, pad)
        if item is None:
            item = _dump(data).replace("\n", pad)
        yield (pad if first else "," + pad) + item
        first = False
    yield "\n" + " " * indent + "]"
