"""The fixture channel is deterministic, well-formed, and real enough for rattler.

Every other test trusts this channel, so these tests check it against the tools that
consume it (rattler's solver and installer, zstd, zipfile) rather than against itself.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st
from rattler import Subdir
from rattler import install as rattler_install
from rattler.exceptions import InstallerError, SolverError
from support import REPO_ROOT, make_channel, solve, versions
from support.http import serve_directory

PYTHON_311_LINUX = "linux-64/python-3.11.9-h9f0c242_0_cpython.conda"
SIX_116 = "six-1.16.0-pyh6c4a22f_0.conda"


def tree_hashes(root: Path) -> dict[str, str]:
    """`{relative path: sha256}` of every file under `root`."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def install(records: list[Any], prefix: Path, cache: Path, platform: str) -> None:
    """rattler's install is async; the tests are not."""
    asyncio.run(
        rattler_install(
            records,
            target_prefix=prefix,
            cache_dir=cache,
            platform=Subdir(platform),
            show_progress=False,
        )
    )


def untar_zst(data: bytes) -> dict[str, tuple[tarfile.TarInfo, bytes]]:
    """Members of a zstd-compressed tar, in archive order, with their contents."""
    raw = zstandard.ZstdDecompressor().decompress(data)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        out = {}
        for member in tf.getmembers():
            handle = tf.extractfile(member)
            out[member.name] = (member, handle.read() if handle else b"")
        return out


# ------------------------------------------------------------------ determinism and shape


def test_two_builds_are_byte_identical(tmp_path: Path, channel_dir: Path) -> None:
    again = make_channel.build_channel(tmp_path / "again")
    assert tree_hashes(again) == tree_hashes(channel_dir)


def test_rebuild_in_place_drops_newer_packages(tmp_path: Path, channel_dir: Path) -> None:
    """Building base over a `newer` tree must not leave the newer packages behind."""
    out = make_channel.build_channel(tmp_path / "ch", newer=True)
    make_channel.build_channel(out)
    assert tree_hashes(out) == tree_hashes(channel_dir)


def test_script_builds_the_same_tree(tmp_path: Path, newer_channel_dir: Path) -> None:
    script = REPO_ROOT / "fixtures" / "make_channel.py"
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "ch"), "--newer"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(done.stdout.strip()) == (tmp_path / "ch").resolve()
    assert tree_hashes(tmp_path / "ch") == tree_hashes(newer_channel_dir)


def test_repodata_describes_the_files(newer_channel_dir: Path) -> None:
    formats: set[str] = set()
    for subdir in make_channel.SUBDIRS:
        raw = (newer_channel_dir / subdir / "repodata.json").read_text()
        assert "indexed_timestamp" not in raw
        repodata = json.loads(raw)
        assert repodata["info"] == {"subdir": subdir}
        listed: set[str] = set()
        for key, suffix in (("packages", ".tar.bz2"), ("packages.conda", ".conda")):
            for filename, record in repodata[key].items():
                assert filename.endswith(suffix)
                data = (newer_channel_dir / subdir / filename).read_bytes()
                assert record["sha256"] == hashlib.sha256(data).hexdigest()
                assert record["md5"] == hashlib.md5(data).hexdigest()
                assert record["size"] == len(data)
                assert record["subdir"] == subdir
                assert isinstance(record["timestamp"], int)
                assert filename == f"{record['name']}-{record['version']}-{record['build']}{suffix}"
                assert ("noarch" in record) == (subdir == "noarch")
                listed.add(filename)
                formats.add(suffix)
        on_disk = {p.name for p in (newer_channel_dir / subdir).iterdir()} - {"repodata.json"}
        assert on_disk == listed
    assert formats == {".conda", ".tar.bz2"}
    assert sum(f.stat().st_size for f in newer_channel_dir.rglob("*") if f.is_file()) < 400_000


def test_newer_packages_are_later(newer_channel_dir: Path) -> None:
    cutoff_ms = int(make_channel.EXCLUDE_NEWER_CUTOFF.timestamp() * 1000)
    for spec in make_channel.package_specs(newer=True):
        assert (spec.timestamp > cutoff_ms) == spec.newer, spec.filename


def test_conda_archive_layout(channel_dir: Path) -> None:
    path = channel_dir / PYTHON_311_LINUX
    stem = path.name.removesuffix(".conda")
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == [
            "metadata.json",
            f"pkg-{stem}.tar.zst",
            f"info-{stem}.tar.zst",
        ]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)
        assert json.loads(zf.read("metadata.json")) == {"conda_pkg_format_version": 2}
        tars = {
            "pkg": untar_zst(zf.read(infos[1].filename)),
            "info": untar_zst(zf.read(infos[2].filename)),
        }
    for members in tars.values():
        assert list(members) == sorted(members)
        assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 for m, _ in members.values())

    def read(kind: str, name: str) -> bytes:
        return tars[kind][name][1]

    paths = json.loads(read("info", "info/paths.json"))
    assert paths["paths_version"] == 1
    for entry in paths["paths"]:
        content = read("pkg", entry["_path"])
        assert entry["sha256"] == hashlib.sha256(content).hexdigest()
        assert entry["size_in_bytes"] == len(content)
    config = next(e for e in paths["paths"] if e["_path"] == "bin/python3-config")
    assert config["prefix_placeholder"] == make_channel.PLACEHOLDER
    assert config["file_mode"] == "text"
    assert make_channel.PLACEHOLDER.encode() in read("pkg", "bin/python3-config")
    assert read("info", "info/has_prefix").decode().split() == [
        make_channel.PLACEHOLDER,
        "text",
        "bin/python3-config",
    ]
    index = json.loads(read("info", "info/index.json"))
    record = json.loads((channel_dir / "linux-64" / "repodata.json").read_text())[
        "packages.conda"
    ][path.name]
    for key in ("name", "version", "build", "build_number", "depends", "timestamp"):
        assert index[key] == record[key]


def test_tar_bz2_package_is_readable(channel_dir: Path) -> None:
    with tarfile.open(channel_dir / "noarch" / "tzdata-2024a-h0c530f3_0.tar.bz2") as tf:
        names = tf.getnames()
        assert all(m.mtime == 0 for m in tf.getmembers())
    assert "info/index.json" in names and "share/zoneinfo/UTC" in names


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(st.binary(max_size=300), st.tuples(st.binary(min_size=1, max_size=1),
                                                      st.integers(0, 140_000))),
        max_size=6,
    )
)
def test_zstd_frame_round_trips(parts: list[bytes | tuple[bytes, int]]) -> None:
    data = b"".join(p if isinstance(p, bytes) else p[0] * p[1] for p in parts)
    frame = make_channel.zstd_frame(data)
    assert zstandard.ZstdDecompressor().decompress(frame) == data


def test_tamper_changes_only_the_named_file(tmp_path: Path, channel_dir: Path) -> None:
    out = make_channel.build_channel(tmp_path / "ch", tamper=SIX_116)
    good, bad = tree_hashes(channel_dir), tree_hashes(out)
    assert {k for k in good if good[k] != bad[k]} == {f"noarch/{SIX_116}"}
    record = json.loads((out / "noarch" / "repodata.json").read_text())["packages.conda"][SIX_116]
    assert record["sha256"] == good[f"noarch/{SIX_116}"] != bad[f"noarch/{SIX_116}"]
    with zipfile.ZipFile(out / "noarch" / SIX_116) as zf:
        assert zf.testzip() is None
    with pytest.raises(ValueError, match="no package file"):
        make_channel.build_channel(tmp_path / "x", tamper="nope-1.0-0.conda")


# ------------------------------------------------------------------------ rattler solves


@pytest.mark.parametrize("platform", ["linux-64", "osx-arm64", "win-64"])
def test_solve_numpy_python_312(channel_dir: Path, tmp_path: Path, platform: str) -> None:
    records = solve(channel_dir, ["numpy", "python 3.12.*"], platform, tmp_path)
    assert versions(records) == {
        "numpy": "2.0.0",
        "python": "3.12.4",
        "python_abi": "3.12",
        "libzlib": "1.3.1",
    }
    numpy = next(r for r in records if r.name.normalized == "numpy")
    assert numpy.subdir == platform and str(numpy.build) == "py312h22e1c76_0"


def test_linux_only_tool_is_unsatisfiable_on_windows(channel_dir: Path, tmp_path: Path) -> None:
    assert versions(solve(channel_dir, ["linux-only-tool"], "linux-64", tmp_path)) == {
        "linux-only-tool": "1.0.0"
    }
    with pytest.raises(SolverError):
        solve(channel_dir, ["linux-only-tool"], "win-64", tmp_path)


def test_cuda_needs_the_cuda_virtual_package(channel_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(SolverError, match="__cuda"):
        solve(channel_dir, ["cuda-runtime-lite"], "linux-64", tmp_path)
    records = solve(
        channel_dir, ["cuda-runtime-lite"], "linux-64", tmp_path,
        extra_virtual=[("__cuda", "12.4", "0")],
    )
    assert versions(records) == {"cuda-runtime-lite": "12.0.0"}


def test_conflicting_requests_are_unsatisfiable(channel_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(SolverError):
        solve(channel_dir, ["six >=1.16", "conflicts-with-six"], "linux-64", tmp_path)


def test_newer_channel_and_exclude_newer(newer_channel_dir: Path, tmp_path: Path) -> None:
    specs = ["numpy", "python 3.11.*", "six", "tzdata"]
    latest = solve(newer_channel_dir, specs, "linux-64", tmp_path)
    assert versions(latest) == {
        "numpy": "2.1.0", "python": "3.11.9", "python_abi": "3.11", "libzlib": "1.3.1",
        "six": "1.17.0", "tzdata": "2025a",
    }
    libzlib = next(r for r in latest if r.name.normalized == "libzlib")
    assert libzlib.build_number == 1
    as_of = solve(
        newer_channel_dir, specs, "linux-64", tmp_path,
        exclude_newer=make_channel.EXCLUDE_NEWER_CUTOFF,
    )
    assert versions(as_of)["numpy"] == "2.0.0" and versions(as_of)["six"] == "1.16.0"
    assert next(r for r in as_of if r.name.normalized == "libzlib").build_number == 0


def test_example_environment_solves_on_its_platforms(channel_dir: Path, tmp_path: Path) -> None:
    from conda_lock.src_parser import make_lock_spec

    spec = make_lock_spec(
        src_files=[REPO_ROOT / "fixtures" / "example" / "environment.yml"],
        mapping_url=(tmp_path / "unused-mapping.csv").as_uri(),
    )
    assert sorted(spec.platforms) == ["linux-64", "osx-arm64", "win-64"]
    for platform, deps in spec.dependencies.items():
        specs = [f"{d.name} {getattr(d, 'version', '')}".strip() for d in deps]
        solved = versions(solve(channel_dir, specs, platform, tmp_path))
        assert solved["numpy"] == "2.0.0" and solved["python"] == "3.11.9"
        assert ("linux-only-tool" in solved) == platform.startswith("linux")


# ----------------------------------------------------------------------- install and HTTP


def test_install_replaces_the_prefix_placeholder(channel_dir: Path, tmp_path: Path) -> None:
    records = solve(channel_dir, ["python 3.11.*", "six", "tzdata"], "linux-64", tmp_path)
    prefix = tmp_path / "env"
    install(records, prefix, tmp_path / "pkgs", "linux-64")
    config = (prefix / "bin" / "python3-config").read_text()
    assert make_channel.PLACEHOLDER not in config
    assert f'prefix="{prefix}"' in config
    # noarch: python files land in the target python's site-packages; .tar.bz2 installs.
    assert (prefix / "lib" / "python3.11" / "site-packages" / "six.py").is_file()
    assert (prefix / "share" / "zoneinfo" / "UTC").is_file()


def test_solve_over_http(http_channel: str, tmp_path: Path) -> None:
    records = solve(http_channel, ["numpy", "python 3.11.*", "six"], "linux-64", tmp_path)
    assert versions(records)["numpy"] == "2.0.0"
    assert all(r.url.startswith(f"{http_channel}/") for r in records)


def test_tampered_package_checks(tmp_path: Path) -> None:
    """Pins the DESIGN.md fact the verify stage relies on: rattler checks sha256 over
    http but installs a tampered `file://` package silently. If this starts failing,
    rattler changed and the notes need updating."""
    out = make_channel.build_channel(tmp_path / "ch", tamper=SIX_116)
    local = solve(out, ["six", "python 3.11.*"], "linux-64", tmp_path / "c1")
    install(local, tmp_path / "env1", tmp_path / "pkgs1", "linux-64")
    assert (tmp_path / "env1" / "share" / "TAMPERED.txt").is_file()
    with serve_directory(out) as url:
        remote = solve(url, ["six", "python 3.11.*"], "linux-64", tmp_path / "c2")
        with pytest.raises(InstallerError, match="hash mismatch"):
            install(remote, tmp_path / "env2", tmp_path / "pkgs2", "linux-64")


def test_serve_directory_basic_auth(tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hi")
    with serve_directory(tmp_path, auth=("user", "s3cret")) as url:
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(f"{url}/hello.txt", timeout=5)
        assert denied.value.code == 401
        request = urllib.request.Request(f"{url}/hello.txt")
        token = base64.b64encode(b"user:s3cret").decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.read() == b"hi"


def test_serve_dir_factory(serve_dir: Callable[..., str], tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    url = serve_dir(tmp_path)
    with urllib.request.urlopen(f"{url}/a.txt", timeout=5) as response:
        assert response.read() == b"a"
