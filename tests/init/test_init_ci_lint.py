"""The CI files `init` writes pass the ecosystems' own linters: actionlint for GitHub
Actions, GitLab's CI schema (check-jsonschema's vendored copy, no network) for GitLab."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from init_helpers import Init, git

from audit.init.templates import GITHUB_GATE, GITHUB_SCHEDULED, GITLAB_JOBS


def tool(name: str) -> str:
    """A linter of the `test` extra: beside this Python, or on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    assert found, f"{name} is missing: pip install -e '.[test]'"
    return found


def actionlint(root: Path, *files: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("actionlint"), "-no-color", "-oneline", *files],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )


def gitlab_schema(root: Path, *files: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", *files],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )


def _monorepo(repo: Path) -> None:
    """Two environments, one in a folder whose name YAML would misread unquoted."""
    for folder in ("services/api", "models/a: b #1"):
        (repo / folder).mkdir(parents=True)
        (repo / folder / "environment.yml").write_text("name: x\ndependencies: [python]\n")


@pytest.mark.parametrize("flags", [[], ["--sarif", "--record", "out/build record.json"]])
def test_github_workflows_pass_actionlint(repo: Path, init: Init, flags: list[str]) -> None:
    _monorepo(repo)
    done = init(repo, "--ci", "github", *flags)
    assert done.returncode == 0, done.stderr
    lint = actionlint(repo, GITHUB_GATE, GITHUB_SCHEDULED)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    scheduled = (repo / GITHUB_SCHEDULED).read_text()
    assert "--lockfile services/api/conda-lock.yml -f services/api/environment.yml" in scheduled
    assert "-f 'models/a: b #1/environment.yml' --report drift-models-a-b-1.html" in scheduled


def test_actionlint_catches_a_broken_workflow(repo: Path) -> None:
    """The linter the test above trusts does find errors."""
    bad = repo / ".github/workflows/bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text("on: pull_request\njobs:\n  a:\n    steps:\n      - run: echo ${{ nope }}\n")
    lint = actionlint(repo, ".github/workflows/bad.yml")
    assert lint.returncode == 1 and "runs-on" in lint.stdout


def test_gitlab_jobs_match_gitlab_ci_schema(repo: Path, init: Init) -> None:
    _monorepo(repo)
    (repo / ".gitlab-ci.yml").write_text(
        "stages: [build]\nbuild:\n  stage: build\n  script: [make]\n"
    )
    done = init(repo, "--ci", "gitlab")
    assert done.returncode == 0, done.stderr
    checked = gitlab_schema(repo, ".gitlab-ci.yml", GITLAB_JOBS)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    fresh = repo.parent / "fresh"
    fresh.mkdir()
    git(fresh, "init", "-q")
    assert init(fresh, "--ci", "gitlab").returncode == 0
    checked = gitlab_schema(fresh, ".gitlab-ci.yml", GITLAB_JOBS)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_gitlab_schema_catches_a_broken_job(repo: Path) -> None:
    (repo / "bad.yml").write_text("job:\n  script: 3\n  rules: {if: x}\n")
    assert gitlab_schema(repo, "bad.yml").returncode == 1
