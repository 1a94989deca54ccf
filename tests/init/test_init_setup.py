"""`repro-audit init` in a real git repository: what it writes, merges, refuses."""

from __future__ import annotations

from pathlib import Path

import yaml
from init_helpers import ROOT, Init, git, snapshot

from audit import __version__
from audit.init.templates import DRIVER_COMMAND, GITHUB_GATE, GITHUB_SCHEDULED, HOOK_ID

ENV = "name: t\nchannels:\n  - conda-forge\ndependencies:\n  - python 3.12.*\n"


def test_dry_run_writes_nothing_and_shows_every_change(repo: Path, init: Init) -> None:
    (repo / "environment.yml").write_text(ENV)
    before = snapshot(repo)
    done = init(repo, "--dry-run", "--ci", "github")
    assert done.returncode == 0, done.stderr
    assert snapshot(repo) == before
    out = done.stdout
    for path in (".gitattributes", ".pre-commit-config.yaml", GITHUB_GATE, GITHUB_SCHEDULED):
        assert f"--- /dev/null\n+++ b/{path}\n" in out
    assert "+conda-lock.yml merge=repro-audit-lock\n" in out
    assert "+conda-*.lock merge=repro-audit-lock\n" in out
    assert f"git config --local merge.repro-audit-lock.driver '{DRIVER_COMMAND}'\n" in out
    assert "nothing written" in out.splitlines()[-1]


def test_second_run_changes_nothing_and_says_so(repo: Path, init: Init) -> None:
    (repo / "environment.yml").write_text(ENV)
    first = init(repo, "--ci", "github", "--ci", "gitlab")
    assert first.returncode == 0, first.stderr
    assert "created .gitattributes" in first.stdout
    after_first = snapshot(repo)
    second = init(repo, "--ci", "github", "--ci", "gitlab")
    assert second.returncode == 0, second.stderr
    assert second.stdout == "nothing to change: the repository is set up\n"
    assert snapshot(repo) == after_first
    dry = init(repo, "--dry-run", "--ci", "github", "--ci", "gitlab")
    assert dry.stdout == "nothing to change: the repository is set up\n"


def test_driver_applies_to_every_lock_file_and_is_configured(repo: Path, init: Init) -> None:
    assert init(repo, "--ci", "none").returncode == 0
    for path in ("conda-lock.yml", "conda-linux-64.lock", "services/ml/conda-osx-arm64.lock"):
        assert (
            git(repo, "check-attr", "merge", "--", path).strip().endswith("merge: repro-audit-lock")
        )
    assert git(repo, "check-attr", "merge", "--", "environment.yml").strip().endswith("unspecified")
    assert git(repo, "config", "--local", "merge.repro-audit-lock.driver").strip() == (
        DRIVER_COMMAND
    )


def test_merges_into_an_existing_gitattributes(repo: Path, init: Init) -> None:
    (repo / ".gitattributes").write_text(
        "*.png binary\n# keep me\n**/conda-lock.yml merge=repro-audit-lock"
    )
    assert init(repo, "--ci", "none", "--no-pre-commit").returncode == 0
    text = (repo / ".gitattributes").read_text()
    assert text.startswith("*.png binary\n# keep me\n**/conda-lock.yml merge=repro-audit-lock\n")
    assert text.count("merge=repro-audit-lock") == 2  # only the explicit files' line added
    assert text.endswith("conda-*.lock merge=repro-audit-lock\n")


def test_refuses_to_override_another_merge_setting(repo: Path, init: Init) -> None:
    (repo / ".gitattributes").write_text("conda-lock.yml -merge\n")
    before = snapshot(repo)
    done = init(repo, "--ci", "none")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: .gitattributes:1: conda-lock.yml is set to -merge here, not "
        "merge=repro-audit-lock (--force adds the driver's line after it, which then wins)"
    ]
    assert snapshot(repo) == before  # nothing written, git config included
    forced = init(repo, "--ci", "none", "--force")
    assert forced.returncode == 0, forced.stderr
    assert (
        git(repo, "check-attr", "merge", "--", "conda-lock.yml")
        .strip()
        .endswith("repro-audit-lock")
    )


PRE_COMMIT_SAMPLE = """\
# See https://pre-commit.com for more information
repos:
-   repo: https://github.com/pre-commit/pre-commit-hooks
    rev: v3.2.0
    hooks:
    -   id: trailing-whitespace   # keep
    -   id: end-of-file-fixer
exclude: '^docs/'
"""

PRE_COMMIT_INDENTED = """\
default_stages: [pre-commit]
repos:
  - repo: https://github.com/astral-sh/ruff-pre-commit
    rev: v0.6.9
    hooks:
      - id: ruff

  - repo: local
    hooks:
      - id: tests
        name: tests
        entry: pytest
        language: system
"""


def _merged(repo: Path, init: Init, text: str) -> str:
    (repo / ".pre-commit-config.yaml").write_text(text)
    done = init(repo, "--ci", "none")
    assert done.returncode == 0, done.stderr
    assert "updated .pre-commit-config.yaml" in done.stdout
    return (repo / ".pre-commit-config.yaml").read_text()


def test_merges_into_an_existing_pre_commit_config(repo: Path, init: Init) -> None:
    for text in (PRE_COMMIT_SAMPLE, PRE_COMMIT_INDENTED):
        new = _merged(repo, init, text)
        old_config, new_config = yaml.safe_load(text), yaml.safe_load(new)
        assert new_config["repos"][:-1] == old_config["repos"]  # other repos kept
        assert {k: v for k, v in new_config.items() if k != "repos"} == {
            k: v for k, v in old_config.items() if k != "repos"
        }
        assert new_config["repos"][-1] == {
            "repo": "https://github.com/repro-audit/repro-audit",
            "rev": f"v{__version__}",
            "hooks": [{"id": HOOK_ID}],
        }
        # every line of the user's file is still there, in order (comments too)
        kept = iter(new.splitlines())
        assert all(any(line == got for got in kept) for line in text.splitlines())
        assert init(repo, "--ci", "none").stdout.startswith("nothing to change")
        (repo / ".pre-commit-config.yaml").unlink()
    assert "-   repo: https://github.com/repro-audit/repro-audit\n" in _merged(
        repo, init, PRE_COMMIT_SAMPLE
    )  # the file's own indentation


def test_pre_commit_config_that_runs_the_hook_is_left_alone(repo: Path, init: Init) -> None:
    text = (
        "repos:\n  - repo: https://github.com/repro-audit/repro-audit\n    rev: v0.0.9\n"
        f"    hooks:\n      - id: {HOOK_ID}\n        args: [--max-findings, '5']\n"
    )
    (repo / ".pre-commit-config.yaml").write_text(text)
    done = init(repo, "--ci", "none")
    assert done.returncode == 0 and "pre-commit" not in done.stdout
    assert (repo / ".pre-commit-config.yaml").read_text() == text


def test_hook_id_is_the_shipped_one() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert HOOK_ID in {hook["id"] for hook in hooks}
    (hook,) = [h for h in hooks if h["id"] == HOOK_ID]
    assert hook["entry"] == "repro-audit check"


def test_flow_style_repos_is_refused_in_one_line(repo: Path, init: Init) -> None:
    (repo / ".pre-commit-config.yaml").write_text("repos: [{repo: local, hooks: []}]\n")
    done = init(repo, "--ci", "none")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith("error: .pre-commit-config.yaml: `repos:` is not a block list")


def test_never_clobbers_a_changed_workflow(repo: Path, init: Init) -> None:
    assert init(repo, "--ci", "github").returncode == 0
    gate = repo / GITHUB_GATE
    edited = gate.read_text() + "# my change\n"
    gate.write_text(edited)
    done = init(repo, "--ci", "github")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {GITHUB_GATE}: exists with other content "
        "(--force replaces it; --dry-run --force shows the difference)"
    ]
    assert gate.read_text() == edited
    dry = init(repo, "--ci", "github", "--force", "--dry-run")
    assert "-# my change\n" in dry.stdout and gate.read_text() == edited
    assert init(repo, "--ci", "github", "--force").returncode == 0
    assert "# my change" not in gate.read_text()


def test_git_config_only_sets_up_a_clone(repo: Path, init: Init, tmp_path: Path) -> None:
    assert init(repo, "--ci", "none").returncode == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "set up")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    before = snapshot(clone)
    done = init(clone, "--git-config-only")
    assert done.returncode == 0, done.stderr
    assert [line.split()[:4] for line in done.stdout.splitlines()[:2]] == [
        ["set", "git", "config", "--local"]
    ] * 2
    after = snapshot(clone)
    assert {k for k in after if after[k] != before.get(k)} == {".git/config"}
    assert git(clone, "config", "merge.repro-audit-lock.driver").strip() == DRIVER_COMMAND
    assert init(clone, "--git-config-only").stdout.startswith("nothing to change")


def test_a_driver_configured_otherwise_is_refused(repo: Path, init: Init) -> None:
    git(repo, "config", "merge.repro-audit-lock.driver", "my-merge %O %A %B")
    done = init(repo, "--git-config-only")
    assert done.returncode == 2
    assert "git config merge.repro-audit-lock.driver is 'my-merge %O %A %B'" in done.stderr
    assert init(repo, "--git-config-only", "--force").returncode == 0
    assert git(repo, "config", "merge.repro-audit-lock.driver").strip() == DRIVER_COMMAND


def test_outside_a_git_repository(tmp_path: Path, init: Init) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    done = init(plain)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "not inside a git repository" in done.stderr
    assert list(plain.iterdir()) == []


def test_ci_is_detected_from_the_repository(repo: Path, init: Init) -> None:
    (repo / ".github").mkdir()
    assert init(repo).returncode == 0
    assert (repo / GITHUB_GATE).is_file() and not (repo / ".gitlab-ci.yml").exists()
    other = repo.parent / "other"
    other.mkdir()
    git(other, "init", "-q")
    git(other, "remote", "add", "origin", "git@gitlab.example.org:team/app.git")
    assert init(other).returncode == 0
    assert (other / ".gitlab/repro-audit.yml").is_file()
    none = repo.parent / "none"
    none.mkdir()
    git(none, "init", "-q")
    done = init(none)
    assert "note: no CI found" in done.stdout and not (none / ".github").exists()


GITLAB_CI = """\
stages: [build, deploy]
include:
  - template: Security/SAST.gitlab-ci.yml
build:
  stage: build
  script: [make]
  after_script:
    - !reference [.cleanup, script]
"""


def test_gitlab_include_joins_an_existing_pipeline(repo: Path, init: Init) -> None:
    (repo / ".gitlab-ci.yml").write_text(GITLAB_CI)
    done = init(repo)  # detected from .gitlab-ci.yml
    assert done.returncode == 0, done.stderr
    text = (repo / ".gitlab-ci.yml").read_text()
    assert text == GITLAB_CI.replace(
        "SAST.gitlab-ci.yml\n", "SAST.gitlab-ci.yml\n  - local: .gitlab/repro-audit.yml\n"
    )
    jobs = yaml.safe_load((repo / ".gitlab/repro-audit.yml").read_text())
    assert {job["stage"] for job in jobs.values()} == {"build"}  # `test` is not a stage here
    assert init(repo).stdout.startswith("nothing to change")
