"""The published JSON Schemas (shipped in `audit/core/data`) and the one way to check one.

A build record or drift report read back by a command is checked against its schema
before any field is used: a record with `"inventory": 12345` is refused with one line
naming the field, instead of being read as an empty image. jsonschema (a test dependency
already) does the checking: the schemas are the contract documented for users, so the
code checks the very file it publishes rather than a hand-written copy of its rules.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from audit.core.errors import InputError

BUILD_RECORD = "build-record.schema.json"
DRIFT_REPORT = "drift-report.schema.json"


@functools.cache
def schema(name: str) -> dict[str, Any]:
    """A shipped schema, parsed once."""
    return json.loads(resources.files("audit.core").joinpath("data", name).read_text("utf-8"))


@functools.cache
def _validator(name: str, ref: str | None) -> Any:
    from jsonschema import Draft202012Validator

    document = schema(name)
    if ref is not None:  # one definition of the schema, e.g. an inventory on its own
        document = {"$defs": document["$defs"], "$ref": f"#/$defs/{ref}"}
    return Draft202012Validator(document)


def field_path(parts: Any) -> str:
    """`inputs.lockfile.sha256`, `inventory.packages[3].name`; `(top level)` for the root."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "boolean": bool,
    "object": dict,
    "array": list,
    "null": type(None),
}


def _flat_ok(item: Any, definition: dict[str, Any]) -> bool:
    """A quick yes for the common case: an object of scalars and lists of strings.

    Decided from the schema's own `required`, `enum` and `type`s; anything it cannot
    decide so (or any doubt) answers False and jsonschema itself has the last word.
    """
    if not isinstance(item, dict) or not all(k in item for k in definition.get("required", ())):
        return False
    for key, value in item.items():
        rule = definition["properties"].get(key)
        if rule is None:
            continue
        if "enum" in rule:
            if value not in rule["enum"] or not isinstance(value, str):
                return False
        elif rule.get("type") == "array":
            if not isinstance(value, list) or not all(type(v) is str for v in value):
                return False
        elif rule.get("type") != "string" or type(value) is not str:
            return False
    return True


def _split_packages(document: Any) -> tuple[Any, list[tuple[list[Any], Any]]]:
    """The record with each inventory's packages list emptied, and (path, package) pairs.

    Thousands of packages cost jsonschema seconds; each package is checked by `_flat_ok`
    against the schema's own definition, and only a doubtful one goes to jsonschema.
    """
    if not isinstance(document, dict):
        return document, []
    stored = document.get("inventory")
    items = stored if isinstance(stored, list) else [stored]
    if not all(isinstance(i, dict) and isinstance(i.get("packages"), list) for i in items):
        return document, []
    pairs: list[tuple[list[Any], Any]] = []
    for index, item in enumerate(items):
        base = ["inventory", index] if isinstance(stored, list) else ["inventory"]
        pairs += [([*base, "packages", n], p) for n, p in enumerate(item["packages"])]
    emptied = [{**i, "packages": []} for i in items]
    return {**document, "inventory": emptied if isinstance(stored, list) else emptied[0]}, pairs


def _first_error(name: str, document: Any) -> tuple[list[Any], Any] | None:
    """(path, jsonschema error) of the first problem of a document, or None."""
    from jsonschema.exceptions import best_match

    pairs: list[tuple[list[Any], Any]] = []
    if name == BUILD_RECORD:
        document, pairs = _split_packages(document)
    error = best_match(_validator(name, None).iter_errors(document))
    if error is not None:
        return list(error.absolute_path), error
    package = schema(name)["$defs"]["package"] if pairs else {}
    for path, item in pairs:
        if not _flat_ok(item, package):
            error = best_match(_validator(name, "package").iter_errors(item))
            if error is not None:
                return [*path, *error.absolute_path], error
    return None


def validate(document: Any, name: str, where: str, *, ref: str | None = None) -> None:
    """InputError `where: field: what is wrong` unless `document` matches schema `name`."""
    if ref is None:
        found = _first_error(name, document)
    else:
        from jsonschema.exceptions import best_match

        error = best_match(_validator(name, ref).iter_errors(document))
        found = (list(error.absolute_path), error) if error is not None else None
    if found is None:
        return
    path, error = found
    what = error.message if len(error.message) <= 160 else error.message[:157] + "..."
    label = "build record" if name == BUILD_RECORD else "document"
    raise InputError(
        f"not a valid {label}: {field_path(path)}: {what}",
        where=where,
        hint=f"schema {name}",
    )
