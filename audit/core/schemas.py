"""The published JSON Schemas (shipped in `audit/core/data`) and the one way to check one.

A build record or drift report read back by a command is checked against its schema
before any field is used: a record with `"inventory": 12345` is refused with one line
naming the field, instead of being read as an empty image. The schemas are the contract
documented for users, so the code checks the very file it publishes rather than a
hand-written copy of its rules: a quick pass over that file's keywords says yes to the
common case (audit.core.schemacheck: a stored inventory of 50,000 packages in
milliseconds), and jsonschema decides, and words, everything else.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from audit.core.errors import InputError
from audit.core.schemacheck import surely_valid

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


def _split_packages(document: Any) -> tuple[Any, list[tuple[list[Any], list[Any]]]]:
    """The record with each inventory's packages list emptied, and (path, packages).

    Thousands of packages cost jsonschema seconds: each package is checked on its own,
    and only one the quick check cannot say yes to goes to jsonschema.
    """
    if not isinstance(document, dict):
        return document, []
    stored = document.get("inventory")
    items = stored if isinstance(stored, list) else [stored]
    if not all(isinstance(i, dict) and isinstance(i.get("packages"), list) for i in items):
        return document, []
    lists: list[tuple[list[Any], list[Any]]] = []
    for index, item in enumerate(items):
        base = ["inventory", index] if isinstance(stored, list) else ["inventory"]
        lists.append(([*base, "packages"], item["packages"]))
    emptied = [{**i, "packages": []} for i in items]
    return {**document, "inventory": emptied if isinstance(stored, list) else emptied[0]}, lists


def _first_error(name: str, document: Any, ref: str | None) -> tuple[list[Any], Any] | None:
    """(path, jsonschema error) of the first problem of a document, or None.

    A build record, or its stored inventories alone (`ref="inventories"`), has its
    packages checked one by one apart from the rest.
    """
    from jsonschema.exceptions import best_match

    lists: list[tuple[list[Any], list[Any]]] = []
    if name == BUILD_RECORD and ref is None:
        document, lists = _split_packages(document)
    elif name == BUILD_RECORD and ref == "inventories":
        wrapped, lists = _split_packages({"inventory": document})
        document = wrapped["inventory"] if lists else document
        lists = [(path[1:], packages) for path, packages in lists]  # no "inventory" above
    error = best_match(_validator(name, ref).iter_errors(document))
    if error is not None:
        return list(error.absolute_path), error
    defs = schema(name)["$defs"]
    for path, packages in lists:
        for index, item in enumerate(packages):
            if surely_valid(item, defs["package"], defs):
                continue
            error = best_match(_validator(name, "package").iter_errors(item))
            if error is not None:
                return [*path, index, *error.absolute_path], error
    return None


def validate(
    document: Any, name: str, where: str, *, ref: str | None = None, depth_checked: bool = True
) -> None:
    """InputError `where: field: what is wrong` unless `document` matches schema `name`.

    `depth_checked=False`: a document loaded without the depth guard (the hot path of a
    stored inventory, audit.inventory.sources). One that matches needs none: every value
    its reader touches is of a known, shallow shape, and the rest is never walked; any
    other is guarded before jsonschema walks it and words an error (a repr of it).
    """
    document_schema = schema(name)
    rule = document_schema if ref is None else document_schema["$defs"][ref]
    if surely_valid(document, rule, document_schema.get("$defs", {})):
        return  # the common case, decided without jsonschema (audit.core.schemacheck)
    if not depth_checked:
        from audit.core.safeload import check_depth

        check_depth(document, where)
    found = _first_error(name, document, ref)
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
