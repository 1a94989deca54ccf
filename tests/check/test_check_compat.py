"""The light readers of `check` agree with the heavy ones they stand in for.

- audit.envfile.lines (the reader of lock and check, no conda-lock) vs conda-lock's parser on
  conda-lock's own environment.yml fixture corpus: same conda and pip package names per platform.
- audit.lockfile.scan (line scanner) vs a YAML load on real conda-lock.yml files.
- --online against a private file:// channel with one package deleted.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from support import make_channel

from audit.core.platforms import DEFAULT_PLATFORMS
from audit.envfile.condaspec import parse_conda_spec
from audit.envfile.lines import filter_selectors, pip_name, read_envfiles
from audit.lockfile.scan import scan_lock

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
ENVS = DATA / "envs-conda-lock"
LOCKS = DATA / "lockfiles" / "conda-lock"


def _need(path: Path) -> None:
    if not path.is_dir():
        pytest.skip(f"{path} is absent (the shared reference data is not mounted)")


def _env_files() -> list[Path]:
    if not ENVS.is_dir():
        return []
    return sorted(p for p in ENVS.rglob("*.y*ml") if "environment" in p.name)


def _name(spec: str) -> str:
    return re.split(r"[\s<>=!~\[;@]", spec.split("::", 1)[-1].strip(), maxsplit=1)[0].lower()


def _pep503(name: str) -> str:
    return re.sub(r"[-_.]+", "-", _name(name)).lower()


@pytest.mark.parametrize("path", _env_files(), ids=lambda p: str(p.relative_to(ENVS)))
def test_envfile_matches_conda_lock_parser(path: Path) -> None:
    from audit.core.errors import InputError
    from audit.envfile.spec import load_spec

    try:
        spec = load_spec([path])
    except InputError as exc:
        pytest.skip(f"conda-lock's parser refuses it too: {exc.one_line()}")
    env = read_envfiles([path], [path.name], spec.platforms)
    assert spec.lock_spec is not None
    for platform in spec.platforms:
        deps = spec.lock_spec.dependencies[platform]
        theirs_conda = {d.name.lower() for d in deps if d.manager == "conda"}
        assert {parse_conda_spec(s.value).name for s in env.conda[platform]} == theirs_conda
        ours = sorted({pip_name(s.value) for s in env.pip[platform]})
        theirs = sorted({_pep503(d.name) for d in deps if d.manager == "pip"})
        assert ours == theirs, platform
    assert env.platform_names == tuple(spec.platforms) or spec.platforms == DEFAULT_PLATFORMS


def test_selector_filter_keeps_line_numbers() -> None:
    text = "dependencies:\n  - a  # [linux]\n  - b  # [win]\n  # comment\n  - c\n"
    assert filter_selectors(text, "win-64").splitlines() == [
        "dependencies:",
        "",
        "  - b  # [win]",
        "",
        "  - c",
    ]


@pytest.mark.parametrize(
    "path", sorted(LOCKS.rglob("*.yml")) if LOCKS.is_dir() else [], ids=lambda p: p.name
)
def test_lockscan_matches_yaml(path: Path) -> None:
    text = path.read_text()
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or "package" not in data or data.get("version") != 1:
        pytest.skip("not a conda-lock v1 file")
    scanned = scan_lock(text)
    expected = [
        (
            p["name"],
            str(p["version"]),
            p["manager"],
            p["platform"],
            p["url"],
            p.get("hash", {}).get("sha256") or "",
            sorted(p.get("dependencies") or {}),
        )
        for p in data["package"]
    ]
    got = [
        (
            e.name,
            e.version,
            e.manager,
            e.platform,
            e.url,
            e.hashes.get("sha256", ""),
            sorted(e.depends),
        )
        for e in scanned.entries
    ]
    assert got == expected
    lines = text.splitlines()
    for entry in scanned.entries:
        assert lines[entry.line - 1].lstrip().startswith("- ")
    assert yaml.safe_load(scanned.head)["metadata"] == data["metadata"]


def test_online_reports_a_vanished_artifact(tmp_path: Path, run) -> None:
    """A private channel; one locked package file deleted → RA017 at its lock line."""
    import subprocess
    import sys

    channel = make_channel.build_channel(tmp_path / "channel")
    project = tmp_path / "project"
    project.mkdir()
    (project / "environment.yml").write_text(
        f"channels:\n  - {channel.as_uri()}\ndependencies:\n  - six\nplatforms:\n  - linux-64\n"
    )
    subprocess.run(
        [sys.executable, "-m", "audit", "lock", "--cache-dir", str(tmp_path / "cache")],
        cwd=project,
        check=True,
        capture_output=True,
    )
    result = run(project, "--online", "--format", "json")
    assert (result.returncode, json.loads(result.stdout)["findings"]) == (0, [])
    assert json.loads(result.stdout)["online"]["checked"] >= 2
    for package in (channel / "noarch").glob("six-*"):
        package.unlink()
    result = run(project, "--online", "--format", "json")
    data = json.loads(result.stdout)
    assert result.returncode == 1
    assert [(f["rule_id"], f["file"]) for f in data["findings"]] == [("RA017", "conda-lock.yml")]
    line = data["findings"][0]["line"]
    assert (project / "conda-lock.yml").read_text().splitlines()[line - 1] == "- name: six"
    shutil.rmtree(channel)


def test_online_unreachable_everything_exits_3(project: Path, run) -> None:
    """Nothing could be checked (no route to the registry or channel): infrastructure, 3."""
    lock = project / "conda-lock.yml"
    text = re.sub(r"url: file://\S+", "url: http://127.0.0.1:9/x.conda", lock.read_text())
    lock.write_text(text)
    for explicit in project.glob("conda-*.lock"):
        explicit.unlink()
    (project / "Dockerfile").unlink()
    (project / "image-lock.json").unlink()
    result = run(project, "--online", "--timeout", "2", "--format", "json")
    data = json.loads(result.stdout)
    assert data["online"]["checked"] == 0 and data["online"]["unreachable"] > 0
    assert result.returncode == 3


def test_online_reports_a_vanished_base_digest(tmp_path: Path, run) -> None:
    """A pinned base whose digest is deleted from its (real) registry → RA018 at its FROM."""
    import subprocess
    import sys

    from support.docker import require_tool
    from support.registry import LocalRegistry, StaticCredentials, push_image

    from audit.registry.client import RegistryClient

    require_tool("docker-registry")
    registry = LocalRegistry(tmp_path / "registry").start()
    try:
        client = RegistryClient(credentials=StaticCredentials(), backoff=0.01)
        push_image(client, registry.host, "check/base", "1", seed="online")
        project = tmp_path / "project"
        project.mkdir()
        (project / "Dockerfile").write_text(f"FROM {registry.host}/check/base:1\nRUN true\n")
        pinned = subprocess.run(
            [sys.executable, "-m", "audit", "pin", "-f", "Dockerfile"],
            cwd=project,
            capture_output=True,
            text=True,
        )
        assert pinned.returncode == 0, pinned.stderr
        digest = (project / "Dockerfile").read_text().split("@", 1)[1].split()[0]
        result = run(project, "--online", "--format", "json")
        data = json.loads(result.stdout)
        assert (result.returncode, data["findings"]) == (0, []), result.stderr
        assert data["online"]["checked"] == 1
        assert registry.delete_manifest("check/base", digest) == 202
        result = run(project, "--online", "--format", "json")
        data = json.loads(result.stdout)
        assert result.returncode == 1
        assert [(f["rule_id"], f["file"], f["line"]) for f in data["findings"]] == [
            ("RA018", "Dockerfile", 1)
        ]
        assert digest in data["findings"][0]["message"]
    finally:
        registry.stop()
