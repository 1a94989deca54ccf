"""`lock` with a `pip:` section: conda solve first, then wheels per platform, end to end.

A local PEP 503 index of tiny real wheels served on 127.0.0.1 stands in for PyPI.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support.http import serve_directory
from support.pypi_index import build_wheel, write_index
from test_lock import run

NATIVE = {
    "linux-64": "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
    "osx-arm64": "cp311-cp311-macosx_11_0_arm64",
    "win-64": "cp311-cp311-win_amd64",
}


@pytest.fixture(scope="module")
def index_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("wheels")
    wheels = [
        build_wheel(src, "tinyapp", "1.1", requires_dist=["tinylib>=2", "six>=1.16"]),
        build_wheel(src, "tinylib", "2.0"),
        build_wheel(src, "tinylib", "2.1"),
        build_wheel(src, "six", "1.16.0"),
        *(build_wheel(src, "tinynative", "0.1", tag) for tag in NATIVE.values()),
    ]
    return write_index(tmp_path_factory.mktemp("index"), wheels)


@pytest.fixture(scope="module")
def index_url(index_root: Path) -> Iterator[str]:
    with serve_directory(index_root) as url:
        yield f"{url}/simple"


def env_text(channel: str, pip_lines: list[str]) -> str:
    pip = "".join(f"      - {line}\n" for line in pip_lines)
    return (
        f"channels:\n  - {channel}\ndependencies:\n  - python 3.11.*\n  - six 1.16.*\n"
        f"  - pip\n  - pip:\n{pip}platforms:\n" + "".join(f"  - {p}\n" for p in NATIVE)
    )


def pip_entries(lockfile: Path) -> dict[tuple[str, str], dict]:
    return {
        (p["platform"], p["name"]): p
        for p in yaml.safe_load(lockfile.read_text())["package"]
        if p["manager"] == "pip"
    }


def test_pip_section_locked_per_platform(tmp_path: Path, channel_url: str, index_url: str) -> None:
    (tmp_path / "environment.yml").write_text(
        env_text(channel_url, ["tinyapp ==1.1", "tinynative"])
    )
    result = run(["lock", "--pypi-index-url", index_url], tmp_path)
    assert result.returncode == 0, result.stderr
    entries = pip_entries(tmp_path / "conda-lock.yml")
    for platform, tag in NATIVE.items():
        assert entries[(platform, "tinyapp")]["version"] == "1.1"
        assert entries[(platform, "tinylib")]["version"] == "2.1"
        native = entries[(platform, "tinynative")]
        assert native["url"].endswith(f"tinynative-0.1-{tag}.whl")
        # six comes from conda (six 1.16.* in the conda specs): not locked twice
        assert (platform, "six") not in entries
        assert entries[(platform, "tinyapp")]["dependencies"] == {"six": ">=1.16", "tinylib": ">=2"}
    # the sha256 in the lock is the wheel's
    wheel = entries[("linux-64", "tinynative")]
    import urllib.request

    with urllib.request.urlopen(wheel["url"]) as response:
        assert hashlib.sha256(response.read()).hexdigest() == wheel["hash"]["sha256"]
    explicit = (tmp_path / "conda-linux-64.lock").read_text()
    assert "# pip tinyapp @ " in explicit


def test_index_url_line_in_pip_section(tmp_path: Path, channel_url: str, index_url: str) -> None:
    """`--index-url` inside `pip:` is legal for pip; conda-lock's parser would choke on it."""
    (tmp_path / "environment.yml").write_text(
        env_text(channel_url, [f"--index-url {index_url}", "tinylib <2.1"])
    )
    result = run(["lock", "-p", "linux-64"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert pip_entries(tmp_path / "conda-lock.yml")[("linux-64", "tinylib")]["version"] == "2.0"


def test_unresolvable_pip_requirement_is_clear(
    tmp_path: Path, channel_url: str, index_url: str
) -> None:
    (tmp_path / "environment.yml").write_text(env_text(channel_url, ["tinylib >=9"]))
    result = run(["lock", "-p", "linux-64", "--pypi-index-url", index_url], tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "tinylib" in result.stderr and "linux-64" in result.stderr
    assert not (tmp_path / "conda-lock.yml").exists()


def test_changed_index_url_makes_the_lock_stale(
    tmp_path: Path, channel_url: str, index_url: str, index_root: Path
) -> None:
    """conda-lock's content hash ignores pip index options; the lock must not."""
    env = tmp_path / "environment.yml"
    env.write_text(env_text(channel_url, [f"--index-url {index_url}", "tinylib <2.1"]))
    assert run(["lock", "-p", "linux-64"], tmp_path).returncode == 0
    assert run(["lock", "-p", "linux-64", "--check"], tmp_path).returncode == 0
    with serve_directory(index_root) as other:
        env.write_text(env_text(channel_url, [f"--index-url {other}/simple", "tinylib <2.1"]))
        stale = run(["lock", "-p", "linux-64", "--check"], tmp_path)
        assert stale.returncode == 1, stale.stdout + stale.stderr
        assert "resolution options changed" in stale.stdout + stale.stderr
        gate = run(["check", "."], tmp_path)
        assert gate.returncode == 1 and "RA005" in gate.stdout, gate.stdout + gate.stderr
        assert run(["lock", "-p", "linux-64"], tmp_path).returncode == 0
        url = pip_entries(tmp_path / "conda-lock.yml")[("linux-64", "tinylib")]["url"]
        assert url.startswith(other), url
    # --pypi-index-url is an input too (for lock; check cannot know the command line)
    moved = run(["lock", "-p", "linux-64", "--check", "--pypi-index-url", index_url], tmp_path)
    assert moved.returncode == 1, moved.stdout + moved.stderr
    assert run(["lock", "-p", "linux-64", "--pypi-index-url", index_url], tmp_path).returncode == 0
    gate = run(["check", "."], tmp_path)
    assert "RA005" not in gate.stdout, gate.stdout
