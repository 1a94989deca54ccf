"""rpm packages of an image: a real rpm database (SQLite form) made by rpm itself.

`rpmbuild` makes two tiny noarch packages and `rpm --root` installs them into a rootfs,
as a Fedora/RHEL image's build does; the inventory reads `var/lib/rpm/rpmdb.sqlite` from
its bytes, and `diff` tells an upgrade between two such roots.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from support.docker import require_tool

from audit.inventory.metadata import SYSTEM, classify, parse_member

SPEC = """\
Name: {name}
Version: {version}
Release: {release}
{epoch}Summary: test package
License: MIT
BuildArch: noarch
%description
test
%install
mkdir -p %{{buildroot}}/usr/share/{name}
echo {version} > %{{buildroot}}/usr/share/{name}/v
%files
/usr/share/{name}/v
"""


def _rpm(tmp: Path, name: str, version: str, release: str, epoch: str = "") -> Path:
    spec = tmp / f"{name}-{version}.spec"
    spec.write_text(
        SPEC.format(name=name, version=version, release=release,
                    epoch=f"Epoch: {epoch}\n" if epoch else ""),  # fmt: skip
        encoding="utf-8",
    )
    top = tmp / "top"
    subprocess.run(["rpmbuild", "-bb", "--define", f"_topdir {top}", str(spec)],
                   check=True, capture_output=True)  # fmt: skip
    (built,) = (top / "RPMS" / "noarch").glob(f"{name}-{version}-*.rpm")
    return built


def _root(tmp: Path, packages: list[Path]) -> Path:
    root = tmp / "root"
    root.mkdir()
    subprocess.run(
        ["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "--define",
         "_db_backend sqlite", "-i", "--nodeps", "--noscripts", *map(str, packages)],
        check=True, capture_output=True,
    )  # fmt: skip
    return root


def _read(root: Path) -> list:
    path = "var/lib/rpm/rpmdb.sqlite"
    assert classify(path) == SYSTEM
    return parse_member(SYSTEM, path, (root / path).read_bytes())  # type: ignore[return-value]


def test_an_rpm_database_lists_its_packages(tmp_path: Path) -> None:
    require_tool("rpmbuild")
    packages = [
        _rpm(tmp_path, "hello-ra", "1.2.3", "4"),
        _rpm(tmp_path, "tool-ra", "2.0", "1", "3"),
    ]
    found = _read(_root(tmp_path, packages))
    assert [(p.manager, p.name, p.version) for p in found] == [
        ("rpm", "hello-ra", "1.2.3-4"),
        ("rpm", "tool-ra", "3:2.0-1"),  # the epoch, as rpm -q --qf '%{EPOCH}:…' shows it
    ]
    assert {p.location for p in found} == {"/var/lib/rpm/rpmdb.sqlite"}


def test_an_rpm_upgrade_is_a_drift(tmp_path: Path) -> None:
    require_tool("rpmbuild")
    from audit.diff.classify import diff_inventories
    from audit.inventory import Inventory

    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    old_dir.mkdir()
    new_dir.mkdir()
    old = _read(_root(old_dir, [_rpm(old_dir, "hello-ra", "1.2.3", "4")]))
    new = _read(_root(new_dir, [_rpm(new_dir, "hello-ra", "1.3.0", "1")]))
    drift = diff_inventories(
        Inventory(source="old", platform="linux-64", packages=tuple(old)),
        Inventory(source="new", platform="linux-64", packages=tuple(new)),
    )
    assert [(c.kind, c.manager, c.name, c.old_version, c.new_version) for c in drift.changes] == [
        ("upgraded", "rpm", "hello-ra", "1.2.3-4", "1.3.0-1")
    ]


def test_not_an_rpm_database_is_no_packages() -> None:
    path = "var/lib/rpm/rpmdb.sqlite"
    assert parse_member(SYSTEM, path, b"not sqlite at all") == []
    assert parse_member(SYSTEM, path, b"SQLite format 3\0" + b"\0" * 200) == []
