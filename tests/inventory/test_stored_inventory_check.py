"""The quick schema check of stored inventories and build records agrees with jsonschema.

`audit.core.schemacheck` says yes to a document without jsonschema (the hot path of
`diff a.json b.json`); a yes it gives must never be a document jsonschema refuses.
Hypothesis breaks valid documents in every way a hand-edited or hostile file could.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.core.errors import InputError
from audit.core.schemacheck import surely_valid
from audit.core.schemas import BUILD_RECORD, schema, validate
from audit.inventory import Inventory, Package, open_source, read_inventory

jsonschema = pytest.importorskip("jsonschema")

CHECKS = settings(
    max_examples=300,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def inventory_document(count: int = 4) -> dict[str, Any]:
    packages = [
        Package(
            "conda" if i % 2 else "pip",
            f"pkg-{i}",
            f"1.{i}",
            "h0_0" if i % 2 else "",
            depends=(f"dep-{i} >=1",),
        )
        for i in range(count)
    ]
    return Inventory("lock", "linux-64", tuple(packages)).to_json()


def jsonschema_errors(document: Any, ref: str | None) -> list[Any]:
    full = schema(BUILD_RECORD)
    target = full if ref is None else {"$defs": full["$defs"], "$ref": f"#/$defs/{ref}"}
    return list(jsonschema.Draft202012Validator(target).iter_errors(document))


def rule(ref: str | None) -> tuple[Any, dict[str, Any]]:
    full = schema(BUILD_RECORD)
    return (full if ref is None else full["$defs"][ref]), full["$defs"]


ODD_VALUES = st.sampled_from(
    [None, 0, 1, 1.0, True, False, "", "x", "rpm", "zypper", [], ["a"], [1], {}, {"a": [1]}]
)


@st.composite
def broken_inventories(draw: st.DrawFn) -> Any:
    """A valid stored inventory with one to three things changed."""
    document = inventory_document(draw(st.integers(0, 4)))
    for _ in range(draw(st.integers(1, 3))):
        packages = document.get("packages") if isinstance(document, dict) else None
        where = draw(st.sampled_from(["head", "package", "drop", "extra", "depends", "whole"]))
        if where == "whole":
            document = draw(st.sampled_from([[], [document], [document, 3], 12, "x"]))
        elif where == "head" and isinstance(document, dict):
            key = draw(st.sampled_from(["schema", "source", "platform", "packages", "image"]))
            document[key] = draw(ODD_VALUES)
        elif isinstance(packages, list) and packages:
            package = draw(st.sampled_from(packages))
            if not isinstance(package, dict):
                continue
            field = draw(st.sampled_from(sorted(package) + ["manager", "name", "version"]))
            if where == "package":
                package[field] = draw(ODD_VALUES)
            elif where == "drop":
                package.pop(field, None)
            elif where == "extra":
                package[draw(st.sampled_from(["extra", "x-y"]))] = draw(ODD_VALUES)
            elif isinstance(package.get("depends"), list):
                package["depends"] = [*package["depends"], draw(ODD_VALUES)]
    return document


@CHECKS
@given(broken_inventories())
def test_a_quick_yes_is_never_a_document_jsonschema_refuses(document: Any) -> None:
    if surely_valid(document, *rule("inventories")):
        assert not jsonschema_errors(document, "inventories")
    record = {"schema": 1, "kind": "repro-audit/build-record", "inventory": document}
    if surely_valid(record, *rule(None)):
        assert not jsonschema_errors(record, None)


@CHECKS
@given(broken_inventories())
def test_every_refused_inventory_names_the_field(document: Any) -> None:
    errors = jsonschema_errors(document, "inventories")
    if not errors:
        validate(document, BUILD_RECORD, "inv.json", ref="inventories")
        return
    with pytest.raises(InputError, match=r"^not a valid build record: ") as caught:
        validate(document, BUILD_RECORD, "inv.json", ref="inventories")
    assert caught.value.where == "inv.json"


def test_what_to_json_writes_is_decided_without_jsonschema() -> None:
    for count in (0, 1, 50):
        document = inventory_document(count)
        assert surely_valid(document, *rule("inventories"))
        assert surely_valid([document, document], *rule("inventories"))
        record = {"schema": 1, "kind": "repro-audit/build-record", "inventory": [document]}
        assert surely_valid(record, *rule(None))


def test_a_mistyped_package_field_is_named_with_its_path(tmp_path: Path) -> None:
    document = inventory_document(5)
    document["packages"][3]["version"] = 3
    path = tmp_path / "inv.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InputError) as caught:
        read_inventory(str(path))
    assert "packages[3].version" in caught.value.message
    record = {"kind": "repro-audit/build-record", "schema": 1, "inventory": [document]}
    path.write_text(json.dumps(record))
    with pytest.raises(InputError) as caught:
        read_inventory(str(path))
    assert "inventory[0].packages[3].version" in caught.value.message


def test_a_stored_inventory_reads_back_equal_and_twice(tmp_path: Path) -> None:
    document = inventory_document(30)
    path = tmp_path / "inv.json"
    path.write_text(json.dumps(document))
    expected = Inventory.from_json(copy.deepcopy(document))
    source = open_source(str(path))
    got = source.read()[0]
    assert source.read()[0] == got  # a second read gives the same, not a half-used document
    assert got.packages == expected.packages
    assert all(type(p.depends) is tuple for p in got.packages)
    assert [p.to_json() for p in got.packages] == document["packages"]
    assert {hash(p) for p in got.packages} == {hash(p) for p in expected.packages}


def test_from_json_leaves_a_borrowed_document_as_it_was() -> None:
    document = inventory_document(3)
    before = copy.deepcopy(document)
    Inventory.from_json(document)
    assert document == before and type(document["packages"][0]["depends"]) is list


def test_a_deeply_nested_stored_inventory_is_refused_in_one_line(tmp_path: Path) -> None:
    """Sniffing loads without the depth guard: the schema check runs it before jsonschema."""
    document = inventory_document(2)
    document["source"] = json.loads("[" * 600 + "]" * 600)
    path = tmp_path / "inv.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match="nested more than 200 levels deep"):
        read_inventory(str(path))
    document["source"] = "lock"
    document["x-later"] = json.loads("[" * 600 + "]" * 600)  # never read: no walker sees it
    path.write_text(json.dumps(document))
    assert len(read_inventory(str(path)).packages) == 2
