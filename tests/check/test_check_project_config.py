"""A project whose environment is not `environment.yml`: `environment-files` in its
repro-audit.toml (or pyproject.toml) names them, and `lock`, `check` and `lock --check` at
the repository root all find the project by them, before and after it is locked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from audit.lockfile.projects import find_projects

from .conftest import cli_env

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"]


def _cli(cwd: Path, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "audit", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=cli_env(cache),
        timeout=120,
    )


@pytest.fixture
def repo(base_project: Path, tmp_path: Path) -> Path:
    """services/gpu: environment-gpu.yml and a repro-audit.toml naming it; not locked."""
    root = tmp_path / "repo"
    gpu = root / "services" / "gpu"
    gpu.mkdir(parents=True)
    (gpu / "environment-gpu.yml").write_text((base_project / "environment.yml").read_text())
    (gpu / "repro-audit.toml").write_text('environment-files = ["environment-gpu.yml"]\n')
    subprocess.run([*GIT, "init", "-q", "."], cwd=root, check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=root, check=True)
    return root


def _found(result: subprocess.CompletedProcess[str]) -> set[tuple[str, str]]:
    assert "Traceback" not in result.stderr, result.stderr
    return {(f["rule_id"], f["file"]) for f in json.loads(result.stdout)["findings"]}


def test_configured_files_make_the_project(repo: Path, check_cache: Path) -> None:
    projects = find_projects(
        repo, ("services/gpu/environment-gpu.yml", "services/gpu/repro-audit.toml")
    )
    assert [(p.dir, p.env_files, p.has_lock) for p in projects] == [
        ("services/gpu", ("services/gpu/environment-gpu.yml",), False)
    ]
    unlocked = _cli(repo, check_cache, "check", "--format", "json")
    assert ("RA001", "services/gpu/environment-gpu.yml") in _found(unlocked), unlocked.stdout
    gpu = repo / "services" / "gpu"
    locked = _cli(gpu, check_cache, "lock", "--cache-dir", str(check_cache))  # no -f
    assert locked.returncode == 0, locked.stderr
    assert "environment-gpu.yml" in (gpu / "conda-lock.yml").read_text()
    subprocess.run([*GIT, "add", "-A"], cwd=repo, check=True)
    clean = _cli(repo, check_cache, "check", "--format", "json")
    assert not {rule for rule, _ in _found(clean)} & {"RA001", "RA005", "RA037"}, clean.stdout
    assert _cli(repo, check_cache, "lock", "--check").returncode == 0
    env = gpu / "environment-gpu.yml"
    env.write_text(env.read_text().replace("  - six\n", "  - six >=1.16\n"))
    stale = _cli(repo, check_cache, "check", "--format", "json")
    assert ("RA005", "services/gpu/conda-lock.yml") in _found(stale), stale.stdout
    assert _cli(repo, check_cache, "lock", "--check").returncode == 1


def test_a_bad_environment_files_value_is_reported_at_its_line(
    repo: Path, check_cache: Path
) -> None:
    config = repo / "services" / "gpu" / "repro-audit.toml"
    config.write_text('# the GPU image\nenvironment-files = ["/abs/environment.yml"]\n')
    result = _cli(repo, check_cache, "check")
    assert "services/gpu/repro-audit.toml:2" in result.stdout + result.stderr, result.stdout
    assert "environment-files" in result.stdout + result.stderr
    assert result.returncode in (1, 2) and "Traceback" not in result.stderr
