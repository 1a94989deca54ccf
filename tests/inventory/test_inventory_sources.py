"""Prefix directories, build records, git revisions and the data model's JSON round trip."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from audit.core.errors import InputError
from audit.inventory import Inventory, Package, open_source, read_inventory
from audit.inventory.interface import InventoryError
from audit.inventory.prefix import PrefixSource
from audit.inventory.record import RecordSource
from audit.inventory.sources import GitSource


def test_prefix(tiny_prefix: Path) -> None:
    source = open_source(str(tiny_prefix))
    assert isinstance(source, PrefixSource)
    (inventory,) = source.read()
    assert inventory.platform == "linux-64"
    assert {p.key: p.version for p in inventory.packages} == {
        ("conda", "python"): "3.11.7",
        ("conda", "six"): "1.16.0",
        ("pip", "typing-extensions"): "4.12.2",  # PEP 503 name; six's dist-info is conda's
    }
    pip = inventory.by_key()[("pip", "typing-extensions")]
    assert pip.installer == "pip"
    assert pip.location == "/lib/python3.11/site-packages/Typing_Extensions-4.12.2.dist-info"
    six = inventory.by_key()[("conda", "six")]
    assert six.build == "pyh6c4a22f_0" and six.platform == "linux-64"


def test_empty_dir_is_not_a_prefix(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="not a conda prefix"):
        read_inventory(str(tmp_path))


def test_corrupt_conda_meta(tiny_prefix: Path) -> None:
    (tiny_prefix / "conda-meta" / "bad-1-0.json").write_text("{not json")
    with pytest.raises(InventoryError, match="corrupt conda-meta") as info:
        read_inventory(str(tiny_prefix))
    assert "bad-1-0.json" in info.value.one_line()


def test_json_round_trip_and_record(tiny_prefix: Path, tmp_path: Path) -> None:
    inventory = read_inventory(str(tiny_prefix))
    assert Inventory.from_json(json.loads(json.dumps(inventory.to_json()))) == inventory
    record = tmp_path / "build-record.json"
    record.write_text(json.dumps({"image": "app:1", "inventory": inventory.to_json()}))
    source = open_source(str(record))
    assert isinstance(source, RecordSource)
    assert read_inventory(str(record)) == inventory


def test_record_without_inventory(tmp_path: Path) -> None:
    record = tmp_path / "r.json"
    record.write_text('{"image": "x"}')
    with pytest.raises(InventoryError, match="not a build record"):
        read_inventory(str(record))


def test_packages_are_sorted_and_normalised() -> None:
    inventory = Inventory(
        "x",
        "linux-64",
        (
            Package("pip", "Zope.Interface", "6"),
            Package("conda", "NumPy", "1"),
            Package("deb", "LibC6", "2"),
        ),
    )
    assert [p.key for p in inventory.packages] == [
        ("conda", "numpy"),
        ("deb", "libc6"),
        ("pip", "zope-interface"),
    ]
    with pytest.raises(ValueError):
        Package("npm", "left-pad", "1")


def test_git_revisions(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(git_repo)
    old = read_inventory("git:HEAD~1:conda-lock.yml")
    new = read_inventory("git:HEAD:conda-lock.yml")
    assert isinstance(open_source("git:HEAD:conda-lock.yml"), GitSource)
    assert old.by_key()[("conda", "numpy")].version == "1.26.4"
    assert new.by_key()[("conda", "numpy")].version == "2.0.0"
    assert old.source == "git:HEAD~1:conda-lock.yml"
    sub = git_repo / "sub"
    sub.mkdir()
    monkeypatch.chdir(sub)  # root-relative path works from a subdirectory
    assert read_inventory("git:HEAD:conda-lock.yml") == new


def test_git_errors(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(git_repo)
    with pytest.raises(InventoryError, match="unknown git revision 'nope'"):
        read_inventory("git:nope:conda-lock.yml")
    with pytest.raises(InventoryError, match="'missing.yml' does not exist at revision HEAD"):
        read_inventory("git:HEAD:missing.yml")
    with pytest.raises(InventoryError, match=r"expected git:REV\[:path\]"):
        read_inventory("git:HEAD:")


def test_git_revision_without_path_finds_the_lock(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`git:REV` reads conda-lock.yml (as `verify git:REV` finds its record); diff takes it."""
    from support.cli import repro_audit

    monkeypatch.chdir(git_repo)
    assert read_inventory("git:HEAD~1").by_key()[("conda", "numpy")].version == "1.26.4"
    assert read_inventory("git:HEAD") == read_inventory("git:HEAD:conda-lock.yml").with_source(
        "git:HEAD"
    )
    done = repro_audit("diff", "git:HEAD~1", "git:HEAD", "--format", "json", cwd=git_repo)
    assert done.returncode == 1, done.stderr
    assert '"name": "numpy"' in done.stdout
    (git_repo / "conda-lock.yml").rename(git_repo / "moved.yml")
    subprocess.run(["git", "rm", "-q", "--cached", "conda-lock.yml"], cwd=git_repo, check=True)
    subprocess.run(
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "rm"],
        cwd=git_repo,
        check=True,
    )
    with pytest.raises(InventoryError, match="none of conda-lock.yml, pixi.lock"):
        read_inventory("git:HEAD")


def test_git_outside_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    with pytest.raises(InventoryError, match="not inside a git repository"):
        read_inventory("git:HEAD:conda-lock.yml")


def test_unknown_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("# hello\n")
    with pytest.raises(InputError, match="not a lockfile"):
        read_inventory(str(path))
    assert os.path.exists(path)
