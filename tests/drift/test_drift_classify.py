"""Pure classification tests: every kind of change, field details, pairing, --fail-on."""

from __future__ import annotations

import json

import pytest

from audit.core.errors import InputError
from audit.diff.classify import (
    KINDS,
    classify,
    compare_versions,
    diff_inventories,
    diff_many,
    field_details,
    parse_fail_on,
)
from audit.diff.formats.html import format_diff_html
from audit.diff.formats.json import format_diff_json
from audit.diff.formats.markdown import format_diff_markdown
from audit.diff.formats.table import format_diff_table
from audit.inventory import Inventory, Package

CF = "https://conda.anaconda.org/conda-forge"


def conda(name: str, version: str, build: str = "h0_0", **kw: object) -> Package:
    kw.setdefault("channel", "conda-forge")
    kw.setdefault("url", f"{CF}/linux-64/{name}-{version}-{build}.conda")
    kw.setdefault("sha256", "a" * 64)
    return Package("conda", name, version, build, platform="linux-64", **kw)  # type: ignore[arg-type]


def pip(name: str, version: str, **kw: object) -> Package:
    return Package("pip", name, version, **kw)  # type: ignore[arg-type]


def inv(*packages: Package, platform: str = "linux-64", source: str = "x") -> Inventory:
    return Inventory(source=source, platform=platform, packages=packages)


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        (conda("numpy", "1.26.4"), conda("numpy", "2.0.0"), "upgraded"),
        (conda("numpy", "2.0.0"), conda("numpy", "1.26.4"), "downgraded"),
        (conda("numpy", "1.10.0"), conda("numpy", "1.9.0"), "downgraded"),  # not string order
        (conda("python", "3.12.0rc1"), conda("python", "3.12.0"), "upgraded"),  # rattler order
        (pip("requests", "2.9"), pip("requests", "2.10"), "upgraded"),
        (pip("x", "1.0rc1"), pip("x", "1.0"), "upgraded"),  # PEP 440 pre-release
        (conda("numpy", "2.0.0", "h1_0"), conda("numpy", "2.0.0", "h1_1"), "rebuilt"),
        (
            conda("six", "1.16.0", channel="conda-forge"),
            conda("six", "1.16.0", channel="bioconda"),
            "channel-changed",
        ),
        (conda("six", "1.16.0"), conda("six", "1.16.0", sha256="b" * 64), "hash-changed"),
        (
            conda("six", "1.16.0", md5="1" * 32),
            conda("six", "1.16.0", md5="2" * 32),
            "hash-changed",
        ),
        (
            conda("six", "1.16.0", url="https://m/a.conda"),
            conda("six", "1.16.0"),
            "metadata-changed",
        ),
        (
            conda("six", "1.16.0", depends=("python >=3.7",)),
            conda("six", "1.16.0", depends=("python >=3.8",)),
            "metadata-changed",
        ),
    ],
)
def test_classify_each_kind(old: Package, new: Package, kind: str) -> None:
    assert classify(old, new) == kind
    result = diff_inventories(inv(old), inv(new))
    assert [c.kind for c in result.changes] == [kind]


def test_unknown_fields_are_not_changes() -> None:
    """An image's pip metadata has no hash or build: that is not a change."""
    locked = pip("attrs", "23.1.0", sha256="c" * 64, url="https://files/attrs.whl")
    installed = pip("attrs", "23.1.0", installer="pip", location="/site-packages/attrs")
    assert classify(locked, installed) is None
    assert diff_inventories(inv(locked), inv(installed)).changes == ()


def test_added_removed_and_sorted() -> None:
    old = inv(conda("b", "1"), conda("a", "1"), pip("z", "1"))
    new = inv(conda("a", "1"), conda("c", "1"), pip("y", "1"))
    result = diff_inventories(old, new)
    assert [(c.manager, c.name, c.kind) for c in result.changes] == [
        ("conda", "b", "removed"),
        ("conda", "c", "added"),
        ("pip", "y", "added"),
        ("pip", "z", "removed"),
    ]
    assert result.counts()["added"] == 2 and result.old_count == 3


def test_moved_between_managers_through_the_mapping() -> None:
    old = inv(conda("pytorch", "2.1.0"), conda("six", "1.16.0"))
    new = inv(pip("torch", "2.1.0"), pip("six", "1.16.0"))
    result = diff_inventories(old, new, mapping={"torch": "pytorch"})
    moved = {c.name: c for c in result.changes}
    assert {c.kind for c in result.changes} == {"moved"}
    assert moved["torch"].old is not None and moved["torch"].old.name == "pytorch"
    assert moved["six"].details["from_manager"] == "conda"
    assert moved["six"].details["to_manager"] == "pip"
    back = diff_inventories(new, old, mapping={"torch": "pytorch"})
    assert {(c.manager, c.kind) for c in back.changes} == {("conda", "moved")}


def test_field_details_of_a_changed_pair() -> None:
    old = conda("numpy", "1.26.4", depends=("python >=3.11", "libblas >=3.9"))
    new = conda("numpy", "2.0.0", depends=("python >=3.12", "libcblas"), sha256="b" * 64)
    details = field_details(old, new)
    assert details["fields"]["version"] == {"old": "1.26.4", "new": "2.0.0"}
    assert details["fields"]["sha256"]["new"] == "b" * 64
    assert details["depends"] == {
        "added": {"libcblas": ""},
        "removed": {"libblas": ">=3.9"},
        "changed": {"python": {"old": ">=3.11", "new": ">=3.12"}},
    }


def test_field_details_of_dependencies_with_no_name_in_common() -> None:
    old = conda("numpy", "1.26.4", depends=("libblas >=3.9",))
    new = conda("numpy", "1.26.4", depends=("libcblas",), url="https://x/numpy.conda")
    assert field_details(old, new)["depends"] == {
        "added": {"libcblas": ""},
        "removed": {"libblas": ">=3.9"},
    }


def test_plain_releases_order_as_conda_and_pep_440_do() -> None:
    pairs = [("1.2", "1.2.0"), ("1.9", "1.10"), ("2.0.1", "2.0"), ("01.2", "1.3"), ("3", "10")]
    for manager in ("conda", "pip"):
        got = [compare_versions(manager, a, b) for a, b in pairs]
        assert got == [0, -1, 1, -1, -1], manager
    assert compare_versions("conda", "1.0a1", "1.0") == -1  # not plain: rattler's order


def test_compare_versions_fallbacks() -> None:
    assert compare_versions("deb", "1:2.10-1", "1:2.9-1") == 1
    assert compare_versions("conda", "1.0", "1.0") == 0
    assert compare_versions("pip", "not a version!", "not a version!!") == -1


def test_fail_on_parsing() -> None:
    assert parse_fail_on("any") == frozenset(KINDS)
    assert parse_fail_on(None) == frozenset(KINDS)
    assert parse_fail_on("none") == frozenset()
    assert parse_fail_on("added, hash-changed") == {"added", "hash-changed"}
    with pytest.raises(InputError, match="unknown kind"):
        parse_fail_on("exploded")


def test_platform_pairing() -> None:
    a = [inv(conda("x", "1"), platform="linux-64"), inv(conda("x", "1"), platform="osx-arm64")]
    b = [inv(conda("x", "2"), platform="linux-64"), inv(conda("x", "1"), platform="win-64")]
    drift = diff_many(a, b)
    assert [p.platform for p in drift.platforms] == ["linux-64"]  # only the common one
    with pytest.raises(InputError, match="OLD is linux-64 and NEW is osx-arm64"):
        diff_many([a[0]], [a[1]])
    forced = diff_many([a[0]], [a[1]], "osx-arm64")
    assert forced.platforms[0].platform == "osx-arm64"
    with pytest.raises(InputError, match="no platform in common"):
        diff_many(a[1:], [b[1], inv(platform="linux-aarch64")])
    with pytest.raises(InputError, match="has no platform"):
        diff_many(a, b, "win-64")
    prefix = Inventory(source="prefix", platform="", packages=(conda("x", "3"),))
    assert diff_many(a, [prefix])  # a platform-less source pairs with every platform


def _sample():
    old = inv(conda("numpy", "1.26.4"), conda("six", "1.16.0"), pip("attrs", "23.1.0"))
    new = inv(
        conda("numpy", "2.0.0"),
        conda("six", "1.16.0", sha256="b" * 64),
        pip("attrs", "23.1.0"),
        pip("rich", "13.0.0"),
    )
    return diff_many([old], [new])


def test_formats_are_deterministic_and_complete() -> None:
    drift = _sample()
    document = json.loads(format_diff_json(drift))
    assert document["schema"] == 1
    assert document["summary"]["upgraded"] == 1 and document["changed"] == 3
    kinds = [c["kind"] for c in document["platforms"][0]["changes"]]
    assert kinds == ["upgraded", "hash-changed", "added"]
    assert format_diff_json(drift) == format_diff_json(_sample())
    table = format_diff_table(drift)
    assert "hash-changed" in table and "1.26.4" in table
    markdown = format_diff_markdown(drift)
    assert "| ↑ upgraded | numpy | 1.26.4-h0\\_0 | 2.0.0-h0\\_0 |" in markdown
    page = format_diff_html(drift)
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org", "")
    assert 'class="kind k-hash-changed"' in page
