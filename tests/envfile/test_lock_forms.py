"""Real solves on the fixture channel for the spec forms conda accepts, and a pip section
with `-r`, `--hash` and `URL#sha256=` against a local index served on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support.http import serve_directory
from support.pypi_index import build_wheel, sha256_file, write_index
from test_lock import run

from audit.lockfile.condalock import lock_variables, read_metadata


def locked(lockfile: Path, manager: str = "conda") -> dict[str, dict]:
    data = yaml.safe_load(lockfile.read_text())
    return {p["name"]: p for p in data["package"] if p["manager"] == manager}


def write(path: Path, channel: str, body: str) -> None:
    path.write_text(f"channels:\n  - {channel}\ndependencies:\n{body}platforms:\n  - linux-64\n")


def test_conda_forms_solve_as_conda_reads_them(tmp_path: Path, channel_url: str) -> None:
    write(
        tmp_path / "environment.yml",
        channel_url,
        "  - python=3.11.9=h9f0c242_0_cpython\n"  # conda env export: name=version=build
        "  - numpy==1.26.4\n"
        "  - libzlib[version='>=1.2,<1.3', build_number=0]\n"
        "  - six >=1.15\n"
        "  - six 1.15.*\n"  # a second spec for six: the constraints merge
        "  - tzdata=2024a\n"
        "  - sel(win): conflicts-with-six\n"  # mamba selector: not on linux-64
        "variables:\n  MY_FLAG: 1\n  OTHER: 'a b'\n",
    )
    result = run(["lock"], tmp_path)
    assert result.returncode == 0, result.stderr
    got = locked(tmp_path / "conda-lock.yml")
    assert (got["python"]["version"], got["python"]["build"]) == ("3.11.9", "h9f0c242_0_cpython")
    assert got["numpy"]["version"] == "1.26.4"
    assert (got["libzlib"]["version"], got["libzlib"]["build"]) == ("1.2.13", "h4ab18f5_0")
    assert got["six"]["version"] == "1.15.0"
    assert "conflicts-with-six" not in got
    assert lock_variables(tmp_path / "conda-lock.yml") == {"MY_FLAG": "1", "OTHER": "a b"}


def test_conflicting_duplicates_name_both_lines(tmp_path: Path, channel_url: str) -> None:
    write(
        tmp_path / "environment.yml",
        channel_url,
        "  - six >=1.16\n  - python 3.11.*\n  - six 1.15.*\n",
    )
    result = run(["lock"], tmp_path)
    assert result.returncode == 2, result.stderr
    assert "environment.yml:4, environment.yml:6: cannot solve on linux-64" in result.stderr
    assert "Traceback" not in result.stderr


def test_extras_bracket_warns_and_locks(tmp_path: Path, channel_url: str) -> None:
    write(tmp_path / "environment.yml", channel_url, "  - six[complete]\n")
    result = run(["lock"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "warning: environment.yml:4: 'six[complete]': conda ignores [complete]" in result.stderr
    assert "six" in locked(tmp_path / "conda-lock.yml")


def test_pip_package_keeps_its_constraint(tmp_path: Path, channel_url: str) -> None:
    write(
        tmp_path / "environment.yml",
        channel_url,
        "  - python 3.11.*\n  - pip >=99\n  - pip:\n    - -e .\n",
    )
    result = run(["lock"], tmp_path)
    assert result.returncode == 2, result.stderr
    assert "pip >=99" in result.stderr


# --------------------------------------------------------------------------- pip section


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Path]]]:
    src = tmp_path_factory.mktemp("wheels")
    wheels = {
        "tinyapp": build_wheel(src, "tinyapp", "1.1", requires_dist=["tinylib>=2"]),
        "tinylib": build_wheel(src, "tinylib", "2.0"),
    }
    root = write_index(tmp_path_factory.mktemp("index"), wheels.values())
    with serve_directory(root) as url:
        yield url, wheels


def _pip_env(tmp_path: Path, channel: str, index_url: str, lines: list[str]) -> None:
    body = "  - python 3.11.*\n  - pip\n  - pip:\n" + "".join(f"    - {x}\n" for x in lines)
    write(tmp_path / "environment.yml", channel, body.replace("INDEX", f"{index_url}/simple"))


def test_pip_dash_r_hash_and_url_sha256(
    tmp_path: Path, channel_url: str, index: tuple[str, dict[str, Path]]
) -> None:
    url, wheels = index
    lib, app = sha256_file(wheels["tinylib"]), sha256_file(wheels["tinyapp"])
    (tmp_path / "reqs").mkdir()
    (tmp_path / "reqs" / "pins.txt").write_text(f"tinylib==2.0 --hash=sha256:{lib}\n")
    app_url = f"{url}/files/{wheels['tinyapp'].name}#sha256={app}"
    _pip_env(
        tmp_path,
        channel_url,
        url,
        ["--index-url INDEX", "-r reqs/pins.txt", f"tinyapp @ {app_url}", "-e ."],
    )
    result = run(["lock"], tmp_path)
    assert result.returncode == 0, result.stderr
    pip = locked(tmp_path / "conda-lock.yml", "pip")
    assert pip["tinylib"]["hash"]["sha256"] == lib
    assert pip["tinyapp"]["hash"]["sha256"] == app
    assert "environment.yml:10: -e .: local source, not locked" in result.stderr
    meta = read_metadata(tmp_path / "conda-lock.yml")
    assert meta is not None and meta.pip_local_sources == ["environment.yml:10: -e ."]


@pytest.mark.parametrize("where", ["hash", "url"])
def test_wrong_pip_hash_fails_the_lock(
    tmp_path: Path, channel_url: str, index: tuple[str, dict[str, Path]], where: str
) -> None:
    url, wheels = index
    wrong = "0" * 64
    if where == "hash":
        line = f"tinylib==2.0 --hash=sha256:{wrong}"
    else:
        line = f"tinylib @ {url}/files/{wheels['tinylib'].name}#sha256={wrong}"
    _pip_env(tmp_path, channel_url, url, ["--index-url INDEX", line])
    result = run(["lock"], tmp_path)
    assert result.returncode == 1, result.stderr  # a hash mismatch, like build's
    assert "Traceback" not in result.stderr
    assert "error: environment.yml:8: sha256 mismatch" in result.stderr
    assert "sha256 mismatch" in result.stderr and wrong in result.stderr
    assert not (tmp_path / "conda-lock.yml").exists()


def test_single_equals_in_pip_names_line_and_fix(tmp_path: Path, channel_url: str) -> None:
    _pip_env(tmp_path, channel_url, "http://127.0.0.1:9", ["tensorflow-data-validation=0.15.0"])
    result = run(["lock"], tmp_path)
    assert result.returncode == 2
    assert "environment.yml:7: invalid pip requirement 'tensorflow-data-validation=0.15.0'" in (
        result.stderr
    )
    assert "pip needs ==: tensorflow-data-validation==0.15.0" in result.stderr


def test_changed_variables_or_duplicates_make_the_lock_stale(
    tmp_path: Path, channel_url: str
) -> None:
    """conda-lock's content hash sees neither; the lock's hash must."""
    env = tmp_path / "environment.yml"
    write(env, channel_url, "  - six >=1.15\n  - six 1.16.*\nvariables:\n  A: '1'\n")
    assert run(["lock"], tmp_path).returncode == 0
    assert run(["lock", "--check"], tmp_path).returncode == 0
    for body in (
        "  - six >=1.15\n  - six 1.16.*\nvariables:\n  A: '2'\n",
        "  - six >=1.14\n  - six 1.16.*\nvariables:\n  A: '1'\n",
    ):
        write(env, channel_url, body)
        result = run(["lock", "--check"], tmp_path)
        assert result.returncode == 1, (body, result.stderr)
        assert "content hash differs" in result.stderr
