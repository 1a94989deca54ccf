"""audit.lock.pypi: lock the pip section per platform with uv, against a local index.

The index is built here from tiny real wheels (helpers.pypi_index) and served on
127.0.0.1; only the test marked `pypi` talks to the real PyPI (deselected by default).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.tags import Tag
from support.http import serve_directory
from support.pypi_index import (
    build_sdist,
    build_wheel,
    serve_with_ranges,
    sha256_file,
    write_index,
)

from audit.core import credentials, http
from audit.core.errors import FindingsError, InfrastructureError, InputError
from audit.lock import pipconda, pipmeta, pipuv
from audit.lock.pypi import (
    MAPPING_PATH,
    PipLocked,
    conda_platform_to_uv,
    conda_to_pypi_names,
    load_mapping,
    lock_pip,
    make_target,
)

NATIVE_TAGS = {
    "linux-64": "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
    "osx-arm64": "cp311-cp311-macosx_11_0_arm64",
    "win-64": "cp311-cp311-win_amd64",
}
USER, PASSWORD = "alice", "s3cret-pw"


@dataclass(frozen=True)
class Index:
    root: Path
    files: Path  # where the wheels live (for hashes)


def _build(root: Path, *, core_metadata: bool) -> Index:
    src = root / "src"
    wheels = [
        build_wheel(src, "tinyapp", "1.0", requires_dist=["tinylib>=2"]),
        build_wheel(
            src,
            "tinyapp",
            "1.1",
            requires_dist=[
                "tinylib>=2",
                "six>=1.16",
                'tinyextra; extra == "x"',
                'tinywin; sys_platform == "win32"',
            ],
        ),
        build_wheel(src, "tinylib", "2.0"),
        build_wheel(src, "tinylib", "2.1"),
        build_wheel(src, "tinyextra", "1.0"),
        build_wheel(src, "tinywin", "1.0"),
        *(build_wheel(src, "tinynative", "0.1", tag) for tag in NATIVE_TAGS.values()),
        build_wheel(src, "six", "1.15.0"),
        build_wheel(src, "six", "1.16.0"),
        build_wheel(src, "six", "1.17.0"),
        build_sdist(src, "tinysdist", "1.0"),
        build_wheel(src, "tinylinux", "1.0", "py3-none-linux_x86_64"),
        build_wheel(src, "tinynew", "1.0", "py3-none-manylinux_2_31_x86_64"),
        build_wheel(src, "tinysonoma", "1.0", "py3-none-macosx_14_0_arm64"),
        build_wheel(src, "tinybig", "1.0", payload_size=300_000),
    ]
    write_index(root / "index", wheels, core_metadata=core_metadata)
    return Index(root / "index", root / "index" / "files")


@pytest.fixture(scope="module")
def plain_index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    """No PEP 658 sidecars: metadata comes from the wheel itself."""
    return _build(tmp_path_factory.mktemp("pypi-plain"), core_metadata=False)


@pytest.fixture(scope="module")
def meta_index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    """With PEP 658 `.metadata` sidecars, the way PyPI serves them."""
    return _build(tmp_path_factory.mktemp("pypi-meta"), core_metadata=True)


@pytest.fixture(scope="module")
def index_url(meta_index: Index) -> Iterator[str]:
    with serve_directory(meta_index.root) as url:
        yield f"{url}/simple"


@pytest.fixture(scope="module")
def auth_url(meta_index: Index) -> Iterator[str]:
    """The same index behind basic auth; the URL carries no credentials."""
    with serve_directory(meta_index.root, auth=(USER, PASSWORD)) as url:
        yield f"{url}/simple"


@pytest.fixture(autouse=True)
def _fresh_metadata_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees its own metadata reads and credential store (both process-wide)."""
    monkeypatch.setattr(pipmeta, "_METADATA_CACHE", {})
    monkeypatch.setattr(credentials, "_CURRENT", None)  # index credentials stay per test
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    for var in ("UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_INDEX", "UV_DEFAULT_INDEX"):
        monkeypatch.delenv(var, raising=False)


def _lock(reqs: list[str], url: str, tmp_path: Path, **kwargs: object) -> list[PipLocked]:
    kwargs.setdefault("platform", "linux-64")
    kwargs.setdefault("python_version", "3.11")
    kwargs.setdefault("conda_installed", {})
    return lock_pip(reqs, index_url=url, cache_dir=tmp_path / "cache", **kwargs)  # type: ignore[arg-type]


def _by_name(locked: list[PipLocked]) -> dict[str, PipLocked]:
    return {p.name: p for p in locked}


# --------------------------------------------------------------------------- platforms


@pytest.mark.parametrize(
    ("platform", "glibc", "expected"),
    [
        ("linux-64", None, "x86_64-manylinux_2_28"),
        ("linux-64", "2.17", "x86_64-manylinux_2_17"),
        ("linux-64", "2.29", "x86_64-manylinux_2_28"),
        ("linux-64", "2.35", "x86_64-manylinux_2_35"),
        ("linux-64", "2.99", "x86_64-manylinux_2_40"),
        ("linux-aarch64", None, "aarch64-manylinux_2_28"),
        ("osx-64", None, "x86_64-apple-darwin"),
        ("osx-arm64", None, "aarch64-apple-darwin"),
        ("win-64", None, "x86_64-pc-windows-msvc"),
    ],
)
def test_conda_platform_to_uv(platform: str, glibc: str | None, expected: str) -> None:
    assert conda_platform_to_uv(platform, glibc) == expected


@pytest.mark.parametrize(
    ("platform", "glibc"),
    [
        ("linux-ppc64le", None),
        ("emscripten-wasm32", None),
        ("linux-64", "2.12"),
        ("linux-64", "two"),
    ],
)
def test_conda_platform_to_uv_rejects(platform: str, glibc: str | None) -> None:
    with pytest.raises(InputError):
        conda_platform_to_uv(platform, glibc)


def test_target_tags_are_for_the_target_not_the_host() -> None:
    linux = {str(t) for t in make_target("linux-64", "3.11").tags}
    assert {"cp311-cp311-manylinux_2_28_x86_64", "cp311-abi3-manylinux_2_17_x86_64"} <= linux
    assert {"cp311-cp311-manylinux2014_x86_64", "py3-none-manylinux1_x86_64"} <= linux
    assert "py3-none-any" in linux
    assert not any("linux_x86_64" in t and "manylinux" not in t for t in linux)
    assert not any("manylinux_2_31" in t for t in linux)
    assert "cp311-cp311-manylinux_2_31_x86_64" in {
        str(t) for t in make_target("linux-64", "3.11", glibc="2.31").tags
    }
    arm = make_target("osx-arm64", "3.11")
    assert Tag("cp311", "cp311", "macosx_11_0_arm64") in arm.tag_rank
    assert not any("x86_64" in str(t) for t in arm.tags)
    assert Tag("cp311", "abi3", "macosx_13_0_arm64") in arm.tag_rank
    assert Tag("cp311", "abi3", "macosx_14_0_arm64") not in arm.tag_rank
    assert arm.uv_env == {"MACOSX_DEPLOYMENT_TARGET": "13.0"}
    strict = make_target("osx-arm64", "3.11", macos="11.0")
    assert Tag("cp311", "abi3", "macosx_12_0_arm64") not in strict.tag_rank
    win = make_target("win-64", "3.12")
    assert win.tags[0] == Tag("cp312", "cp312", "win_amd64")
    assert win.marker_env["sys_platform"] == "win32"
    # a specific wheel beats a generic one
    assert (
        win.tag_rank[Tag("cp312", "cp312", "win_amd64")] < win.tag_rank[Tag("py3", "none", "any")]
    )
    with pytest.raises(InputError):
        make_target("linux-64", "python3")


# --------------------------------------------------------------------------- options, mapping


def test_shipped_mapping_is_conda_lock_compatible() -> None:
    from conda_lock.lookup import pypi_name_to_conda_name

    raw = json.loads(MAPPING_PATH.read_text())
    assert list(raw) == sorted(raw)
    assert all(
        set(v) == {"conda_name", "pypi_name"} and v["pypi_name"] == k for k, v in raw.items()
    )
    assert pypi_name_to_conda_name("torch", mapping_url=str(MAPPING_PATH)) == "pytorch"
    assert pypi_name_to_conda_name("Typing_Extensions", mapping_url=str(MAPPING_PATH)) == (
        "typing_extensions"
    )
    mapping = load_mapping()
    assert mapping["tables"] == "pytables" and mapping["msgpack"] == "msgpack-python"
    assert "matplotlib" not in mapping  # exists under its own name on conda-forge
    assert load_mapping() == mapping and load_mapping() is not mapping


def test_load_mapping_user_file(tmp_path: Path) -> None:
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"Foo_Bar": "conda-foo", "baz": {"conda_name": "baz-c"}}))
    assert load_mapping(path) == {"foo-bar": "conda-foo", "baz": "baz-c"}
    path.write_text("[1, 2]")
    with pytest.raises(InputError):
        load_mapping(path)


def test_conda_to_pypi_names() -> None:
    names = conda_to_pypi_names(
        ["pytorch", "python-graphviz", "graphviz", "numpy", "ruamel.yaml", "psycopg2"],
        load_mapping(),
    )
    assert names == {
        "pytorch": "torch",
        "python-graphviz": "graphviz",
        # conda's graphviz is the C library: it provides no PyPI distribution
        "numpy": "numpy",
        "ruamel.yaml": "ruamel-yaml",
        "psycopg2": "psycopg2-binary",
    }
    provided = pipconda.conda_provided({"psycopg2": "2.9.9", "graphviz": "9.0.0"}, load_mapping())
    assert set(provided) == {"psycopg2", "psycopg2-binary"}


# --------------------------------------------------------------------------- locking


@pytest.mark.parametrize("platform", sorted(NATIVE_TAGS))
def test_lock_per_platform(
    platform: str, index_url: str, meta_index: Index, tmp_path: Path
) -> None:
    locked = _lock(["tinyapp", "TinyNative"], index_url, tmp_path, platform=platform)
    assert [p.name for p in locked] == sorted(p.name for p in locked)
    got = _by_name(locked)
    native = got["tinynative"]
    assert native.url.endswith(f"tinynative-0.1-{NATIVE_TAGS[platform]}.whl")
    wheel = meta_index.files / native.url.rsplit("/", 1)[1]
    assert native.sha256 == sha256_file(wheel)
    assert got["tinyapp"].version == "1.1"
    expected_deps = {"six": ">=1.16", "tinylib": ">=2"}
    if platform == "win-64":
        expected_deps["tinywin"] = ""  # sys_platform == "win32" holds only there
    assert got["tinyapp"].dependencies == expected_deps
    assert ("tinywin" in got) == (platform == "win-64")
    assert "tinyextra" not in got
    for package in locked:
        assert package.sha256 == sha256_file(meta_index.files / package.url.rsplit("/", 1)[1])


def test_extras_pull_in_their_dependencies(index_url: str, tmp_path: Path) -> None:
    got = _by_name(_lock(["tinyapp[x]==1.1"], index_url, tmp_path))
    assert got["tinyapp"].dependencies == {"six": ">=1.16", "tinyextra": "", "tinylib": ">=2"}
    assert "tinyextra" in got


def test_no_wheel_for_platform(index_url: str, tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        _lock(["tinynative"], index_url, tmp_path, platform="osx-64")
    line = info.value.one_line()
    assert line.startswith("environment.yml: pip requirement 'tinynative' on osx-64: ")
    assert "wheels only" in line


def test_sdist_only_is_an_input_error(index_url: str, tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        _lock(["tinysdist"], index_url, tmp_path, source="env.yml")
    line = info.value.one_line()
    assert line.startswith("env.yml: pip requirement 'tinysdist' on linux-64: ")
    assert "wheels only" in line and "--no-build" not in line


def test_linux_only_wheel_is_not_portable(index_url: str, tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        _lock(["tinylinux"], index_url, tmp_path)
    assert "no portable wheel for linux-64" in info.value.one_line()


def test_glibc_selects_manylinux(index_url: str, tmp_path: Path) -> None:
    with pytest.raises(InputError):
        _lock(["tinynew"], index_url, tmp_path)
    got = _lock(["tinynew"], index_url, tmp_path, glibc="2.31")
    assert got[0].url.endswith("manylinux_2_31_x86_64.whl")


def test_macos_deployment_target(index_url: str, tmp_path: Path) -> None:
    """uv and our tag set agree on the macOS version: 13.0 unless told otherwise."""
    with pytest.raises(InputError):
        _lock(["tinysonoma"], index_url, tmp_path, platform="osx-arm64")
    got = _lock(["tinysonoma"], index_url, tmp_path, platform="osx-arm64", macos="14.0")
    assert got[0].url.endswith("macosx_14_0_arm64.whl")


def test_unparsable_requirement(index_url: str, tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        _lock(["tinyapp", "foo>=>1"], index_url, tmp_path)
    line = info.value.one_line()
    assert line.startswith("environment.yml: pip requirement 'foo>=>1' on linux-64: ")
    assert "comparison operator" in line and "\n" not in line


@pytest.mark.parametrize("bad", ["--index-url http://x/simple", "tinyapp\n--pre"])
def test_option_lines_are_not_requirements(bad: str, index_url: str, tmp_path: Path) -> None:
    with pytest.raises(InputError):
        _lock([bad], index_url, tmp_path)


def test_unknown_package(index_url: str, tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        _lock(["tinyapp", "nonexistent-pkg"], index_url, tmp_path)
    assert "pip requirement 'nonexistent-pkg'" in info.value.one_line()


def test_empty_requirements_do_not_call_uv(tmp_path: Path) -> None:
    assert _lock([], "http://127.0.0.1:1/simple", tmp_path) == []


# --------------------------------------------------------------------------- conda


def test_conda_provided_packages_are_dropped(index_url: str, tmp_path: Path) -> None:
    conda = {"six": "1.16.0", "python": "3.11.7", "pip": "24.0", "openssl": "1.1.1w"}
    got = _by_name(_lock(["tinyapp"], index_url, tmp_path, conda_installed=conda))
    assert set(got) == {"tinyapp", "tinylib"}
    assert got["tinyapp"].version == "1.1"
    assert got["tinyapp"].dependencies["six"] == ">=1.16"  # still recorded as a dependency


def test_conda_version_missing_from_the_index(index_url: str, tmp_path: Path) -> None:
    """conda's six 1.16.9 is on no index: the pip solve still accepts it."""
    got = _by_name(
        _lock(["tinyapp", "six"], index_url, tmp_path, conda_installed={"six": "1.16.9"})
    )
    assert set(got) == {"tinyapp", "tinylib"}


def test_conda_version_constrains_the_pip_solve(index_url: str, tmp_path: Path) -> None:
    got = _by_name(_lock(["tinyapp"], index_url, tmp_path, conda_installed={"six": "1.15.0"}))
    assert got["tinyapp"].version == "1.0"  # 1.1 needs six>=1.16, conda has 1.15.0
    with pytest.raises(InputError) as info:
        _lock(["tinyapp>=1.1"], index_url, tmp_path, conda_installed={"six": "1.15.0"})
    line = info.value.one_line()
    assert line.startswith("environment.yml: pip requirement 'tinyapp>=1.1' on linux-64: ")
    assert "six" in line and "conda" in line and "1.15.0" in line


def test_conda_names_are_mapped(index_url: str, tmp_path: Path) -> None:
    """conda's `tinylib-conda` is PyPI's `tinylib` by a user mapping."""
    got = _by_name(
        _lock(
            ["tinyapp"],
            index_url,
            tmp_path,
            conda_installed={"tinylib-conda": "2.0", "six": "1.17.0"},
            mapping={"tinylib": "tinylib-conda"},
        )
    )
    assert set(got) == {"tinyapp"}


# --------------------------------------------------------------------------- network


def test_unreachable_index_is_infrastructure(tmp_path: Path) -> None:
    with pytest.raises(InfrastructureError) as info:
        _lock(["tinyapp"], "http://127.0.0.1:1/simple", tmp_path)
    assert info.value.exit_code == 3
    assert "unreachable" in info.value.one_line()


def test_dns_failure_is_infrastructure() -> None:
    stderr = (
        "error: Request failed after 3 retries in 4.7s\n"
        "  cause: Failed to fetch: http://u:p@nonexistent.invalid/simple/tinyapp/\n"
        "  cause: error sending request for url (http://nonexistent.invalid/simple/tinyapp/)\n"
        "  cause: dns error\n"
        "  cause: failed to lookup address information: Name or service not known\n"
    )
    proc = subprocess.CompletedProcess(["uv"], 2, "", stderr)
    with pytest.raises(InfrastructureError) as info:
        pipuv.raise_uv_failure(proc, ["tinyapp"], make_target("linux-64", "3.11"), {}, "e.yml")
    assert "Name or service not known" in info.value.one_line()
    assert "u:p@" not in info.value.one_line()


def test_credentials_work_and_never_leak(auth_url: str, tmp_path: Path) -> None:
    with_creds = auth_url.replace("http://", f"http://{USER}:{PASSWORD}@")
    locked = _lock(["tinyapp"], with_creds, tmp_path)
    assert {p.name for p in locked} == {"six", "tinyapp", "tinylib"}
    assert _by_name(locked)["tinyapp"].dependencies  # metadata was read with the credentials
    assert all(PASSWORD not in p.url and USER not in p.url for p in locked)
    assert PASSWORD not in repr(locked)


def test_credentials_from_environment_variable(
    auth_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INDEX_TOKEN", PASSWORD)
    url = auth_url.replace("http://", f"http://{USER}:${{INDEX_TOKEN}}@")
    assert [p.name for p in _lock(["tinylib"], url, tmp_path)] == ["tinylib"]
    monkeypatch.delenv("INDEX_TOKEN")
    with pytest.raises(InputError, match="INDEX_TOKEN"):
        _lock(["tinylib"], url, tmp_path)


def test_wrong_credentials_are_an_input_error(auth_url: str, tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        _lock(["tinyapp"], auth_url.replace("http://", f"http://{USER}:wrong-pw@"), tmp_path)
    line = info.value.one_line()
    assert "401" in line and "wrong-pw" not in line


# --------------------------------------------------------------------------- metadata paths


def test_metadata_from_pep658_sidecar(meta_index: Index, tmp_path: Path) -> None:
    with serve_with_ranges(meta_index.root) as served:
        got = _by_name(_lock(["tinyapp==1.1", "tinybig"], f"{served.url}/simple", tmp_path))
    assert got["tinyapp"].dependencies == {"six": ">=1.16", "tinylib": ">=2"}
    ours = [r for r in served.requests if r[1].endswith(".whl")]
    assert ours == []  # neither uv nor we touched a wheel: both read the sidecars


def test_metadata_by_range_requests(plain_index: Index, tmp_path: Path) -> None:
    with serve_with_ranges(plain_index.root) as served:
        url = f"{served.url}/simple"
        resolved = len(served.requests)
        got = _by_name(_lock(["tinybig"], url, tmp_path))
    big = plain_index.files / "tinybig-1.0-py3-none-any.whl"
    assert big.stat().st_size > 200_000
    assert got["tinybig"].sha256 == sha256_file(big)
    assert got["tinybig"].size is None  # sizes come from uv, i.e. from the index's JSON API
    seen = list(zip(served.requests, served.agents, strict=True))[resolved:]
    wheel = [(r, agent) for r, agent in seen if r[1].endswith("tinybig-1.0-py3-none-any.whl")]
    # uv downloads whole wheels from a server that does not advertise ranges; we then read
    # the tail (central directory) and the METADATA member: two ranges, never the file,
    # both sent by core.http's client (uv's requests say "uv/…")
    ours = [r for r, agent in wheel if agent == http.USER_AGENT]
    assert [r[2] for r, agent in wheel if agent != http.USER_AGENT] == [None]
    assert len(ours) == 2
    tail, member = (r[2] or "" for r in ours)
    assert tail == "bytes=-65536"
    start, end = map(int, member.removeprefix("bytes=").split("-"))
    assert end - start < 70_000 < big.stat().st_size - 65536


def test_range_reads_use_the_credential_store(
    plain_index: Index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Credentials only in the auth file: uv gets them in its environment, our range
    reads from the one store; neither the lock nor any error shows them."""
    with serve_with_ranges(plain_index.root, auth=(USER, PASSWORD)) as served:
        host = served.url.split("//", 1)[1]
        auth = tmp_path / "auth.json"
        auth.write_text(json.dumps({host: f"{USER}:{PASSWORD}"}))
        monkeypatch.setattr(credentials, "_CURRENT", credentials.Credentials(auth_file=auth))
        got = _by_name(_lock(["tinybig"], f"{served.url}/simple", tmp_path))
        ranged = [
            r
            for r, agent in zip(served.requests, served.agents, strict=True)
            if agent == http.USER_AGENT and r[1].endswith(".whl")
        ]
        monkeypatch.setattr(credentials, "_CURRENT", credentials.Credentials())
        pipmeta.clear_cache()
        with pytest.raises(InputError) as info:
            _lock(["tinybig"], f"{served.url}/simple", tmp_path / "anonymous")
    assert got["tinybig"].url == f"{served.url}/files/tinybig-1.0-py3-none-any.whl"
    assert [r[2] for r in ranged][0] == "bytes=-65536" and len(ranged) == 2
    assert PASSWORD not in repr(got) and USER not in got["tinybig"].url
    line = info.value.one_line()
    assert "401" in line and PASSWORD not in line


def test_metadata_by_full_download(plain_index: Index, tmp_path: Path) -> None:
    """A server without ranges or sidecars: the wheel is read whole and its hash checked."""
    with serve_directory(plain_index.root) as url:
        got = _by_name(_lock(["tinyapp==1.1"], f"{url}/simple", tmp_path))
    assert got["tinyapp"].dependencies == {"six": ">=1.16", "tinylib": ">=2"}


def test_tampered_wheel_is_a_finding(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "src", "tampered", "1.0")
    write_index(tmp_path / "index", [wheel])
    build_wheel(tmp_path / "index" / "files", "tampered", "1.0", payload_size=10)
    with serve_directory(tmp_path / "index") as url, pytest.raises(FindingsError) as info:
        _lock(["tampered"], f"{url}/simple", tmp_path)
    assert "sha256 mismatch" in info.value.one_line()


def test_file_urls_stay_absolute(meta_index: Index, tmp_path: Path) -> None:
    index = (meta_index.root / "simple").as_uri()
    got = _lock(["tinylib==2.0"], index, tmp_path)
    assert got[0].url == (meta_index.files / "tinylib-2.0-py3-none-any.whl").as_uri()
    direct = (meta_index.files / "tinylib-2.1-py3-none-any.whl").as_uri()
    got = _lock([f"tinylib @ {direct}"], index, tmp_path)
    assert got[0].url == direct and got[0].version == "2.1"


# --------------------------------------------------------------------------- determinism


def test_deterministic_and_thread_safe(index_url: str, tmp_path: Path) -> None:
    reqs = ["tinyapp[x]", "tinynative"]
    platforms = sorted(NATIVE_TAGS)
    first = [_lock(reqs, index_url, tmp_path / "a", platform=p) for p in platforms]
    pipmeta.clear_cache()
    with ThreadPoolExecutor(max_workers=3) as pool:
        second = list(
            pool.map(lambda p: _lock(reqs, index_url, tmp_path / "b", platform=p), platforms)
        )
    assert first == second
    cached = sorted((tmp_path / "a" / "cache" / "wheel-metadata").glob("*.METADATA"))
    assert {p.name.split(".")[0] for p in cached} == {p.sha256 for run in first for p in run}
    pipmeta.clear_cache()  # the third run reads METADATA from the disk cache
    assert [_lock(reqs, index_url, tmp_path / "a", platform=p) for p in platforms] == first


# --------------------------------------------------------------------------- real PyPI


@pytest.mark.pypi
def test_real_pypi_requests(tmp_path: Path) -> None:
    locked = lock_pip(
        ["requests"],
        platform="linux-64",
        python_version="3.11",
        conda_installed={"python": "3.11.7", "certifi": "2024.2.2"},
        cache_dir=tmp_path,
    )
    got = _by_name(locked)
    assert {"requests", "urllib3", "idna", "charset-normalizer"} <= set(got)
    assert "certifi" not in got  # conda provides it
    assert all(p.url.startswith("https://files.pythonhosted.org/") for p in locked)
    assert all(len(p.sha256) == 64 and p.size for p in locked)
    assert {"urllib3", "idna", "certifi"} <= set(got["requests"].dependencies)
    assert "pysocks" not in got["requests"].dependencies  # extra "socks" was not asked for
