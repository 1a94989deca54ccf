"""`check` at the root of a repository gates every project in it, as git lists the files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from audit.lockfile.projects import find_projects, lock_sources

Run = Callable[..., subprocess.CompletedProcess[str]]
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"]


def git(repo: Path, *args: str) -> None:
    subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def monorepo(base_project: Path, tmp_path: Path) -> Path:
    """services/a and services/b, each a clean locked project, committed."""
    repo = tmp_path / "repo"
    for name in ("a", "b"):
        shutil.copytree(base_project, repo / "services" / name)
    (repo / ".gitignore").write_text("build/\n")
    (repo / "build" / "out").mkdir(parents=True)
    (repo / "build" / "out" / "Dockerfile").write_text("FROM python:3.11\n")  # ignored
    git(repo, "init", "-q", ".")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "two services")
    return repo


def report(result: subprocess.CompletedProcess[str]) -> dict:
    assert "Traceback" not in result.stderr, result.stderr
    data = json.loads(result.stdout)
    assert data["exit_code"] == result.returncode
    return data


def found(data: dict) -> list[tuple[str, str, int | None]]:
    return [(f["rule_id"], f["file"], f["line"]) for f in data["findings"]]


def test_clean_monorepo_checks_every_project_and_skips_ignored(monorepo: Path, run: Run) -> None:
    data = report(run(monorepo, "--format", "json"))
    assert (data["exit_code"], data["findings"]) == (0, [])
    assert data["projects"] == ["services/a", "services/b"]
    assert "services/b/conda-lock.yml" in data["files"]
    assert not any(f.startswith("build/") for f in data["files"])


def test_stale_and_broken_projects_both_reported_in_sarif(
    monorepo: Path, run: Run, validator
) -> None:
    env_a = monorepo / "services" / "a" / "environment.yml"
    env_a.write_text(env_a.read_text().replace("  - six\n", "  - six >=1.16\n"))
    (monorepo / "services" / "b" / "environment.yml").write_text("name: b\ndependencies: [six\n")
    result = run(monorepo, "--format", "sarif")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert not sorted(validator.iter_errors(document), key=str)
    results = document["runs"][0]["results"]
    where = {
        (
            r["ruleId"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"].get("region", {}).get("startLine"),
        )
        for r in results
    }
    assert any(rule == "RA005" and uri == "services/a/conda-lock.yml" for rule, uri, _ in where)
    assert ("RA037", "services/b/environment.yml", 3) in where
    assert document["runs"][0]["invocations"][0]["executionSuccessful"] is True


def test_untracked_project_is_checked_ignored_one_is_not(monorepo: Path, run: Run) -> None:
    new = monorepo / "services" / "c"
    new.mkdir()
    (new / "environment.yml").write_text("name: c\ndependencies:\n  - six\n")
    ignored = monorepo / "build" / "env"
    ignored.mkdir()
    (ignored / "environment.yml").write_text("name: x\ndependencies:\n  - six\n")
    data = report(run(monorepo, "--format", "json"))
    assert found(data) == [("RA001", "services/c/environment.yml", None)]
    assert data["projects"] == ["services/a", "services/b", "services/c"]


def test_checking_a_folder_git_ignores_reads_its_files(monorepo: Path, run: Run) -> None:
    """From the root, an ignored folder is skipped; named itself, it is what is checked."""
    ignored = monorepo / "build" / "env"
    ignored.mkdir()
    (ignored / "environment.yml").write_text("name: x\ndependencies:\n  - six\n")
    data = report(run(ignored, "--format", "json"))
    assert found(data) == [("RA001", "build/env/environment.yml", None)]  # named from the top


def test_changed_since_and_file_arguments_select_projects(monorepo: Path, run: Run) -> None:
    dockerfile = monorepo / "services" / "b" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "RUN apt-get install -y curl\n")
    data = report(run(monorepo, "--format", "json", "--changed-since", "HEAD"))
    assert data["projects"] == ["services/b"]
    assert found(data) == [("RA026", "services/b/Dockerfile", 3)]
    git(monorepo, "commit", "-qam", "curl")
    data = report(run(monorepo, "--format", "json", "--changed-since", "HEAD"))
    assert (data["projects"], data["exit_code"]) == ([], 0)
    data = report(run(monorepo, "--format", "json", "--changed-since", "HEAD~1"))
    assert data["projects"] == ["services/b"]
    bad = run(monorepo, "--changed-since", "no-such-rev")
    assert bad.returncode == 2 and "unknown revision" in bad.stderr
    # what pre-commit passes: file names relative to the repository root
    files = subprocess.run(
        [sys.executable, "-m", "audit", "check", "--format", "json", "services/a/environment.yml"],
        cwd=monorepo,
        capture_output=True,
        text=True,
    )
    assert report(files)["projects"] == ["services/a"]


def test_root_policy_governs_projects_nearest_wins(monorepo: Path, run: Run) -> None:
    (monorepo / "repro-audit.toml").write_text('required-platforms = ["osx-arm64"]\n')
    (monorepo / "services" / "b" / "repro-audit.toml").write_text("disable-rules = []\n")
    data = report(run(monorepo, "--format", "json"))
    assert [(r, f) for r, f, _ in found(data)] == [("RA015", "services/a/conda-lock.yml")]
    assert "(repro-audit.toml:1)" in data["findings"][0]["message"]
    # checking one project finds the same policy above it
    data = report(run(monorepo / "services" / "a", "--format", "json"))
    assert [(r, f) for r, f, _ in found(data)] == [("RA015", "services/a/conda-lock.yml")]


def test_outside_git_the_folder_is_walked(monorepo: Path, run: Run) -> None:
    shutil.rmtree(monorepo / ".git")
    data = report(run(monorepo, "--format", "json"))
    assert data["projects"] == [".", "services/a", "services/b"]  # build/ is walked now
    assert found(data) == [("RA011", "build/out/Dockerfile", 1)]


def test_a_lock_claims_the_environment_files_it_names(tmp_path: Path) -> None:
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "environment.yml").write_text("dependencies: []\n")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "conda-lock.yml").write_text(
        "version: 1\nmetadata:\n  sources:\n  - ../envs/environment.yml\npackage: []\n"
    )
    assert lock_sources(tmp_path / "app" / "conda-lock.yml") == ("../envs/environment.yml",)
    paths = ("app/conda-lock.yml", "envs/environment.yml")
    projects = find_projects(tmp_path, paths)
    assert [(p.dir, p.env_files) for p in projects] == [("app", ("envs/environment.yml",))]


def test_lock_sources_in_any_yaml_form_or_broken(tmp_path: Path) -> None:
    """Sources not in the block list conda-lock writes go through the YAML guard."""
    lock = tmp_path / "conda-lock.yml"
    lock.write_text("version: 1\nmetadata:\n  sources: [env/a.yml, b.yml]\npackage: []\n")
    assert lock_sources(lock) == ("env/a.yml", "b.yml")
    lock.write_text("version: 1\nmetadata:\n  sources: [a.yml\npackage: []\n")
    assert lock_sources(lock) is None  # does not parse: the conda rules say so
    bomb = ["  x0: &a0 [l, l, l, l, l, l, l, l, l, l]"]
    bomb += [f"  x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    lock.write_text("\n".join(["metadata:", *bomb, "  sources: [*a8]", "package: []", ""]))
    assert lock_sources(lock) is None  # refused by the guard, not expanded


def test_lock_check_at_the_root_checks_every_project(monorepo: Path, check_cache: Path) -> None:
    from .conftest import cli_env

    def lock(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "audit", "lock", *args],
            cwd=monorepo,
            capture_output=True,
            text=True,
            env=cli_env(check_cache),
            timeout=120,
        )

    clean = lock("--check")
    assert clean.returncode == 0, clean.stderr
    assert clean.stderr.count("is current") == 2
    env_a = monorepo / "services" / "a" / "environment.yml"
    env_a.write_text(env_a.read_text().replace("  - six\n", "  - six >=1.16\n"))
    stale = lock("--check", "--format", "json")
    data = json.loads(stale.stdout)
    assert (stale.returncode, data["exit_code"]) == (1, 1)
    assert [(p["project"], p["status"]) for p in data["projects"]] == [
        ("services/a", "stale"),
        ("services/b", "current"),
    ]
    (monorepo / "services" / "b" / "environment.yml").write_text("dependencies: [six\n")
    broken = lock("--check")
    assert broken.returncode == 2 and "Traceback" not in broken.stderr
    assert "services/a/conda-lock.yml is stale" in broken.stderr
    assert "error: services/b/environment.yml:2" in broken.stderr
    writing = lock()
    assert writing.returncode == 2
    assert "the projects below are services/a, services/b" in writing.stderr
