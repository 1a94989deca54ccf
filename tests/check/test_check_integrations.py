"""The shipped integrations parse and point at the right commands."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_pre_commit_hooks() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"repro-audit-check", "repro-audit-lock-check"}
    assert hooks["repro-audit-check"]["entry"] == "repro-audit check"
    assert hooks["repro-audit-lock-check"]["entry"] == "repro-audit lock --check"
    for hook in hooks.values():
        assert hook["language"] == "python"
    # check gets pre-commit's file names (only their projects); lock --check takes none
    assert hooks["repro-audit-check"]["pass_filenames"] is True
    assert hooks["repro-audit-lock-check"]["pass_filenames"] is False
    files = re.compile(hooks["repro-audit-check"]["files"])
    for name in (
        "environment.yml",
        "a/conda-lock.yml",
        "conda-win-64.lock",
        "Dockerfile",
        "app.Dockerfile",
        "Dockerfile.dev",
        "compose.yaml",
        "image-lock.json",
        "services/a/environment.yml",
        "services/b/environment-gpu.yaml",
    ):
        assert files.search(name), name
    assert not files.search("src/main.py")


def test_action() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    assert steps[0]["uses"].startswith("actions/setup-python@")
    script = "\n".join(s.get("run", "") for s in steps)
    assert "--format github" in script and "--format sarif" in script
    assert script.count('--root "$ROOT"') == 2
    env = next(s["env"] for s in steps if s.get("id") == "check")
    assert env["ROOT"] == "${{ github.workspace }}"
    assert set(action["inputs"]) >= {"path", "sarif-file", "online", "package"}


def test_ci_guide_documents_the_integrations() -> None:
    """The CI recipes name the shipped hooks and action (each rule's page: tests/docs)."""
    guide = (ROOT / "docs" / "guides" / "ci.md").read_text()
    hooks = {h["id"] for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    for hook in hooks:
        assert f"id: {hook}" in guide, hook
    assert "uses: repro-audit/repro-audit@" in guide
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    for name in action["inputs"]:
        assert f"| `{name}` |" in guide, name
