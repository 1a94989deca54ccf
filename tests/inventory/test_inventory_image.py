"""The streaming image reader over in-memory `docker save` (legacy) and OCI archives."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from inventory_images import (
    APK_INSTALLED,
    base_layers,
    dist_metadata,
    docker_save,
    layer_tar,
    oci_archive,
)

from audit.inventory.image import apply_layers, read_archive, scan_layer
from audit.inventory.interface import InventoryError
from audit.inventory.tarstream import TarStream, clean_name

EXPECTED = {
    ("conda", "numpy"): "2.0.0",
    ("conda", "python"): "3.11.7",
    ("conda", "tzdata"): "2024a",
    ("deb", "base-files"): "12.4+deb12u5",
    ("deb", "libc6"): "2.36-9+deb12u4",
    ("pip", "attrs"): "23.2.0",
    ("pip", "requests-toolbelt"): "1.0.0",
}


def _read(data: bytes, **kwargs: object) -> object:
    return read_archive(io.BytesIO(data), "test-image", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("layout", ["legacy", "oci"])
@pytest.mark.parametrize("compress", [None, "gzip", "zstd"])
def test_layers_whiteouts_and_owners(layout: str, compress: str | None) -> None:
    layers = base_layers(compress)
    archive = docker_save(layers) if layout == "legacy" else oci_archive(layers)
    inventory = _read(archive)
    assert {p.key: p.version for p in inventory.packages} == EXPECTED
    assert inventory.platform == "linux-64"
    by_key = inventory.by_key()
    # deleted in layer 2 (whiteout), re-added as 2.0.0 in layer 3
    assert by_key[("conda", "numpy")].location == "/opt/conda/conda-meta/numpy-2.0.0-py311_0.json"
    # opaque dir in layer 2 hides /opt/other/conda-meta from layer 1
    assert ("conda", "zlib") not in by_key
    # INSTALLER tells pip from conda; conda's own dist-info is not a pip package
    assert by_key[("pip", "attrs")].installer == "uv"
    assert ("pip", "numpy") not in by_key
    # dpkg entries that are not installed are left out
    assert ("deb", "removed-pkg") not in by_key
    conda = by_key[("conda", "python")]
    assert conda.channel == "https://conda.anaconda.org/conda-forge"
    assert conda.platform == "linux-64" and len(conda.sha256) == 64


def test_legacy_and_oci_agree() -> None:
    layers = base_layers("gzip")
    assert _read(docker_save(layers)).packages == _read(oci_archive(layers)).packages


def test_duplicate_layer_written_as_symlink() -> None:
    extra = layer_tar({"lib/apk/db/installed": APK_INSTALLED})
    layers = [*base_layers(), extra, extra]
    inventory = _read(docker_save(layers, symlink_dup=True))
    assert {p.key for p in inventory.packages} >= {("apk", "musl"), ("apk", "busybox")}


def test_file_deleted_in_later_layer_is_gone() -> None:
    first = layer_tar({"var/lib/dpkg/status": b"Package: a\nStatus: install ok installed\n"})
    second = layer_tar({"var/lib/.wh.dpkg": b""})
    assert _read(docker_save([first])).packages
    assert _read(docker_save([first, second])).packages == ()


def test_whiteout_applies_only_to_lower_layers() -> None:
    """A layer that deletes a dir and recreates a file in it keeps its own file."""
    meta = "opt/conda/conda-meta"
    lower = layer_tar({f"{meta}/a-1-0.json": b'{"name": "a", "version": "1"}'})
    upper = layer_tar(
        {f"{meta}/.wh..wh..opq": b"", f"{meta}/b-1-0.json": b'{"name": "b", "version": "1"}'}
    )
    inventory = _read(docker_save([lower, upper]))
    assert [p.name for p in inventory.packages] == ["b"]


def test_malicious_paths_are_ignored() -> None:
    layer = layer_tar(
        {"opt/conda/conda-meta/ok-1-0.json": b'{"name": "ok", "version": "1"}'},
        raw_names=(
            "../../etc/passwd",
            "../../opt/conda/conda-meta/evil-1-0.json",
            "/var/lib/dpkg/../../../../etc/shadow",
        ),
    )
    inventory = _read(docker_save([layer]))
    assert [p.name for p in inventory.packages] == ["ok"]
    assert clean_name("../../etc/passwd") is None
    assert clean_name("a/../../b") is None
    assert clean_name("/etc/passwd") == "etc/passwd"
    assert clean_name("./opt//x/./y/") == "opt/x/y"


def test_nothing_is_written_to_disk(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader never opens a file for writing."""
    import builtins

    real_open = builtins.open

    def guarded(file: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        assert not any(flag in mode for flag in "wax+"), f"write attempted: {file}"
        return real_open(file, mode, *args, **kwargs)  # type: ignore[call-overload]

    archive = docker_save(base_layers("gzip"))
    monkeypatch.setattr(builtins, "open", guarded)
    assert _read(archive).packages


@pytest.mark.parametrize("cut", [100, 700, 5000, -1500, -600])
def test_truncated_archive(cut: int) -> None:
    archive = docker_save(base_layers())
    with pytest.raises(InventoryError) as info:
        _read(archive[:cut])
    assert info.value.exit_code == 2
    assert "truncated" in info.value.one_line() or "manifest" in info.value.one_line()


def test_corrupt_header_checksum() -> None:
    archive = bytearray(docker_save(base_layers()))
    archive[3] ^= 0xFF  # inside the first header's name field
    with pytest.raises(InventoryError, match="checksum"):
        _read(bytes(archive))


def test_corrupt_gzip_layer() -> None:
    layers = base_layers("gzip")
    broken = layers[0][:20] + b"\x00" * 50 + layers[0][70:]
    with pytest.raises(InventoryError, match="corrupt"):
        _read(docker_save([broken, *layers[1:]]))


def test_not_an_archive() -> None:
    with pytest.raises(InventoryError):
        _read(b"this is not a tar file at all" * 40)
    with pytest.raises(InventoryError, match="no manifest.json or index.json"):
        _read(layer_tar({"hello.txt": b"hi"}))


def test_manifest_names_missing_layer() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = b'[{"Config": "c.json", "RepoTags": ["a:1"], "Layers": ["x/layer.tar"]}]'
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(InventoryError, match="does not contain"):
        _read(buffer.getvalue())


def test_multi_image_archive_needs_a_selector() -> None:
    single = docker_save(base_layers())
    rebuilt = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(single)) as src,
        tarfile.open(fileobj=rebuilt, mode="w") as dst,
    ):
        for member in src.getmembers():
            if member.name == "manifest.json":
                entries = json.loads(src.extractfile(member).read())  # type: ignore[union-attr]
                second = dict(entries[0], RepoTags=["test/app:2"])
                doubled = json.dumps([*entries, second]).encode()
                member.size = len(doubled)
                dst.addfile(member, io.BytesIO(doubled))
            else:
                dst.addfile(member, src.extractfile(member) if member.isfile() else None)
    with pytest.raises(InventoryError, match="2 images"):
        _read(rebuilt.getvalue())
    assert _read(rebuilt.getvalue(), select="test/app:2").packages
    with pytest.raises(InventoryError, match="no image tagged"):
        _read(rebuilt.getvalue(), select="other:1")


def test_dist_info_without_installer() -> None:
    """No INSTALLER: pip's in a plain site-packages, dpkg's in dist-packages, conda's in a
    conda prefix."""
    layer = layer_tar(
        {
            "usr/local/lib/python3.12/site-packages/Flask-3.0.dist-info/METADATA": dist_metadata(
                "Flask", "3.0"
            ),
            "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA": dist_metadata(
                "six", "1.16.0"
            ),
            "opt/conda/conda-meta/x-1-0.json": b'{"name": "x", "version": "1"}',
            "opt/conda/lib/python3.11/site-packages/x-1.dist-info/METADATA": dist_metadata(
                "x", "1"
            ),
        }
    )
    keys = {p.key for p in _read(docker_save([layer])).packages}
    assert keys == {("pip", "flask"), ("conda", "x")}


def test_memory_keeps_metadata_only() -> None:
    """A layer with many ordinary files contributes only its few metadata entries."""
    files: dict[str, bytes | None] = {f"usr/share/doc/f{i}.txt": b"x" * 100 for i in range(3000)}
    files["opt/conda/conda-meta/a-1-0.json"] = b'{"name": "a", "version": "1"}'
    index = scan_layer(io.BufferedReader(io.BytesIO(layer_tar(files))), "layer")  # type: ignore[arg-type]
    assert list(index.files) == ["opt/conda/conda-meta/a-1-0.json"]
    assert list(apply_layers([index])) == ["opt/conda/conda-meta/a-1-0.json"]


def test_tarstream_long_names_and_pax() -> None:
    long_dir = "opt/" + "/".join(["d" * 60] * 4)
    data = layer_tar({f"{long_dir}/conda-meta/long-1-0.json": b'{"name":"long","version":"1"}'})
    gnu = io.BytesIO()
    with tarfile.open(fileobj=gnu, mode="w", format=tarfile.GNU_FORMAT) as tar:
        payload = b"z"
        info = tarfile.TarInfo(f"{long_dir}/gnu.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(payload))
    names = [m.name for m in TarStream(io.BytesIO(data))]  # type: ignore[arg-type]
    assert names == [f"{long_dir}/conda-meta/long-1-0.json"]
    gnu_names = [m.name for m in TarStream(io.BytesIO(gnu.getvalue()))]  # type: ignore[arg-type]
    assert gnu_names == [f"{long_dir}/gnu.txt"]
