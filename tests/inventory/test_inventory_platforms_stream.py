"""`inventory` of a multi-platform lock lists every platform; JSON is streamed, same bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from inventory_corpus import LOCKFILES
from support.cli import repro_audit

from audit.core.jsonout import dumps, envelope
from audit.inventory import read_inventories
from audit.inventory.formats.json import iter_inventory_json
from audit.inventory.formats.table import InventoryTableFormat
from audit.inventory.interface import Inventory, Package

PANGEO = LOCKFILES / "conda-lock/example/pangeo/conda-lock.yml"


def _need_pangeo() -> None:
    if not PANGEO.is_file():
        pytest.skip(f"{PANGEO} is absent")


def test_streamed_json_is_the_documents_bytes() -> None:
    _need_pangeo()
    (one,) = read_inventories(str(PANGEO), "linux-64")
    assert "".join(iter_inventory_json([one], several=False)) == dumps(
        envelope("inventory", 0, one.to_json())
    )
    empty = Inventory("x", "linux-64", ())
    assert "".join(iter_inventory_json([empty], several=False)) == dumps(
        envelope("inventory", 0, empty.to_json())
    )


def test_multi_platform_lock_lists_every_platform(tmp_path: Path) -> None:
    _need_pangeo()
    done = repro_audit("inventory", str(PANGEO), "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["platforms"] == ["linux-64", "osx-64", "win-64"]
    inventories = read_inventories(str(PANGEO))
    expected = {
        "inventories": [i.to_json() for i in inventories],
        "platforms": ["linux-64", "osx-64", "win-64"],
    }
    assert done.stdout == dumps(envelope("inventory", 0, expected))
    table = repro_audit("inventory", str(PANGEO))
    assert table.returncode == 0, table.stderr
    for platform in ("linux-64", "osx-64", "win-64"):
        assert f"[{platform}]" in table.stdout
    bom = repro_audit("inventory", str(PANGEO), "--format", "cyclonedx")
    assert bom.returncode == 2 and "pass -p PLATFORM" in bom.stderr
    single = json.loads(
        repro_audit("inventory", str(PANGEO), "-p", "osx-64", "--format", "json").stdout
    )
    assert single["platform"] == "osx-64" and "inventories" not in single


def test_large_table_is_plain_and_complete() -> None:
    packages = tuple(Package("conda", f"p{i:05d}", "1.0", "h0", channel="c") for i in range(6000))
    text = InventoryTableFormat().format(Inventory("big", "linux-64", packages))
    lines = text.splitlines()
    assert lines[0] == "big [linux-64]: 6000 conda"
    assert lines[1].split() == ["manager", "name", "version", "build", "source"]
    assert len(lines) == 6002 and lines[-1].split() == ["conda", "p05999", "1.0", "h0", "c"]
