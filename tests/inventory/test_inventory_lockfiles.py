"""Every real lockfile in ../shared/data/lockfiles reads into non-empty inventories whose
names and versions are what the file says (counted independently with plain YAML/regex)."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from inventory_corpus import LOCKFILES, lockfile_params
from packaging.utils import canonicalize_name

from audit.core.errors import InputError
from audit.inventory import open_source, read_inventory
from audit.inventory.condalock import CondaLockSource
from audit.inventory.explicit import ExplicitSource
from audit.inventory.pixi import PixiSource

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CONDA_FILE = re.compile(r"/([^/#]+)-([^-/#]+)-([^-/#]+)\.(?:conda|tar\.bz2)(?:#|$)")


def _name(manager: str, name: str) -> str:
    return str(canonicalize_name(name)) if manager == "pip" else name.lower()


@pytest.mark.parametrize("path", lockfile_params("conda-lock"))
def test_conda_lock_yml(path: Path) -> None:
    source = open_source(str(path))
    assert isinstance(source, CondaLockSource)
    inventories = {inv.platform: inv for inv in source.read()}
    document = yaml.load(path.read_text(), Loader=_LOADER)
    expected: dict[str, dict[tuple[str, str], str]] = defaultdict(dict)
    for item in document["package"]:
        manager = item["manager"]
        expected[item["platform"]][(manager, _name(manager, item["name"]))] = str(item["version"])
    assert set(inventories) == set(expected) | set(document["metadata"]["platforms"])
    for platform, packages in expected.items():
        inventory = inventories[platform]
        assert inventory.packages, platform
        got = {p.key: p.version for p in inventory.packages}
        assert got == packages
        for package in inventory.packages:
            assert package.platform == platform
            if package.manager == "conda":
                assert package.build and "://" in package.channel


@pytest.mark.parametrize("path", lockfile_params("conda-lock"))
def test_conda_lock_yml_agrees_with_rattler(path: Path) -> None:
    """Our fast YAML reader and rattler's reader see the same conda packages."""
    from rattler import LockFile

    ours = {inv.platform: inv for inv in open_source(str(path)).read()}
    try:
        lock = LockFile.from_path(path)
    except Exception as exc:  # rattler rejects some real conda-lock files; we do not
        pytest.skip(f"rattler cannot read this file: {str(exc).splitlines()[0]}")
    env = lock.default_environment()
    assert env is not None
    for platform in env.platforms():
        records = env.conda_repodata_records_for_platform(platform) or []
        theirs = {
            (r.name.normalized, str(r.version), str(r.build), r.sha256.hex() if r.sha256 else "")
            for r in records
        }
        mine = {
            (p.name, p.version, p.build, p.sha256)
            for p in ours[platform.name].packages
            if p.manager == "conda"
        }
        assert mine == theirs, platform.name


@pytest.mark.parametrize("path", lockfile_params("explicit"))
def test_explicit_lock(path: Path) -> None:
    source = open_source(str(path))
    assert isinstance(source, ExplicitSource)
    (inventory,) = source.read()
    lines = [ln.strip() for ln in path.read_text().splitlines()]
    urls = [ln for ln in lines if ln and not ln.startswith("#") and ln != "@EXPLICIT"]
    pips = [ln for ln in lines if ln.startswith("# pip ")]
    names = set()
    for url in urls:
        match = _CONDA_FILE.search(url)
        names.add(("conda", match.group(1) if match else url.rsplit("/", 1)[-1]))
    names |= {("pip", ln.split()[2]) for ln in pips}
    assert inventory.packages
    assert {p.key for p in inventory.packages} == names
    for url in urls:
        match = _CONDA_FILE.search(url)
        if match:
            package = inventory.by_key()[("conda", match.group(1))]
            assert (package.version, package.build) == (match.group(2), match.group(3))
    # credentials never reach an inventory
    assert not any("password" in p.url or "@" in p.url.split("//")[-1] for p in inventory.packages)


@pytest.mark.parametrize("path", lockfile_params("pixi"))
def test_pixi_lock(path: Path) -> None:
    source = open_source(str(path))
    assert isinstance(source, PixiSource)
    inventories = {inv.platform: inv for inv in source.read()}
    document = yaml.load(path.read_text(), Loader=_LOADER)
    per_platform = document["environments"]["default"]["packages"]
    assert set(inventories) == set(per_platform)
    for platform, entries in per_platform.items():
        inventory = inventories[platform]
        assert len(inventory.packages) == len(entries), platform
        index = inventory.by_key()
        pypi_urls = {p.url for p in inventory.packages if p.manager == "pip"}
        for entry in entries:
            if "conda" in entry:
                match = _CONDA_FILE.search(entry["conda"])
                assert match, entry
                package = index[("conda", match.group(1))]
                assert package.version == match.group(2)
                assert package.build == match.group(3)
                assert len(package.sha256) == 64
            else:
                assert "pypi" in entry
                assert entry["pypi"] in pypi_urls


def _skip_without_data() -> None:
    if not LOCKFILES.is_dir():
        pytest.skip(f"{LOCKFILES} is absent")


def test_known_packages() -> None:
    _skip_without_data()
    pangeo = read_inventory(str(LOCKFILES / "conda-lock/example/pangeo/conda-lock.yml"), "linux-64")
    xarray = pangeo.by_key()[("conda", "xarray")]
    assert (xarray.version, xarray.build) == ("2022.3.0", "pyhd8ed1ab_0")
    assert xarray.channel == "https://conda.anaconda.org/conda-forge"
    zlib = read_inventory(str(LOCKFILES / "conda-lock/tests/zlib/conda-linux-64.lock"))
    assert zlib.platform == "linux-64"
    package = zlib.by_key()[("conda", "zlib")]
    assert (package.version, package.build, package.md5) == (
        "1.2.11",
        "h36c2ea0_1013",
        "cf7190238072a41e9579e4476a6a60b8",
    )
    pypi = read_inventory(str(LOCKFILES / "pixi/v6/numpy-as-pypi-lock.yml"))
    numpy = pypi.by_key()[("pip", "numpy")]
    assert numpy.version == "2.2.1" and len(numpy.sha256) == 64


def test_same_lock_in_two_formats_compares_equal() -> None:
    """conda-lock's numpy lock and pixi's copy of it give the same name/version sets."""
    _skip_without_data()
    a = read_inventory(str(LOCKFILES / "conda-lock/numpy-conda-lock.yml"), "linux-64")
    b = read_inventory(str(LOCKFILES / "pixi/v4/numpy-lock.yml"), "linux-64")
    assert {(p.key, p.version, p.build) for p in a.packages} == {
        (p.key, p.version, p.build) for p in b.packages
    }


def test_platform_selection_errors() -> None:
    _skip_without_data()
    path = str(LOCKFILES / "conda-lock/example/pangeo/conda-lock.yml")
    with pytest.raises(InputError, match=r"several platforms \(linux-64, osx-64, win-64\)"):
        read_inventory(path)
    with pytest.raises(InputError, match="no platform linux-aarch64") as info:
        read_inventory(path, "linux-aarch64")
    assert info.value.exit_code == 2


def test_pip_names_are_pep503(tmp_path: Path) -> None:
    lock = tmp_path / "conda-lock.yml"
    lock.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "metadata": {"platforms": ["linux-64"], "content_hash": {}, "channels": []},
                "package": [
                    {
                        "name": "Typing_Extensions",
                        "version": "4.12.2",
                        "manager": "pip",
                        "platform": "linux-64",
                        "dependencies": {},
                        "url": "https://user:secret@pypi.example/typing_extensions-4.12.2-py3-none-any.whl",
                        "hash": {"sha256": "a" * 64},
                    },
                    {
                        "name": "PyYAML",
                        "version": "6.0.1",
                        "manager": "conda",
                        "platform": "linux-64",
                        "dependencies": {"python": ">=3.11", "yaml": "*"},
                        "url": "https://conda.anaconda.org/t/tk-123/conda-forge/linux-64/pyyaml-6.0.1-py311_0.conda",
                        "hash": {"md5": "b" * 32},
                    },
                ],
            }
        )
    )
    inventory = read_inventory(str(lock))
    keys = {p.key: p for p in inventory.packages}
    assert ("pip", "typing-extensions") in keys
    pyyaml = keys[("conda", "pyyaml")]
    assert pyyaml.depends == ("python >=3.11", "yaml")
    assert "secret" not in keys[("pip", "typing-extensions")].url
    assert "/t/" not in pyyaml.url and pyyaml.channel == "https://conda.anaconda.org/conda-forge"
